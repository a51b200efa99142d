# Reliability checks that take longer than `make test` (issue 9).
# Included by the top Makefile (`include mk/*.mk`); `make test-all` runs
# `make fuzz`.
# The fault and abuse tests themselves (tests/ops/faults/, tests/ops/abuse/)
# run in `make test`; `make faults` runs just them. See docs/testing.md.

CARGO ?= cargo
VENV ?= .venv
PYTHON ?= python3
# schemathesis gets a venv of its own inside $(VENV): it needs packaging>=24
# and checkov (tools/requirements-terraform.txt) pins it lower.
FUZZ_VENV ?= $(VENV)/fuzz
FUZZ_REQUIREMENTS := tests/schemathesis/requirements.txt
# Examples per API operation and the time limit of the schemathesis run.
FUZZ_MAX_EXAMPLES ?= 40
FUZZ_TIMEOUT ?= 600

.PHONY: fuzz fuzz-tools faults

fuzz: fuzz-tools test-bin ## schemathesis against /openapi.json: no 5xx, responses as documented (own PostgreSQL)
	ST=$(FUZZ_VENV)/bin/st SNIPPETD_BIN=target/debug/snippetd \
	  FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_TIMEOUT=$(FUZZ_TIMEOUT) \
	  tests/schemathesis/run.sh

fuzz-tools: $(FUZZ_VENV)/.installed ## install schemathesis into $(VENV)/fuzz

$(FUZZ_VENV)/.installed: $(FUZZ_REQUIREMENTS)
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(FUZZ_REQUIREMENTS)
	touch $@

faults: ## only the fault and abuse tests (database outage, pool, hostile clients)
	$(CARGO) test --locked --test ops -- --test-threads=$${TEST_THREADS:-4} faults:: abuse::
