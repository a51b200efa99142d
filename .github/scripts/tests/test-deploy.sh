#!/usr/bin/env bash
# Offline tests of .github/scripts/deploy.sh against a mock aws CLI and a mock
# API on 127.0.0.1: the happy path, and each failure the deploy must catch.
#   bash .github/scripts/tests/test-deploy.sh      (make deploy-script-test)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deploy="$here/../deploy.sh"
work="$(mktemp -d)"
api_pid=""
cleanup() {
	if [[ -n "$api_pid" ]]; then kill "$api_pid" 2> /dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
sha=0123456789abcdef0123456789abcdef01234567

start_api() {
	if [[ -n "$api_pid" ]]; then
		kill "$api_pid" 2> /dev/null || true
		wait "$api_pid" 2> /dev/null || true
	fi
	local port_file="$work/port.$RANDOM$RANDOM"
	# The file exists before the job starts: `head` below never races its creation.
	: > "$port_file"
	MOCK_API="$1" python3 "$here/mock_api.py" > "$port_file" &
	api_pid=$!
	port=""
	for _ in $(seq 300); do
		port="$(head -n 1 "$port_file")"
		[[ "$port" =~ ^[0-9]+$ ]] && break
		kill -0 "$api_pid" 2> /dev/null || break
		sleep 0.1
	done
	[[ "$port" =~ ^[0-9]+$ ]] || { echo "mock API did not start" >&2; exit 1; }
}

# run NAME EXPECT(pass|fail) SCENARIO API_MODE COMMAND [GREP-in-output]
run() {
	local name="$1" expect="$2" scenario="$3" api="$4" command="$5" pattern="${6:-}" rc=0
	rm -rf "$work/mock"
	mkdir -p "$work/mock"
	start_api "$api"
	env -i PATH="$here:$PATH" HOME="$work" MOCK_DIR="$work/mock" MOCK_SCENARIO="$scenario" \
		MOCK_CONFIG_URL="http://127.0.0.1:$port/__image-config" \
		ECS_CLUSTER=snippetd ECS_SERVICE=snippetd-api CPU_ARCHITECTURE=X86_64 \
		ECR_REPOSITORY_URI=123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd IMAGE_TAG="$sha" \
		API_URL="http://127.0.0.1:$port" SMOKE_ATTEMPTS=4 SMOKE_DELAY=0 DEPLOY_TIMEOUT=60 \
		bash "$deploy" "$command" > "$work/out" 2>&1 || rc=$?
	local ok=true
	if [[ "$expect" == pass && "$rc" -ne 0 ]] || [[ "$expect" == fail && "$rc" -eq 0 ]]; then ok=false; fi
	if [[ -n "$pattern" ]] && ! grep -qE "$pattern" "$work/out"; then ok=false; fi
	if [[ "$expect" == pass && "$command" == deploy ]]; then
		# the new revision: same task definition, new image on the app container only,
		# read-only fields gone
		jq -e --arg img "123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd:$sha" '
			(.containerDefinitions[] | select(.name == "snippetd") | .image) == $img
			and (.containerDefinitions[] | select(.name == "log-router") | .image | startswith("public.ecr.aws/"))
			and .runtimePlatform.cpuArchitecture == "X86_64" and .cpu == "256"' \
			"$work/mock/registered.json" > /dev/null || ok=false
	fi
	if $ok; then
		passed=$((passed + 1))
		echo "ok   $name"
		if [[ -n "${VERBOSE:-}" ]]; then sed "s/^/     | /" "$work/out"; fi
	else
		failed=$((failed + 1))
		echo "FAIL $name (exit $rc)"
		sed 's/^/     | /' "$work/out"
	fi
}

run "deploy: happy path" pass ok ok deploy "smoke test passed"
run "deploy: waits past a waiter time-out while in progress" pass slow ok deploy "not stable yet"
run "deploy: smoke retries 503 from the edge" pass ok flaky-health deploy "retrying"
run "deploy: circuit-breaker rollback fails the job" fail rollback ok deploy "rolled back"
run "deploy: rollback seen only after the waiter succeeded" fail rollback-after-wait ok deploy "does not run .*snippetd:8"
run "deploy: a task on the old revision fails the job" fail stale-task ok deploy "not every running task"
run "deploy: live task definition on another CPU" fail wrong-live-arch ok deploy "runs ARM64"
run "deploy: image built for another CPU" fail ok image-arm64 deploy "built for 'arm64'"
run "deploy: image not in ECR" fail missing-image ok deploy "not in ECR"
run "deploy: /snippets answering 500 fails the smoke test" fail ok snippets-500 deploy "GET /snippets answered 500"
run "preflight prints the build platform" pass ok ok preflight "live task definition .* runs X86_64"
run "image-exists: present" pass ok ok image-exists "exists=true"
run "image-exists: absent" pass missing-image ok image-exists "exists=false"
run "smoke alone" pass ok ok smoke "smoke test passed"

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
