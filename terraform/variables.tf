# ---------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------

variable "aws_region" {
  description = "AWS region for everything except CloudFront (global)."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource (also the Project tag)."
  type        = string
  default     = "snippetd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2-21 characters, lowercase letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  description = "The preset (issue 33, point 7): \"development\" (cheap: one task, single-AZ database, one NAT gateway, *.cloudfront.net allowed) or \"production\" (at least 2 tasks over 2 AZs, Multi-AZ RDS, a NAT gateway per AZ, a custom domain with TLSv1.2_2021 required, at least one alarm e-mail required, ALB access logs, a Route 53 health check on /ready). See production.tf."
  type        = string
  default     = "development"

  validation {
    condition     = contains(["development", "production"], var.environment)
    error_message = "environment must be \"development\" or \"production\"."
  }
}

variable "tags" {
  description = "Extra tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the VPC; subnets are /24s carved out of it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR of /20 or larger."
  }
}

variable "availability_zones" {
  description = "The two AZs to use, e.g. [\"us-east-1a\", \"us-east-1b\"]. Empty: the first two available in the region (pin them after the first apply so an AZ outage cannot reshuffle the list)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) == 2
    error_message = "availability_zones must be empty or list exactly two AZs."
  }
}

variable "nat_gateway_per_az" {
  description = "false: one NAT gateway shared by both private subnets (cheaper, the guide's choice; an AZ outage cuts egress for the other AZ). true: one NAT gateway per AZ."
  type        = bool
  default     = false
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow logs (rejected traffic only) in CloudWatch. 0 disables flow logs."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_engine_version" {
  description = "PostgreSQL version. A major version (\"16\") lets RDS pick the newest minor and auto_minor_version_upgrade keep it current."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^16(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be PostgreSQL 16 (\"16\" or \"16.x\"); the parameter group family is postgres16."
  }
}

variable "db_allocated_storage" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "db_name" {
  description = "Database name (DB_NAME)."
  type        = string
  default     = "snippetd"
}

variable "db_username" {
  description = "Master user name (DB_USERNAME, stored in the secret)."
  type        = string
  default     = "snippetd"
}

variable "db_master_rotation_days" {
  description = "Days between rotations of the RDS-managed master password (Secrets Manager rotates it; no deploy needed: only the migration task reads it, when it starts)."
  type        = number
  default     = 30

  validation {
    condition     = var.db_master_rotation_days >= 1 && var.db_master_rotation_days <= 365
    error_message = "db_master_rotation_days must be 1-365."
  }
}

variable "db_password_generate" {
  description = "true: Terraform generates the application role's password (Secrets Manager GetRandomPassword, ephemeral). false: it takes app_db_password. (The master password is RDS's own: manage_master_user_password.)"
  type        = bool
  default     = true
}

variable "db_multi_az" {
  description = "Run a standby in the second AZ."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "RDS deletion protection. Set false (and apply) before terraform destroy."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Skip the final snapshot on destroy (only for throw-away environments)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Automated backup retention in days (1-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 1-35: automated backups stay on."
  }
}

variable "db_apply_immediately" {
  description = "Apply RDS modifications (instance class, parameter group, ...) now instead of in the maintenance window. Password changes are always applied at once by RDS."
  type        = bool
  default     = false
}

variable "db_performance_insights" {
  description = "Enable Performance Insights (7-day retention: the free tier)."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted database secret can be restored (0 deletes at once)."
  type        = number
  default     = 7
}

# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

variable "ecr_repository_name" {
  description = "ECR repository name."
  type        = string
  default     = "snippetd"
}

variable "ecr_keep_images" {
  description = "Lifecycle policy: keep this many most recent images, expire older ones. Keep it well above the number of revisions you may want to roll back to."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_images >= 5
    error_message = "ecr_keep_images must be at least 5 so rollbacks still find their image."
  }
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the repository even when it holds images."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Service
# ---------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of an image already pushed to the repository (the commit SHA), used by the task definition Terraform registers; required for every apply except the targeted registry-only one. Later deploys register their own revisions; see docs/deploy.md."
  type        = string
  default     = null

  validation {
    condition     = var.image_tag == null || (can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest")
    error_message = "image_tag must be a valid Docker tag and not 'latest' (tags are immutable; deploy by commit SHA)."
  }
}

variable "cpu_architecture" {
  description = "Fargate CPU architecture. The image must be built for the same platform (X86_64 = linux/amd64, ARM64 = linux/arm64); the deploy reads this output. ARM64 (Graviton) costs ~20 % less per vCPU-hour and memory-hour."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256
}

variable "task_memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 512
}

variable "desired_count" {
  description = "Number of tasks at creation. Afterwards autoscaling owns the count (Terraform ignores drift), between autoscaling_min and autoscaling_max."
  type        = number
  default     = 1
}

variable "autoscaling_min" {
  description = "Minimum number of tasks."
  type        = number
  default     = 1
}

variable "autoscaling_max" {
  description = "Maximum number of tasks."
  type        = number
  default     = 4

  validation {
    condition     = var.autoscaling_max >= 1
    error_message = "autoscaling_max must be at least 1."
  }
}

variable "autoscaling_requests_per_target" {
  description = "Target of the ALBRequestCountPerTarget policy: requests per task per minute. Default 30,000 (500 req/s): a third of what 0.25 vCPU served in the most CPU-hungry common read (a list page, ~1,500 req/s measured; docs/capacity.md). Scale it with task_cpu."
  type        = number
  default     = 30000

  validation {
    condition     = var.autoscaling_requests_per_target >= 100
    error_message = "autoscaling_requests_per_target must be at least 100."
  }
}

variable "autoscaling_memory_target" {
  description = "Target average memory utilisation (percent) for target tracking."
  type        = number
  default     = 70

  validation {
    condition     = var.autoscaling_memory_target > 10 && var.autoscaling_memory_target <= 90
    error_message = "autoscaling_memory_target must be in (10, 90]."
  }
}

variable "db_max_connections" {
  description = "max_connections of the instance (SHOW max_connections) when known; null: the class's value from the lookup table in production.tf (RDS's default LEAST(DBInstanceClassMemory/9531392, 5000) at the class's nominal memory)."
  type        = number
  default     = null
}

variable "autoscaling_cpu_target" {
  description = "Target average CPU utilisation (percent) for target tracking."
  type        = number
  default     = 60

  validation {
    condition     = var.autoscaling_cpu_target > 10 && var.autoscaling_cpu_target <= 90
    error_message = "autoscaling_cpu_target must be in (10, 90]."
  }
}

variable "container_port" {
  description = "Port the container listens on (PORT)."
  type        = number
  default     = 3000
}

variable "shutdown_grace_seconds" {
  description = "SHUTDOWN_GRACE_SECONDS of the app: time to finish in-flight requests after SIGTERM."
  type        = number
  default     = 20
}

variable "stop_timeout_seconds" {
  description = "ECS stopTimeout: seconds between SIGTERM and SIGKILL. Must exceed shutdown_grace_seconds (Fargate maximum 120)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout_seconds >= 2 && var.stop_timeout_seconds <= 120
    error_message = "stop_timeout_seconds must be 2-120 (Fargate limit)."
  }
}

