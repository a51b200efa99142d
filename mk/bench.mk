# Load test on loopback (issue 8): see bench/run.sh for the knobs and
# docs/performance.md for the numbers. Needs root or wrk already installed.
.PHONY: bench bench-report bench-clean bench-search bench-reference bench-limits adversarial

bench: ## load test: PostgreSQL + release binary + wrk + pgbench, report in bench/out/report.md
	bench/run.sh

bench-report: ## re-render bench/out/report.md from the last bench run
	python3 bench/report.py bench/out | tee bench/out/report.md

bench-clean: ## delete bench/out (stops nothing: make bench stops its own processes)
	rm -rf bench/out

bench-search: release ## search at a million rows: seeded PostgreSQL (kept in bench/out/search), every filter combination under load (bench/search.sh)
	bench/search.sh db
	bench/search.sh run
	bench/search.sh explain

bench-reference: release ## GET /health of snippetd (access log on and off) beside the issue-17 reference service (bench/reference, axum), interleaved rounds (bench/reference.sh)
	SNIPPETD_BIN=target/release/snippetd bench/reference.sh

# Issue 30's findings 1, 2, 4 and 14 reproduced with numbers against the debug
# binary (throw-away PostgreSQL, loopback only; docs/testing.md). Another
# build: python3 bench/adversarial.py --bin PATH. ADVERSARIAL_ARGS=--json adds JSON.
adversarial: build ## issue 30's adversarial reproduction (import memory, forged tokens, IPv6 /64 buckets, history vs quota)
	$(PYTHON) bench/adversarial.py --bin target/debug/snippetd $(ADVERSARIAL_ARGS)

# The rate limiter alone (bench/limits.rs, release profile): the RSS of
# 100,000 distinct clients and after the sweep, and ns per check. Its
# bounds are asserted by tests/api/limits_memory.rs; this only measures.
# LIMITS_PART=memory|cost runs one part, LIMITS_COST_N the check count.
bench-limits: ## rate limiter: RSS of 100,000 distinct clients, cost of one check (bench/limits.rs)
	$(CARGO) bench --locked --bench limits
