# Terraform (terraform/): offline tests and lint. Included by the top
# Makefile (include mk/*.mk); also runs alone:
#   make -f mk/terraform.mk tf-test tf-lint
# Without registry access, point TF_PLUGIN_DIR at a local provider mirror
# (layout registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/):
#   TF_PLUGIN_DIR=/path/to/mirror make tf-test

TF        ?= terraform
TF_DIR    ?= terraform
VENV      ?= .venv
CHECKOV   ?= $(VENV)/bin/checkov
TF_PLUGIN_DIR ?=

# -plugin-dir only when a mirror is given; otherwise the registry.
TF_INIT_FLAGS = -backend=false -input=false $(if $(strip $(TF_PLUGIN_DIR)),-plugin-dir=$(TF_PLUGIN_DIR))

.PHONY: tf-init tf-test tf-fmt tf-lint

tf-init: ## terraform init without a backend (-plugin-dir=$TF_PLUGIN_DIR when set)
	$(TF) -chdir=$(TF_DIR) init $(TF_INIT_FLAGS)

# validate + the mocked `terraform test` suite (no AWS credentials, no network).
tf-test: tf-init ## terraform validate + terraform test (mocked aws provider, offline)
	$(TF) -chdir=$(TF_DIR) validate
	$(TF) -chdir=$(TF_DIR) test

# Rewrite the files in the canonical format.
tf-fmt: ## rewrite terraform/ in canonical format
	$(TF) -chdir=$(TF_DIR) fmt -recursive

# Format check + checkov (skips, each with its reason, in terraform/.checkov.yaml).
tf-lint: ## terraform fmt -check + checkov --skip-download
	$(TF) -chdir=$(TF_DIR) fmt -check -recursive -diff
	@test -x $(CHECKOV) || { echo "tf-lint: $(CHECKOV) missing: $(VENV)/bin/pip install -r tools/requirements-terraform.txt" >&2; exit 1; }
	cd $(TF_DIR) && $(abspath $(CHECKOV)) --config-file .checkov.yaml --skip-download
