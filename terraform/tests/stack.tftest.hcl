# Offline tests: the aws provider is mocked (no credentials, no network; the
# provider binary is only needed for its schema). `command = apply` runs
# against the mock so that computed IDs/ARNs exist and the wiring between
# resources can be compared.
#
# A plan run after an apply run plans against the applied state, which
# costs ~2 s more per run (2.5-3.3 s against 4.6-5.7 s, terraform test
# -json timestamps). `state_key = "plans"` gives the plan runs that do not
# read the applied state a state of their own, which stays empty.

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

  mock_data "aws_security_group" {
    defaults = {
      id = "sg-0cf0a1b2c3d4e5f60"
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

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
      key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  mock_resource "aws_cloudfront_vpc_origin" {
    defaults = {
      id  = "vo_0123456789abcdefABCDEF"
      arn = "arn:aws:cloudfront::123456789012:vpcorigin/vo_0123456789abcdefABCDEF"
    }
  }

  mock_resource "aws_db_instance" {
    defaults = {
      address = "snippetd-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
      port    = 5432
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr"
        kms_key_id    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        secret_status = "active"
      }]
    }
  }

  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      domain_name = "d111111abcdef8.cloudfront.net"
      arn         = "arn:aws:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE"
    }
  }

  # The provider validates ARN arguments even when mocked: give every
  # referenced ARN a well-formed value.
  mock_resource "aws_lb" {
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/snippetd-alb/50dc6c495c0c9188"
      dns_name = "snippetd-alb-123456789.eu-west-1.elb.amazonaws.com"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-abc/73e2d6bc24d8a067"
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

  # Observability (sns.tf, alarms.tf); asserted in tests/observability.tftest.hcl.
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:snippetd-alarms"
    }
  }

}

# Distinct ARNs for the roles whose wiring the tests compare.
override_resource {
  target = aws_secretsmanager_secret.app_db
  values = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:snippetd/db-app-abc-GhIjKl" }
}

override_resource {
  target = aws_iam_role.execution
  values = { arn = "arn:aws:iam::123456789012:role/snippetd-ecs-execution" }
}

override_resource {
  target = aws_iam_role.task
  values = { arn = "arn:aws:iam::123456789012:role/snippetd-ecs-task" }
}

override_resource {
  target = aws_iam_role.deploy
  values = { arn = "arn:aws:iam::123456789012:role/snippetd-github-deploy" }
}

# Mock providers cannot serve ephemeral resources (Terraform 1.11), not even
# validate one, so the configuration used by the ephemeral password generator
# is a real provider here, configured to make no call at all (the tests set
# db_password_generate = false, so it is never asked for a password).
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

# The us-east-1 configuration of the CloudFront web ACL (waf.tf), mocked too;
# its own assertions are in tests/waf.tftest.hcl.
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

variables {
  github_repository = "example-org/snippetd"
  image_tag         = "3f1c2a9d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
  # The tests hand in the passwords through the ephemeral variables instead of
  # letting ephemeral.aws_secretsmanager_random_password generate them.
  db_password_generate = false
  app_db_password      = "test-only-AppPassword#5678"
}

run "network" {
  command = plan

  assert {
    condition     = length(aws_subnet.public) == 2 && length(aws_subnet.private) == 2
    error_message = "2 public and 2 private subnets expected."
  }

  assert {
    condition     = toset(aws_subnet.private[*].availability_zone) == toset(["eu-west-1a", "eu-west-1b"])
    error_message = "The private subnets must span two AZs."
  }

  assert {
    condition     = length(aws_nat_gateway.main) == 1
    error_message = "One NAT gateway by default."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Nothing launched in the public subnets gets a public IP implicitly."
  }
}

run "nat_per_az" {
  command = plan

  variables {
    nat_gateway_per_az = true
  }

  assert {
    condition     = length(aws_nat_gateway.main) == 2 && length(aws_eip.nat) == 2
    error_message = "nat_gateway_per_az = true must create one NAT gateway per AZ."
  }
}

