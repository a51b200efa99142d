# CloudWatch alarms, all notifying the alarm topic (sns.tf) when they fire and
# when they clear. What each one means and what to do: docs/operations.md.
#
# treat_missing_data, chosen per alarm, follows four rules:
# - Error counts, error rates and latency ("notBreaching"): the ALB publishes
#   its 5xx counts only in minutes that had one, and no metric at all in
#   minutes without requests; the app's EMF counts are missing in the same
#   way. No data means no errors, or no traffic to judge: OK, not ALARM and
#   not INSUFFICIENT_DATA (which would also look like "unknown" to the ECS
#   deployment alarms during a deploy at a quiet hour).
# - Per-task resource use, ECS CPU/memory ("notBreaching"): missing when no
#   task runs, which is the running-task alarm's job; one cause, one page.
# - The running-task count ("breaching"): Container Insights publishes it
#   every minute for a live service; silence means the service, or the
#   telemetry that would report its death, is gone.
# - RDS ("missing"): RDS publishes every minute while the instance is up. A
#   gap means it is stopped, rebooting or failing over, which the 5xx alarms
#   report at once (the app answers 503 without a database); these alarms
#   are about running out of a resource, so they keep their state across a
#   gap and go INSUFFICIENT_DATA only when all their data points are gone.

locals {
  # The EMF metric catalog shared with the app (see the file's _comment).
  # Alarms and the dashboard take the namespace, the dimension names and the
  # metric names from here; `local.emf.Name` fails the plan, and so
  # `terraform test`, when the catalog no longer has that metric.
  app_metrics       = jsondecode(file("${path.module}/app_metrics.json"))
  emf_namespace     = local.app_metrics.namespace
  emf_service_dim   = local.app_metrics.service_dimension
  emf_route_dim     = local.app_metrics.route_dimension
  emf               = { for m in local.app_metrics.metrics : m.name => m }
  emf_service_value = var.name # METRICS_SERVICE in the task (ecs.tf)

  alb_dimensions = { LoadBalancer = aws_lb.api.arn_suffix }
  target_dimensions = {
    LoadBalancer = aws_lb.api.arn_suffix
    TargetGroup  = aws_lb_target_group.api.arn_suffix
  }
  ecs_dimensions = {
    ClusterName = aws_ecs_cluster.main.name
    ServiceName = aws_ecs_service.api.name
  }
  rds_dimensions = { DBInstanceIdentifier = aws_db_instance.main.identifier }

  alarm_topic = [aws_sns_topic.alarms.arn]

  # A rate or a percentile over a handful of requests is noise: below this
  # many requests a minute these alarms read 0.
  min_requests = var.alarm_min_requests_per_minute

  # The alarms that stop and roll back an ECS deployment (ecs.tf, alarms
  # block): a new revision that passes its health checks and then answers
  # 5xx, or slowly, is rolled back to the previous one.
  deployment_alarm_names = concat([
    aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name,
    aws_cloudwatch_metric_alarm.target_5xx_rate.alarm_name,
    aws_cloudwatch_metric_alarm.target_p99_latency.alarm_name,
    aws_cloudwatch_metric_alarm.app_5xx.alarm_name,
    # The synthetic /ready check (edge.tf), when ECS can read it: its metric
    # is in us-east-1 only.
  ], local.production && var.aws_region == "us-east-1" ? [aws_cloudwatch_metric_alarm.ready[0].alarm_name] : [])

  # Every alarm, for the dashboard's alarm widget.
  all_alarm_arns = [
    aws_cloudwatch_metric_alarm.alb_5xx_rate.arn,
    aws_cloudwatch_metric_alarm.target_5xx_rate.arn,
    aws_cloudwatch_metric_alarm.target_p99_latency.arn,
    aws_cloudwatch_metric_alarm.app_5xx.arn,
    aws_cloudwatch_metric_alarm.unhealthy_hosts.arn,
    aws_cloudwatch_metric_alarm.ecs_tasks_below_desired.arn,
    aws_cloudwatch_metric_alarm.ecs_cpu.arn,
    aws_cloudwatch_metric_alarm.ecs_memory.arn,
    aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.arn,
    aws_cloudwatch_metric_alarm.rds_cpu.arn,
    aws_cloudwatch_metric_alarm.rds_free_storage.arn,
    aws_cloudwatch_metric_alarm.rds_connections.arn,
    aws_cloudwatch_metric_alarm.rds_freeable_memory.arn,
  ]
}

