#!/usr/bin/env bash
# `make tf-test`: terraform test (terraform/tests/, mocked aws provider),
# one test file per process, two at a time, with one provider process for
# all of them.
#
# One provider: Terraform 1.11 starts the provider plugin for each step of
# each run (29 starts for the 4 runs of waf.tftest.hcl), and each start of
# the ~700 MB terraform-provider-aws costs CPU: the 36 runs took 210 s.
# Started once in its debug mode, the provider serves every run through
# TF_REATTACH_PROVIDERS (Terraform's documented way to use a running
# provider, "Debugging providers" in
# developer.hashicorp.com/terraform/plugin/debugging): 144-183 s against
# 210-223 s. The tests mock every resource, so the provider only serves
# schemas and validation, which hold no state between calls.
#
# Two at a time: the files share nothing (each has its own state), and
# one `terraform test` keeps 1.2-1.6 of the 2 cores busy, so the gain is
# small: 178 s -> 147 s for make tf-test, 229 -> 241 CPU-s.
# stack.tftest.hcl (102 s alone) is longer than the other two together
# (43 s), so they run beside it.
#
# Usage: scripts/tf-test.sh TERRAFORM_DIR (after terraform init). TF names
# the terraform binary. If the provider does not start in debug mode,
# terraform starts it per run as usual (slower, same tests).
set -euo pipefail
dir=${1:?usage: scripts/tf-test.sh TERRAFORM_DIR}
tf=${TF:-terraform}
jobs=${TF_TEST_JOBS:-2}

work=$(mktemp -d)
pid=
stop() {
  local rc=$?
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
  exit "$rc" # not the killed provider's 143
}
trap stop EXIT

provider=$(find -L "$dir/.terraform/providers" -type f -name 'terraform-provider-aws*' \
  -perm -u+x 2>/dev/null | head -n 1 || true)
reattach=
if [ -n "$provider" ]; then
  # AWS_CA_BUNDLE (set on some machines) makes the debug-mode provider fail
  # to configure the one unmocked provider block ("unable to add custom
  # RootCAs HTTPClient"); the tests never call AWS, so it is left out.
  env -u AWS_CA_BUNDLE "$provider" -debug >"$work/provider.out" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    reattach=$(sed -n "s/^[[:space:]]*TF_REATTACH_PROVIDERS='\(.*\)'$/\1/p" "$work/provider.out")
    [ -n "$reattach" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi
if [ -n "$reattach" ]; then
  export TF_REATTACH_PROVIDERS=$reattach
elif [ -z "$provider" ]; then
  echo "tf-test: no aws provider under $dir/.terraform; terraform finds its own"
else
  echo "tf-test: the provider did not start in debug mode; terraform starts it per run"
  sed -n 1,20p "$work/provider.out"
fi

# The longest file first, so that the others run beside it.
mapfile -t files < <(cd "$dir" && ls -S tests/*.tftest.hcl)
# Each file's output is printed whole when it ends; its status is kept.
# shellcheck disable=SC2016 # expanded by the inner sh, from its arguments
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
  log="$1/$(basename "$2").log"
  if "$3" -chdir="$4" test -filter="$2" >"$log" 2>&1; then echo ok >"$log.rc"; fi
  cat "$log"' _ "$work" {} "$tf" "$dir"

failed=0
for f in "${files[@]}"; do
  [ -f "$work/$(basename "$f").log.rc" ] || { echo "tf-test: FAILED: $f"; failed=1; }
done
[ "$failed" = 0 ] || exit 1
echo "tf-test: ${#files[@]} files passed"
