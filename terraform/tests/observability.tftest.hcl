# Offline tests of the operating view (alarms.tf, dashboard.tf, budget.tf,
# sns.tf and the deployment-alarm wiring in ecs.tf), with the aws provider
# mocked as in stack.tftest.hcl.
# Plan runs after an apply: `state_key = "plans"`, as there.
#
# The app's EMF metric names, namespace and dimension names are read here
# from app_metrics.json, the catalog the app's EMF writer is tested against
# (tests/metrics.rs): the alarms and the dashboard must use exactly those.
# Terraform itself looks metrics up in the catalog by name, so a metric
# renamed or removed there fails every run below at plan time.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }

  mock_data "aws_ec2_managed_prefix_list" {
    defaults = {
      id   = "pl-4fa04526"
      name = "com.amazonaws.global.cloudfront.origin-facing"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/snippetd"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:snippetd/db-master-abc-AbCdEf"
    }
  }

  mock_resource "aws_db_instance" {
    defaults = {
      address = "snippetd-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
      port    = 5432
      # RDS-managed master credentials (database.tf).
      master_user_secret = [{
        secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr"
      }]
    }
  }

  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      domain_name = "d111111abcdef8.cloudfront.net"
      arn         = "arn:aws:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE"
    }
  }

  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/snippetd-alb/50dc6c495c0c9188"
      arn_suffix = "app/snippetd-alb/50dc6c495c0c9188"
      dns_name   = "snippetd-alb-123456789.eu-west-1.elb.amazonaws.com"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-abc/73e2d6bc24d8a067"
      arn_suffix = "targetgroup/api-abc/73e2d6bc24d8a067"
    }
  }

  mock_resource "aws_lb_listener" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/snippetd-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/mock"
    }
  }

  mock_resource "aws_ecs_cluster" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/snippetd"
    }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/snippetd:1"
    }
  }

  mock_resource "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:snippetd-alarms"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    }
  }
}

mock_provider "aws" {
  alias = "us_east_1"

  # The edge's key, alarm topic and CloudFront log delivery (edge.tf).
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:snippetd-edge-alarms"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:123456789012:key/edge0000-12ab-34cd-56ef-1234567890ab"
    }
  }

  mock_resource "aws_cloudwatch_log_delivery_destination" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:delivery-destination:snippetd-cloudfront-logs"
    }
  }

  mock_resource "aws_wafv2_web_acl" {
    defaults = {
      arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/snippetd-cloudfront/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-snippetd"
    }
  }
}

# Never called: see stack.tftest.hcl.
provider "aws" {
  alias                       = "password_generator"
  region                      = "eu-west-1"
  access_key                  = "mock-access-key"
  secret_key                  = "mock-secret-key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variables {
  github_repository    = "example-org/snippetd"
  image_tag            = "3f1c2a9d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
  db_password_generate = false
  app_db_password      = "test-only-AppPassword#5678"
}