# ---------------------------------------------------------------------------
# Load balancer
# ---------------------------------------------------------------------------

# 5xx the ALB generates itself (502 bad gateway, 503 no healthy target, 504
# timeout). RequestCount leaves out requests for which the ALB found no
# target, so the denominator adds the errors back in.
resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  alarm_name          = "${var.name}-alb-5xx-rate"
  alarm_description   = "More than ${var.alarm_alb_5xx_rate_percent} % of requests answered 5xx by the ALB itself (no healthy target, target reset or timeout). Runbook: docs/operations.md. Rolls back a deployment in progress."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_alb_5xx_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic

  metric_query {
    id          = "rate"
    label       = "ALB 5xx, % of requests"
    expression  = "IF(FILL(requests, 0) + FILL(errors, 0) >= ${local.min_requests}, 100 * FILL(errors, 0) / (FILL(requests, 0) + FILL(errors, 0)), 0)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 60
    }
  }
}

# 5xx the tasks answered (the app's 500 and 503).
resource "aws_cloudwatch_metric_alarm" "target_5xx_rate" {
  alarm_name          = "${var.name}-target-5xx-rate"
  alarm_description   = "More than ${var.alarm_target_5xx_rate_percent} % of requests answered 5xx by snippetd (500, or 503 when the database is out of reach). Runbook: docs/operations.md. Rolls back a deployment in progress."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_target_5xx_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic

  metric_query {
    id          = "rate"
    label       = "Target 5xx, % of requests"
    expression  = "IF(requests >= ${local.min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.target_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.target_dimensions
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "target_p99_latency" {
  alarm_name          = "${var.name}-target-p99-latency"
  alarm_description   = "p99 of the tasks' response time above ${var.alarm_target_p99_seconds} s. Runbook: docs/operations.md. Rolls back a deployment in progress."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_target_p99_seconds
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic

  metric_query {
    id          = "latency"
    label       = "Target response time p99 (s)"
    expression  = "IF(requests >= ${local.min_requests}, p99, 0)"
    return_data = true
  }

  metric_query {
    id = "p99"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "TargetResponseTime"
      dimensions  = local.target_dimensions
      stat        = "p99"
      period      = 60
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.target_dimensions
      stat        = "Sum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "At least ${var.alarm_unhealthy_hosts} target(s) failing the ALB health check (GET /health) for 3 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.target_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_unhealthy_hosts
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

# ---------------------------------------------------------------------------
# ECS service
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "ecs_tasks_below_desired" {
  alarm_name          = "${var.name}-ecs-tasks-below-desired"
  alarm_description   = "${var.alarm_ecs_missing_tasks} or more task(s) short of the desired count for 5 minutes (tasks crash, cannot start or cannot be placed). Runbook: docs/operations.md."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_ecs_missing_tasks
  evaluation_periods  = 5
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic

  metric_query {
    id          = "missing"
    label       = "Desired minus running tasks"
    expression  = "desired - running"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = local.ecs_dimensions
      stat        = "Average"
      period      = 60
    }
  }

  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = local.ecs_dimensions
      stat        = "Average"
      period      = 60
    }
  }
}

# Autoscaling targets var.autoscaling_cpu_target (60 %): this firing means it
# is at autoscaling_max, or cannot keep up.
resource "aws_cloudwatch_metric_alarm" "ecs_cpu" {
  alarm_name          = "${var.name}-ecs-cpu"
  alarm_description   = "Average task CPU above ${var.alarm_ecs_cpu_percent} % for 15 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = local.ecs_dimensions
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_ecs_cpu_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

resource "aws_cloudwatch_metric_alarm" "ecs_memory" {
  alarm_name          = "${var.name}-ecs-memory"
  alarm_description   = "Average task memory above ${var.alarm_ecs_memory_percent} % of the task's for 5 minutes (the kernel kills the task at 100 %). Runbook: docs/operations.md."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = local.ecs_dimensions
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_ecs_memory_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

# ---------------------------------------------------------------------------
# RDS
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${var.name}-rds-cpu"
  alarm_description   = "Database CPU above ${var.alarm_rds_cpu_percent} % for 15 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = local.rds_dimensions
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_rds_cpu_percent
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  alarm_name          = "${var.name}-rds-free-storage"
  alarm_description   = "Database free storage below ${var.alarm_rds_free_storage_gib} GiB (storage autoscaling is at db_max_allocated_storage or cannot keep up). Runbook: docs/operations.md."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = local.rds_dimensions
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_rds_free_storage_gib * 1024 * 1024 * 1024
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${var.name}-rds-connections"
  alarm_description   = "More than ${var.alarm_rds_connections} database connections for 5 minutes (each task opens up to DB_POOL_SIZE = ${var.db_pool_size}). Runbook: docs/operations.md."
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = local.rds_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_rds_connections
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

resource "aws_cloudwatch_metric_alarm" "rds_freeable_memory" {
  alarm_name          = "${var.name}-rds-freeable-memory"
  alarm_description   = "Database freeable memory below ${var.alarm_rds_freeable_memory_mib} MiB for 10 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/RDS"
  metric_name         = "FreeableMemory"
  dimensions          = local.rds_dimensions
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_rds_freeable_memory_mib * 1024 * 1024
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

# ---------------------------------------------------------------------------
# snippetd's own metrics (EMF, catalog in app_metrics.json)
# ---------------------------------------------------------------------------

# Requests that waited DB_POOL_TIMEOUT_MS for a connection and got 503: the
# pool (DB_POOL_SIZE per task) or the database is the bottleneck.
resource "aws_cloudwatch_metric_alarm" "app_pool_checkout_timeouts" {
  alarm_name          = "${var.name}-app-pool-checkout-timeouts"
  alarm_description   = "${var.alarm_app_checkout_timeouts_per_minute} or more requests a minute got no database connection in time (503), in 3 of 5 minutes. Runbook: docs/operations.md."
  namespace           = local.emf_namespace
  metric_name         = local.emf.PoolCheckoutTimeouts.name
  dimensions          = { (local.emf_service_dim) = local.emf_service_value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_app_checkout_timeouts_per_minute
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic
}

# The app's own count of 5xx, summed over every route: a CloudWatch Metrics
# Insights query over the (Service, Route) dimension set, so a new route is
# counted without a change here.
resource "aws_cloudwatch_metric_alarm" "app_5xx" {
  alarm_name          = "${var.name}-app-5xx"
  alarm_description   = "snippetd answered ${var.alarm_app_5xx_per_minute} or more 5xx a minute (all routes), in 2 of 3 minutes. Runbook: docs/operations.md. Rolls back a deployment in progress."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarm_app_5xx_per_minute
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_topic
  ok_actions          = local.alarm_topic

  metric_query {
    id          = "errors"
    label       = "snippetd 5xx, all routes"
    expression  = "SELECT SUM(\"${local.emf.Http5xx.name}\") FROM SCHEMA(\"${local.emf_namespace}\", \"${local.emf_route_dim}\", \"${local.emf_service_dim}\") WHERE \"${local.emf_service_dim}\" = '${local.emf_service_value}'"
    period      = 60
    return_data = true
  }
}