variable "health_check_grace_seconds" {
  description = "Seconds ECS ignores failing load balancer health checks after a task starts (serve connects to the database and checks the schema first)."
  type        = number
  default     = 90
}

variable "db_pool_size" {
  description = "DB_POOL_SIZE per task. A precondition keeps 2 x autoscaling_max x (db_pool_size + 2) below the class's max_connections (production.tf, docs/capacity.md)."
  type        = number
  default     = 10
}

variable "bootstrap_admin_token_sha256" {
  description = "SHA-256 (hex) of the first admin token, from `snippetd token new` (second line). Not a secret: serve makes sure an owner `admin` with that token exists. Empty: no bootstrap."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9a-f]{64})?$", var.bootstrap_admin_token_sha256))
    error_message = "bootstrap_admin_token_sha256 must be 64 lower-case hex digits (the SHA-256, never the token itself), or empty."
  }
}

variable "rust_log" {
  description = "RUST_LOG filter."
  type        = string
  default     = "info"
}

variable "cors_allowed_origins" {
  description = "CORS_ALLOWED_ORIGINS (comma-separated origins; empty disables CORS)."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch retention of the container logs."
  type        = number
  default     = 30
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until the service is stable (useful on the first apply)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Load balancer and CDN
# ---------------------------------------------------------------------------

variable "alb_deletion_protection" {
  description = "ALB deletion protection. Set false (and apply) before terraform destroy."
  type        = bool
  default     = true
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}

# ---------------------------------------------------------------------------
# CI identity (GitHub OIDC)
# ---------------------------------------------------------------------------

variable "github_repository" {
  description = "GitHub repository allowed to deploy, as OWNER/REPO."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO."
  }
}

variable "github_environment" {
  description = "GitHub environment of the deploy job: the deploy role trusts only tokens whose sub is repo:OWNER/REPO:environment:NAME. Restrict that environment to the main branch in GitHub."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.github_environment))
    error_message = "github_environment must name the deploy job's GitHub environment (the only subject the deploy role trusts)."
  }
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com OIDC provider (an account has at most one). Empty: create it."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------
# Observability: alarms, dashboard, budget (alarms.tf, dashboard.tf,
# budget.tf, sns.tf; runbook in docs/operations.md)
# ---------------------------------------------------------------------------

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (alarms and the budget). Each address must confirm the subscription from the mail AWS sends. Empty: subscribe something else to the alarm_topic_arn output."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }

  # Alarms that notify nobody are not production (issue 33, point 7).
  validation {
    condition     = var.environment != "production" || length(var.alarm_emails) > 0
    error_message = "environment = \"production\" needs at least one alarm_emails address: the alarms must reach someone."
  }
}

