# The guide's six outputs, then what the deploy needs.

output "api_repo_uri" {
  description = "ECR repository URI (push REPO:TAG)."
  value       = aws_ecr_repository.api.repository_url
}

output "alb_dns_name" {
  description = "Internal ALB DNS name (resolves to private addresses; only CloudFront's VPC origin reaches it)."
  value       = aws_lb.api.dns_name
}

output "api_url" {
  description = "Public HTTPS base URL of the API (CloudFront)."
  value       = "https://${local.custom_domain ? var.domain_name : aws_cloudfront_distribution.api.domain_name}"
}

output "ecs_cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.main.name
}

output "ecs_service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.api.name
}

output "db_secret_arn" {
  description = "The RDS-managed master secret (JSON keys username, password), rotated by Secrets Manager; read only by the migration task."
  value       = local.db_master_secret_arn
}

output "migrate_task_family" {
  description = "Task definition family of the one-off migration task deploy.sh runs before each service update (MIGRATE_TASK_FAMILY)."
  value       = aws_ecs_task_definition.migrate.family
}

output "app_db_secret_arn" {
  description = "Secrets Manager secret with the application role's credentials (JSON keys username, password): APP_DB_USERNAME / APP_DB_PASSWORD."
  value       = aws_secretsmanager_secret.app_db.arn
}

output "deploy_role_arn" {
  description = "IAM role GitHub Actions assumes (OIDC) to push and deploy."
  value       = aws_iam_role.deploy.arn
}

output "cpu_architecture" {
  description = "Task CPU architecture (X86_64 | ARM64): build the image for this platform."
  value       = var.cpu_architecture
}

output "image_platform" {
  description = "docker build --platform value matching cpu_architecture."
  value       = var.cpu_architecture == "ARM64" ? "linux/arm64" : "linux/amd64"
}

output "task_family" {
  description = "Task definition family; the deploy registers new revisions in it."
  value       = aws_ecs_task_definition.api.family
}

output "container_name" {
  description = "Name of the app container in the task definition (the image to replace)."
  value       = local.container_name
}

output "aws_region" {
  description = "Region of the stack."
  value       = data.aws_region.current.name
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.api.name
}

output "task_definition_arn" {
  description = "The revision Terraform registered last (image var.image_tag). The service runs whatever the deploy set; see docs/deploy.md before switching the service to this one."
  value       = aws_ecs_task_definition.api.arn
}

# --- Observability and edge (alarms.tf, dashboard.tf, sns.tf, waf.tf) ---

output "alarm_topic_arn" {
  description = "SNS topic every alarm and the budget notify; subscribe to it (docs/operations.md)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard in the console."
  value       = "https://${data.aws_region.current.name}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.name}#dashboards/dashboard/${aws_cloudwatch_dashboard.main.dashboard_name}"
}

output "deployment_alarm_names" {
  description = "The alarms that roll back an ECS deployment when they fire during it."
  value       = local.deployment_alarm_names
}

output "waf_web_acl_arn" {
  description = "The CloudFront web ACL (us-east-1)."
  value       = aws_wafv2_web_acl.cloudfront.arn
}

output "waf_log_group_name" {
  description = "CloudWatch log group (us-east-1) of the WAF logs: blocked and counted requests by default."
  value       = aws_cloudwatch_log_group.waf.name
}

output "github_repository" {
  description = "OWNER/REPO whose deploy workflow attests the images; deploy.sh verifies the provenance against it (GITHUB_REPOSITORY)."
  value       = var.github_repository
}