run "database" {
  command = plan

  assert {
    condition     = aws_db_instance.main.publicly_accessible == false
    error_message = "RDS must not be publicly accessible."
  }

  assert {
    condition     = aws_db_instance.main.engine == "postgres" && startswith(aws_db_instance.main.engine_version, "16")
    error_message = "PostgreSQL 16 expected."
  }

  assert {
    condition     = aws_db_instance.main.instance_class == "db.t4g.micro"
    error_message = "db.t4g.micro by default."
  }

  assert {
    condition     = aws_db_instance.main.storage_encrypted == true
    error_message = "RDS storage must be encrypted."
  }

  assert {
    condition     = aws_db_instance.main.backup_retention_period >= 1
    error_message = "Automated backups must be on."
  }

  assert {
    condition     = aws_db_instance.main.deletion_protection == true && aws_db_instance.main.multi_az == false
    error_message = "Defaults: deletion protection on, single AZ."
  }

  # --- the master password is RDS's own (issue 33, point 2) ---
  assert {
    condition = (
      aws_db_instance.main.manage_master_user_password == true &&
      aws_db_instance.main.password == null && aws_db_instance.main.password_wo == null
    )
    error_message = "The master password is RDS-managed: never in the plan or the state."
  }

  assert {
    condition     = one(aws_secretsmanager_secret_rotation.db_master.rotation_rules).automatically_after_days == 30
    error_message = "The managed master secret rotates every db_master_rotation_days (30)."
  }

  assert {
    condition = (
      toset(keys(aws_cloudwatch_log_group.rds)) == toset(["postgresql", "upgrade"]) &&
      aws_cloudwatch_log_group.rds["postgresql"].name == "/aws/rds/instance/snippetd-db/postgresql" &&
      aws_cloudwatch_log_group.rds["upgrade"].name == "/aws/rds/instance/snippetd-db/upgrade" &&
      alltrue([for g in aws_cloudwatch_log_group.rds : g.retention_in_days == 30]) &&
      toset(aws_db_instance.main.enabled_cloudwatch_logs_exports) == toset(keys(aws_cloudwatch_log_group.rds))
    )
    error_message = "Each log RDS exports goes to a declared group with a retention (issue 33, point 8)."
  }

  assert {
    condition     = one([for p in aws_db_parameter_group.main.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "The database must refuse non-TLS connections."
  }

  assert {
    condition     = aws_db_instance.main.performance_insights_enabled && aws_db_instance.main.performance_insights_retention_period == 7
    error_message = "Performance Insights on by default, with the free 7-day retention."
  }

  # --- the application role's secret (issue 18) ---
  assert {
    condition     = aws_secretsmanager_secret_version.app_db.secret_string == null || aws_secretsmanager_secret_version.app_db.secret_string == ""
    error_message = "The application role's secret value must not be in the state (secret_string_wo only)."
  }

  assert {
    condition     = aws_secretsmanager_secret_version.app_db.secret_string_wo_version == 1 && aws_secretsmanager_secret.app_db.name_prefix == "snippetd/db-app-"
    error_message = "The application role has its own secret, version 1 by default."
  }

  assert {
    condition     = aws_kms_key.main.enable_key_rotation
    error_message = "The customer-managed key rotates."
  }
}

run "database_options" {
  command = plan

  variables {
    db_multi_az            = true
    db_deletion_protection = false
    db_instance_class      = "db.t4g.small"
  }

  assert {
    condition     = aws_db_instance.main.multi_az && !aws_db_instance.main.deletion_protection && aws_db_instance.main.instance_class == "db.t4g.small"
    error_message = "multi-AZ, deletion protection and instance class follow the variables."
  }
}

run "registry" {
  command = plan

  assert {
    condition     = aws_ecr_repository.api.image_tag_mutability == "IMMUTABLE"
    error_message = "Image tags must be immutable."
  }

  assert {
    condition     = aws_ecr_repository.api.image_scanning_configuration[0].scan_on_push
    error_message = "Scan on push expected."
  }

  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.api.policy).rules[0].selection.countNumber == 30
    error_message = "The lifecycle policy must keep the last ecr_keep_images (30) images."
  }
}

