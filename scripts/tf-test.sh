#!/usr/bin/env bash
# `make tf-test`: terraform test (terraform/tests/, mocked aws provider)
# with one provider process for every run. Terraform 1.11 starts the
# provider plugin for each step of each run (29 starts for the 4 runs of
# waf.tftest.hcl), and each start of the ~700 MB terraform-provider-aws
# costs CPU: the 36 runs took 210 s. Started once in its debug mode, the
# provider serves every run through TF_REATTACH_PROVIDERS (Terraform's
# documented way to use a running provider, "Debugging providers" in
# developer.hashicorp.com/terraform/plugin/debugging): 144-183 s against
# 210-223 s, in pairs of runs minutes apart on this 2-core machine.
#
# Usage: scripts/tf-test.sh TERRAFORM_DIR (after terraform init). TF names
# the terraform binary. If the provider does not start in debug mode,
# terraform starts it per run as usual (slower, same tests).
set -euo pipefail
dir=${1:?usage: scripts/tf-test.sh TERRAFORM_DIR}
tf=${TF:-terraform}

plain() { exec "$tf" -chdir="$dir" test; }

provider=$(find -L "$dir/.terraform/providers" -type f -name 'terraform-provider-aws*' \
  -perm -u+x 2>/dev/null | head -n 1)
[ -n "$provider" ] || { echo "tf-test: no aws provider under $dir/.terraform"; plain; }

out=$(mktemp)
# AWS_CA_BUNDLE (set on some machines) makes the debug-mode provider fail
# to configure the one unmocked provider block ("unable to add custom
# RootCAs HTTPClient"); the tests never call AWS, so it is left out.
env -u AWS_CA_BUNDLE "$provider" -debug >"$out" 2>&1 &
pid=$!
stop() {
  local rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
  exit "$rc" # not the killed provider's 143
}
trap stop EXIT

reattach=
for _ in $(seq 300); do
  reattach=$(sed -n "s/^[[:space:]]*TF_REATTACH_PROVIDERS='\(.*\)'$/\1/p" "$out")
  [ -n "$reattach" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$reattach" ]; then
  echo "tf-test: the provider did not start in debug mode; terraform starts it per run"
  sed -n 1,20p "$out"
  kill "$pid" 2>/dev/null || true
  "$tf" -chdir="$dir" test
  exit
fi
TF_REATTACH_PROVIDERS=$reattach "$tf" -chdir="$dir" test
