# cargo-deny (issue 18): the dependency policy in deny.toml. Included by the
# top Makefile (include mk/*.mk); `make lint` runs `deny`.
#   make deny             licences, bans, sources: needs no network beyond
#                         crates.io (no advisory database), so it runs here
#   make deny-advisories  RustSec advisories: fetches the advisory database
#                         from GitHub, so it runs where that is reachable
#                         (the CI workflow's advisories job), not on this
#                         project's machines
# cargo-deny itself is installed by `make tools` (cargo install --locked,
# pinned version) when missing, as a debug build: on a fresh machine the
# release build took 5 min 03 s beside `make test-all` (303 s wall, ~550
# CPU-s), the debug one 79 s (112 CPU-s), and its check of this tree
# takes 2.5 s instead of 0.9 s.

CARGO ?= cargo
CARGO_DENY_VERSION ?= 0.20.2

.PHONY: deny deny-advisories cargo-deny-tool

cargo-deny-tool: ## install cargo-deny $(CARGO_DENY_VERSION) (cargo install --locked --debug) unless that version is on PATH
	@if $(CARGO) deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)'; then :; else \
	  echo "installing cargo-deny $(CARGO_DENY_VERSION) (cargo install --locked --debug; compiles ~140 crates)"; \
	  $(CARGO) install --locked --debug cargo-deny --version $(CARGO_DENY_VERSION); \
	fi

deny: cargo-deny-tool ## cargo deny check licenses bans sources (deny.toml; no advisory database needed)
	$(CARGO) deny --locked check --hide-inclusion-graph licenses bans sources

deny-advisories: cargo-deny-tool ## cargo deny check advisories (fetches the RustSec database from GitHub)
	$(CARGO) deny --locked check --hide-inclusion-graph advisories
