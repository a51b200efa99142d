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

variable "db_password_version" {
  description = "Bump (1 -> 2 -> ...) to rotate the database password: one apply generates a new password, writes it to RDS and to the secret (write-only, never in state) and rolls the ECS service so every task reads it. See docs/deploy.md, \"Rotating the database password\"."
  type        = number
  default     = 1

  validation {
    condition     = var.db_password_version >= 1 && floor(var.db_password_version) == var.db_password_version
    error_message = "db_password_version must be a positive integer."
  }
}

variable "db_password_generate" {
  description = "true: Terraform generates the master password (Secrets Manager GetRandomPassword, ephemeral). false: it takes db_password."
  type        = bool
  default     = true
}

variable "db_password" {
  description = "The master password to set at this db_password_version when db_password_generate = false (e.g. to keep an existing one). Ephemeral: never stored in plan or state; only sent when db_password_version changes."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.db_password == null || can(regex("^[!#-&(-.0-?A-[\\]-~]{16,128}$", var.db_password))
    error_message = "db_password must be 16-128 printable ASCII characters without / \" @ ' \\ or space."
  }
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
  description = "Enable Performance Insights (7 days free tier)."
  type        = bool
  default     = false
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
  description = "Fargate CPU architecture. The image must be built for the same platform (X86_64 = linux/amd64, ARM64 = linux/arm64); the deploy reads this output."
  type        = string
  default     = "X86_64"

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
  description = "Seconds ECS ignores failing load balancer health checks after a task starts (supervise waits for the database and migrates first)."
  type        = number
  default     = 90
}

variable "db_pool_size" {
  description = "DB_POOL_SIZE per task. Keep autoscaling_max x pool below the instance's max_connections (about 100 on db.t4g.micro)."
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

variable "origin_verify_header_name" {
  description = "Name of the header CloudFront adds to origin requests and the ALB requires."
  type        = string
  default     = "X-Origin-Verify"
}

variable "origin_verify_secret" {
  description = "Value of the origin header (32-128 of [A-Za-z0-9_-]); e.g. openssl rand -hex 32. It is stored in the Terraform state (CloudFront and the ALB rule both need it in clear): protect the state."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{32,128}$", var.origin_verify_secret))
    error_message = "origin_verify_secret must be 32-128 characters of [A-Za-z0-9_-] (ALB header matching treats * and ? as wildcards)."
  }
}

variable "origin_verify_secret_previous" {
  description = "During a rotation of origin_verify_secret: the old value, still accepted by the ALB until CloudFront has deployed the new one. Empty otherwise."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.origin_verify_secret_previous == "" || can(regex("^[A-Za-z0-9_-]{32,128}$", var.origin_verify_secret_previous))
    error_message = "origin_verify_secret_previous must be empty or 32-128 characters of [A-Za-z0-9_-]."
  }
}

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
  description = "GitHub environment of the deploy job (its token's sub is repo:OWNER/REPO:environment:NAME). Restrict that environment to the main branch in GitHub. Empty: only the main branch sub is trusted."
  type        = string
  default     = "production"
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com OIDC provider (an account has at most one). Empty: create it."
  type        = string
  default     = ""
}