variable "alarm_min_requests_per_minute" {
  description = "The 5xx-rate and p99 alarms read 0 in minutes with fewer requests than this (a rate over a handful of requests is noise)."
  type        = number
  default     = 20
}

variable "alarm_alb_5xx_rate_percent" {
  description = "Alarm (and roll back a deployment) when more than this percentage of requests get a 5xx generated by the ALB itself (502/503/504), in 2 of 3 minutes."
  type        = number
  default     = 5
}

variable "alarm_target_5xx_rate_percent" {
  description = "Alarm (and roll back a deployment) when more than this percentage of requests get a 5xx from the tasks, in 2 of 3 minutes."
  type        = number
  default     = 5
}

variable "alarm_target_p99_seconds" {
  description = "Alarm (and roll back a deployment) when the p99 of the tasks' response time (ALB TargetResponseTime) exceeds this many seconds, in 3 of 5 minutes."
  type        = number
  default     = 1
}

variable "alarm_unhealthy_hosts" {
  description = "Alarm when at least this many targets fail the ALB health check for 3 minutes."
  type        = number
  default     = 1
}

variable "alarm_ecs_missing_tasks" {
  description = "Alarm when the service runs at least this many tasks fewer than desired for 5 minutes."
  type        = number
  default     = 1
}

variable "alarm_ecs_cpu_percent" {
  description = "Alarm when the service's average CPU exceeds this percentage for 15 minutes (autoscaling aims at autoscaling_cpu_target)."
  type        = number
  default     = 85
}

variable "alarm_ecs_memory_percent" {
  description = "Alarm when the service's average memory use exceeds this percentage of task_memory for 5 minutes."
  type        = number
  default     = 85
}

variable "alarm_rds_cpu_percent" {
  description = "Alarm when the database's CPU exceeds this percentage for 15 minutes."
  type        = number
  default     = 80
}

variable "alarm_rds_free_storage_gib" {
  description = "Alarm when the database's free storage falls below this many GiB."
  type        = number
  default     = 2
}

variable "alarm_rds_connections" {
  description = "Alarm when the database has more connections than this for 5 minutes. db.t4g.micro allows about 100 (max_connections); the tasks open up to autoscaling_max x db_pool_size."
  type        = number
  default     = 80
}

variable "alarm_rds_freeable_memory_mib" {
  description = "Alarm when the database's freeable memory falls below this many MiB for 10 minutes."
  type        = number
  default     = 64
}

variable "alarm_app_5xx_per_minute" {
  description = "Alarm (and roll back a deployment) when snippetd counts at least this many 5xx a minute over all routes (EMF metric), in 2 of 3 minutes."
  type        = number
  default     = 5
}

variable "alarm_app_checkout_timeouts_per_minute" {
  description = "Alarm when at least this many requests a minute get no database connection within DB_POOL_TIMEOUT_MS (EMF metric), in 3 of 5 minutes."
  type        = number
  default     = 1
}

variable "alarm_cloudfront_5xx_rate_percent" {
  description = "Alarm (edge topic, us-east-1) when CloudFront's 5xxErrorRate exceeds this percentage in 3 of 5 minutes."
  type        = number
  default     = 5
}

variable "alarm_waf_blocked_per_5_minutes" {
  description = "Alarm (edge topic, us-east-1) when WAF blocks more than this many requests in each of two consecutive 5-minute periods."
  type        = number
  default     = 500
}

variable "budget_monthly_limit_usd" {
  description = "Monthly AWS Budgets cost limit in USD. The budget alerts the alarm topic at 80 % of it (actual) and when the month's forecast exceeds it. null: above the expected spend of the preset (docs/operations.md, \"Cost\"): 175 for development (expected ~$115-150), 250 for production (expected ~$180-215)."
  type        = number
  default     = null

  validation {
    condition     = var.budget_monthly_limit_usd == null || try(var.budget_monthly_limit_usd > 0, false)
    error_message = "budget_monthly_limit_usd must be positive."
  }
}

variable "budget_filter_by_project_tag" {
  description = "false: the budget covers the whole account's cost. true: only cost tagged Project = var.name; activate Project as a cost allocation tag in the Billing console first, or the budget sees nothing."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Edge: AWS WAF on CloudFront (waf.tf; cost in docs/deploy.md)
# ---------------------------------------------------------------------------

variable "waf_rate_limit_window_seconds" {
  description = "Window over which WAF counts each client IP's requests for the rate-based rules: 60, 120, 300 or 600."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.waf_rate_limit_window_seconds)
    error_message = "waf_rate_limit_window_seconds must be 60, 120, 300 or 600."
  }
}

