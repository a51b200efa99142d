# Layers point down only and no files import each other (issue 32):
# scripts/check-layers.py reads the `use` lines of src/. Also alone:
#   make -f mk/layers.mk layers-lint
PYTHON ?= python3

.PHONY: layers-lint
layers-lint: ## layers import downward only, no import cycles between files
	$(PYTHON) scripts/check-layers.py

lint: layers-lint
