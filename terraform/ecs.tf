locals {
  container_name = "snippetd"
  task_family    = var.name
  image          = "${aws_ecr_repository.api.repository_url}:${coalesce(var.image_tag, "unset")}"

  container_environment = [
    { name = "PORT", value = tostring(var.container_port) },
    { name = "DB_HOST", value = aws_db_instance.main.address },
    { name = "DB_PORT", value = tostring(aws_db_instance.main.port) },
    { name = "DB_NAME", value = var.db_name },
    { name = "DB_SSLMODE", value = "verify-full" },
    { name = "DB_SSLROOTCERT", value = "/etc/ssl/certs/rds-global-bundle.pem" },
    { name = "DB_POOL_SIZE", value = tostring(var.db_pool_size) },
    { name = "LOG_FORMAT", value = "json" },
    { name = "RUST_LOG", value = var.rust_log },
    { name = "EXPOSE_ERRORS", value = "0" },
    { name = "SHUTDOWN_GRACE_SECONDS", value = tostring(var.shutdown_grace_seconds) },
    { name = "CORS_ALLOWED_ORIGINS", value = var.cors_allowed_origins },
    # EMF metrics (app_metrics.json): the Service dimension the alarms and the dashboard read, one line a minute.
    { name = local.app_metrics.service_env, value = local.emf_service_value },
    { name = local.app_metrics.interval_env, value = "60" },
    { name = "AUTH_MODE", value = "tokens" },
    # The ALB (and CloudFront's VPC-origin interfaces) live in the VPC: a
    # peer there is a proxy whose forwarding headers are believed
    # (src/http/client_ip.rs); anyone else is the client.
    { name = "TRUSTED_PROXIES", value = var.vpc_cidr },
    # A SHA-256, not a secret (docs/deploy.md, "The first admin token").
    { name = "BOOTSTRAP_ADMIN_TOKEN_SHA256", value = var.bootstrap_admin_token_sha256 },
  ]

  # ECS reads these JSON keys of the secrets when a task starts (only then).
  # The serving task gets the application role only (issue 33, point 1): it
  # runs `serve` directly, which connects with DB_USERNAME/DB_PASSWORD, and
  # nothing in it (environment, /proc/1/environ) can reach the master
  # credentials.
  serve_secrets = [
    { name = "DB_USERNAME", valueFrom = "${aws_secretsmanager_secret.app_db.arn}:username::" },
    { name = "DB_PASSWORD", valueFrom = "${aws_secretsmanager_secret.app_db.arn}:password::" },
  ]

  # The one-off migration task: the master (schema owner, RDS-managed
  # secret) for DDL, and APP_DB_* so that `migrate` creates the application
  # role or sets its current password.
  migrate_secrets = [
    { name = "DB_USERNAME", valueFrom = "${local.db_master_secret_arn}:username::" },
    { name = "DB_PASSWORD", valueFrom = "${local.db_master_secret_arn}:password::" },
    { name = "APP_DB_USERNAME", valueFrom = "${aws_secretsmanager_secret.app_db.arn}:username::" },
    { name = "APP_DB_PASSWORD", valueFrom = "${aws_secretsmanager_secret.app_db.arn}:password::" },
  ]

  db_master_secret_arn = one(aws_db_instance.main.master_user_secret).secret_arn

  # What `migrate` reads besides the credentials.
  migrate_environment = [
    for e in local.container_environment : e
    if contains(["DB_HOST", "DB_PORT", "DB_NAME", "DB_SSLMODE", "DB_SSLROOTCERT", "LOG_FORMAT", "RUST_LOG"], e.name)
  ]
  migrate_container_name = "migrate"
  migrate_family         = "${var.name}-migrate"
}

