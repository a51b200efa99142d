# Terraform (terraform/): offline tests and lint. Included by the top
# Makefile (include mk/*.mk); also runs alone:
#   make -f mk/terraform.mk tf-test tf-lint
# Provider source: a local filesystem mirror of hashicorp/aws found on disk
# (layout MIRROR/registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/, searched
# under TF_MIRROR_ROOTS) is used with `terraform init -plugin-dir`; with none,
# the registry, as on any laptop. Either way the committed
# terraform/.terraform.lock.hcl pins the version and the hashes.
#   TF_PLUGIN_DIR=/path/to/mirror make tf-test   use this mirror
#   TF_PLUGIN_DIR= make tf-test                  force the registry

TF        ?= terraform
TF_DIR    ?= terraform
VENV      ?= .venv
CHECKOV   ?= $(VENV)/bin/checkov
TF_MIRROR_ROOTS ?= /opt /usr/local /usr/share /srv /var/lib /root /home
# The provider version the lock file pins (a mirror of another version cannot
# satisfy it, so one of this version is preferred).
TF_AWS_LOCKED = $(shell sed -n '/hashicorp\/aws"/,/}/s/^ *version *= *"\(.*\)"/\1/p' $(TF_DIR)/.terraform.lock.hcl 2>/dev/null)
TF_OS_ARCH = $(shell $(TF) version -json 2>/dev/null | sed -n 's/.*"platform": *"\([a-z0-9_]*\)".*/\1/p')
# Discovered once per make run (the $(eval) memoizes it), only when the
# variable is not set at all (an empty TF_PLUGIN_DIR means "the registry").
tf_find_mirror = $(shell find $(TF_MIRROR_ROOTS) -maxdepth 9 \
	-path '*/registry.terraform.io/hashicorp/aws/*/$(TF_OS_ARCH)/terraform-provider-aws_*' \
	-not -path '*/.terraform/*' -not -path '/proc/*' 2>/dev/null \
	| awk -v v='/$(TF_AWS_LOCKED)/' 'index($$0, v) { print; found = 1; exit } { last = $$0 } END { if (!found && last != "") print last }' \
	| sed 's|/registry\.terraform\.io/hashicorp/aws/.*||')
TF_PLUGIN_DIR ?= $(eval TF_PLUGIN_DIR := $(tf_find_mirror))$(TF_PLUGIN_DIR)

# The tests mock every provider; should one ever not be mocked, it must not
# look for credentials on the network (the EC2 metadata address is not
# loopback): no metadata lookups, no shared profiles, fake static keys. Only
# for these offline targets: `make deploy` keeps the caller's credentials.
tf-init tf-validate tf-test tf-lint: export AWS_EC2_METADATA_DISABLED := true
tf-init tf-validate tf-test tf-lint: export AWS_ACCESS_KEY_ID := mock-offline
tf-init tf-validate tf-test tf-lint: export AWS_SECRET_ACCESS_KEY := mock-offline
tf-init tf-validate tf-test tf-lint: export AWS_CONFIG_FILE := /dev/null
tf-init tf-validate tf-test tf-lint: export AWS_SHARED_CREDENTIALS_FILE := /dev/null

# -plugin-dir only when a mirror is given; otherwise the registry.
TF_INIT_FLAGS = -backend=false -input=false $(if $(strip $(TF_PLUGIN_DIR)),-plugin-dir=$(TF_PLUGIN_DIR))

.PHONY: tf-init tf-validate tf-test tf-fmt tf-lint

tf-init: ## terraform init without a backend (a provider mirror found on disk, else the registry)
	@echo "terraform providers: $(if $(strip $(TF_PLUGIN_DIR)),local mirror $(TF_PLUGIN_DIR),registry (no local mirror found))"
	$(TF) -chdir=$(TF_DIR) init $(TF_INIT_FLAGS)

# `make test` validates (4 s); `make test-all` runs the mocked `terraform
# test` suite (no AWS credentials, no network): 36 runs of 2.5-6 s of
# Terraform's own CPU each (a plan of the whole stack per run), the files
# two at a time with one provider process for all (scripts/tf-test.sh):
# 2.5 min.
tf-validate: tf-init ## terraform validate (offline)
	$(TF) -chdir=$(TF_DIR) validate

tf-test: tf-validate ## terraform validate + terraform test (mocked aws provider, offline)
	TF='$(TF)' scripts/tf-test.sh $(TF_DIR)

# Rewrite the files in the canonical format.
tf-fmt: ## rewrite terraform/ in canonical format
	$(TF) -chdir=$(TF_DIR) fmt -recursive

# Format check + checkov (skips, each with its reason, in terraform/.checkov.yaml).
tf-lint: ## terraform fmt -check + checkov --skip-download
	$(TF) -chdir=$(TF_DIR) fmt -check -recursive -diff
	@test -x $(CHECKOV) || { echo "tf-lint: $(CHECKOV) missing: $(VENV)/bin/pip install -r tools/requirements-terraform.txt" >&2; exit 1; }
	cd $(TF_DIR) && $(abspath $(CHECKOV)) --config-file .checkov.yaml --skip-download
