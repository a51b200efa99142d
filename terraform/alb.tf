# The ALB is internal: it lives in the private subnets, has no public IP and
# no public DNS answer that routes to it. CloudFront reaches it through a VPC
# origin (cloudfront.tf), an AWS-managed path into the VPC, so no other
# client on the internet can connect to it, and no shared secret header is
# needed to tell CloudFront's requests apart. Its security group admits only
# CloudFront's origin-facing servers (security_groups.tf).
#
# CloudFront -> ALB stays HTTP on port 80 inside the VPC: the VPC origin's
# connection never crosses the internet (CloudFront's edge servers reach ENIs
# that CloudFront places in this VPC), and HTTPS to the ALB would need a
# certificate for a domain we own that names the ALB. With
# var.domain_name + var.acm_certificate_arn set, viewers get TLS >= 1.2 at the
# edge; see docs/deploy.md, "Custom domain".

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_20:Internal ALB reached only through CloudFront's VPC origin; viewers are redirected to HTTPS at CloudFront, and the hop inside the VPC is HTTP (docs/deploy.md).
  #checkov:skip=CKV2_AWS_28:Internal ALB with no internet path to it: a web ACL belongs on the CloudFront distribution, the only entry point.
  #checkov:skip=CKV_AWS_91:Access logs are on in the production preset (production.tf); in development every request is logged by the app with its request id.
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = true
  subnets            = aws_subnet.private[*].id
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  desync_mitigation_mode     = "defensive"
  idle_timeout               = 60
  enable_deletion_protection = var.alb_deletion_protection

  dynamic "access_logs" {
    for_each = local.production ? [1] : []
    content {
      bucket  = aws_s3_bucket.alb_logs[0].id
      prefix  = "alb"
      enabled = true
    }
  }

  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:ALB-to-task traffic stays inside the VPC's private subnets; TLS ends at CloudFront.
  name_prefix          = "api-"
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 10

  health_check {
    path                = "/health"
    protocol            = "HTTP"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Internal listener behind CloudFront's VPC origin (HTTP inside the VPC, docs/deploy.md); viewers get HTTPS at CloudFront.
  #checkov:skip=CKV_AWS_103:No TLS listener on the internal ALB, so no TLS policy to set.
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
