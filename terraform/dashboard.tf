# One CloudWatch dashboard: the alarms, snippetd's own metrics (EMF, names
# from app_metrics.json), then the ALB, ECS and RDS. Every metric of the
# catalog is on it: the per-route ones as one graph each (a SEARCH over the
# Route dimension, so a new route appears without a change here), the others
# in the groups below, and any catalog metric no group names gets a graph of
# its own, so a metric added to the catalog is never missing here.
#
# Several tasks write the same EMF metric (same Service dimension): CloudWatch
# merges them. Counts are summed; per-task values (latency percentiles, pool,
# memory) are shown as the worst task's (Maximum; Minimum for idle
# connections), since an average of per-task percentiles is no percentile.

locals {
  dashboard_region = data.aws_region.current.name

  emf_metric_stat = { Count = "Sum", Milliseconds = "Maximum", Bytes = "Maximum" }

  # [namespace, metric, dimension, value] of one service-level EMF metric.
  emf_service_metric = {
    for m in local.app_metrics.metrics : m.name => [local.emf_namespace, m.name, local.emf_service_dim, local.emf_service_value]
    if !m.by_route
  }

  # Service-level EMF metrics, grouped. Statistic per metric: gauges show the
  # worst task, counts the sum over tasks.
  emf_groups = [
    {
      title = "Database pool (per task; timeouts and errors summed)"
      metrics = [
        [local.emf.PoolSize.name, "Maximum"],
        [local.emf.PoolIdle.name, "Minimum"],
        [local.emf.PoolCheckoutTimeouts.name, "Sum"],
        [local.emf.DbConnectionErrors.name, "Sum"],
      ]
    },
    {
      title = "Concurrency: requests in flight (worst task), id lookups per coalesced query, creates per coalesced insert"
      metrics = [
        [local.emf.InFlight.name, "Maximum"],
        [local.emf.LookupBatchSize.name, "Average"],
        [local.emf.CreateBatchSize.name, "Average"],
      ]
    },
    {
      title = "Refused: 429 rate limited, 401 auth failures (sum over tasks)"
      metrics = [
        [local.emf.RateLimited.name, "Sum"],
        [local.emf.AuthFailures.name, "Sum"],
      ]
    },
    {
      title   = "Process: resident memory (worst task)"
      metrics = [[local.emf.MemoryRss.name, "Maximum"]]
    },
    {
      title   = "Process: open file descriptors (worst task)"
      metrics = [[local.emf.OpenFds.name, "Maximum"]]
    },
  ]

  emf_grouped_names = toset(flatten([for g in local.emf_groups : [for m in g.metrics : m[0]]]))
  emf_ungrouped = [
    for m in local.app_metrics.metrics : m if !m.by_route && !contains(local.emf_grouped_names, m.name)
  ]

  # --- widgets, in reading order; positions are computed below -------------

  alarm_widget = {
    type = "alarm"
    properties = {
      title  = "Alarms"
      alarms = local.all_alarm_arns
    }
  }

  route_widgets = [
    for m in local.app_metrics.metrics : {
      type = "metric"
      properties = {
        title  = "${m.name} by route (${m.help}; ${lookup(local.emf_metric_stat, m.unit, "Average")}, ${m.unit})"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        metrics = [[{
          id         = "e1"
          expression = "SEARCH('{${local.emf_namespace},${local.emf_route_dim},${local.emf_service_dim}} MetricName=\"${m.name}\" ${local.emf_service_dim}=\"${local.emf_service_value}\"', '${lookup(local.emf_metric_stat, m.unit, "Average")}', 60)"
        }]]
      }
    } if m.by_route
  ]

  service_widgets = concat(
    [
      for g in local.emf_groups : {
        type = "metric"
        properties = {
          title   = g.title
          region  = local.dashboard_region
          view    = "timeSeries"
          period  = 60
          metrics = [for m in g.metrics : concat(local.emf_service_metric[m[0]], [{ stat = m[1] }])]
        }
      }
    ],
    [
      for m in local.emf_ungrouped : {
        type = "metric"
        properties = {
          title   = "${m.name} (${m.help}; ${m.unit})"
          region  = local.dashboard_region
          view    = "timeSeries"
          period  = 60
          metrics = [concat(local.emf_service_metric[m.name], [{ stat = lookup(local.emf_metric_stat, m.unit, "Average") }])]
        }
      }
    ],
  )

  aws_widgets = [
    {
      type = "metric"
      properties = {
        title  = "ALB: requests and 5xx (per minute)"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        stat   = "Sum"
        metrics = [
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", local.alb_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup],
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", local.alb_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup],
          ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "LoadBalancer", local.alb_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup],
          ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", local.alb_dimensions.LoadBalancer],
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title  = "ALB: target response time p50 / p90 / p99 (s)"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        metrics = [
          for p in ["p50", "p90", "p99"] :
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.target_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup, { stat = p, label = p }]
        ]
        annotations = { horizontal = [{ label = "p99 alarm", value = var.alarm_target_p99_seconds }] }
      }
    },
    {
      type = "metric"
      properties = {
        title  = "ALB: healthy / unhealthy targets"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        stat   = "Maximum"
        metrics = [
          ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", local.target_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup],
          ["AWS/ApplicationELB", "UnHealthyHostCount", "LoadBalancer", local.target_dimensions.LoadBalancer, "TargetGroup", local.target_dimensions.TargetGroup],
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title  = "ECS: desired / running / pending tasks"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        stat   = "Average"
        metrics = [
          for n in ["DesiredTaskCount", "RunningTaskCount", "PendingTaskCount"] :
          ["ECS/ContainerInsights", n, "ClusterName", local.ecs_dimensions.ClusterName, "ServiceName", local.ecs_dimensions.ServiceName]
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title  = "ECS: CPU and memory (% of the tasks', average)"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        stat   = "Average"
        yAxis  = { left = { min = 0, max = 100 } }
        metrics = [
          for n in ["CPUUtilization", "MemoryUtilization"] :
          ["AWS/ECS", n, "ClusterName", local.ecs_dimensions.ClusterName, "ServiceName", local.ecs_dimensions.ServiceName]
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title   = "RDS: CPU (%)"
        region  = local.dashboard_region
        view    = "timeSeries"
        period  = 60
        stat    = "Average"
        metrics = [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier]]
      }
    },
    {
      type = "metric"
      properties = {
        title       = "RDS: connections"
        region      = local.dashboard_region
        view        = "timeSeries"
        period      = 60
        stat        = "Maximum"
        metrics     = [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier]]
        annotations = { horizontal = [{ label = "alarm", value = var.alarm_rds_connections }] }
      }
    },
    {
      type = "metric"
      properties = {
        title  = "RDS: free storage and freeable memory (bytes)"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 300
        stat   = "Minimum"
        metrics = [
          ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier],
          ["AWS/RDS", "FreeableMemory", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier],
        ]
      }
    },
    {
      type = "metric"
      properties = {
        title  = "RDS: read / write latency (s)"
        region = local.dashboard_region
        view   = "timeSeries"
        period = 60
        stat   = "Average"
        metrics = [
          ["AWS/RDS", "ReadLatency", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier],
          ["AWS/RDS", "WriteLatency", "DBInstanceIdentifier", local.rds_dimensions.DBInstanceIdentifier],
        ]
      }
    },
  ]

  # Alarm widget full width on top, then three graphs (8 of 24 columns) a row.
  graph_widgets = concat(local.route_widgets, local.service_widgets, local.aws_widgets)
  dashboard_widgets = concat(
    [merge(local.alarm_widget, { x = 0, y = 0, width = 24, height = 4 })],
    [
      for i, w in local.graph_widgets :
      merge(w, { x = (i % 3) * 8, y = 4 + floor(i / 3) * 6, width = 8, height = 6 })
    ],
  )
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
