# terraform apply + destroy of the whole stack against moto, the AWS API
# emulator, on 127.0.0.1 (issue 18, point 8). Included by the top Makefile
# (include mk/*.mk); .ci/run runs `make tf-e2e` after `make lint`.
# terraform-e2e/run.py says what it does and what moto cannot serve;
# docs/deploy.md, "Rehearsal against moto", lists the exclusions.
#   make tf-e2e                     the rehearsal (hard limit TF_E2E_TIMEOUT s)
# Uses the provider source of mk/terraform.mk (a local mirror found on disk,
# else the registry).

PYTHON ?= python3
VENV ?= .venv
TF ?= terraform
TF_E2E_VENV ?= $(VENV)/tf-e2e
TF_E2E_REQUIREMENTS := terraform-e2e/requirements.txt
TF_E2E_TIMEOUT ?= 1500

.PHONY: tf-e2e tf-e2e-tools

# One retry on a fresh moto: moto answers concurrent creates racily now
# and then (seen: "The CIDR '10.40.11.0/24' conflicts with another subnet"
# for a plan with no such overlap; a duplicate security group name), and a
# second whole run from nothing tells such a flake from a real failure.
TF_E2E_RUN = TF='$(TF)' TF_PLUGIN_DIR='$(TF_PLUGIN_DIR)' MOTO_SERVER='$(TF_E2E_VENV)/bin/moto_server' \
	  TF_E2E_TIMEOUT='$(TF_E2E_TIMEOUT)' timeout --kill-after=30 $$(( $(TF_E2E_TIMEOUT) + 60 )) \
	  $(PYTHON) terraform-e2e/run.py

tf-e2e: tf-e2e-tools ## terraform apply, re-plan, destroy of the whole stack against moto on loopback (offline)
	$(TF_E2E_RUN) || { echo "tf-e2e: failed once; again on a fresh moto"; $(TF_E2E_RUN); }

tf-e2e-tools: $(TF_E2E_VENV)/.installed ## install moto[server] (pinned) into $(VENV)/tf-e2e

$(TF_E2E_VENV)/.installed: $(TF_E2E_REQUIREMENTS)
	$(PYTHON) -m venv $(TF_E2E_VENV)
	$(TF_E2E_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(TF_E2E_REQUIREMENTS)
	touch $@
