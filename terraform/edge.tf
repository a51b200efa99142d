# The edge's logs and alarms (issue 33, points 7-8). CloudFront and WAF
# publish their metrics in us-east-1, Route 53 health checks too, and a log
# group or an alarm must be in the region of what it serves; KMS keys and SNS
# topics are regional. So the edge has its own key and alarm topic in
# us-east-1 (provider aws.us_east_1), with the same subscribers as the
# stack's topic (var.alarm_emails).

resource "aws_kms_key" "edge" {
  provider = aws.us_east_1

  description             = "${var.name}: edge log groups (WAF, CloudFront) and the edge alarm topic, us-east-1"
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsForThisStack"
        Effect    = "Allow"
        Principal = { Service = "logs.us-east-1.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:*${var.name}*"
          }
        }
      },
      {
        Sid       = "AlarmsPublishToTheEdgeTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "edge" {
  provider = aws.us_east_1

  name          = "alias/${var.name}-edge"
  target_key_id = aws_kms_key.edge.key_id
}

resource "aws_sns_topic" "edge_alarms" {
  provider = aws.us_east_1

  name              = "${var.name}-edge-alarms"
  kms_master_key_id = aws_kms_key.edge.arn
}

resource "aws_sns_topic_policy" "edge_alarms" {
  provider = aws.us_east_1

  arn = aws_sns_topic.edge_alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountManagesTheTopic"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"]
        Resource  = aws_sns_topic.edge_alarms.arn
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.edge_alarms.arn
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:us-east-1:${data.aws_caller_identity.current.account_id}:alarm:*" }
        }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "edge_alarm_email" {
  provider = aws.us_east_1
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.edge_alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------
# CloudFront standard logging v2 to CloudWatch Logs (no bucket): source (the
# distribution's access logs), destination (the log group), delivery.
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "cloudfront" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default) for cost; raise it where policy requires a year.
  provider = aws.us_east_1

  name              = "/aws/cloudfront/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.edge.arn
}

resource "aws_cloudwatch_log_delivery_source" "cloudfront" {
  provider = aws.us_east_1

  name         = "${var.name}-cloudfront"
  log_type     = "ACCESS_LOGS"
  resource_arn = aws_cloudfront_distribution.api.arn
}

resource "aws_cloudwatch_log_delivery_destination" "cloudfront" {
  provider = aws.us_east_1

  name          = "${var.name}-cloudfront-logs"
  output_format = "json"

  delivery_destination_configuration {
    destination_resource_arn = aws_cloudwatch_log_group.cloudfront.arn
  }
}

resource "aws_cloudwatch_log_delivery" "cloudfront" {
  provider = aws.us_east_1

  delivery_source_name     = aws_cloudwatch_log_delivery_source.cloudfront.name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.cloudfront.arn
}

# ---------------------------------------------------------------------------
# Edge alarms: what the viewers get (CloudFront 5xx, including what the origin
# never saw) and what WAF refuses (a surge of blocks is an attack, or a rule
# that started refusing real clients).
# ---------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "cloudfront_5xx_rate" {
  provider = aws.us_east_1

  alarm_name          = "${var.name}-cloudfront-5xx-rate"
  alarm_description   = "More than ${var.alarm_cloudfront_5xx_rate_percent} % of viewer requests got a 5xx from CloudFront in 3 of 5 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/CloudFront"
  metric_name         = "5xxErrorRate"
  dimensions          = { DistributionId = aws_cloudfront_distribution.api.id, Region = "Global" }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.alarm_cloudfront_5xx_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.edge_alarms.arn]
  ok_actions          = [aws_sns_topic.edge_alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "waf_blocked" {
  provider = aws.us_east_1

  alarm_name          = "${var.name}-waf-blocked"
  alarm_description   = "WAF blocked more than ${var.alarm_waf_blocked_per_5_minutes} requests in 5 minutes, twice in a row. Runbook: docs/operations.md (WAF logs: aws-waf-logs-${var.name})."
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  dimensions          = { WebACL = aws_wafv2_web_acl.cloudfront.name, Rule = "ALL" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.alarm_waf_blocked_per_5_minutes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.edge_alarms.arn]
  ok_actions          = [aws_sns_topic.edge_alarms.arn]
}

# ---------------------------------------------------------------------------
# Synthetic check (production preset): Route 53 probes /ready through
# CloudFront from several regions every 30 s, whether or not anyone else
# sends a request: the deployment alarms' request-rate floor
# (alarm_min_requests_per_minute) leaves a quiet service without another
# rollback signal. Its alarm joins the deployment alarms when the stack is in
# us-east-1 (ECS reads alarms of its own region; Route 53's metric is only in
# us-east-1).
# ---------------------------------------------------------------------------

resource "aws_route53_health_check" "ready" {
  count = local.production ? 1 : 0

  fqdn              = local.custom_domain ? var.domain_name : aws_cloudfront_distribution.api.domain_name
  type              = "HTTPS"
  port              = 443
  resource_path     = "/ready"
  request_interval  = 30
  failure_threshold = 3
  measure_latency   = false
  enable_sni        = true

  tags = { Name = "${var.name}-ready" }
}

resource "aws_cloudwatch_metric_alarm" "ready" {
  provider = aws.us_east_1
  count    = local.production ? 1 : 0

  alarm_name          = "${var.name}-ready-check"
  alarm_description   = "Route 53 health checkers found /ready failing for 2 of 3 minutes. Runbook: docs/operations.md."
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = aws_route53_health_check.ready[0].id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.edge_alarms.arn]
  ok_actions          = [aws_sns_topic.edge_alarms.arn]
}
