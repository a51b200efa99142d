# Several tasks on one PostgreSQL (issue 33, point 12): three processes of
# the debug binary behind a round-robin TCP balancer on 127.0.0.1, written
# in the test (tests/ops/multi_task/): three `supervise` at once migrate
# once, a revocation through one task reaches the others within 10 s, a
# rolling replacement under load shows clients no error, per-task rate
# limits add up to 3x. Ignored by `make test` (about 30 s of three servers
# and a load generator on the machine); `make test-all` runs it. The tests
# take turns (--test-threads=1) so that each has the machine to itself.
# Included by the top Makefile (`include mk/*.mk`). See docs/testing.md.

CARGO ?= cargo

.PHONY: multi-test

multi-test: ## three tasks behind a loopback balancer: migrate once, revocation within 10 s, rolling replacement without errors, rate limits add up
	$(CARGO) test --locked --test ops -- --ignored --test-threads=1 multi_task::