resource "aws_ecs_cluster" "main" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default) for cost; raise it where policy requires a year.
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_ecs_task_definition" "api" {
  family                   = local.task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_cpu)
  memory                   = tostring(var.task_memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  # Revisions registered by the deploy are based on this one; keep old
  # revisions registered so rollbacks (circuit breaker) can use them.
  skip_destroy = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name      = local.container_name
    image     = local.image
    essential = true

    portMappings = [{
      name          = "http"
      containerPort = var.container_port
      hostPort      = var.container_port
      protocol      = "tcp"
      appProtocol   = "http"
    }]

    # `serve`, not the image's `supervise`: migrations ran before, in the
    # migration task; this task never holds the owner's credentials.
    command     = ["serve"]
    environment = local.container_environment
    secrets     = local.serve_secrets

    # The image's USER is 65534; repeated here so a future image cannot
    # silently run as root.
    user                   = "65534"
    readonlyRootFilesystem = true
    stopTimeout            = var.stop_timeout_seconds

    healthCheck = {
      command     = ["CMD", "/snippetd", "healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.api.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "api"
      }
    }
  }])

  lifecycle {
    precondition {
      condition     = var.stop_timeout_seconds > var.shutdown_grace_seconds
      error_message = "stop_timeout_seconds must exceed shutdown_grace_seconds, or ECS kills in-flight requests (SIGKILL) before the app's graceful shutdown ends."
    }
    precondition {
      condition     = var.image_tag != null
      error_message = "Set image_tag to an image already in the repository (docs/deploy.md, steps 3-5: apply the repository alone, push, then apply everything with -var image_tag=<sha>)."
    }
    precondition {
      condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
      error_message = "cpu_architecture must be X86_64 or ARM64."
    }
  }
}

# The one-off migration task (issue 33, point 1): `snippetd migrate` as the
# master user, run by deploy.sh (register a revision with the new image,
# run-task in the service's subnets and security group, wait for exit 0)
# before the service is pointed at the new image. It has its own execution
# role, the only one that may read the master secret. `supervise` keeps its
# own migrate step for Compose and single-box use.
resource "aws_ecs_task_definition" "migrate" {
  family                   = local.migrate_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = aws_iam_role.migrate_execution.arn
  task_role_arn            = aws_iam_role.task.arn
  skip_destroy             = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name                   = local.migrate_container_name
    image                  = local.image
    essential              = true
    command                = ["migrate"]
    environment            = local.migrate_environment
    secrets                = local.migrate_secrets
    user                   = "65534"
    readonlyRootFilesystem = true

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.api.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "migrate"
      }
    }
  }])
}

resource "aws_ecs_service" "api" {
  name             = var.name
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.api.arn
  desired_count    = local.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_seconds
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = var.wait_for_steady_state
  # Tasks spread over the two private subnets' AZs, and ECS moves one back
  # when an AZ's share drifts (the production preset's 2 tasks over 2 AZs).
  availability_zone_rebalancing = "ENABLED"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # A deployment whose tasks pass the health checks and then answer 5xx or
  # slowly is rolled back too (alarms.tf, deployment_alarm_names).
  alarms {
    alarm_names = local.deployment_alarm_names
    enable      = true
    rollback    = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  # No force_new_deployment trigger on password versions any more: the
  # master password (RDS-managed, rotated by Secrets Manager) is not in
  # these tasks, and a new application password must reach the role (the
  # deploy's migration task) before tasks start with it, which a Terraform
  # trigger cannot order: bump app_db_password_version, apply, then
  # `make deploy TAG=<running sha>` (docs/deploy.md).

  lifecycle {
    # The deploy (CI) registers new task definition revisions and sets them
    # on the service; autoscaling owns the count. Terraform must not revert
    # either.
    ignore_changes = [task_definition, desired_count]
  }

  depends_on = [
    aws_lb_listener.http,
    aws_db_instance.main,
    aws_secretsmanager_secret_version.app_db,
    aws_iam_role_policy.execution,
  ]
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = local.autoscaling_min
  max_capacity       = var.autoscaling_max

  lifecycle {
    precondition {
      condition     = local.autoscaling_min <= local.desired_count && local.desired_count <= var.autoscaling_max
      error_message = "desired_count must lie between autoscaling_min and autoscaling_max (the production preset raises both minimums to 2)."
    }
    # Issue 33, point 10 (docs/capacity.md): at the rolling deploy's 200 %,
    # every task of the old and the new revision holds its pool plus the
    # sweeper and a spare (serve's own checks): that must fit in the class's
    # max_connections.
    precondition {
      condition     = 2 * var.autoscaling_max * (var.db_pool_size + 2) < local.db_max_connections
      error_message = "Connection budget: 2 x autoscaling_max x (db_pool_size + 2) = ${2 * var.autoscaling_max * (var.db_pool_size + 2)} must stay below max_connections of ${var.db_instance_class} (${local.db_max_connections}): lower autoscaling_max or db_pool_size, or pick a bigger class (docs/capacity.md)."
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_cpu_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Issue 33, point 11: requests per task and memory as well as CPU. Target
# tracking scales out on whichever policy asks for more tasks, and in only
# when all of them allow it. The request target comes from the capacity
# table (docs/capacity.md): CPU lags behind a burst of cheap requests, the
# request count does not.
resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  name               = "${var.name}-memory-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling_memory_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}
