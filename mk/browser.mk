# The API page (GET /docs) in a real browser: Debian's Chromium driven by
# playwright-core, pinned in tests/browser/package-lock.json. `.ci/run`
# installs chromium and nodejs/npm; npm ci fetches playwright-core from the
# npm registry once (no browser download: playwright-core has none).
BROWSER_DIR := tests/browser

.PHONY: browser-test

browser-test: test-bin $(BROWSER_DIR)/node_modules/.installed ## GET /docs and the pages (/s…) in headless Chromium: no console errors, axe, target/browser/*.png
	scripts/vendor-docs-ui.sh --check
	scripts/vendor-web.sh --check
	scripts/browser-test.sh

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	touch $@
