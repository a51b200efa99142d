# CloudFront: HTTPS for viewers (HTTP redirects), nothing cached, every method,
# the query string and the headers the API reads forwarded, and the secret
# origin header added. That header's value is in the Terraform state (it has
# to be in the distribution's configuration): protect the state, rotate with
# var.origin_verify_secret / var.origin_verify_secret_previous.

locals {
  # AWS managed policies (fixed IDs, the same in every account).
  cache_policy_caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled

  origin_id = "alb"

  forwarded_headers = [
    "Accept",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Origin",
    "X-Request-Id",
  ]
}

resource "aws_cloudfront_origin_request_policy" "api" {
  name    = "${var.name}-api"
  comment = "snippetd: query strings and the request headers the API reads"

  query_strings_config {
    query_string_behavior = "all"
  }

  headers_config {
    header_behavior = "whitelist"
    headers {
      items = local.forwarded_headers
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
  #checkov:skip=CKV2_AWS_42:No custom domain in the base stack; the *.cloudfront.net default certificate serves HTTPS.
  #checkov:skip=CKV_AWS_174:The default CloudFront certificate cannot pin a minimum TLS version; add a custom domain + ACM certificate for TLSv1.2_2021.
  #checkov:skip=CKV_AWS_86:CloudFront standard logs need an S3 bucket; requests are logged by the app with their request id.
  #checkov:skip=CKV_AWS_305:An API, not a website: there is no root object to serve.
  #checkov:skip=CKV_AWS_310:Single origin (one ALB in one region); there is nothing to fail over to.
  #checkov:skip=CKV_AWS_374:The API is public worldwide by design.
  enabled         = true
  is_ipv6_enabled = true
  comment         = "${var.name} API"
  price_class     = var.cloudfront_price_class
  http_version    = "http2and3"
  web_acl_id      = aws_wafv2_web_acl.cloudfront.arn # waf.tf

  origin {
    origin_id   = local.origin_id
    domain_name = aws_lb.api.dns_name

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "http-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 30
      origin_keepalive_timeout = 5
    }

    custom_header {
      name  = var.origin_verify_header_name
      value = var.origin_verify_secret
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

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
