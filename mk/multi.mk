# Several tasks on one PostgreSQL (issue 33, point 12): three processes of
# the debug binary behind a round-robin TCP balancer on 127.0.0.1, written
# in the test (tests/ops/multi_task/): three `supervise` at once migrate
# once, a revocation through one task reaches the others within 10 s, a
# rolling replacement under load shows clients no error (this binary by
# itself, and the previous release, PREVIOUS_REV, by this one), per-task
# rate limits add up to 3x. Ignored by `make test` (about a minute of
# three servers and a load generator on the machine); `make test-all` runs
# it. The tests take turns (--test-threads=1), each with the machine to
# itself, and print what they measured (--nocapture: the servers' own
# log lines are captured by the harness, not printed). Included by the
# top Makefile (`include mk/*.mk`), which defines PREVIOUS_BIN and
# previous-bin. See docs/testing.md.

CARGO ?= cargo

.PHONY: multi-test

multi-test: previous-bin ## three tasks behind a loopback balancer: migrate once, revocation within 10 s, rolling replacements without errors, rate limits add up
	SNIPPETD_PREVIOUS_BIN=$(abspath $(PREVIOUS_BIN)) \
	  $(CARGO) test --locked --test ops -- --ignored --test-threads=1 --nocapture multi_task::
