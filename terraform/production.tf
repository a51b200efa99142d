# The production preset (issue 33, point 7): one switch, var.environment.
# "development" (the default) stays cheap: one task, a single-AZ database,
# one NAT gateway, the *.cloudfront.net certificate allowed. "production"
# raises what a careful team ships with and refuses what it must not run
# without:
#   - at least 2 tasks (desired and minimum), which ECS spreads over the two
#     private subnets' AZs (availability-zone rebalancing on);
#   - Multi-AZ RDS and a NAT gateway per AZ (an AZ outage keeps egress and
#     the database);
#   - a custom domain and certificate, hence TLSv1.2_2021 (cloudfront.tf,
#     precondition), and at least one alarm e-mail (variables.tf, validation);
#   - ALB access logs (below) and a Route 53 health check on /ready (edge.tf),
#     so a quiet service still has a rollback signal.
# Each single setting can still be turned on in development.

locals {
  production = var.environment == "production"

  # Above the expected monthly spend of each preset (docs/operations.md, "Cost").
  budget_limit_usd = coalesce(var.budget_monthly_limit_usd, local.production ? 250 : 175)

  nat_per_az      = var.nat_gateway_per_az || local.production
  db_multi_az     = var.db_multi_az || local.production
  autoscaling_min = local.production ? max(2, var.autoscaling_min) : var.autoscaling_min
  desired_count   = local.production ? max(2, var.desired_count) : var.desired_count

  # max_connections per instance class (docs/capacity.md): RDS PostgreSQL's
  # default LEAST(DBInstanceClassMemory / 9531392, 5000) at the class's
  # nominal memory. RDS keeps part of the memory for itself, so the live
  # value is somewhat lower: set var.db_max_connections to SHOW
  # max_connections once the instance exists. An unknown class needs it.
  db_class_memory_gib = {
    "db.t4g.micro"   = 1
    "db.t4g.small"   = 2
    "db.t4g.medium"  = 4
    "db.t4g.large"   = 8
    "db.t4g.xlarge"  = 16
    "db.t4g.2xlarge" = 32
    "db.m7g.large"   = 8
    "db.m7g.xlarge"  = 16
    "db.m7g.2xlarge" = 32
    "db.r7g.large"   = 16
    "db.r7g.xlarge"  = 32
    "db.r7g.2xlarge" = 64
  }
  db_max_connections = coalesce(
    var.db_max_connections,
    try(min(floor(local.db_class_memory_gib[var.db_instance_class] * 1073741824 / 9531392), 5000), null),
    0,
  )
}

# ---------------------------------------------------------------------------
# ALB access logs (production preset). Application Load Balancers write them
# only to S3 with SSE-S3 (not SSE-KMS); the bucket admits the region's
# Elastic Load Balancing account for this load balancer's prefix only, and
# expires objects after var.log_retention_days.
# ---------------------------------------------------------------------------

data "aws_elb_service_account" "main" {}

resource "aws_s3_bucket" "alb_logs" {
  #checkov:skip=CKV_AWS_145:ALB access logs support SSE-S3 only, not SSE-KMS (AWS documentation, "Access log files").
  #checkov:skip=CKV_AWS_144:Access logs of one region's load balancer; cross-region replication would double their cost for no recovery need.
  #checkov:skip=CKV_AWS_18:This bucket holds access logs itself; logging its own access would recurse into another log bucket.
  #checkov:skip=CKV_AWS_21:Log objects are written once and expire with the lifecycle rule; versions would only keep deleted logs.
  #checkov:skip=CKV2_AWS_62:Nothing consumes the logs as events; they are read on demand (Athena, docs/operations.md).
  count = local.production ? 1 : 0

  bucket_prefix = "${var.name}-alb-logs-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  count = local.production ? 1 : 0

  bucket                  = aws_s3_bucket.alb_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  count = local.production ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  count = local.production ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "alb_logs" {
  count = local.production ? 1 : 0

  bucket = aws_s3_bucket.alb_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ElbWritesAccessLogs"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.main.arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.alb_logs[0].arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
      },
      {
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.alb_logs[0].arn, "${aws_s3_bucket.alb_logs[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}
