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

# The mocks are Python scripts (#!/usr/bin/env python3, the standard
# library only) that deploy.sh runs hundreds of times, so their start is
# most of this test's time. Where `python3` on PATH is a version manager's
# shim (pyenv's is a bash script that runs `pyenv exec`: 110 ms a start),
# the interpreter it resolves to is put first on PATH, once, and started
# without site-packages (-S: their .pth files cost 25 ms a start here).
# 86 CPU-s for the test through the shim, 42 this way.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec %q -S "$@"\n' "$(python3 -c 'import sys; print(sys.executable)')" > "$work/bin/python3"
chmod +x "$work/bin/python3"
PATH="$work/bin:$PATH"

# A repository whose history the order check reads (MAIN_REF=main):
#   A -- B -- C      main (C is its head)
#    \
#     D              side (does not contain B or C)
repo="$work/repo"
git init --quiet --initial-branch=main "$repo"
commit() {
	git -C "$repo" -c user.name=test -c user.email=test@example.invalid commit --quiet --allow-empty -m "$1"
	git -C "$repo" rev-parse HEAD
}
A="$(commit A)"
B="$(commit B)"
C="$(commit C)"
git -C "$repo" checkout --quiet -b side "$A"
D="$(commit D)"
git -C "$repo" checkout --quiet main
# The default case: deploy main's head over A.
sha="$C"
running="$A"

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
# Extra environment for one case: VAR=value ... in the array `extra`
# (reset after each case); IMAGE_TAG=$sha, running commit $running.
extra=()
run() {
	local name="$1" expect="$2" scenario="$3" api="$4" command="$5" pattern="${6:-}" rc=0
	rm -rf "$work/mock"
	mkdir -p "$work/mock"
	start_api "$api"
	env -i PATH="$here:$PATH" HOME="$work" MOCK_DIR="$work/mock" MOCK_SCENARIO="$scenario" \
		MOCK_CONFIG_URL="http://127.0.0.1:$port/__image-config" MOCK_RUNNING_TAG="$running" \
		ECS_CLUSTER=snippetd ECS_SERVICE=snippetd-api CPU_ARCHITECTURE=X86_64 \
		ECR_REPOSITORY_URI=123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd IMAGE_TAG="$sha" \
		API_URL="http://127.0.0.1:$port" SMOKE_ATTEMPTS=4 SMOKE_DELAY=0 DEPLOY_TIMEOUT=60 \
		DEPLOY_GIT_DIR="$repo" MAIN_REF=main GITHUB_REPOSITORY=example-org/snippetd DEPLOY_LOCK_WAIT=0 \
		${extra[@]+"${extra[@]}"} \
		bash "$deploy" "$command" > "$work/out" 2>&1 || rc=$?
	extra=()
	local ok=true
	if [[ "$expect" == pass && "$rc" -ne 0 ]] || [[ "$expect" == fail && "$rc" -eq 0 ]]; then ok=false; fi
	if [[ -n "$pattern" ]] && ! grep -qE "$pattern" "$work/out"; then ok=false; fi
	if [[ -n "${expect_rollback:-}" ]]; then
		# the service was pointed back at the revision it ran before (:7), last
		[[ "$(grep '^ecs update-service' "$work/mock/calls.log" | tail -n 1)" == *"--task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/snippetd:7 "* ]] || ok=false
		expect_rollback=""
	fi
	if [[ -n "${expect_no_update:-}" ]]; then
		# no service update, and no new revision of the service's task definition
		! grep -q '^ecs update-service' "$work/mock/calls.log" || ok=false
		[[ ! -e "$work/mock/registered.json" ]] || ok=false
		expect_no_update=""
	fi
	if [[ "$expect" == pass && "$command" == deploy ]]; then
		# the migration ran first, once, with the same image, before the service update
		jq -e --arg img "123456789012.dkr.ecr.eu-west-1.amazonaws.com/snippetd:$sha" \
			'.containerDefinitions[0].image == $img and .containerDefinitions[0].command == ["migrate"]' \
			"$work/mock/registered-snippetd-migrate.json" > /dev/null || ok=false
		[[ "$(grep -c '^ecs run-task' "$work/mock/calls.log")" -eq 1 ]] || ok=false
		[[ "$(grep -n '^ecs run-task\|^ecs update-service' "$work/mock/calls.log" | head -n 1)" == *"run-task"* ]] || ok=false
		grep -q '^gh attestation verify' "$work/mock/calls.log" || grep -q 'WARNING: provenance: not verified' "$work/out" || ok=false
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
extra=(DEPLOY_POLL_SECONDS=0)
run "deploy: waits out the deployment alarms' bake time" pass bake ok deploy "bake time"
expect_rollback=1 extra=(DEPLOY_POLL_SECONDS=0)
run "rollback: a deployment alarm rolled the deploy back" fail alarm-rollback ok deploy "rolled back \(a deployment alarm"
run "deploy: smoke retries 503 from the edge" pass ok flaky-health deploy "retrying"
run "deploy: live task definition on another CPU" fail wrong-live-arch ok deploy "runs ARM64"
run "deploy: image built for another CPU" fail ok image-arm64 deploy "built for 'arm64'"
run "deploy: image not in ECR" fail missing-image ok deploy "not in ECR"

# Order (issue 18, point 1): never replace a newer commit with an older one.
run "order: main's head over an older commit" pass ok ok deploy "is main's head"
sha="$B" running="$A"
run "order: a descendant of the running commit (not main's head)" pass ok ok deploy "descends from the running $A"
sha="$B" running="$C" expect_no_update=1
run "order: an older commit over main's head is refused" fail ok ok deploy "refusing to deploy $B: it is not main's head \($C\)"
sha="$D" running="$B" expect_no_update=1
run "order: a commit off main's line is refused" fail ok ok deploy "refusing to deploy $D"
sha="$B" running="$C" extra=(DEPLOY_ALLOW_OLDER=1)
run "order: an explicit rollback (DEPLOY_ALLOW_OLDER=1) is allowed" pass ok ok deploy "deploying it anyway"
sha="$C" running="$D"
run "order: main's head is deployed whatever runs" pass ok ok deploy "is main's head"
sha="$B" running="unset" expect_no_update=1
run "order: running image without a commit tag, not main's head: refused" fail ok ok deploy "refusing to deploy"
sha="$C" running="$A" extra=(MAIN_REF=no-such-branch)
run "order: no history of main: refused" fail ok ok deploy "cannot resolve no-such-branch"
sha="$C" running="$A"

# Rollback (issue 18, point 2): any failure after the service update puts
# the previous revision back, waits for it, and fails with the reason.
expect_rollback=1
run "rollback: smoke test failure" fail ok snippets-500 deploy "ROLLBACK: the service runs snippetd:7 again, stable. The deploy failed: smoke: GET /snippets answered 500"
expect_rollback=1
run "rollback: a task on the wrong revision" fail stale-task ok deploy "ROLLBACK: the service runs snippetd:7 again, stable. The deploy failed: not every running task"
expect_rollback=1 extra=(DEPLOY_TIMEOUT=1)
run "rollback: never stable" fail never-stable ok deploy "ROLLBACK: the service runs snippetd:7 again, stable. The deploy failed: the service was not stable after 1s"
expect_rollback=1
run "rollback: after the circuit breaker's own" fail rollback ok deploy "ROLLBACK: the service runs snippetd:7 again, stable. The deploy failed: the deployment of .* was rolled back"
expect_rollback=1
run "rollback: seen only after the waiter succeeded" fail rollback-after-wait ok deploy "snippetd:8 was rolled back"
expect_rollback=1 extra=(ROLLBACK_TIMEOUT=1)
run "rollback: a rollback that does not stabilize is reported" fail rollback-stuck snippets-500 deploy "rollback: the service was not stable on snippetd:7"
# Issue 33: the deploy lock, the one-off migration task, build provenance.
expect_no_update=1
run "lock: refuses while another deployment is in progress" fail busy ok deploy "another deployment of snippetd-api is in progress"
expect_no_update=1 extra=(DEPLOY_LOCK_WAIT=0)
run "lock: alone, refuses too" fail busy ok lock "refusing to start a second one"
run "lock: free" pass ok ok lock "no other deployment"
run "migrate: exits 0, then the service rolls" pass ok ok deploy "migrate: task migrate1 exited 0"
expect_no_update=1
run "migrate: a failed migration leaves the service alone" fail migrate-fails ok deploy "migrate: task migrate1 exited with 1"
run "migrate: alone" pass ok ok migrate "migrate_task_definition=arn:aws:ecs:eu-west-1:123456789012:task-definition/snippetd-migrate:4"
expect_no_update=1
run "provenance: an unattested image is refused" fail unattested ok deploy "has no build provenance"
extra=(DEPLOY_ALLOW_UNATTESTED=1)
run "provenance: DEPLOY_ALLOW_UNATTESTED=1 lets it through, loudly" pass unattested ok deploy "WARNING: provenance: not verified"
run "preflight prints the build platform" pass ok ok preflight "live task definition .* runs X86_64"
run "image-exists: present" pass ok ok image-exists "exists=true"
run "image-exists: absent" pass missing-image ok image-exists "exists=false"
run "smoke alone" pass ok ok smoke "smoke test passed"

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
