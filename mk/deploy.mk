# Image, push and deploy without CI, and the GitHub workflow checks (issue 7).
# Included by the top Makefile (`include mk/*.mk`); also works alone:
#   make -f mk/deploy.mk workflows-lint
#
#   make image             build Dockerfile.scratch for terraform's cpu_architecture, tag REPO:<HEAD sha>
#   make push              build and push REPO:<HEAD sha> to ECR (skipped when that tag is already there)
#   make deploy            preflight, push, then .github/scripts/deploy.sh deploy (what deploy.yml runs);
#                          an image pushed from here has no build provenance: deploy.sh refuses it
#                          unless DEPLOY_ALLOW_UNATTESTED=1 (issue 33, point 4)
#   make deploy TAG=<sha>  deploy an image already in ECR, without building: rollback
#                          (DEPLOY_ALLOW_OLDER=1: a commit older than the running one is allowed)
#   make deploy-smoke      only the smoke test against terraform's api_url
#
# Every value comes from `terraform -chdir=terraform output` (never assembled by
# hand, guide 4.6): api_repo_uri, cpu_architecture, ecs_cluster_name,
# ecs_service_name, container_name, api_url. Needs docker with buildx (image,
# push), the aws CLI v2, jq and curl, and AWS credentials for the stack's account.

VENV ?= .venv
ZIZMOR ?= $(VENV)/bin/zizmor
CHECK_JSONSCHEMA ?= $(VENV)/bin/check-jsonschema
SHELLCHECK ?= shellcheck
TF ?= terraform
TF_DIR ?= terraform
DOCKER ?= docker
AWS ?= aws
DEPLOY_SCRIPT ?= .github/scripts/deploy.sh
IMAGE_DOCKERFILE ?= Dockerfile.scratch
# Empty: the HEAD commit. `make deploy TAG=<sha>` deploys that existing image.
TAG ?=

DEPLOY_MK_TARGETS := image push deploy deploy-preflight deploy-smoke workflows-lint deploy-script-test
$(DEPLOY_MK_TARGETS): SHELL := /bin/bash
$(DEPLOY_MK_TARGETS): .SHELLFLAGS := -euo pipefail -c

.PHONY: $(DEPLOY_MK_TARGETS)

# Shell snippets (recipes run in bash -euo pipefail, so a missing output stops them).
tf_output = $(TF) -chdir=$(TF_DIR) output -raw
# Sets repo, arch, platform from terraform.
define tf_image_vars
repo="$$($(tf_output) api_repo_uri)"; \
arch="$$($(tf_output) cpu_architecture)"; \
case "$$arch" in X86_64) platform=linux/amd64 ;; ARM64) platform=linux/arm64 ;; \
  *) echo "terraform output cpu_architecture is '$$arch', not X86_64 or ARM64" >&2; exit 1 ;; esac
endef
# Sets the environment deploy.sh reads.
define tf_deploy_env
export ECR_REPOSITORY_URI="$$($(tf_output) api_repo_uri)" \
  CPU_ARCHITECTURE="$$($(tf_output) cpu_architecture)" \
  ECS_CLUSTER="$$($(tf_output) ecs_cluster_name)" \
  ECS_SERVICE="$$($(tf_output) ecs_service_name)" \
  CONTAINER_NAME="$$($(tf_output) container_name)" \
  MIGRATE_TASK_FAMILY="$$($(tf_output) migrate_task_family)" \
  GITHUB_REPOSITORY="$$($(tf_output) github_repository)" \
  API_URL="$$($(tf_output) api_url)"
endef
# Fails on uncommitted or untracked files: the tag must name what was built.
define require_clean_tree
if [ -n "$$(git status --porcelain)" ]; then \
  git status --short >&2; \
  echo "the work tree has uncommitted changes: commit them first (the image tag is the commit SHA)" >&2; exit 1; \
fi
endef
# Refuses TAG=<other commit> for targets that build the work tree.
define require_head_tag
head="$$(git rev-parse HEAD)"; \
if [ -n "$(TAG)" ] && [ "$(TAG)" != "$$head" ]; then \
  echo "TAG=$(TAG) is not HEAD ($$head): image/push build the work tree; to deploy an existing image: make deploy TAG=<sha>" >&2; exit 1; \
fi
endef