run "wiring" {
  command = apply

  # --- security-group chain: CloudFront -> ALB -> tasks -> RDS ---
  assert {
    condition     = aws_vpc_security_group_ingress_rule.alb_from_cloudfront.prefix_list_id == "pl-4fa04526"
    error_message = "The ALB must admit the CloudFront origin-facing prefix list."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.alb_from_cloudfront.cidr_ipv4 == null && aws_vpc_security_group_ingress_rule.alb_from_cloudfront.from_port == 80
    error_message = "The ALB admits port 80 from the prefix list only, no CIDR."
  }

  # --- internal ALB behind a CloudFront VPC origin (issue 18) ---
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.alb_from_vpc_origin.security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.alb_from_vpc_origin.referenced_security_group_id == "sg-0cf0a1b2c3d4e5f60" &&
      aws_vpc_security_group_ingress_rule.alb_from_vpc_origin.from_port == 80 &&
      aws_vpc_security_group_ingress_rule.alb_from_vpc_origin.cidr_ipv4 == null
    )
    error_message = "The ALB must admit port 80 from CloudFront's VPC origin security group."
  }

  assert {
    condition = (
      aws_lb.api.internal == true &&
      toset(aws_lb.api.subnets) == toset(aws_subnet.private[*].id) &&
      aws_lb.api.security_groups == toset([aws_security_group.alb.id])
    )
    error_message = "The ALB must be internal, in the private subnets (no public IPv4), in the ALB security group."
  }

  assert {
    condition = (
      one(aws_cloudfront_vpc_origin.alb.vpc_origin_endpoint_config).arn == aws_lb.api.arn &&
      one(aws_cloudfront_vpc_origin.alb.vpc_origin_endpoint_config).http_port == 80 &&
      one(aws_cloudfront_vpc_origin.alb.vpc_origin_endpoint_config).origin_protocol_policy == "http-only"
    )
    error_message = "The VPC origin must point at the internal ALB's HTTP listener."
  }

  assert {
    condition = (
      one(one(aws_cloudfront_distribution.api.origin).vpc_origin_config).vpc_origin_id == aws_cloudfront_vpc_origin.alb.id &&
      length(one(aws_cloudfront_distribution.api.origin).custom_origin_config) == 0 &&
      length(one(aws_cloudfront_distribution.api.origin).custom_header) == 0
    )
    error_message = "CloudFront must reach the ALB through the VPC origin, with no custom (internet) origin and no secret header."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.tasks_from_alb.security_group_id == aws_security_group.tasks.id &&
      aws_vpc_security_group_ingress_rule.tasks_from_alb.referenced_security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.tasks_from_alb.from_port == 3000
    )
    error_message = "The tasks must admit port 3000 from the ALB's security group only."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.db_from_tasks.security_group_id == aws_security_group.db.id &&
      aws_vpc_security_group_ingress_rule.db_from_tasks.referenced_security_group_id == aws_security_group.tasks.id &&
      aws_vpc_security_group_ingress_rule.db_from_tasks.from_port == 5432 &&
      aws_vpc_security_group_ingress_rule.db_from_tasks.to_port == 5432
    )
    error_message = "RDS must admit 5432 from the tasks' security group only."
  }

  assert {
    condition     = aws_db_instance.main.vpc_security_group_ids == toset([aws_security_group.db.id])
    error_message = "RDS must be in the db security group only."
  }

  assert {
    condition     = toset(aws_db_subnet_group.main.subnet_ids) == toset(aws_subnet.private[*].id)
    error_message = "RDS must be in the private subnets."
  }

  # --- listener: everything that reaches the internal ALB is CloudFront's ---
  assert {
    condition = (
      aws_lb_listener.http.port == 80 &&
      aws_lb_listener.http.default_action[0].type == "forward" &&
      aws_lb_listener.http.default_action[0].target_group_arn == aws_lb_target_group.api.arn
    )
    error_message = "The internal listener forwards to the target group."
  }

  # --- target group ---
  assert {
    condition = (
      aws_lb_target_group.api.health_check[0].path == "/health" &&
      aws_lb_target_group.api.deregistration_delay == "10" &&
      aws_lb_target_group.api.port == 3000 &&
      aws_lb_target_group.api.target_type == "ip"
    )
    error_message = "Target group: /health, 10 s deregistration delay, IP targets on 3000."
  }

  # --- CloudFront ---
  assert {
    condition = (
      aws_cloudfront_distribution.api.viewer_certificate[0].cloudfront_default_certificate == true &&
      length(aws_cloudfront_distribution.api.aliases) == 0
    )
    error_message = "Without a custom domain the *.cloudfront.net certificate serves HTTPS."
  }

  assert {
    condition     = one(aws_cloudfront_distribution.api.origin[*].domain_name) == aws_lb.api.dns_name
    error_message = "CloudFront's origin must be the ALB."
  }

  assert {
    condition = (
      aws_cloudfront_distribution.api.default_cache_behavior[0].viewer_protocol_policy == "redirect-to-https" &&
      length(aws_cloudfront_distribution.api.default_cache_behavior[0].allowed_methods) == 7 &&
      aws_cloudfront_distribution.api.default_cache_behavior[0].cache_policy_id == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" &&
      aws_cloudfront_distribution.api.default_cache_behavior[0].origin_request_policy_id == aws_cloudfront_origin_request_policy.api.id
    )
    error_message = "CloudFront: HTTPS redirect, all methods, caching disabled, our origin request policy."
  }

  assert {
    condition = (
      aws_cloudfront_origin_request_policy.api.query_strings_config[0].query_string_behavior == "all" &&
      aws_cloudfront_origin_request_policy.api.headers_config[0].header_behavior == "allViewerAndWhitelistCloudFront" &&
      contains(aws_cloudfront_origin_request_policy.api.headers_config[0].headers[0].items, "CloudFront-Viewer-Address")
    )
    error_message = "Query strings, every viewer header (Authorization, traceparent) and CloudFront-Viewer-Address must reach the origin."
  }

  assert {
    condition = anytrue([
      for e in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].environment :
      e.name == "TRUSTED_PROXIES" && e.value == var.vpc_cidr
    ])
    error_message = "The task must trust forwarding headers from the VPC (the ALB) only."
  }

  # --- ECS service ---
  assert {
    condition     = aws_ecs_service.api.deployment_circuit_breaker[0].enable && aws_ecs_service.api.deployment_circuit_breaker[0].rollback
    error_message = "The deployment circuit breaker with rollback must be on."
  }

  assert {
    condition = (
      aws_ecs_service.api.network_configuration[0].assign_public_ip == false &&
      toset(aws_ecs_service.api.network_configuration[0].subnets) == toset(aws_subnet.private[*].id) &&
      aws_ecs_service.api.network_configuration[0].security_groups == toset([aws_security_group.tasks.id])
    )
    error_message = "Tasks run in the private subnets, tasks security group, no public IP."
  }

  assert {
    condition = (
      one(aws_ecs_service.api.load_balancer[*].target_group_arn) == aws_lb_target_group.api.arn &&
      one(aws_ecs_service.api.load_balancer[*].container_port) == 3000 &&
      one(aws_ecs_service.api.load_balancer[*].container_name) == output.container_name
    )
    error_message = "The service must register container port 3000 in the target group."
  }

  assert {
    condition     = one([for st in aws_ecs_cluster.main.setting : st.value if st.name == "containerInsights"]) == "enabled"
    error_message = "Container Insights must be enabled."
  }

  assert {
    condition = (
      aws_ecs_task_definition.api.cpu == "256" && aws_ecs_task_definition.api.memory == "512" &&
      aws_ecs_task_definition.api.runtime_platform[0].cpu_architecture == "ARM64" &&
      aws_ecs_task_definition.api.execution_role_arn == aws_iam_role.execution.arn &&
      aws_ecs_task_definition.api.task_role_arn == aws_iam_role.task.arn
    )
    error_message = "Task: 0.25 vCPU / 512 MB, ARM64 (Graviton) by default, its own execution and task roles."
  }

  # --- container definition and the secret wiring ---
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].readonlyRootFilesystem == true &&
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].healthCheck.command == ["CMD", "/snippetd", "healthcheck"] &&
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].stopTimeout > 20 &&
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].portMappings[0].containerPort == 3000 &&
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd:3f1c2a9d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b"
    )
    error_message = "Container: read-only root, healthcheck command, stop timeout above the 20 s grace, port 3000, image from our repository."
  }

  # --- least privilege (issue 33, point 1): the serving task holds the
  # application role only; the master secret is the migration task's ---
  assert {
    condition = {
      for s in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].secrets : s.name => s.valueFrom
      } == {
      DB_USERNAME = "${aws_secretsmanager_secret.app_db.arn}:username::"
      DB_PASSWORD = "${aws_secretsmanager_secret.app_db.arn}:password::"
    }
    error_message = "The serving task connects as the application role (DB_* from its secret) and gets nothing else."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.api.container_definitions)[0].command == ["serve"] &&
      !strcontains(aws_ecs_task_definition.api.container_definitions, "rds!db-0123-MaStEr") &&
      !strcontains(aws_iam_role_policy.execution.policy, "rds!db-0123-MaStEr")
    )
    error_message = "The serving task runs serve (no migrate step) and neither it nor its execution role can reach the master secret."
  }

  assert {
    condition = {
      for s in jsondecode(aws_ecs_task_definition.migrate.container_definitions)[0].secrets : s.name => s.valueFrom
      } == {
      DB_USERNAME     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr:username::"
      DB_PASSWORD     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr:password::"
      APP_DB_USERNAME = "${aws_secretsmanager_secret.app_db.arn}:username::"
      APP_DB_PASSWORD = "${aws_secretsmanager_secret.app_db.arn}:password::"
    }
    error_message = "The migration task gets the RDS-managed master secret (DDL) and the application role's (to create it / set its password)."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.migrate.container_definitions)[0].command == ["migrate"] &&
      aws_ecs_task_definition.migrate.family == "snippetd-migrate" &&
      aws_ecs_task_definition.migrate.execution_role_arn == aws_iam_role.migrate_execution.arn &&
      aws_ecs_task_definition.migrate.runtime_platform[0].cpu_architecture == "ARM64" &&
      jsondecode(aws_ecs_task_definition.migrate.container_definitions)[0].image == jsondecode(aws_ecs_task_definition.api.container_definitions)[0].image &&
      jsondecode(aws_ecs_task_definition.migrate.container_definitions)[0].readonlyRootFilesystem == true &&
      jsondecode(aws_ecs_task_definition.migrate.container_definitions)[0].user == "65534" &&
      jsondecode(aws_iam_role_policy.migrate_execution.policy).Statement[2].Resource == ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr", aws_secretsmanager_secret.app_db.arn] &&
      output.migrate_task_family == "snippetd-migrate"
    )
    error_message = "Migration task: migrate, its own family and execution role (the only one reading the master secret), the same image and CPU."
  }

  # A master rotation needs no deploy: no serving task reads that secret,
  # and Terraform does not roll the service on password versions.
  assert {
    condition     = length(coalesce(aws_ecs_service.api.triggers, {})) == 0
    error_message = "No password version forces a new ECS deployment."
  }

  assert {
    condition = alltrue([
      for k, v in {
        DB_HOST        = "snippetd-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
        DB_PORT        = "5432"
        DB_NAME        = "snippetd"
        DB_SSLMODE     = "verify-full"
        DB_SSLROOTCERT = "/etc/ssl/certs/rds-global-bundle.pem"
        PORT           = "3000"
        EXPOSE_ERRORS  = "0"
        LOG_FORMAT     = "json"
      } : { for e in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].environment : e.name => e.value }[k] == v
    ])
    error_message = "The DB connection (verify-full, RDS bundle) and production settings must be plain environment."
  }

  assert {
    condition = alltrue([
      for e in jsondecode(aws_ecs_task_definition.api.container_definitions)[0].environment : !contains(["DB_PASSWORD", "DB_USERNAME", "APP_DB_PASSWORD", "APP_DB_USERNAME", "DATABASE_URL"], e.name)
    ])
    error_message = "No credentials in plain environment."
  }

  assert {
    condition = (
      jsondecode(aws_iam_role_policy.execution.policy).Statement[2].Resource == [aws_secretsmanager_secret.app_db.arn] &&
      jsondecode(aws_iam_role_policy.execution.policy).Statement[1].Resource == aws_ecr_repository.api.arn
    )
    error_message = "The serving task's execution role reads only the application role's secret and pulls only from this repository."
  }

  assert {
    condition = (
      jsondecode(aws_iam_role.execution.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012" &&
      jsondecode(aws_iam_role.execution.assume_role_policy).Statement[0].Principal.Service == "ecs-tasks.amazonaws.com"
    )
    error_message = "Only ECS acting for this account may assume the execution role (aws:SourceAccount)."
  }

  assert {
    condition = (
      aws_db_instance.main.master_user_secret_kms_key_id == aws_kms_key.main.arn &&
      alltrue([for g in aws_cloudwatch_log_group.rds : g.kms_key_id == aws_kms_key.main.arn]) &&
      aws_secretsmanager_secret.app_db.kms_key_id == aws_kms_key.main.arn &&
      aws_db_instance.main.performance_insights_kms_key_id == aws_kms_key.main.arn &&
      aws_cloudwatch_log_group.api.kms_key_id == aws_kms_key.main.arn &&
      jsondecode(aws_iam_role_policy.execution.policy).Statement[3].Resource == aws_kms_key.main.arn &&
      jsondecode(aws_iam_role_policy.execution.policy).Statement[3].Condition.StringEquals["kms:ViaService"] == "secretsmanager.eu-west-1.amazonaws.com"
    )
    error_message = "The secrets, Performance Insights and the logs use the stack's key; the execution role decrypts only through Secrets Manager."
  }

  assert {
    condition     = aws_cloudwatch_log_group.api.retention_in_days == 30
    error_message = "The log group must have a retention."
  }

  # --- CI identity ---
  assert {
    condition = (
      jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == [
        "repo:example-org/snippetd:environment:production",
      ] &&
      jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com" &&
      jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Principal.Federated == aws_iam_openid_connect_provider.github[0].arn
    )
    error_message = "Only this repository's production environment may assume the deploy role (no bare ref:refs/heads/main subject)."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement :
      s.Resource != "*" || contains(["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks"], s.Action[0])
    ])
    error_message = "Only actions without resource-level permissions may use Resource = *."
  }

  # Exactly what the deploy workflow and deploy.sh call (issue 18): nothing
  # for CloudFront, load balancers, logs or tagging.
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Action])) == toset([
      "ecr:GetAuthorizationToken",
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
      "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition",
      "ecs:DescribeServices", "ecs:UpdateService",
      "ecs:DescribeTasks", "ecs:ListTasks", "ecs:RunTask",
      "iam:PassRole",
    ])
    error_message = "The deploy role must allow exactly the actions deploy.sh and the deploy workflow call."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s if contains(s.Action, "iam:PassRole")
      ]).Resource == [aws_iam_role.execution.arn, aws_iam_role.migrate_execution.arn, aws_iam_role.task.arn] && one([
      for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s if contains(s.Action, "iam:PassRole")
    ]).Condition.StringEquals["iam:PassedToService"] == "ecs-tasks.amazonaws.com"
    error_message = "iam:PassRole only for the task roles, only to ECS tasks."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s if contains(s.Action, "ecr:PutImage")
    ]).Resource == aws_ecr_repository.api.arn
    error_message = "The deploy role may push to this repository only."
  }

  # --- outputs ---
  assert {
    condition = (
      output.api_repo_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd" &&
      output.alb_dns_name == "snippetd-alb-123456789.eu-west-1.elb.amazonaws.com" &&
      output.api_url == "https://d111111abcdef8.cloudfront.net" &&
      output.ecs_cluster_name == "snippetd" &&
      output.ecs_service_name == "snippetd" &&
      output.db_secret_arn == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-MaStEr" &&
      output.deploy_role_arn == aws_iam_role.deploy.arn &&
      output.cpu_architecture == "ARM64" &&
      output.image_platform == "linux/arm64" &&
      output.app_db_secret_arn == aws_secretsmanager_secret.app_db.arn &&
      output.task_family == "snippetd" &&
      output.container_name == "snippetd" &&
      output.task_definition_arn == aws_ecs_task_definition.api.arn
    )
    error_message = "The guide's six outputs plus the deploy's must be set."
  }
}