run "alarms" {
  command = apply

  # --- snippetd's own metrics: namespace, names, dimensions from the catalog ---
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.namespace == jsondecode(file("app_metrics.json")).namespace &&
      aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.metric_name == one([for m in jsondecode(file("app_metrics.json")).metrics : m.name if m.name == "PoolCheckoutTimeouts" && !m.by_route]) &&
      aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.dimensions == tomap({ (jsondecode(file("app_metrics.json")).service_dimension) = "snippetd" }) &&
      aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.statistic == "Sum" &&
      aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts.threshold == 1
    )
    error_message = "The pool checkout-timeout alarm must read the catalog's PoolCheckoutTimeouts in the catalog's namespace, Service = var.name."
  }

  assert {
    condition = (
      one(aws_cloudwatch_metric_alarm.app_5xx.metric_query).expression == format(
        "SELECT SUM(\"%s\") FROM SCHEMA(\"%s\", \"%s\", \"%s\") WHERE \"%s\" = 'snippetd'",
        one([for m in jsondecode(file("app_metrics.json")).metrics : m.name if m.name == "Http5xx" && m.by_route]),
        jsondecode(file("app_metrics.json")).namespace,
        jsondecode(file("app_metrics.json")).route_dimension,
        jsondecode(file("app_metrics.json")).service_dimension,
        jsondecode(file("app_metrics.json")).service_dimension,
      ) &&
      one(aws_cloudwatch_metric_alarm.app_5xx.metric_query).period == 60 &&
      aws_cloudwatch_metric_alarm.app_5xx.threshold == 5
    )
    error_message = "The app 5xx alarm must sum the catalog's Http5xx over every route (Metrics Insights over the Service, Route dimension set)."
  }

  # --- the task emits the Service dimension the alarms read, once a minute ---
  assert {
    condition = (
      { for e in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].environment : e.name => e.value }[jsondecode(file("app_metrics.json")).service_env] == "snippetd" &&
      { for e in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].environment : e.name => e.value }[jsondecode(file("app_metrics.json")).interval_env] == "60"
    )
    error_message = "The container must set METRICS_SERVICE = var.name and METRICS_EMF_INTERVAL_SECONDS = 60 (names from the catalog)."
  }

  # --- load balancer alarms ---
  assert {
    condition = (
      tomap({ for q in aws_cloudwatch_metric_alarm.alb_5xx_rate.metric_query : q.id => try(q.metric[0].metric_name, q.expression) }) == tomap({
        rate     = "IF(FILL(requests, 0) + FILL(errors, 0) >= 20, 100 * FILL(errors, 0) / (FILL(requests, 0) + FILL(errors, 0)), 0)"
        errors   = "HTTPCode_ELB_5XX_Count"
        requests = "RequestCount"
      }) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.alb_5xx_rate.metric_query : q.metric[0].namespace == "AWS/ApplicationELB" && q.metric[0].dimensions == tomap({ LoadBalancer = "app/snippetd-alb/50dc6c495c0c9188" }) if length(q.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.alb_5xx_rate.threshold == 5
    )
    error_message = "ALB 5xx rate: ELB-generated 5xx over requests (plus those errors) of this load balancer, 5 % by default."
  }

  assert {
    condition = (
      tomap({ for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : q.id => try(q.metric[0].metric_name, q.expression) }) == tomap({
        rate     = "IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)"
        errors   = "HTTPCode_Target_5XX_Count"
        requests = "RequestCount"
      }) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : q.metric[0].dimensions == tomap({
        LoadBalancer = "app/snippetd-alb/50dc6c495c0c9188"
        TargetGroup  = "targetgroup/api-abc/73e2d6bc24d8a067"
      }) if length(q.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.target_5xx_rate.threshold == 5
    )
    error_message = "Target 5xx rate: the target group's 5xx over its requests."
  }

  assert {
    condition = (
      one([for q in aws_cloudwatch_metric_alarm.target_p99_latency.metric_query : q.metric[0] if q.id == "p99"]).metric_name == "TargetResponseTime" &&
      one([for q in aws_cloudwatch_metric_alarm.target_p99_latency.metric_query : q.metric[0] if q.id == "p99"]).stat == "p99" &&
      one([for q in aws_cloudwatch_metric_alarm.target_p99_latency.metric_query : q if q.return_data == true]).expression == "IF(requests >= 20, p99, 0)" &&
      aws_cloudwatch_metric_alarm.target_p99_latency.threshold == 1
    )
    error_message = "Latency: p99 of TargetResponseTime above 1 s by default, ignored below 20 requests a minute."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.unhealthy_hosts.metric_name == "UnHealthyHostCount" &&
      aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions.TargetGroup == "targetgroup/api-abc/73e2d6bc24d8a067" &&
      aws_cloudwatch_metric_alarm.unhealthy_hosts.comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.unhealthy_hosts.threshold == 1
    )
    error_message = "Unhealthy hosts: at least one unhealthy target in the service's target group."
  }

  # --- ECS ---
  assert {
    condition = (
      tomap({ for q in aws_cloudwatch_metric_alarm.ecs_tasks_below_desired.metric_query : q.id => try(q.metric[0].metric_name, q.expression) }) == tomap({
        missing = "desired - running"
        desired = "DesiredTaskCount"
        running = "RunningTaskCount"
      }) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.ecs_tasks_below_desired.metric_query : q.metric[0].namespace == "ECS/ContainerInsights" && q.metric[0].dimensions == tomap({ ClusterName = "snippetd", ServiceName = "snippetd" }) if length(q.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.ecs_tasks_below_desired.threshold == 1
    )
    error_message = "Running tasks below desired: Container Insights desired minus running for this service."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.ecs_cpu.namespace == "AWS/ECS" && aws_cloudwatch_metric_alarm.ecs_cpu.metric_name == "CPUUtilization" &&
      aws_cloudwatch_metric_alarm.ecs_memory.namespace == "AWS/ECS" && aws_cloudwatch_metric_alarm.ecs_memory.metric_name == "MemoryUtilization" &&
      aws_cloudwatch_metric_alarm.ecs_cpu.dimensions == tomap({ ClusterName = "snippetd", ServiceName = "snippetd" }) &&
      aws_cloudwatch_metric_alarm.ecs_memory.dimensions == tomap({ ClusterName = "snippetd", ServiceName = "snippetd" }) &&
      aws_cloudwatch_metric_alarm.ecs_cpu.threshold == 85 && aws_cloudwatch_metric_alarm.ecs_memory.threshold == 85
    )
    error_message = "ECS CPU and memory of this service, 85 % by default."
  }

  # --- RDS ---
  assert {
    condition = (
      tomap({
        for a in [
          aws_cloudwatch_metric_alarm.rds_cpu,
          aws_cloudwatch_metric_alarm.rds_free_storage,
          aws_cloudwatch_metric_alarm.rds_connections,
          aws_cloudwatch_metric_alarm.rds_freeable_memory,
        ] : a.metric_name => join(" ", [a.namespace, a.dimensions.DBInstanceIdentifier, a.comparison_operator, tostring(a.threshold)])
        }) == tomap({
        CPUUtilization      = "AWS/RDS snippetd-db GreaterThanThreshold 80"
        FreeStorageSpace    = "AWS/RDS snippetd-db LessThanThreshold 2147483648"
        DatabaseConnections = "AWS/RDS snippetd-db GreaterThanThreshold 80"
        FreeableMemory      = "AWS/RDS snippetd-db LessThanThreshold 67108864"
      })
    )
    error_message = "RDS: CPU, free storage (GiB -> bytes), connections and freeable memory (MiB -> bytes) of this instance."
  }

  # --- every alarm notifies the topic, and treat_missing_data is deliberate ---
  assert {
    condition = alltrue([
      for a in [
        aws_cloudwatch_metric_alarm.alb_5xx_rate, aws_cloudwatch_metric_alarm.target_5xx_rate,
        aws_cloudwatch_metric_alarm.target_p99_latency, aws_cloudwatch_metric_alarm.app_5xx,
        aws_cloudwatch_metric_alarm.unhealthy_hosts, aws_cloudwatch_metric_alarm.ecs_tasks_below_desired,
        aws_cloudwatch_metric_alarm.ecs_cpu, aws_cloudwatch_metric_alarm.ecs_memory,
        aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts, aws_cloudwatch_metric_alarm.rds_cpu,
        aws_cloudwatch_metric_alarm.rds_free_storage, aws_cloudwatch_metric_alarm.rds_connections,
        aws_cloudwatch_metric_alarm.rds_freeable_memory,
      ] : a.alarm_actions == toset([aws_sns_topic.alarms.arn]) && a.ok_actions == toset([aws_sns_topic.alarms.arn])
    ])
    error_message = "Every alarm must notify the alarm topic when it fires and when it clears."
  }

  assert {
    condition = (
      toset([for a in [
        aws_cloudwatch_metric_alarm.alb_5xx_rate, aws_cloudwatch_metric_alarm.target_5xx_rate,
        aws_cloudwatch_metric_alarm.target_p99_latency, aws_cloudwatch_metric_alarm.app_5xx,
        aws_cloudwatch_metric_alarm.app_pool_checkout_timeouts, aws_cloudwatch_metric_alarm.unhealthy_hosts,
        aws_cloudwatch_metric_alarm.ecs_cpu, aws_cloudwatch_metric_alarm.ecs_memory,
      ] : a.treat_missing_data]) == toset(["notBreaching"]) &&
      aws_cloudwatch_metric_alarm.ecs_tasks_below_desired.treat_missing_data == "breaching" &&
      toset([for a in [
        aws_cloudwatch_metric_alarm.rds_cpu, aws_cloudwatch_metric_alarm.rds_free_storage,
        aws_cloudwatch_metric_alarm.rds_connections, aws_cloudwatch_metric_alarm.rds_freeable_memory,
      ] : a.treat_missing_data]) == toset(["missing"])
    )
    error_message = "treat_missing_data: no errors/traffic is OK, a silent service is breaching, RDS gaps keep state (alarms.tf)."
  }

  # --- the deployment rolls back on the 5xx and latency alarms ---
  assert {
    condition = (
      one(aws_ecs_service.api.alarms).alarm_names == toset([
        aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name,
        aws_cloudwatch_metric_alarm.target_5xx_rate.alarm_name,
        aws_cloudwatch_metric_alarm.target_p99_latency.alarm_name,
        aws_cloudwatch_metric_alarm.app_5xx.alarm_name,
      ]) &&
      one(aws_ecs_service.api.alarms).enable == true &&
      one(aws_ecs_service.api.alarms).rollback == true &&
      aws_ecs_service.api.deployment_circuit_breaker[0].rollback
    )
    error_message = "The ECS service's deployment alarms must be the 5xx and latency alarms, enabled, with rollback."
  }

  assert {
    condition     = one(aws_ecs_service.api.alarms).alarm_names == toset(["snippetd-alb-5xx-rate", "snippetd-target-5xx-rate", "snippetd-target-p99-latency", "snippetd-app-5xx"])
    error_message = "Deployment alarm names (docs/operations.md refers to them)."
  }

  # --- the topic: encrypted with a key the alarm and budget services may use ---
  assert {
    condition = (
      aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.alarms.arn &&
      aws_kms_key.alarms.enable_key_rotation &&
      toset(one([for s in jsondecode(aws_kms_key.alarms.policy).Statement : s if s.Sid == "AlarmsAndBudgetsPublishToTheTopic"]).Principal.Service) == toset(["cloudwatch.amazonaws.com", "budgets.amazonaws.com"])
    )
    error_message = "The alarm topic must be encrypted with its own key, which CloudWatch and Budgets may use."
  }

  assert {
    condition = (
      { for s in jsondecode(aws_sns_topic_policy.alarms.policy).Statement : try(s.Principal.Service, "account") => s.Action if s.Effect == "Allow" }["budgets.amazonaws.com"] == "SNS:Publish" &&
      { for s in jsondecode(aws_sns_topic_policy.alarms.policy).Statement : try(s.Principal.Service, "account") => s.Action if s.Effect == "Allow" }["cloudwatch.amazonaws.com"] == "SNS:Publish" &&
      alltrue([for s in jsondecode(aws_sns_topic_policy.alarms.policy).Statement : s.Resource == aws_sns_topic.alarms.arn && (can(s.Principal.AWS) || try(s.Condition.StringEquals["aws:SourceAccount"], "") == "123456789012")])
    )
    error_message = "The topic policy lets budgets.amazonaws.com and cloudwatch.amazonaws.com publish, for this account only."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.alarm_email) == 0
    error_message = "No e-mail subscription unless alarm_emails is set."
  }

  # --- budget ---
  assert {
    condition = (
      aws_budgets_budget.monthly.budget_type == "COST" &&
      aws_budgets_budget.monthly.time_unit == "MONTHLY" &&
      aws_budgets_budget.monthly.limit_amount == "175.00" &&
      aws_budgets_budget.monthly.limit_unit == "USD" &&
      length(aws_budgets_budget.monthly.cost_filter) == 0
    )
    error_message = "A monthly cost budget of budget_monthly_limit_usd (150) over the whole account by default."
  }

  assert {
    condition = (
      length(aws_budgets_budget.monthly.notification) == 2 &&
      alltrue([for n in aws_budgets_budget.monthly.notification : n.subscriber_sns_topic_arns == toset([aws_sns_topic.alarms.arn])]) &&
      toset([for n in aws_budgets_budget.monthly.notification : "${n.notification_type}>${n.threshold}${n.threshold_type}"]) == toset(["ACTUAL>80PERCENTAGE", "FORECASTED>100PERCENTAGE"])
    )
    error_message = "The budget alerts the alarm topic at 80 % actual and 100 % forecast."
  }
}

