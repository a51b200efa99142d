# Offline tests of the CloudFront web ACL (waf.tf), with the aws provider
# mocked as in stack.tftest.hcl (the us-east-1 configuration too).
# Plan runs after an apply: `state_key = "plans"`, as there.

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

run "web_acl" {
  command = apply

  assert {
    condition     = aws_wafv2_web_acl.cloudfront.scope == "CLOUDFRONT" && aws_wafv2_web_acl.cloudfront.name == "snippetd-cloudfront"
    error_message = "The web ACL must have scope CLOUDFRONT."
  }

  assert {
    condition     = length(aws_wafv2_web_acl.cloudfront.default_action[0].allow) == 1
    error_message = "Requests no rule blocks are allowed."
  }

  assert {
    condition = { for r in aws_wafv2_web_acl.cloudfront.rule : r.name => r.priority } == {
      AWSManagedRulesAmazonIpReputationList = 10
      AWSManagedRulesAnonymousIpList        = 15
      rate-limit-writes                     = 20
      rate-limit-all                        = 30
      AWSManagedRulesCommonRuleSet          = 40
      AWSManagedRulesKnownBadInputsRuleSet  = 50
    }
    error_message = "Rules: IP reputation, anonymous IPs, the two rate limits, the common rule set, known bad inputs, in that order."
  }

  # --- anonymous IPs: writes only, hosting providers only counted ---
  assert {
    condition = (
      toset([
        for s in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesAnonymousIpList"]).statement[0].managed_rule_group_statement[0].scope_down_statement[0].or_statement[0].statement :
        s.byte_match_statement[0].search_string if length(s.byte_match_statement[0].field_to_match[0].method) == 1
      ]) == toset(["POST", "PUT", "PATCH", "DELETE"]) &&
      [for o in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesAnonymousIpList"]).statement[0].managed_rule_group_statement[0].rule_action_override : o.name if length(o.action_to_use[0].count) == 1] == ["HostingProviderIPList"]
    )
    error_message = "The anonymous IP list applies to writes only; its hosting-provider rule only counts."
  }

  # --- rate-based rules: per client IP, thresholds from the variables, 429 ---
  assert {
    condition = (
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-all"]).statement[0].rate_based_statement[0].limit == 3000 &&
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-all"]).statement[0].rate_based_statement[0].aggregate_key_type == "IP" &&
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-all"]).statement[0].rate_based_statement[0].evaluation_window_sec == 300 &&
      length(one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-all"]).statement[0].rate_based_statement[0].scope_down_statement) == 0
    )
    error_message = "rate-limit-all: every request, per IP, waf_rate_limit_all (3000) per 300 s."
  }

  assert {
    condition = (
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-writes"]).statement[0].rate_based_statement[0].limit == 300 &&
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-writes"]).statement[0].rate_based_statement[0].aggregate_key_type == "IP" &&
      toset([
        for s in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-writes"]).statement[0].rate_based_statement[0].scope_down_statement[0].or_statement[0].statement :
        s.byte_match_statement[0].search_string if length(s.byte_match_statement[0].field_to_match[0].method) == 1 && s.byte_match_statement[0].positional_constraint == "EXACTLY"
      ]) == toset(["POST", "PUT", "PATCH", "DELETE"])
    )
    error_message = "rate-limit-writes: only POST, PUT, PATCH and DELETE (exact method match), per IP, waf_rate_limit_writes (300)."
  }

  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.cloudfront.rule :
      r.action[0].block[0].custom_response[0].response_code == 429 &&
      r.action[0].block[0].custom_response[0].custom_response_body_key == "rate_limited" &&
      { for h in r.action[0].block[0].custom_response[0].response_header : h.name => h.value } == { "Retry-After" = "300" }
      if startswith(r.name, "rate-limit-")
    ])
    error_message = "Rate-limited requests get 429 with Retry-After and the JSON body."
  }

  assert {
    condition = (
      one(aws_wafv2_web_acl.cloudfront.custom_response_body).key == "rate_limited" &&
      one(aws_wafv2_web_acl.cloudfront.custom_response_body).content_type == "APPLICATION_JSON" &&
      jsondecode(one(aws_wafv2_web_acl.cloudfront.custom_response_body).content).status == 429
    )
    error_message = "The 429 body is a JSON problem document."
  }

  # --- AWS managed rule groups ---
  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.cloudfront.rule :
      r.statement[0].managed_rule_group_statement[0].vendor_name == "AWS" &&
      r.statement[0].managed_rule_group_statement[0].name == r.name &&
      length(r.override_action[0].none) == 1
      if startswith(r.name, "AWSManagedRules")
    ])
    error_message = "The managed rule groups act as AWS defines them (override_action none), except the overrides below."
  }

  assert {
    condition = (
      { for o in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesCommonRuleSet"]).statement[0].managed_rule_group_statement[0].rule_action_override : o.name => length(o.action_to_use[0].count) }["SizeRestrictions_BODY"] == 1 &&
      alltrue([for o in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesCommonRuleSet"]).statement[0].managed_rule_group_statement[0].rule_action_override : length(o.action_to_use[0].count) == 1 && endswith(o.name, "_BODY")])
    )
    error_message = "The common rule set's SizeRestrictions_BODY (and only body rules) must be set to count: snippets are up to 256 KiB."
  }

  assert {
    condition = (
      length(one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesKnownBadInputsRuleSet"]).statement[0].managed_rule_group_statement[0].rule_action_override) == 0 &&
      length(one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesAmazonIpReputationList"]).statement[0].managed_rule_group_statement[0].rule_action_override) == 0 &&
      length(one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesKnownBadInputsRuleSet"]).statement[0].managed_rule_group_statement[0].scope_down_statement) == 0 &&
      length(one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesCommonRuleSet"]).statement[0].managed_rule_group_statement[0].scope_down_statement) == 0
    )
    error_message = "Known bad inputs (Log4Shell) and the IP reputation list block as AWS defines them: no rule overridden, no scope-down."
  }

  assert {
    condition     = alltrue([for r in aws_wafv2_web_acl.cloudfront.rule : r.visibility_config[0].cloudwatch_metrics_enabled && r.visibility_config[0].sampled_requests_enabled])
    error_message = "Every rule publishes metrics and sampled requests."
  }

  # --- association with the distribution ---
  assert {
    condition     = aws_cloudfront_distribution.api.web_acl_id == aws_wafv2_web_acl.cloudfront.arn
    error_message = "The web ACL must be attached to the CloudFront distribution."
  }

  # --- logging ---
  assert {
    condition = (
      startswith(aws_cloudwatch_log_group.waf.name, "aws-waf-logs-") &&
      aws_cloudwatch_log_group.waf.retention_in_days == 30 &&
      aws_wafv2_web_acl_logging_configuration.cloudfront.resource_arn == aws_wafv2_web_acl.cloudfront.arn &&
      aws_wafv2_web_acl_logging_configuration.cloudfront.log_destination_configs == toset([aws_cloudwatch_log_group.waf.arn])
    )
    error_message = "WAF logs go to a CloudWatch log group named aws-waf-logs-*, with a retention."
  }

  assert {
    condition = (
      length(aws_wafv2_web_acl_logging_configuration.cloudfront.redacted_fields) == 1 &&
      one(aws_wafv2_web_acl_logging_configuration.cloudfront.redacted_fields).single_header[0].name == "authorization"
    )
    error_message = "The Authorization header must be redacted from the WAF logs."
  }

  assert {
    condition = (
      one(aws_wafv2_web_acl_logging_configuration.cloudfront.logging_filter).default_behavior == "DROP" &&
      toset([for c in one(one(aws_wafv2_web_acl_logging_configuration.cloudfront.logging_filter).filter).condition : c.action_condition[0].action]) == toset(["BLOCK", "COUNT", "EXCLUDED_AS_COUNT"]) &&
      one(one(aws_wafv2_web_acl_logging_configuration.cloudfront.logging_filter).filter).behavior == "KEEP"
    )
    error_message = "By default only blocked and counted requests are logged."
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_log_resource_policy.waf.policy_document).Statement[0].Principal.Service == "delivery.logs.amazonaws.com" &&
      jsondecode(aws_cloudwatch_log_resource_policy.waf.policy_document).Statement[0].Resource == "${aws_cloudwatch_log_group.waf.arn}:*"
    )
    error_message = "WAF's log delivery may write to the WAF log group only."
  }
}

run "waf_thresholds" {
  command   = plan
  state_key = "plans"

  variables {
    waf_rate_limit_all            = 1000
    waf_rate_limit_writes         = 50
    waf_rate_limit_window_seconds = 60
    waf_common_rules_to_count     = ["SizeRestrictions_BODY"]
    waf_log_all_requests          = true
  }

  assert {
    condition = (
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-all"]).statement[0].rate_based_statement[0].limit == 1000 &&
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-writes"]).statement[0].rate_based_statement[0].limit == 50 &&
      one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "rate-limit-writes"]).statement[0].rate_based_statement[0].evaluation_window_sec == 60
    )
    error_message = "The rate limits and their window follow the variables."
  }

  assert {
    condition     = [for o in one([for r in aws_wafv2_web_acl.cloudfront.rule : r if r.name == "AWSManagedRulesCommonRuleSet"]).statement[0].managed_rule_group_statement[0].rule_action_override : o.name] == ["SizeRestrictions_BODY"]
    error_message = "waf_common_rules_to_count decides which common rules only count."
  }

  assert {
    condition     = length(aws_wafv2_web_acl_logging_configuration.cloudfront.logging_filter) == 0
    error_message = "waf_log_all_requests = true logs every request (no filter)."
  }
}

run "rejects_blocking_large_bodies" {
  command   = plan
  state_key = "plans"

  variables {
    waf_common_rules_to_count = ["CrossSiteScripting_BODY"]
  }

  expect_failures = [var.waf_common_rules_to_count]
}

run "rejects_bad_rate_window" {
  command   = plan
  state_key = "plans"

  variables {
    waf_rate_limit_window_seconds = 100
  }

  expect_failures = [var.waf_rate_limit_window_seconds]
}
