# RDS PostgreSQL 16. The master password is RDS's own (issue 33, point 2:
# manage_master_user_password): RDS generates it, keeps it in a Secrets
# Manager secret encrypted with the stack's key, and rotates it on
# var.db_master_rotation_days. Terraform never sees it (not in the plan, not
# in the state), and a rotation needs no deploy: only the one-off migration
# task (ecs.tf, aws_ecs_task_definition.migrate) reads it, at its start, and
# the serving tasks never hold it (they connect as the application role).

resource "aws_db_subnet_group" "main" {
  name        = "${var.name}-db"
  description = "snippetd private subnets"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "main" {
  name_prefix = "${var.name}-pg16-"
  family      = "postgres16"
  description = "snippetd PostgreSQL 16"

  # TLS only: the app runs DB_SSLMODE=verify-full against the RDS CA bundle.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "main" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring (extra role, cost) is not needed at this size; CloudWatch metrics and exported logs are on.
  #checkov:skip=CKV_AWS_157:Multi-AZ is on in the production preset (environment = "production") or with var.db_multi_az; the development default stays single-AZ for cost.
  #checkov:skip=CKV_AWS_161:The app authenticates with the Secrets Manager password; IAM auth tokens are not supported by the app.
  identifier     = "${var.name}-db"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = var.db_name
  username = var.db_username
  # RDS-managed master credentials (the secret: master_user_secret[0]),
  # encrypted with the stack's key rather than aws/secretsmanager.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.main.arn

  port                   = 5432
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = local.db_multi_az
  parameter_group_name   = aws_db_parameter_group.main.name
  # In the RDS global bundle the image carries (rds-global-bundle.pem).
  ca_cert_identifier = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "03:00-03:30"
  maintenance_window        = "sun:04:00-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = var.db_skip_final_snapshot
  final_snapshot_identifier = "${var.name}-db-final"

  auto_minor_version_upgrade      = true
  allow_major_version_upgrade     = false
  apply_immediately               = var.db_apply_immediately
  enabled_cloudwatch_logs_exports = local.rds_log_exports
  performance_insights_enabled    = var.db_performance_insights
  # 7 days: the free tier.
  performance_insights_retention_period = var.db_performance_insights ? 7 : null
  performance_insights_kms_key_id       = var.db_performance_insights ? aws_kms_key.main.arn : null

  # The log groups RDS exports to, declared (retention, the stack's key)
  # before RDS creates them itself (retention: never, AWS-owned key).
  depends_on = [aws_cloudwatch_log_group.rds]
}

# RDS turns rotation of its managed secret on (every 7 days) when it creates
# it; this sets the schedule the stack wants. Rotation runs inside Secrets
# Manager and RDS: no Lambda, no deploy. The serving tasks are not affected
# (they never read this secret); the next deploy's migration task reads the
# new password when it starts.
resource "aws_secretsmanager_secret_rotation" "db_master" {
  secret_id          = one(aws_db_instance.main.master_user_secret).secret_arn
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = var.db_master_rotation_days
  }
}

# What RDS exports (enabled_cloudwatch_logs_exports): the server log holds
# statements slower than log_min_duration_statement, with their parameters,
# so it gets the stack's key and a retention instead of RDS's defaults.
resource "aws_cloudwatch_log_group" "rds" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default) for cost; raise it where policy requires a year.
  for_each = toset(local.rds_log_exports)

  name              = "/aws/rds/instance/${var.name}-db/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

locals {
  rds_log_exports = ["postgresql", "upgrade"]
}

# ---------------------------------------------------------------------------
# The application's own role (issue 18). `snippetd migrate` (run as the
# master user by the deploy's one-off migration task, ecs.tf) creates the role
# APP_DB_USERNAME if missing, sets its password to APP_DB_PASSWORD, and grants
# it SELECT/INSERT/UPDATE/DELETE on the application's tables only: no DDL, no
# TRUNCATE, no other schema. `serve` connects with these credentials. Like the
# master password, this one is generated ephemerally and written only through
# secret_string_wo: it is never in the plan or the state.
# ---------------------------------------------------------------------------

ephemeral "aws_secretsmanager_random_password" "app_db" {
  count    = var.db_password_generate ? 1 : 0
  provider = aws.password_generator

  password_length    = 40
  exclude_characters = "/\"@ '\\"
}

locals {
  # Ephemeral: usable only in write-only arguments, never stored.
  app_db_password = var.db_password_generate ? ephemeral.aws_secretsmanager_random_password.app_db[0].random_password : var.app_db_password
}

resource "aws_secretsmanager_secret" "app_db" {
  #checkov:skip=CKV2_AWS_57:Rotated on purpose (bump app_db_password_version, then make deploy): the deploy's migration task sets the new password on the role before the service rolls; a Secrets Manager rotation Lambda would change it under running tasks.
  name_prefix             = "${var.name}/db-app-"
  description             = "snippetd application database role (JSON: username, password): what `serve` connects as. Written by Terraform; rotate with var.app_db_password_version."
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_id              = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "app_db" {
  secret_id = aws_secretsmanager_secret.app_db.id
  secret_string_wo = jsonencode({
    username = var.app_db_username
    password = local.app_db_password
  })
  secret_string_wo_version = var.app_db_password_version

  lifecycle {
    precondition {
      condition     = var.db_password_generate || var.app_db_password != null
      error_message = "db_password_generate = false needs app_db_password too."
    }
  }
}