run "master_rotation_schedule" {
  command   = plan
  state_key = "plans"

  variables {
    db_master_rotation_days = 7
  }

  assert {
    condition = (
      one(aws_secretsmanager_secret_rotation.db_master.rotation_rules).automatically_after_days == 7 &&
      aws_secretsmanager_secret_rotation.db_master.rotate_immediately == false
    )
    error_message = "db_master_rotation_days sets the managed secret's rotation schedule."
  }
}

run "x86_64" {
  command   = plan
  state_key = "plans"

  variables {
    cpu_architecture = "X86_64"
  }

  assert {
    condition     = aws_ecs_task_definition.api.runtime_platform[0].cpu_architecture == "X86_64" && output.cpu_architecture == "X86_64" && output.image_platform == "linux/amd64"
    error_message = "cpu_architecture must reach the task definition and the outputs."
  }
}

run "app_password_rotation_waits_for_the_deploy" {
  command = plan

  variables {
    app_db_password_version = 3
  }

  assert {
    condition = (
      aws_secretsmanager_secret_version.app_db.secret_string_wo_version == 3 &&
      length(coalesce(aws_ecs_service.api.triggers, {})) == 0
    )
    error_message = "A new application password version reaches its secret only; the deploy (migration task, then the service) rolls it out, not Terraform."
  }
}

