# The chain: CloudFront VPC origin (origin-facing prefix list) -> internal ALB
# :80 -> tasks :3000 -> RDS :5432. Every rule names the group (or prefix list)
# it admits; none admits a CIDR except the tasks' HTTPS egress (ECR, Secrets
# Manager and CloudWatch Logs through the NAT gateway).

data "aws_ec2_managed_prefix_list" "cloudfront_origin_facing" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "snippetd ALB: HTTP from CloudFront origin-facing servers only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "tasks" {
  name_prefix = "${var.name}-tasks-"
  description = "snippetd ECS tasks: container port from the ALB only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-tasks" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "db" {
  name_prefix = "${var.name}-db-"
  description = "snippetd RDS: PostgreSQL from the ECS tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-db" }

  lifecycle {
    create_before_destroy = true
  }
}

# --- ALB ---------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb_from_cloudfront" {
  #checkov:skip=CKV_AWS_260:False positive: the source is CloudFront's origin-facing prefix list, not 0.0.0.0/0 (and the ALB is internal: nothing outside the VPC but the VPC origin reaches it).
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from CloudFront (VPC origin) origin-facing servers"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront_origin_facing.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the ECS tasks' container port"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.tasks.id
}

# --- Tasks -------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Container port from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_db" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "PostgreSQL to RDS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to ECR, Secrets Manager and CloudWatch Logs via NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Database ----------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the ECS tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.tasks.id
}

# --- CloudFront VPC origin ------------------------------------------------------
# CloudFront's VPC origin connects from network interfaces it places in the
# ALB's subnets, in a security group it creates and names itself (one per
# VPC). Admitting that group, besides the origin-facing prefix list above,
# keeps the ALB reachable whichever of the two addresses the connections
# come from; both admit CloudFront only.

data "aws_security_group" "cloudfront_vpc_origin" {
  name   = "CloudFront-VPCOrigins-Service-SG"
  vpc_id = aws_vpc.main.id

  depends_on = [aws_cloudfront_vpc_origin.alb]
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_vpc_origin" {
  #checkov:skip=CKV_AWS_260:False positive: the source is CloudFront's VPC origin security group, not 0.0.0.0/0.
  security_group_id            = aws_security_group.alb.id
  description                  = "HTTP from CloudFront's VPC origin interfaces"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = data.aws_security_group.cloudfront_vpc_origin.id
}
