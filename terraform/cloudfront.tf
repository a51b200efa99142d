# CloudFront: HTTPS for viewers (HTTP redirects), nothing cached, every method,
# the query string, every viewer header and the viewer's address forwarded. The origin is the
# internal ALB through a CloudFront VPC origin: no public load balancer, no
# shared secret header (nothing secret in the state for this hop).

locals {
  # AWS managed policies (fixed IDs, the same in every account).
  cache_policy_caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled

  origin_id = "alb"

  custom_domain = var.domain_name != "" && var.acm_certificate_arn != ""

  # Every viewer header reaches the origin (Authorization with a token,
  # traceparent, the conditional and CORS headers; with caching disabled a
  # policy that forwards all viewer headers carries Authorization, which a
  # whitelist cannot name), plus the one CloudFront header the app reads:
  # the viewer's address, which src/http/client_ip.rs takes for the client
  # because the ALB (in TRUSTED_PROXIES, ecs.tf) is the TCP peer.
  cloudfront_headers = ["CloudFront-Viewer-Address"]
}

# CloudFront's way into the VPC: it places its own network interfaces in the
# ALB's subnets. The ALB's security group admits CloudFront's origin-facing
# servers (security_groups.tf). Creating or deleting one takes ~10-15 minutes.
resource "aws_cloudfront_vpc_origin" "alb" {
  vpc_origin_endpoint_config {
    name                   = "${var.name}-alb"
    arn                    = aws_lb.api.arn
    http_port              = 80
    https_port             = 443
    origin_protocol_policy = "http-only"

    origin_ssl_protocols {
      items    = ["TLSv1.2"]
      quantity = 1
    }
  }
}

resource "aws_cloudfront_origin_request_policy" "api" {
  name    = "${var.name}-api"
  comment = "snippetd: query strings, viewer headers, the viewer address"

  query_strings_config {
    query_string_behavior = "all"
  }

  headers_config {
    header_behavior = "allViewerAndWhitelistCloudFront"
    headers {
      items = local.cloudfront_headers
    }
  }

  cookies_config {
    cookie_behavior = "none"
  }
}

# Security headers on every response (the app's own CORS headers pass
# through untouched: no CORS config here).
resource "aws_cloudfront_response_headers_policy" "api" {
  name    = "${var.name}-api"
  comment = "snippetd: security headers"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "api" {
  #checkov:skip=CKV2_AWS_42:The custom domain + ACM certificate is required by the production preset and optional in development, where the *.cloudfront.net certificate serves HTTPS.
  #checkov:skip=CKV_AWS_174:With a certificate (required by the production preset) the minimum is TLSv1.2_2021; the development default *.cloudfront.net certificate cannot pin a minimum version.
  #checkov:skip=CKV_AWS_86:Standard logging v2 (edge.tf, aws_cloudwatch_log_delivery to CloudWatch Logs) is on; checkov only recognises the legacy S3 logging_config block.
  #checkov:skip=CKV_AWS_305:An API, not a website: there is no root object to serve.
  #checkov:skip=CKV_AWS_310:Single origin (one internal ALB in one region); there is nothing to fail over to.
  #checkov:skip=CKV_AWS_374:The API is public worldwide by design.
  enabled         = true
  is_ipv6_enabled = true
  comment         = "${var.name} API"
  price_class     = var.cloudfront_price_class
  http_version    = "http2and3"
  web_acl_id      = aws_wafv2_web_acl.cloudfront.arn # waf.tf
  aliases         = local.custom_domain ? [var.domain_name] : []

  origin {
    origin_id   = local.origin_id
    domain_name = aws_lb.api.dns_name

    vpc_origin_config {
      vpc_origin_id            = aws_cloudfront_vpc_origin.alb.id
      origin_read_timeout      = 30
      origin_keepalive_timeout = 5
    }
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_disabled
    origin_request_policy_id   = aws_cloudfront_origin_request_policy.api.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.api.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  # Default: the *.cloudfront.net certificate (CloudFront then accepts TLS
  # 1.0+ from viewers and nothing can raise that). With a custom domain and an
  # ACM certificate (us-east-1): SNI only, TLS 1.2+ with the 2021 ciphers.
  viewer_certificate {
    cloudfront_default_certificate = !local.custom_domain
    acm_certificate_arn            = local.custom_domain ? var.acm_certificate_arn : null
    ssl_support_method             = local.custom_domain ? "sni-only" : null
    minimum_protocol_version       = local.custom_domain ? "TLSv1.2_2021" : "TLSv1"
  }

  lifecycle {
    precondition {
      condition     = (var.domain_name == "") == (var.acm_certificate_arn == "")
      error_message = "Set domain_name and acm_certificate_arn together (or neither)."
    }
    precondition {
      condition     = !local.production || local.custom_domain
      error_message = "environment = \"production\" needs domain_name and acm_certificate_arn: viewers get TLSv1.2_2021 only with a certificate of your own."
    }
  }
}
