# AWS WAF in front of CloudFront: the one place that sees every request before
# it is spread over the tasks, so it holds the global line. snippetd's own
# rate limits are per task (N tasks let a client through up to N times the
# per-task limit); these are per client IP across the whole service.
#
# Rules, in the order WAF evaluates them:
#   10 AWS IP reputation list (known bots, scanners, DDoS sources): block
#   15 AWS anonymous IP list (VPNs, Tor, proxies), on writes only: block;
#      its hosting-provider rule only counts (var.waf_anonymous_ip_rules_to_count)
#   20 rate limit on writes (POST, PUT, PATCH, DELETE) per client IP: 429
#   30 rate limit on every request per client IP: 429
#   40 AWS common rule set (OWASP-style patterns), with the body rules that a
#      code snippet legitimately matches set to count (var.waf_common_rules_to_count)
#   50 AWS known bad inputs (Log4Shell, Java deserialization, ...): block
#
# Scope CLOUDFRONT: the web ACL, its log group and its metrics live in
# us-east-1 (provider aws.us_east_1, versions.tf). Cost: docs/deploy.md.

locals {
  waf_name = "${var.name}-cloudfront"

  waf_write_methods = ["POST", "PUT", "PATCH", "DELETE"]
}

resource "aws_wafv2_web_acl" "cloudfront" {
  provider = aws.us_east_1

  name        = local.waf_name
  description = "${var.name}: rate limits per client IP and AWS managed rules in front of CloudFront"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  # Answered by WAF itself (JSON, shaped like the app's problem documents)
  # when a rate-based rule blocks.
  custom_response_body {
    key          = "rate_limited"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      type   = "tag:snippetd,2026:problem:rate-limited"
      title  = "Too Many Requests"
      status = 429
      detail = "Too many requests from this address; slow down and retry after the Retry-After delay."
    })
  }

  # Addresses Amazon threat intelligence knows as bots, scanners, DDoS sources.
  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-AWSManagedRulesAmazonIpReputationList"
      sampled_requests_enabled   = true
    }
  }

  # Anonymizers (VPNs, Tor, proxies) may read but not write: a public write
  # API is free storage for whoever hides. Hosting-provider addresses only
  # count by default (var.waf_anonymous_ip_rules_to_count): API clients and
  # CI jobs run on cloud hosts.
  rule {
    name     = "AWSManagedRulesAnonymousIpList"
    priority = 15

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"

        dynamic "rule_action_override" {
          for_each = var.waf_anonymous_ip_rules_to_count
          content {
            name = rule_action_override.value
            action_to_use {
              count {}
            }
          }
        }

        scope_down_statement {
          or_statement {
            dynamic "statement" {
              for_each = local.waf_write_methods
              content {
                byte_match_statement {
                  search_string         = statement.value
                  positional_constraint = "EXACTLY"
                  field_to_match {
                    method {}
                  }
                  text_transformation {
                    priority = 0
                    type     = "NONE"
                  }
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-AWSManagedRulesAnonymousIpList"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-writes"
    priority = 20

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate_limited"
          response_header {
            name  = "Retry-After"
            value = tostring(var.waf_rate_limit_window_seconds)
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.waf_rate_limit_writes
        evaluation_window_sec = var.waf_rate_limit_window_seconds
        aggregate_key_type    = "IP"

        scope_down_statement {
          or_statement {
            dynamic "statement" {
              for_each = local.waf_write_methods
              content {
                byte_match_statement {
                  search_string         = statement.value
                  positional_constraint = "EXACTLY"
                  field_to_match {
                    method {}
                  }
                  text_transformation {
                    priority = 0
                    type     = "NONE"
                  }
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-rate-limit-writes"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-all"
    priority = 30

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate_limited"
          response_header {
            name  = "Retry-After"
            value = tostring(var.waf_rate_limit_window_seconds)
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.waf_rate_limit_all
        evaluation_window_sec = var.waf_rate_limit_window_seconds
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-rate-limit-all"
      sampled_requests_enabled   = true
    }
  }

  # OWASP-style patterns; the body rules a code snippet matches only count.
  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 40

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        dynamic "rule_action_override" {
          for_each = var.waf_common_rules_to_count
          content {
            name = rule_action_override.value
            action_to_use {
              count {}
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-AWSManagedRulesCommonRuleSet"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell (Log4JRCE), Java deserialization, localhost Host header, exploitable paths.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 50

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.waf_name}-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = local.waf_name
    sampled_requests_enabled   = true
  }
}

# WAF logs: the name must start with aws-waf-logs-, and for a CLOUDFRONT web
# ACL the group must be in us-east-1.
resource "aws_cloudwatch_log_group" "waf" {
  #checkov:skip=CKV_AWS_338:Retention is var.waf_log_retention_days (30 by default) for cost; raise it where policy requires a year.
  provider = aws.us_east_1

  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.waf_log_retention_days
  # The stack's us-east-1 key (edge.tf): a group can only use a key of its
  # own region.
  kms_key_id = aws_kms_key.edge.arn
}

# Lets WAF's log delivery write to that group. WAF would add an equivalent
# policy itself when the applying principal may; declaring it keeps the apply
# independent of that permission.
resource "aws_cloudwatch_log_resource_policy" "waf" {
  provider = aws.us_east_1

  policy_name = "${var.name}-waf-logs"
  policy_document = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "WafLogDelivery"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource  = "${aws_cloudwatch_log_group.waf.arn}:*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:logs:us-east-1:${data.aws_caller_identity.current.account_id}:*" }
      }
    }]
  })
}

resource "aws_wafv2_web_acl_logging_configuration" "cloudfront" {
  provider = aws.us_east_1

  resource_arn            = aws_wafv2_web_acl.cloudfront.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  # Bearer tokens never reach the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }

  # By default only what WAF blocked or counted is logged (what you look at
  # when a client says it is refused); var.waf_log_all_requests logs all.
  dynamic "logging_filter" {
    for_each = var.waf_log_all_requests ? [] : [1]
    content {
      default_behavior = "DROP"

      filter {
        behavior    = "KEEP"
        requirement = "MEETS_ANY"

        dynamic "condition" {
          for_each = ["BLOCK", "COUNT", "EXCLUDED_AS_COUNT"]
          content {
            action_condition {
              action = condition.value
            }
          }
        }
      }
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.waf]
}
