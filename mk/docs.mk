# Docs point only at what exists: every relative link, #anchor and
# repository path in README.md and docs/*.md (scripts/check-doc-links.py).
.PHONY: docs-lint

docs-lint: ## check that links, anchors and repo paths in README.md and docs/ exist
	$(PYTHON) scripts/check-doc-links.py

lint: docs-lint
