# The ALB is internet-facing (CloudFront reaches it over the internet) but
# admits only CloudFront's origin-facing servers (security group), and of
# those only requests carrying the secret origin header (listener rule):
# another CloudFront distribution cannot reach it either. Everything else
# gets 403.

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_20:HTTPS terminates at CloudFront; this HTTP origin is reachable only from CloudFront's prefix list with the secret header.
  #checkov:skip=CKV2_AWS_28:No WAF in the base stack (cost); only CloudFront reaches the ALB, attach a web ACL to CloudFront if needed.
  #checkov:skip=CKV_AWS_91:ALB access logs need an S3 bucket; every request is logged by the app with its request id.
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = false
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  desync_mitigation_mode     = "defensive"
  idle_timeout               = 60
  enable_deletion_protection = var.alb_deletion_protection
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
  #checkov:skip=CKV_AWS_2:CloudFront's origin is HTTP-only (the ALB has no custom domain/certificate); viewers get HTTPS at CloudFront.
  #checkov:skip=CKV_AWS_103:No TLS listener on the ALB (HTTP origin behind CloudFront), so no TLS policy to set.
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Forbidden"
      status_code  = "403"
    }
  }
}

resource "aws_lb_listener_rule" "from_cloudfront" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = var.origin_verify_header_name
      # Two values only while rotating (OR-ed by the ALB).
      values = compact([var.origin_verify_secret, var.origin_verify_secret_previous])
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