run "custom_domain" {
  command = apply

  variables {
    domain_name         = "api.example.com"
    acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
  }

  assert {
    condition = (
      aws_cloudfront_distribution.api.aliases == toset(["api.example.com"]) &&
      aws_cloudfront_distribution.api.viewer_certificate[0].acm_certificate_arn == "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789" &&
      aws_cloudfront_distribution.api.viewer_certificate[0].minimum_protocol_version == "TLSv1.2_2021" &&
      aws_cloudfront_distribution.api.viewer_certificate[0].ssl_support_method == "sni-only" &&
      aws_cloudfront_distribution.api.viewer_certificate[0].cloudfront_default_certificate == false &&
      output.api_url == "https://api.example.com"
    )
    error_message = "A custom domain serves the ACM certificate with SNI and a TLS 1.2 minimum, and becomes api_url."
  }
}

run "rejects_domain_without_certificate" {
  command   = plan
  state_key = "plans"

  variables {
    domain_name = "api.example.com"
  }

  expect_failures = [aws_cloudfront_distribution.api]
}

run "rejects_app_role_named_like_the_master" {
  command   = plan
  state_key = "plans"

  variables {
    app_db_username = "snippetd"
  }

  expect_failures = [var.app_db_username]
}

run "existing_oidc_provider" {
  command   = plan
  state_key = "plans"

  variables {
    github_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }

  assert {
    condition = (
      length(aws_iam_openid_connect_provider.github) == 0 &&
      jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    )
    error_message = "An existing OIDC provider is reused."
  }
}

