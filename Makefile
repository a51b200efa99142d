# snippetd: `make run` serves the API on :3000, `make test` runs the tests
# and checks (every contract, security and fault test), `make test-all` the
# slow ones that rarely change. `make help` lists the rest.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
VENV ?= .venv
PYTHON ?= python3
# Fully static x86_64 binary (docs/architecture.md, "Building"): glibc linked in,
# OpenSSL vendored, getrandom through the syscall (no /dev/urandom needed).
STATIC_TARGET ?= x86_64-unknown-linux-gnu
STATIC_RUSTFLAGS := -C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"
STATIC_BIN := target/$(STATIC_TARGET)/release/snippetd

include $(wildcard mk/*.mk)

.PHONY: help run build release test test-all deps lint fmt-check clippy cargo-test log-scan tools static scratch-test bench previous-bin previous-test

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

run: release ## serve on :3000 (starts a local PostgreSQL in .local/pg when no database is configured)
	scripts/run-local.sh

build: ## debug build
	$(CARGO) build --locked

release: ## optimized build
	$(CARGO) build --locked --release

test: deps fmt-check clippy cargo-test log-scan browser-test tf-test ## every contract, security and fault test, and the checks (docs/testing.md)
	@echo "make test: all passed"

# After `make test` (.ci/run runs both): the slow checks that rarely change.
test-all: previous-test multi-test log-scan scratch-test tf-e2e fuzz ## the slow checks make test leaves out: previous release, three tasks, static build, tf-e2e, fuzz
	@echo "make test-all: all passed"

# What the tests need on the machine (PostgreSQL, Chromium, Node.js, ...),
# installed when missing: the same script .ci/run calls.
deps: ## install what make test needs (scripts/install-test-deps.sh)
	scripts/install-test-deps.sh

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Two integration-test binaries (tests/api/, tests/ops/) and the unit tests.
# The OpenAPI check needs openapi-spec-validator from the venv.
cargo-test: $(VENV)/.installed
	rm -rf target/test-logs target/test-tokens
	SNIPPETD_REQUIRE_TOOLS=1 $(CARGO) test --locked -- --test-threads=$${TEST_THREADS:-4}

# The release before this one, for the rolling-deploy test (an old task
# serving the schema the new one migrated:
# tests/api/auth/servers.rs, ignored by `make test`). Built from git, debug
# profile, in its own target directory; update PREVIOUS_REV when a release
# ships.
PREVIOUS_REV ?= ca19f70
PREVIOUS_BIN := target/previous/$(PREVIOUS_REV)/debug/snippetd

previous-bin: $(PREVIOUS_BIN) ## build the previous release (PREVIOUS_REV) for the rolling-deploy test

previous-test: $(VENV)/.installed previous-bin ## the rolling-deploy test: the previous release serves the migrated schema
	mkdir -p target/test-logs
	SNIPPETD_REQUIRE_TOOLS=1 SNIPPETD_PREVIOUS_BIN=$(abspath $(PREVIOUS_BIN)) \
	  $(CARGO) test --locked --test api -- --ignored --exact auth::servers::the_previous_binary_serves_the_migrated_schema

$(PREVIOUS_BIN):
	rm -rf target/previous/src && mkdir -p target/previous/src
	git archive $(PREVIOUS_REV) | tar -x -C target/previous/src
	$(CARGO) build --locked --manifest-path target/previous/src/Cargo.toml --target-dir target/previous/$(PREVIOUS_REV)

# Secrets never reach logs: scan every line the servers logged in the run.
log-scan:
	@test -d target/test-logs || { echo "log-scan: no test logs found"; exit 1; }
	@if grep -rlF 'p@ss:w/rd#?%&= 1' target/test-logs; then \
	  echo "log-scan: the database password appears in the logs above"; exit 1; fi
	@if [ -d target/test-tokens ] && cat target/test-tokens/* > target/test-tokens.all && \
	  grep -rlF -f target/test-tokens.all target/test-logs; then \
	  echo "log-scan: a token the tests minted appears in the logs above"; exit 1; fi
	@echo "log-scan: $$(cat target/test-logs/* | wc -l) log lines, no password," \
	  "none of the $$(cat target/test-tokens/* 2>/dev/null | wc -l) tokens the tests minted"

lint: tools deny docker-lint workflows-lint tf-lint ## linters: cargo deny, Dockerfile, compose, workflows, terraform
	@echo "make lint: all clean"

tools: $(VENV)/.installed cargo-deny-tool ## install the Python lint tools into .venv, and cargo-deny

$(VENV)/.installed: $(wildcard tools/requirements-*.txt)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(addprefix -r ,$(wildcard tools/requirements-*.txt))
	touch $@

static: ## fully static x86_64 binary at target/x86_64-unknown-linux-gnu/release/snippetd
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' $(CARGO) build --locked --release --target $(STATIC_TARGET) --features vendored-tls
	@file $(STATIC_BIN) | grep -Eq 'static(-pie|ally) linked' || { file $(STATIC_BIN); echo "not statically linked" >&2; exit 1; }
	@ls -l $(STATIC_BIN) | awk '{printf "static binary: %s (%.1f MB)\n", $$9, $$5/1048576}'

scratch-test: static ## run the static binary in an empty root (chroot) as uid 65534 against TLS PostgreSQL
	scripts/scratch-test.sh $(STATIC_BIN)
