# The API page (GET /docs) in a real browser: Debian's Chromium driven by
# playwright-core, pinned in tests/browser/package-lock.json. `.ci/run`
# installs chromium and nodejs/npm; npm ci fetches playwright-core from the
# npm registry once (no browser download: playwright-core has none).
BROWSER_DIR := tests/browser

.PHONY: browser-test test-bin

# The debug binary as `cargo test` builds it (tokio's test-util unified in
# from the dev-dependencies): after cargo-test, nothing to build. `make
# build` would rebuild tokio and nine crates on it (17 s) for a binary
# that differs only by that feature.
test-bin:
	$(CARGO) test --locked --no-run

browser-test: test-bin $(BROWSER_DIR)/node_modules/.installed ## GET /docs and the pages (/s…) in headless Chromium: no console errors, axe, target/browser/*.png
	scripts/vendor-docs-ui.sh --check
	scripts/vendor-web.sh --check
	scripts/browser-test.sh

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	touch $@