run "dashboard" {
  command = apply

  # Every catalog metric is on the dashboard, and every metric of the app's
  # namespace on the dashboard is in the catalog: the names come from
  # SEARCH expressions (per-route metrics) and from metric arrays.
  assert {
    condition = toset(compact(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) :
        try(regex("MetricName=\"([^\"]+)\"", m[0].expression)[0], m[0] == jsondecode(file("app_metrics.json")).namespace ? m[1] : null)
      ]
    ]))) == toset([for m in jsondecode(file("app_metrics.json")).metrics : m.name])
    error_message = "The dashboard must show exactly the catalog's EMF metrics (app_metrics.json), no name of its own."
  }

  # Per-route metrics: a SEARCH in the catalog's namespace over its (Route,
  # Service) dimensions, for Service = var.name.
  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) :
        startswith(m[0].expression, format("SEARCH('{%s,%s,%s} MetricName=",
          jsondecode(file("app_metrics.json")).namespace,
          jsondecode(file("app_metrics.json")).route_dimension,
          jsondecode(file("app_metrics.json")).service_dimension,
        )) && strcontains(m[0].expression, format(" %s=\"snippetd\"'", jsondecode(file("app_metrics.json")).service_dimension))
        if can(m[0].expression)
      ]
    ]))
    error_message = "Per-route widgets must search the catalog's namespace and (Route, Service) dimension set for Service = var.name."
  }

  assert {
    condition = length(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m if can(m[0].expression)
      ]
    ])) == length([for m in jsondecode(file("app_metrics.json")).metrics : m if m.by_route])
    error_message = "One by-route graph per by-route catalog metric."
  }

  # Service-level EMF metrics: [namespace, name, Service, var.name, {stat}].
  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) :
        m[2] == jsondecode(file("app_metrics.json")).service_dimension && m[3] == "snippetd" && length(m) == 5
        if !can(m[0].expression) && m[0] == jsondecode(file("app_metrics.json")).namespace
      ]
    ]))
    error_message = "Service-level EMF metrics must carry only the catalog's Service dimension = var.name."
  }

  # The AWS side: ALB, ECS and RDS graphs, and the alarm overview.
  assert {
    condition = length(setsubtract(
      ["AWS/ApplicationELB", "ECS/ContainerInsights", "AWS/ECS", "AWS/RDS"],
      flatten([for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : [for m in try(w.properties.metrics, []) : m[0] if !can(m[0].expression)]])
    )) == 0
    error_message = "The dashboard must graph the ALB, ECS (Container Insights and AWS/ECS) and RDS."
  }

  assert {
    condition     = length(one([for w in jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets : w if w.type == "alarm"]).properties.alarms) == 13
    error_message = "The alarm widget must list all 13 alarms."
  }
}

