# cargo-deny (issue 18): the dependency policy in deny.toml. Included by the
# top Makefile (include mk/*.mk); `make lint` runs `deny`.
#   make deny             licences, bans, sources: needs no network beyond
#                         crates.io (no advisory database), so it runs here
#   make deny-advisories  RustSec advisories: fetches the advisory database
#                         from GitHub, so it runs where that is reachable
#                         (the CI workflow's advisories job), not on this
#                         project's machines
# cargo-deny itself is installed by `make tools` (cargo install --locked,
# pinned version) when missing.

CARGO ?= cargo
CARGO_DENY_VERSION ?= 0.20.2

.PHONY: deny deny-advisories cargo-deny-tool

cargo-deny-tool: ## install cargo-deny $(CARGO_DENY_VERSION) (cargo install --locked) unless that version is on PATH
	@if $(CARGO) deny --version 2>/dev/null | grep -qx 'cargo-deny $(CARGO_DENY_VERSION)'; then :; else \
	  echo "installing cargo-deny $(CARGO_DENY_VERSION) (cargo install --locked; compiles ~140 crates)"; \
	  $(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION); \
	fi

deny: cargo-deny-tool ## cargo deny check licenses bans sources (deny.toml; no advisory database needed)
	$(CARGO) deny --locked check --hide-inclusion-graph licenses bans sources

deny-advisories: cargo-deny-tool ## cargo deny check advisories (fetches the RustSec database from GitHub)
	$(CARGO) deny --locked check --hide-inclusion-graph advisories