image: ## build Dockerfile.scratch for terraform's cpu_architecture, tagged REPO:<HEAD sha>
	@$(require_head_tag); \
	tag="$$head"; \
	if [ -n "$$(git status --porcelain)" ]; then tag="$$head-dirty"; echo "uncommitted changes: tagging $$tag (push and deploy refuse a dirty tree)"; fi; \
	$(tf_image_vars); \
	echo "+ $(DOCKER) buildx build --file $(IMAGE_DOCKERFILE) --platform $$platform --build-arg GIT_SHA=$$tag --load --tag $$repo:$$tag ."; \
	$(DOCKER) buildx build --file $(IMAGE_DOCKERFILE) --platform "$$platform" --build-arg GIT_SHA="$$tag" --load --tag "$$repo:$$tag" .

push: ## build and push REPO:<HEAD sha> to ECR (clean tree; skipped if the tag exists)
	@$(require_clean_tree); \
	$(require_head_tag); \
	$(tf_image_vars); \
	export ECR_REPOSITORY_URI="$$repo" IMAGE_TAG="$$head" CPU_ARCHITECTURE="$$arch"; \
	if [ "$$($(DEPLOY_SCRIPT) image-exists)" = exists=true ]; then \
	  echo "$$repo:$$head is already in ECR (tags are immutable): not rebuilt"; \
	  $(DEPLOY_SCRIPT) image-arch; exit 0; \
	fi; \
	registry="$${repo%%/*}"; region="$$(cut -d. -f4 <<< "$$registry")"; \
	$(AWS) ecr get-login-password --region "$$region" | $(DOCKER) login --username AWS --password-stdin "$$registry"; \
	epoch="$$(git log -1 --format=%ct)"; \
	echo "+ $(DOCKER) buildx build --file $(IMAGE_DOCKERFILE) --platform $$platform --build-arg SOURCE_DATE_EPOCH=$$epoch --build-arg GIT_SHA=$$head --provenance=false --push --tag $$repo:$$head ."; \
	$(DOCKER) buildx build --file $(IMAGE_DOCKERFILE) --platform "$$platform" --build-arg SOURCE_DATE_EPOCH="$$epoch" --build-arg GIT_SHA="$$head" --provenance=false --push --tag "$$repo:$$head" .; \
	$(DEPLOY_SCRIPT) image-arch

deploy-preflight: ## fail unless cpu_architecture is what the live task definition runs
	@$(tf_deploy_env); \
	$(DEPLOY_SCRIPT) preflight

deploy: ## push HEAD and roll the ECS service to it; TAG=<sha>: deploy that existing image (rollback)
	@$(tf_deploy_env); \
	if [ -n "$(TAG)" ]; then \
	  echo "deploying the existing image $$ECR_REPOSITORY_URI:$(TAG) (no build; older than the running commit is allowed)"; \
	  export IMAGE_TAG="$(TAG)" DEPLOY_ALLOW_OLDER=1; \
	else \
	  $(require_clean_tree); \
	  $(DEPLOY_SCRIPT) preflight; \
	  $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) push; \
	  export IMAGE_TAG="$$(git rev-parse HEAD)"; \
	fi; \
	$(DEPLOY_SCRIPT) deploy

deploy-smoke: ## smoke-test the API through CloudFront (terraform api_url)
	@export API_URL="$$($(tf_output) api_url)"; \
	$(DEPLOY_SCRIPT) smoke

workflows-lint: deploy-script-test ## zizmor, workflow schema, shellcheck, deploy.sh tests
	@test -x $(ZIZMOR) -a -x $(CHECK_JSONSCHEMA) || { echo "zizmor/check-jsonschema missing in $(VENV): pip install -r tools/requirements-ci.txt" >&2; exit 1; }
	$(ZIZMOR) --offline --no-progress .github/
	$(CHECK_JSONSCHEMA) --builtin-schema vendor.github-workflows .github/workflows/*.yml
	@if [ -f .github/dependabot.yml ]; then \
	  echo "$(CHECK_JSONSCHEMA) --builtin-schema vendor.dependabot .github/dependabot.yml"; \
	  $(CHECK_JSONSCHEMA) --builtin-schema vendor.dependabot .github/dependabot.yml; \
	fi
	@if command -v $(SHELLCHECK) > /dev/null; then \
	  echo "$(SHELLCHECK) .github/scripts/*.sh .github/scripts/tests/*.sh"; $(SHELLCHECK) .github/scripts/*.sh .github/scripts/tests/*.sh; \
	else \
	  echo "workflows-lint: shellcheck not installed, .github/scripts/*.sh not checked (apt-get install shellcheck)"; \
	fi

deploy-script-test: ## deploy.sh against a mock aws CLI and a mock API (offline); RUNS=N repeats it
	@for i in $$(seq $${RUNS:-1}); do \
	  if [ "$${RUNS:-1}" -gt 1 ]; then echo "--- test-deploy.sh run $$i/$${RUNS}"; fi; \
	  bash .github/scripts/tests/test-deploy.sh; \
	done