run "alarm_thresholds_and_email" {
  command   = plan
  state_key = "plans"

  variables {
    alarm_emails                  = ["oncall@example.com", "lead@example.com"]
    alarm_target_p99_seconds      = 0.5
    alarm_rds_free_storage_gib    = 5
    alarm_app_5xx_per_minute      = 1
    alarm_min_requests_per_minute = 50
    budget_monthly_limit_usd      = 42.5
    budget_filter_by_project_tag  = true
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.target_p99_latency.threshold == 0.5 &&
      aws_cloudwatch_metric_alarm.rds_free_storage.threshold == 5 * 1024 * 1024 * 1024 &&
      aws_cloudwatch_metric_alarm.app_5xx.threshold == 1 &&
      one([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : q.expression if q.id == "rate"]) == "IF(requests >= 50, 100 * FILL(errors, 0) / requests, 0)"
    )
    error_message = "Thresholds follow their variables."
  }

  assert {
    condition = (
      toset([for s in aws_sns_topic_subscription.alarm_email : s.endpoint]) == toset(["oncall@example.com", "lead@example.com"]) &&
      alltrue([for s in aws_sns_topic_subscription.alarm_email : s.protocol == "email"])
    )
    error_message = "Each alarm_emails address gets an e-mail subscription."
  }

  assert {
    condition = (
      aws_budgets_budget.monthly.limit_amount == "42.50" &&
      one(aws_budgets_budget.monthly.cost_filter).name == "TagKeyValue" &&
      one(aws_budgets_budget.monthly.cost_filter).values == tolist(["user:Project$snippetd"])
    )
    error_message = "The budget limit follows budget_monthly_limit_usd; budget_filter_by_project_tag scopes it to the Project tag."
  }
}

run "rejects_bad_alarm_email" {
  command   = plan
  state_key = "plans"

  variables {
    alarm_emails = ["not-an-address"]
  }

  expect_failures = [var.alarm_emails]
}

run "rejects_zero_budget" {
  command   = plan
  state_key = "plans"

  variables {
    budget_monthly_limit_usd = 0
  }

  expect_failures = [var.budget_monthly_limit_usd]
}