run "rejects_empty_github_environment" {
  command   = plan
  state_key = "plans"

  variables {
    github_environment = ""
  }

  expect_failures = [var.github_environment]
}

run "rejects_bad_architecture" {
  command   = plan
  state_key = "plans"

  variables {
    cpu_architecture = "amd64"
  }

  expect_failures = [var.cpu_architecture]
}

run "rejects_stop_timeout_below_grace" {
  command   = plan
  state_key = "plans"

  variables {
    shutdown_grace_seconds = 30
    stop_timeout_seconds   = 25
  }

  expect_failures = [aws_ecs_task_definition.api]
}

run "rejects_password_with_forbidden_characters" {
  command   = plan
  state_key = "plans"

  variables {
    app_db_password = "has/a/slash-and-long-enough"
  }

  expect_failures = [var.app_db_password]
}

run "requires_image_tag" {
  command   = plan
  state_key = "plans"

  variables {
    image_tag = null
  }

  expect_failures = [aws_ecs_task_definition.api]
}

run "rejects_latest_tag" {
  command   = plan
  state_key = "plans"

  variables {
    image_tag = "latest"
  }

  expect_failures = [var.image_tag]
}

# --- issue 33: the two presets, the edge, capacity ---------------------------

run "development_preset" {
  command = plan

  assert {
    condition = (
      length(aws_nat_gateway.main) == 1 &&
      aws_db_instance.main.multi_az == false &&
      aws_ecs_service.api.desired_count == 1 &&
      aws_appautoscaling_target.api.min_capacity == 1 &&
      length(aws_s3_bucket.alb_logs) == 0 &&
      length(aws_lb.api.access_logs) == 0 &&
      length(aws_route53_health_check.ready) == 0 &&
      aws_budgets_budget.monthly.limit_amount == "175.00"
    )
    error_message = "development (the default) stays cheap: one NAT, single-AZ, one task, no ALB log bucket, no health check, budget 175."
  }

  assert {
    condition = (
      aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" &&
      aws_vpc_endpoint.s3.service_name == "com.amazonaws.eu-west-1.s3" &&
      length(aws_vpc_endpoint.s3.route_table_ids) == 2
    )
    error_message = "The free S3 gateway endpoint serves both private route tables (image layers skip the NAT)."
  }

  assert {
    condition = (
      one(aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration).target_value == 30000 &&
      one(one(aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration).predefined_metric_specification).predefined_metric_type == "ALBRequestCountPerTarget" &&
      one(one(aws_appautoscaling_policy.memory.target_tracking_scaling_policy_configuration).predefined_metric_specification).predefined_metric_type == "ECSServiceAverageMemoryUtilization" &&
      aws_ecs_service.api.availability_zone_rebalancing == "ENABLED"
    )
    error_message = "Autoscaling tracks requests per target (30,000/min) and memory as well as CPU; tasks rebalance over the AZs."
  }
}

