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

.PHONY: help run build release test-bin test test-all test-all-serial test-all-and-lint tf-e2e-then-fuzz tf-e2e-fuzz-then-lint test-build deps lint fmt-check clippy cargo-test log-scan tools static scratch-test bench previous-bin previous-test

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

run: release ## serve on :3000 (starts a local PostgreSQL in .local/pg when no database is configured)
	scripts/run-local.sh

build: ## debug build
	$(CARGO) build --locked

release: ## optimized build
	$(CARGO) build --locked --release

# The debug binary as `cargo test` builds it (tokio's test-util unified in
# from the dev-dependencies), for the browser test and the fuzzer: after
# cargo-test, nothing to build. `make build` would rebuild tokio and nine
# crates on it (16-17 s) for a binary that differs only by that feature.
# It is also make test's clippy: every target, this crate's compiled by
# clippy-driver with -D warnings (scripts/clippy-rustc).
test-bin:
	$(CARGO) test --locked --no-run --all-targets

# The tests' venv is made while cargo builds: its 13 s of pip waited for
# the build before.
test-build:
	$(MAKE) -j2 test-bin $(VENV)/.installed-api

# The builds of this crate that `make test` and `make test-all` run, and
# only those (not the previous release's, not the release builds, not
# `cargo install`), lint as they compile. The same value everywhere, or
# cargo rebuilds the crate: a plain `cargo test` after `make test` does.
LINT_RUSTC := $(abspath scripts/clippy-rustc)
test-bin cargo-test previous-test multi-test faults: export RUSTC_WORKSPACE_WRAPPER := $(LINT_RUSTC)

test: deps fmt-check test-build cargo-test log-scan browser-test tf-validate ## every contract, security and fault test, and the checks (clippy among them; docs/testing.md)
	@echo "make test: all passed"

# After `make test` (.ci/run runs both): the slow checks that rarely change,
# in two lanes (--output-sync=target: each target's output comes at its
# end). tf-e2e spends most of its ~8 minutes in the AWS provider's fixed
# waits (an RDS instance: 2 min 40 s of polling moto, which answers at
# once), so the fuzzer follows it in its lane; the rest runs one after
# the other in the other lane (the multi-task and rolling-deploy tests
# time clients; the static build wants both cores).
test-all: ## the slow checks make test leaves out: terraform test, tf-e2e, previous release, three tasks, static build, fuzz
	$(MAKE) -j2 --output-sync=target test-all-serial tf-e2e-then-fuzz
	@echo "make test-all: all passed"

# tf-e2e's busiest minutes are its start: the CPU-bound steps go first, the
# timed tests last, when it is done or waiting.
test-all-serial:
	$(MAKE) -j1 scratch-test tf-test previous-test multi-test log-scan

tf-e2e-then-fuzz:
	$(MAKE) -j1 tf-e2e
	$(MAKE) -j1 fuzz

# What .ci/run runs after `make test`: test-all, and `make lint` after the
# fuzzer (lint times nothing, and builds only cargo-deny on a fresh
# machine, a 79 s debug build: mk/deny.mk). Both lanes are CPU-bound from
# the start, so the order only decides which lane ends last: with the
# fuzzer (~100 s on one core) after the timed tests, it ran alone at the
# end (.ci/run 1,169 s, `make test-all` and lint 875 s; 1,113 s and
# 841 s with it after tf-e2e).
test-all-and-lint: ## make test-all with make lint beside it (.ci/run)
	$(MAKE) -j2 --output-sync=target test-all-serial tf-e2e-fuzz-then-lint
	@echo "make test-all and make lint: all passed"

# lint's steps need `tools` (the venv, cargo-deny) first; then two at a
# time: it ended last, its two one-core steps one after the other (the
# deploy script's tests and checkov: 60 s at ~50 % CPU).
tf-e2e-fuzz-then-lint:
	$(MAKE) -j1 tf-e2e-then-fuzz
	$(MAKE) -j1 tools
	$(MAKE) -j2 --output-sync=target lint

# What the tests need on the machine (PostgreSQL, Chromium, Node.js, ...),
# installed when missing: the same script .ci/run calls.
deps: ## install what make test needs (scripts/install-test-deps.sh)
	scripts/install-test-deps.sh

fmt-check:
	$(CARGO) fmt --all -- --check

# Clippy alone, without building; `make test` lints through test-bin.
clippy: ## cargo clippy on every target, -D warnings
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Two integration-test binaries (tests/api/, tests/ops/) and the unit tests.
# The OpenAPI check needs openapi-spec-validator from the venv.
cargo-test: $(VENV)/.installed-api
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

previous-test: $(VENV)/.installed-api previous-bin ## the rolling-deploy test: the previous release serves the migrated schema
	mkdir -p target/test-logs
	SNIPPETD_REQUIRE_TOOLS=1 SNIPPETD_PREVIOUS_BIN=$(abspath $(PREVIOUS_BIN)) \
	  $(CARGO) test --locked --test api -- --ignored --exact auth::servers::the_previous_binary_serves_the_migrated_schema

# Built by plain rustc: it is a release that shipped, not code to lint.
# Without debug info: its Cargo.toml asks for full DWARF in every crate,
# which the test never reads (126 against 159 CPU-s to build it).
$(PREVIOUS_BIN): export RUSTC_WORKSPACE_WRAPPER :=
$(PREVIOUS_BIN): export CARGO_PROFILE_DEV_DEBUG := 0
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

tools: $(VENV)/.installed-api $(VENV)/.installed-lint cargo-deny-tool ## install the Python lint tools into .venv, and cargo-deny

# Two stamps in one venv: the tests need only openapi-spec-validator (4 s
# to install); checkov and the other linters took 33 s of a fresh clone's
# `make test` before they moved to `make lint`'s stamp.
$(VENV)/.installed-api: tools/requirements-api.txt
	test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(VENV)/.installed-lint: $(filter-out tools/requirements-api.txt,$(wildcard tools/requirements-*.txt))
	test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(addprefix -r ,$^)
	touch $@

static: ## fully static x86_64 binary at target/x86_64-unknown-linux-gnu/release/snippetd
	RUSTFLAGS='$(STATIC_RUSTFLAGS)' $(CARGO) build --locked --release --target $(STATIC_TARGET) --features vendored-tls
	@file $(STATIC_BIN) | grep -Eq 'static(-pie|ally) linked' || { file $(STATIC_BIN); echo "not statically linked" >&2; exit 1; }
	@ls -l $(STATIC_BIN) | awk '{printf "static binary: %s (%.1f MB)\n", $$9, $$5/1048576}'

scratch-test: static ## run the static binary in an empty root (chroot) as uid 65534 against TLS PostgreSQL
	scripts/scratch-test.sh $(STATIC_BIN)