variable "waf_rate_limit_all" {
  description = "Requests of any method one client IP may send per waf_rate_limit_window_seconds before WAF answers 429, across all tasks (the global line; the app's own limits are per task)."
  type        = number
  default     = 3000

  validation {
    condition     = var.waf_rate_limit_all >= 10 && var.waf_rate_limit_all <= 2000000000
    error_message = "waf_rate_limit_all must be 10 to 2,000,000,000 (WAF's range)."
  }
}

variable "waf_rate_limit_writes" {
  description = "POST, PUT, PATCH and DELETE requests one client IP may send per waf_rate_limit_window_seconds before WAF answers 429."
  type        = number
  default     = 300

  validation {
    condition     = var.waf_rate_limit_writes >= 10 && var.waf_rate_limit_writes <= 2000000000
    error_message = "waf_rate_limit_writes must be 10 to 2,000,000,000 (WAF's range)."
  }
}

variable "waf_common_rules_to_count" {
  description = "Rules of AWSManagedRulesCommonRuleSet set to count (logged, not blocked). SizeRestrictions_BODY must stay (snippets are up to 256 KiB; it blocks bodies over 8 KiB); the *_BODY rules that match code (XSS, LFI, RFI, metadata-address patterns) are counted too, because a snippet is code (docs/deploy.md)."
  type        = list(string)
  default = [
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
  ]

  validation {
    condition     = contains(var.waf_common_rules_to_count, "SizeRestrictions_BODY")
    error_message = "waf_common_rules_to_count must contain SizeRestrictions_BODY: it would block every snippet over 8 KiB."
  }
}

variable "waf_anonymous_ip_rules_to_count" {
  description = "Rules of AWSManagedRulesAnonymousIpList (applied to POST, PUT, PATCH and DELETE only) set to count instead of block. Default: HostingProviderIPList, because API clients and CI jobs write from cloud hosts; AnonymousIPList (VPNs, Tor, proxies) blocks. Add \"AnonymousIPList\" to let anonymized clients write."
  type        = list(string)
  default     = ["HostingProviderIPList"]
}

variable "waf_log_retention_days" {
  description = "CloudWatch retention of the WAF logs (log group aws-waf-logs-<name> in us-east-1)."
  type        = number
  default     = 30
}

variable "waf_log_all_requests" {
  description = "false: log only the requests WAF blocked or counted (cheap). true: log every request (CloudWatch Logs ingestion for every request; for investigations)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Issue 18: custom domain (viewer TLS minimum) and the application's own
# database role
# ---------------------------------------------------------------------------

variable "domain_name" {
  description = "Custom domain of the API (e.g. api.example.com), served by CloudFront with acm_certificate_arn and a TLS 1.2 minimum (TLSv1.2_2021). Empty: the *.cloudfront.net name. Point a DNS alias/CNAME at the distribution yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be empty or a lowercase DNS name."
  }
}

variable "acm_certificate_arn" {
  description = "ARN of an issued ACM certificate in us-east-1 (CloudFront's region) covering domain_name. Set together with domain_name."
  type        = string
  default     = ""

  validation {
    condition     = var.acm_certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be empty or an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from there)."
  }
}

variable "app_db_username" {
  description = "PostgreSQL role `snippetd serve` connects as (APP_DB_USERNAME): created and granted SELECT/INSERT/UPDATE/DELETE on the application's tables by `snippetd migrate`, which runs as the master user (DB_USERNAME)."
  type        = string
  default     = "snippetd_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_db_username)) && var.app_db_username != var.db_username
    error_message = "app_db_username must be a lowercase PostgreSQL identifier (at most 63 characters) other than db_username."
  }
}

variable "app_db_password_version" {
  description = "Bump (1 -> 2 -> ...) to rotate the application role's password: one apply generates a new one and writes it to its secret (write-only, never in state); then `make deploy TAG=<running sha>`: its migration task sets it on the role and the service rolls onto it. See docs/deploy.md."
  type        = number
  default     = 1

  validation {
    condition     = var.app_db_password_version >= 1 && floor(var.app_db_password_version) == var.app_db_password_version
    error_message = "app_db_password_version must be a positive integer."
  }
}

variable "app_db_password" {
  description = "The application role's password when db_password_generate = false. Ephemeral: never stored in plan or state."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.app_db_password == null || can(regex("^[!#-&(-.0-?A-[\\]-~]{16,128}$", var.app_db_password))
    error_message = "app_db_password must be 16-128 printable ASCII characters without / \" @ ' \\ or space."
  }
}