run "production_preset" {
  command = apply
  # A fresh stack: on an existing one the service's desired_count is the
  # autoscaler's (ignore_changes), which the raised minimum lifts to 2.
  state_key = "production"

  variables {
    environment         = "production"
    domain_name         = "api.example.com"
    acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    alarm_emails        = ["oncall@example.com"]
  }

  assert {
    condition = (
      length(aws_nat_gateway.main) == 2 &&
      aws_db_instance.main.multi_az == true &&
      aws_ecs_service.api.desired_count == 2 &&
      aws_appautoscaling_target.api.min_capacity == 2 &&
      length(aws_ecs_service.api.network_configuration[0].subnets) == 2 &&
      aws_budgets_budget.monthly.limit_amount == "250.00"
    )
    error_message = "production: 2 tasks over the 2 private subnets' AZs, Multi-AZ RDS, a NAT per AZ, budget 250."
  }

  assert {
    condition     = aws_cloudfront_distribution.api.viewer_certificate[0].minimum_protocol_version == "TLSv1.2_2021"
    error_message = "production serves TLSv1.2_2021 at least."
  }

  assert {
    condition = (
      one(aws_lb.api.access_logs).enabled &&
      one(aws_lb.api.access_logs).bucket == aws_s3_bucket.alb_logs[0].id &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.alb_logs[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256" &&
      aws_s3_bucket_public_access_block.alb_logs[0].block_public_policy
    )
    error_message = "production: ALB access logs to a private, encrypted bucket."
  }

  assert {
    condition = (
      aws_route53_health_check.ready[0].resource_path == "/ready" &&
      aws_route53_health_check.ready[0].type == "HTTPS" &&
      aws_route53_health_check.ready[0].fqdn == "api.example.com" &&
      aws_cloudwatch_metric_alarm.ready[0].alarm_actions == toset([aws_sns_topic.edge_alarms.arn]) &&
      contains(aws_ecs_service.api.alarms[0].alarm_names, aws_cloudwatch_metric_alarm.ready[0].alarm_name)
    )
    error_message = "production: a synthetic /ready check whose alarm notifies and rolls a deployment back (stack in us-east-1)."
  }

  assert {
    condition     = [for s in aws_sns_topic_subscription.edge_alarm_email : s.endpoint] == ["oncall@example.com"]
    error_message = "The edge alarm topic has the same subscribers."
  }
}

run "production_requires_a_custom_domain" {
  command   = plan
  state_key = "plans"

  variables {
    environment  = "production"
    alarm_emails = ["oncall@example.com"]
  }

  expect_failures = [aws_cloudfront_distribution.api]
}

run "production_requires_an_alarm_subscriber" {
  command   = plan
  state_key = "plans"

  variables {
    environment         = "production"
    domain_name         = "api.example.com"
    acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
  }

  expect_failures = [var.alarm_emails]
}

run "edge_logs_and_alarms" {
  command = apply

  assert {
    condition = (
      aws_cloudwatch_log_delivery_source.cloudfront.resource_arn == aws_cloudfront_distribution.api.arn &&
      aws_cloudwatch_log_delivery_source.cloudfront.log_type == "ACCESS_LOGS" &&
      one(aws_cloudwatch_log_delivery_destination.cloudfront.delivery_destination_configuration).destination_resource_arn == aws_cloudwatch_log_group.cloudfront.arn &&
      aws_cloudwatch_log_delivery.cloudfront.delivery_destination_arn == aws_cloudwatch_log_delivery_destination.cloudfront.arn
    )
    error_message = "CloudFront standard logging v2 delivers the access logs to a CloudWatch log group."
  }

  assert {
    condition = (
      aws_cloudwatch_log_group.cloudfront.kms_key_id == aws_kms_key.edge.arn &&
      aws_cloudwatch_log_group.waf.kms_key_id == aws_kms_key.edge.arn &&
      aws_cloudwatch_log_group.cloudfront.retention_in_days == 30
    )
    error_message = "The edge log groups use the stack's us-east-1 key and a retention."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.cloudfront_5xx_rate.metric_name == "5xxErrorRate" &&
      aws_cloudwatch_metric_alarm.cloudfront_5xx_rate.dimensions["Region"] == "Global" &&
      aws_cloudwatch_metric_alarm.waf_blocked.metric_name == "BlockedRequests" &&
      aws_cloudwatch_metric_alarm.waf_blocked.dimensions["WebACL"] == aws_wafv2_web_acl.cloudfront.name &&
      aws_cloudwatch_metric_alarm.waf_blocked.alarm_actions == toset([aws_sns_topic.edge_alarms.arn])
    )
    error_message = "CloudFront 5xxErrorRate and WAF BlockedRequests alarm the edge topic."
  }
}

run "connection_budget_refused" {
  command   = plan
  state_key = "plans"

  variables {
    autoscaling_max = 10
  }

  # 2 x 10 x (10 + 2) = 240 connections at a rolling deploy's peak; db.t4g.micro allows 112.
  expect_failures = [aws_appautoscaling_target.api]
}

run "connection_budget_bigger_class" {
  command   = plan
  state_key = "plans"

  variables {
    autoscaling_max   = 10
    db_instance_class = "db.t4g.medium"
  }

  assert {
    condition     = aws_appautoscaling_target.api.max_capacity == 10
    error_message = "db.t4g.medium (450 connections) takes 10 tasks of pool 10 (240 at the peak)."
  }
}

run "connection_budget_unknown_class_needs_the_value" {
  command   = plan
  state_key = "plans"

  variables {
    db_instance_class = "db.x2g.large"
  }

  expect_failures = [aws_appautoscaling_target.api]
}
