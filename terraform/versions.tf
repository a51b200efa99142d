terraform {
  # 1.11: write-only arguments (password_wo, secret_string_wo) and ephemeral
  # resources, which keep the database password out of the state.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # No backend block: state is local unless you add a backend (see
  # docs/deploy.md, "State"). Tests and lint run with -backend=false.
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(
      {
        Project   = var.name
        ManagedBy = "terraform"
      },
      var.tags,
    )
  }
}

# Same account and region as the default configuration; used only by the
# ephemeral password generator (database.tf). It is a separate configuration
# because Terraform's mock providers (1.11) cannot serve ephemeral resources:
# the offline tests mock the default configuration and give this one a real,
# never-called provider (see tests/stack.tftest.hcl).
provider "aws" {
  alias  = "password_generator"
  region = var.aws_region
}

# us-east-1 whatever var.aws_region is: a web ACL for CloudFront (scope
# CLOUDFRONT) and the log group it logs to must live there (waf.tf).
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = merge(
      {
        Project   = var.name
        ManagedBy = "terraform"
      },
      var.tags,
    )
  }
}
