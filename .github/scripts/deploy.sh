#!/usr/bin/env bash
# Deploy an image that is already in ECR to the ECS service, and prove it runs.
#
# ONE script for .github/workflows/deploy.yml and `make deploy` (mk/deploy.mk),
# so the two cannot diverge. Needs only the aws CLI (v2), jq and curl.
#
#   deploy.sh preflight     live task definition's CPU == CPU_ARCHITECTURE; prints platform=linux/...
#   deploy.sh image-exists  prints exists=true|false for ECR_REPOSITORY_URI:IMAGE_TAG
#   deploy.sh image-arch    fails unless that image in ECR is built for CPU_ARCHITECTURE
#   deploy.sh check-order   fails unless IMAGE_TAG is main's head or descends from the
#                           commit the service runs now (never replace newer with older)
#   deploy.sh deploy        lock, image-arch, provenance, check-order, migrate, then: new task
#                           definition revision with the image, update the service, wait until stable, verify
#                           that the PRIMARY deployment (COMPLETED) and every running task
#                           use the new revision, then smoke. Any failure after the
#                           service update rolls the service back to the revision it ran
#                           before, waits for that to be stable, and fails with the reason.
#   deploy.sh smoke         /health and /snippets (list; create, read, delete) at API_URL
#   deploy.sh lock          waits while another deployment of the service is in progress (the
#                           deploy lock: ECS's own deployment state), fails after DEPLOY_LOCK_WAIT
#   deploy.sh migrate       the one-off migration task: a revision of MIGRATE_TASK_FAMILY with the
#                           image, run in the service's subnets and security group, waited for;
#                           fails unless its container exits 0 (the service is not touched)
#   deploy.sh provenance    fails unless the image has a build provenance attestation signed by
#                           this repository's deploy workflow (gh attestation verify)
#
# Environment (all from Terraform outputs; see docs/workflows.md):
#   ECS_CLUSTER           ecs_cluster_name
#   ECS_SERVICE           ecs_service_name
#   CPU_ARCHITECTURE      cpu_architecture (X86_64 | ARM64)
#   ECR_REPOSITORY_URI    api_repo_uri (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME)
#   IMAGE_TAG             the 40-hex commit SHA the image was built from
#   API_URL               api_url (https://....cloudfront.net), for smoke
#   CONTAINER_NAME        container_name (optional: found from the image otherwise)
#   AWS_REGION            optional: taken from ECR_REPOSITORY_URI when unset
#   DEPLOY_TIMEOUT        seconds to wait for the service to be stable (default 1800)
#   ROLLBACK_TIMEOUT      seconds to wait for the rolled-back service (default 900)
#   MAIN_REF              git ref of main's head (default origin/main; the checkout
#                         needs the history: fetch-depth 0)
#   DEPLOY_GIT_DIR        the git work tree to ask (default .)
#   DEPLOY_ALLOW_OLDER    1: deploy IMAGE_TAG even if it is older than what runs (an
#                         explicit rollback by a person; said loudly in the log)
#   SMOKE_ATTEMPTS        tries per smoke request (default 12), SMOKE_DELAY seconds between (default 5)
#   MIGRATE_TASK_FAMILY   migrate_task_family (default: the service's family + "-migrate")
#   MIGRATE_TIMEOUT       seconds to wait for the migration task (default 900)
#   DEPLOY_LOCK_WAIT      seconds to wait for another deployment to finish (default 1200)
#   GITHUB_REPOSITORY     OWNER/REPO whose deploy workflow must have attested the image
#   DEPLOY_ALLOW_UNATTESTED  1: deploy an image without a provenance attestation (pushed from a
#                         laptop by make push); said loudly in the log
#   SMOKE_TOKEN           an API token for the smoke test's writes: a least-privilege owner of its
#                         own with snippets:read,snippets:write (docs/deploy.md); sent from a file,
#                         never on a command line
#
# Logs go to stderr; stdout carries only key=value results (for $GITHUB_OUTPUT).
set -euo pipefail

log() { printf '%s deploy: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# The reason is kept for the rollback message (die in the main shell only
# reaches the EXIT trap; one in a $(...) subshell just fails that command).
FAIL_REASON=""
die() {
	FAIL_REASON="$*"
	log "ERROR: $*"
	exit 1
}

need_env() {
	local name
	for name in "$@"; do
		[[ -n "${!name:-}" ]] || die "$name is not set (see docs/workflows.md)"
	done
}

need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" > /dev/null || die "$tool is not installed"
	done
}

TMP="$(mktemp -d)"
# curl reads the Authorization header from a file: not in argv, not in ps.
: > "$TMP/auth-header"
chmod 600 "$TMP/auth-header"
if [[ -n "${SMOKE_TOKEN:-}" ]]; then
	printf 'Authorization: Bearer %s\n' "$SMOKE_TOKEN" > "$TMP/auth-header"
fi
CLEANUP_SNIPPET=""
# Set once the service has been pointed at a new revision: the revision it
# ran before, to roll back to if anything after that fails.
ROLLBACK_TO=""
cleanup() {
	local rc=$?
	if [[ -n "$CLEANUP_SNIPPET" ]]; then
		log "removing smoke-test snippet $CLEANUP_SNIPPET"
		curl --silent --output /dev/null --max-time 15 -H @"$TMP/auth-header" -X DELETE "${API_URL%/}/snippets/$CLEANUP_SNIPPET" || true
	fi
	if [[ "$rc" -ne 0 && -n "$ROLLBACK_TO" ]]; then
		rollback "${FAIL_REASON:-exit status $rc}" || true
		rc=1
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

# --- ECR ------------------------------------------------------------------

# Splits ECR_REPOSITORY_URI into REGISTRY_ID, ECR_REGION, REPOSITORY_NAME. A URI
# of any other shape (guide 4.6: "..amazonaws.com", no region) is refused.
parse_repository_uri() {
	need_env ECR_REPOSITORY_URI
	local re='^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([a-z0-9]+([._/-][a-z0-9]+)*)$'
	[[ "$ECR_REPOSITORY_URI" =~ $re ]] \
		|| die "ECR_REPOSITORY_URI '$ECR_REPOSITORY_URI' is not ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME: use terraform output -raw api_repo_uri"
	REGISTRY_ID="${BASH_REMATCH[1]}"
	ECR_REGION="${BASH_REMATCH[2]}"
	REPOSITORY_NAME="${BASH_REMATCH[4]}"
	if [[ -z "${AWS_REGION:-}" ]]; then
		export AWS_REGION="$ECR_REGION"
	elif [[ "$AWS_REGION" != "$ECR_REGION" ]]; then
		die "AWS_REGION is $AWS_REGION but the ECR repository is in $ECR_REGION"
	fi
	export AWS_DEFAULT_REGION="$AWS_REGION"
}

check_tag() {
	need_env IMAGE_TAG
	[[ "$IMAGE_TAG" =~ ^[0-9a-f]{40}$ ]] \
		|| die "IMAGE_TAG '$IMAGE_TAG' is not a full commit SHA: images are tagged with the commit they were built from"
	IMAGE="$ECR_REPOSITORY_URI:$IMAGE_TAG"
}

cmd_image_exists() {
	need_tools aws
	parse_repository_uri
	check_tag
	local out
	if out="$(aws ecr describe-images --registry-id "$REGISTRY_ID" --repository-name "$REPOSITORY_NAME" \
		--image-ids "imageTag=$IMAGE_TAG" --query 'imageDetails[0].imageDigest' --output text 2> "$TMP/err")"; then
		log "$IMAGE is in ECR ($out)"
		echo "exists=true"
	elif grep -q 'ImageNotFoundException' "$TMP/err"; then
		log "$IMAGE is not in ECR yet"
		echo "exists=false"
	else
		cat "$TMP/err" >&2
		die "cannot look up $IMAGE in ECR"
	fi
}

# X86_64 <-> amd64, ARM64 <-> arm64
expected_arch() {
	case "$CPU_ARCHITECTURE" in
	X86_64) echo amd64 ;;
	ARM64) echo arm64 ;;
	*) die "CPU_ARCHITECTURE '$CPU_ARCHITECTURE' is neither X86_64 nor ARM64" ;;
	esac
}

# The CPU an image in ECR was built for: from the image index's platforms, or
# from a single manifest's config blob.
cmd_image_arch() {
	need_env CPU_ARCHITECTURE
	need_tools aws jq curl
	parse_repository_uri
	check_tag
	local want manifest archs config_digest url
	want="$(expected_arch)"
	aws ecr batch-get-image --registry-id "$REGISTRY_ID" --repository-name "$REPOSITORY_NAME" \
		--image-ids "imageTag=$IMAGE_TAG" \
		--accepted-media-types \
		application/vnd.oci.image.index.v1+json \
		application/vnd.docker.distribution.manifest.list.v2+json \
		application/vnd.oci.image.manifest.v1+json \
		application/vnd.docker.distribution.manifest.v2+json \
		--output json > "$TMP/batch.json"
	if [[ "$(jq '.images | length' "$TMP/batch.json")" -ne 1 ]]; then
		jq -c '.failures' "$TMP/batch.json" >&2
		die "$IMAGE is not in ECR: build and push it first (make push, or the deploy workflow)"
	fi
	manifest="$(jq -r '.images[0].imageManifest' "$TMP/batch.json")"
	if jq -e 'has("manifests")' <<< "$manifest" > /dev/null; then
		archs="$(jq -r '[.manifests[] | select(.platform.os == "linux") | .platform.architecture] | unique | join(" ")' <<< "$manifest")"
	else
		config_digest="$(jq -r '.config.digest' <<< "$manifest")"
		url="$(aws ecr get-download-url-for-layer --registry-id "$REGISTRY_ID" --repository-name "$REPOSITORY_NAME" \
			--layer-digest "$config_digest" --query downloadUrl --output text)"
		curl --fail --silent --show-error --location --max-time 60 --retry 3 --output "$TMP/config.json" "$url"
		archs="$(jq -r '.architecture' "$TMP/config.json")"
	fi
	[[ " $archs " == *" $want "* ]] \
		|| die "$IMAGE is built for '$archs', the task runs on $CPU_ARCHITECTURE ($want): rebuild it for linux/$want"
	log "$IMAGE is built for linux/$want, as the task ($CPU_ARCHITECTURE)"
}

# --- ECS ------------------------------------------------------------------

describe_service() {
	aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" --output json > "$TMP/service.json"
	jq -e '(.failures | length) == 0 and (.services | length) == 1 and .services[0].status == "ACTIVE"' \
		"$TMP/service.json" > /dev/null \
		|| { jq -c '.failures' "$TMP/service.json" >&2; die "service $ECS_SERVICE is not ACTIVE in cluster $ECS_CLUSTER"; }
}

cmd_preflight() {
	need_env ECS_CLUSTER ECS_SERVICE CPU_ARCHITECTURE
	need_tools aws jq
	local want current live
	want="$(expected_arch)"
	[[ -n "${ECR_REPOSITORY_URI:-}" ]] && parse_repository_uri
	describe_service
	current="$(jq -r '.services[0].taskDefinition' "$TMP/service.json")"
	aws ecs describe-task-definition --task-definition "$current" --query taskDefinition --output json > "$TMP/current-td.json"
	# Fargate runs X86_64 when a task definition names no runtimePlatform.
	live="$(jq -r '.runtimePlatform.cpuArchitecture // "X86_64"' "$TMP/current-td.json")"
	[[ "$live" == "$CPU_ARCHITECTURE" ]] \
		|| die "CPU_ARCHITECTURE is $CPU_ARCHITECTURE but the live task definition $current runs $live: fix the repository variable (or terraform's cpu_architecture) before building"
	log "live task definition $current runs $live: building for linux/$want"
	echo "platform=linux/$want"
	echo "current_task_definition=$current"
}

# The name of the container whose image is replaced.
pick_container() {
	local td="$1" names
	if [[ -n "${CONTAINER_NAME:-}" ]]; then
		jq -e --arg n "$CONTAINER_NAME" 'any(.containerDefinitions[]; .name == $n)' "$td" > /dev/null \
			|| die "no container '$CONTAINER_NAME' in the task definition"
		echo "$CONTAINER_NAME"
		return
	fi
	names="$(jq -r --arg repo "$ECR_REPOSITORY_URI" '
		if (.containerDefinitions | length) == 1 then .containerDefinitions[0].name
		else [.containerDefinitions[] | select(.image | startswith($repo + ":") or startswith($repo + "@")) | .name] | join("\n")
		end' "$td")"
	[[ -n "$names" && "$names" != *$'\n'* ]] \
		|| die "cannot tell which container to update (set CONTAINER_NAME, terraform output container_name)"
	echo "$names"
}

primary_summary() {
	jq -r '.services[0] as $s | ($s.deployments[] | select(.status == "PRIMARY")) as $p
		| "\($p.taskDefinition | split("/") | last) rollout=\($p.rolloutState // "?") running=\($p.runningCount)/\($p.desiredCount) failed=\($p.failedTasks) deployments=\($s.deployments | length)"' \
		"$TMP/service.json"
}

# Fails unless the new revision is the one running, alone, with every task on it.
verify_running() {
	local new_td="$1" desired task_arns
	describe_service
	jq -e --arg td "$new_td" '
		.services[0] as $s
		| ([$s.deployments[] | select(.status == "PRIMARY")] | length) == 1
		and ($s.deployments[] | select(.status == "PRIMARY") | .taskDefinition == $td and .rolloutState == "COMPLETED"
			and .runningCount == .desiredCount and .desiredCount >= 1)
		and ($s.deployments | length) == 1' "$TMP/service.json" > /dev/null \
		|| die "the service does not run $new_td as its only, COMPLETED, PRIMARY deployment: $(primary_summary)"
	desired="$(jq -r '.services[0].desiredCount' "$TMP/service.json")"
	aws ecs list-tasks --cluster "$ECS_CLUSTER" --service-name "$ECS_SERVICE" --desired-status RUNNING \
		--query taskArns --output json > "$TMP/task-arns.json"
	[[ "$(jq length "$TMP/task-arns.json")" -ge "$desired" ]] \
		|| die "only $(jq length "$TMP/task-arns.json") running tasks, $desired desired"
	mapfile -t task_arns < <(jq -r '.[]' "$TMP/task-arns.json")
	aws ecs describe-tasks --cluster "$ECS_CLUSTER" --tasks "${task_arns[@]}" --output json > "$TMP/tasks.json"
	jq -r '.tasks[] | "  task \(.taskArn | split("/") | last): \(.taskDefinitionArn | split("/") | last) \(.lastStatus) health=\(.healthStatus) \([.containers[] | "\(.name)=\(.imageDigest // "?")"] | join(" "))"' \
		"$TMP/tasks.json" >&2
	jq -e --arg td "$new_td" '(.failures | length) == 0 and (.tasks | length) >= 1
		and all(.tasks[]; .taskDefinitionArn == $td and .lastStatus == "RUNNING" and .healthStatus != "UNHEALTHY")' \
		"$TMP/tasks.json" > /dev/null \
		|| die "not every running task uses $new_td (or one is not RUNNING / is UNHEALTHY)"
	log "verified: $(primary_summary); all ${#task_arns[@]} running tasks use it"
}

# With deployment alarms (terraform/ecs.tf `alarms`), ECS keeps a stable
# rollout IN_PROGRESS for a bake period and rolls it back if an alarm
# fires: `services-stable` can return inside that period. Wait for the
# PRIMARY deployment of new_td to be COMPLETED; an alarm's rollback makes
# another revision PRIMARY (or the rollout FAILED): then fail, with why.
wait_for_bake() {
	local new_td="$1" deadline="$2" state
	while :; do
		describe_service
		state="$(jq -r --arg td "$new_td" '.services[0].deployments[] | select(.status == "PRIMARY")
			| if .taskDefinition == $td then .rolloutState else "ROLLED_BACK" end' "$TMP/service.json")"
		case "$state" in
			COMPLETED) return ;;
			IN_PROGRESS)
				((SECONDS < deadline)) || die "the rollout of $new_td was still IN_PROGRESS after the deploy timeout: $(primary_summary)"
				log "stable, rollout in progress (bake time of the deployment alarms): $(primary_summary)"
				sleep "${DEPLOY_POLL_SECONDS:-15}"
				;;
			ROLLED_BACK) die "the deployment of $new_td was rolled back (a deployment alarm or the circuit breaker): $(primary_summary); see docs/operations.md" ;;
			*) die "the deployment of $new_td is $state: $(jq -r '.services[0].deployments[] | select(.status == "PRIMARY") | .rolloutStateReason' "$TMP/service.json")" ;;
		esac
	done
}

# The image tag (= commit) of the app container in a task definition file.
image_tag_of() {
	local td="$1" container image
	container="$(pick_container "$td")"
	image="$(jq -r --arg n "$container" '.containerDefinitions[] | select(.name == $n) | .image' "$td")"
	case "$image" in
	*@*) echo "" ;; # pinned by digest: no commit to compare
	*:*) echo "${image##*:}" ;;
	*) echo "" ;;
	esac
}

# Refuses to replace what runs with an older or unrelated commit: CI runs on
# main finish out of order, and a re-run of an old CI run triggers a deploy of
# its old commit. IMAGE_TAG must be main's current head, or descend from the
# commit the live task definition's image was built from.
cmd_check_order() {
	need_env ECS_CLUSTER ECS_SERVICE IMAGE_TAG
	need_tools aws jq git
	[[ "$IMAGE_TAG" =~ ^[0-9a-f]{40}$ ]] || die "IMAGE_TAG '$IMAGE_TAG' is not a full commit SHA"
	local gitdir="${DEPLOY_GIT_DIR:-.}" main_ref="${MAIN_REF:-origin/main}" main_head running current
	describe_service
	current="$(jq -r '.services[0].taskDefinition' "$TMP/service.json")"
	aws ecs describe-task-definition --task-definition "$current" --query taskDefinition --output json > "$TMP/live-td.json"
	running="$(image_tag_of "$TMP/live-td.json")"
	main_head="$(git -C "$gitdir" rev-parse --verify --quiet "$main_ref^{commit}")" \
		|| die "cannot resolve $main_ref in $gitdir: the deploy needs main's history (actions/checkout fetch-depth: 0)"
	if [[ "$IMAGE_TAG" == "$main_head" ]]; then
		log "order: $IMAGE_TAG is main's head ($main_ref); running: ${running:-unknown}"
		return 0
	fi
	if [[ "$running" =~ ^[0-9a-f]{40}$ ]] && git -C "$gitdir" cat-file -e "$running^{commit}" 2> /dev/null \
		&& git -C "$gitdir" cat-file -e "$IMAGE_TAG^{commit}" 2> /dev/null \
		&& git -C "$gitdir" merge-base --is-ancestor "$running" "$IMAGE_TAG"; then
		log "order: $IMAGE_TAG descends from the running $running (main's head is $main_head)"
		return 0
	fi
	if [[ "${DEPLOY_ALLOW_OLDER:-}" == 1 ]]; then
		log "WARNING: order: $IMAGE_TAG is not main's head ($main_head) and does not descend from the running ${running:-unknown}: deploying it anyway, as asked (DEPLOY_ALLOW_OLDER=1, an explicit rollback)"
		return 0
	fi
	die "refusing to deploy $IMAGE_TAG: it is not main's head ($main_head) and does not descend from the commit now running (${running:-unknown}, $(basename "$current")). A newer commit is (or will be) deployed; to roll back on purpose, run the deploy workflow by hand with image_tag (or make deploy TAG=<sha>)"
}

# Points the service back at ROLLBACK_TO and waits until that is what runs.
rollback() {
	local reason="$1" target="$ROLLBACK_TO" timeout="${ROLLBACK_TIMEOUT:-900}" deadline
	ROLLBACK_TO=""
	log "ROLLBACK: $reason; rolling $ECS_SERVICE back to $(basename "$target")"
	if ! aws ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" --task-definition "$target" \
		--query 'service.taskDefinition' --output text > /dev/null; then
		log "ERROR: rollback: update-service to $target failed: roll back by hand (make deploy TAG=<previous sha>)"
		return 1
	fi
	deadline=$((SECONDS + timeout))
	until aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"; do
		if ((SECONDS >= deadline)); then
			log "ERROR: rollback: the service was not stable on $(basename "$target") after ${timeout}s: look at it now"
			return 1
		fi
	done
	aws ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" --output json > "$TMP/service.json"
	if jq -e --arg td "$target" '.services[0].deployments | length == 1 and .[0].status == "PRIMARY"
		and .[0].taskDefinition == $td and .[0].rolloutState == "COMPLETED"' "$TMP/service.json" > /dev/null; then
		log "ROLLBACK: the service runs $(basename "$target") again, stable. The deploy failed: $reason"
	else
		log "ERROR: rollback: the service is stable but does not run only $(basename "$target"): $(primary_summary)"
		return 1
	fi
}

# The deploy lock (issue 33, point 3): ECS's own deployment state. Every path
# that changes the running revision (this script, from CI or a laptop, and
# its rollback) starts only when the service has one deployment, COMPLETED;
# otherwise it waits (DEPLOY_LOCK_WAIT) and then refuses. The workflow's
# concurrency group serialises CI runs; this also covers laptops and a
# circuit-breaker rollback still running.
cmd_lock() {
	need_env ECS_CLUSTER ECS_SERVICE
	need_tools aws jq
	local deadline=$((SECONDS + ${DEPLOY_LOCK_WAIT:-1200}))
	while :; do
		describe_service
		if jq -e '.services[0].deployments | length == 1 and .[0].rolloutState == "COMPLETED"' \
			"$TMP/service.json" > /dev/null; then
			log "lock: no other deployment of $ECS_SERVICE is in progress"
			return 0
		fi
		((SECONDS < deadline)) \
			|| die "another deployment of $ECS_SERVICE is in progress ($(primary_summary)): refusing to start a second one; retry when it is done (DEPLOY_LOCK_WAIT=${DEPLOY_LOCK_WAIT:-1200}s)"
		log "lock: another deployment is in progress ($(primary_summary)); waiting"
		sleep "${DEPLOY_POLL_SECONDS:-15}"
	done
}

# Build provenance (issue 33, point 4): the deploy workflow attests every image
# it pushes (actions/attest-build-provenance, pushed to the registry). An image
# without that attestation (make push from a laptop) is refused unless
# DEPLOY_ALLOW_UNATTESTED=1.
cmd_provenance() {
	parse_repository_uri
	check_tag
	if [[ "${DEPLOY_ALLOW_UNATTESTED:-}" == 1 ]]; then
		log "WARNING: provenance: not verified for $IMAGE, as asked (DEPLOY_ALLOW_UNATTESTED=1: an image pushed without CI)"
		return 0
	fi
	need_env GITHUB_REPOSITORY
	need_tools gh
	local digest
	digest="$(aws ecr describe-images --registry-id "$REGISTRY_ID" --repository-name "$REPOSITORY_NAME" \
		--image-ids "imageTag=$IMAGE_TAG" --query 'imageDetails[0].imageDigest' --output text)"
	[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "provenance: no digest for $IMAGE"
	if ! gh attestation verify "oci://$ECR_REPOSITORY_URI@$digest" --repo "$GITHUB_REPOSITORY" \
		--signer-workflow "$GITHUB_REPOSITORY/.github/workflows/deploy.yml" \
		--predicate-type https://slsa.dev/provenance/v1 --bundle-from-oci > "$TMP/attestation" 2>&1; then
		sed 's/^/  /' "$TMP/attestation" >&2
		die "provenance: $IMAGE ($digest) has no build provenance from $GITHUB_REPOSITORY's deploy workflow: refusing it (an image pushed from a laptop needs DEPLOY_ALLOW_UNATTESTED=1)"
	fi
	log "provenance: $IMAGE ($digest) was built and attested by $GITHUB_REPOSITORY/.github/workflows/deploy.yml"
}

# The one-off migration task (issue 33, point 1): `snippetd migrate` as the
# master user, in a task definition of its own; the serving tasks never hold
# those credentials. Runs before the service update; a failure stops the
# deploy with nothing changed in the service (migrations must keep the
# running release working: docs/deploy.md).
cmd_migrate() {
	need_env ECS_CLUSTER ECS_SERVICE ECR_REPOSITORY_URI IMAGE_TAG
	need_tools aws jq
	parse_repository_uri
	check_tag
	local family td task exit_code reason timeout="${MIGRATE_TIMEOUT:-900}" deadline
	describe_service
	family="${MIGRATE_TASK_FAMILY:-}"
	if [[ -z "$family" ]]; then
		aws ecs describe-task-definition --task-definition "$(jq -r '.services[0].taskDefinition' "$TMP/service.json")" \
			--query taskDefinition --output json > "$TMP/svc-td.json"
		family="$(jq -r '.family' "$TMP/svc-td.json")-migrate"
	fi
	aws ecs describe-task-definition --task-definition "$family" --query taskDefinition --output json > "$TMP/migrate-td.json" \
		|| die "no task definition family $family: apply terraform (aws_ecs_task_definition.migrate) first"
	[[ "$(jq '.containerDefinitions | length' "$TMP/migrate-td.json")" -eq 1 ]] || die "$family must have exactly one container"
	jq --arg image "$IMAGE" '.containerDefinitions[0].image = $image
		| del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
			.registeredAt, .registeredBy, .deregisteredAt)' "$TMP/migrate-td.json" > "$TMP/new-migrate-td.json"
	td="$(aws ecs register-task-definition --cli-input-json "file://$TMP/new-migrate-td.json" \
		--query taskDefinition.taskDefinitionArn --output text)"
	# The service's own subnets and security group: the one that may reach RDS.
	jq '.services[0].networkConfiguration' "$TMP/service.json" > "$TMP/network.json"
	jq -e '.awsvpcConfiguration.subnets | length > 0' "$TMP/network.json" > /dev/null \
		|| die "the service has no awsvpc network configuration to run the migration task in"
	aws ecs run-task --cluster "$ECS_CLUSTER" --task-definition "$td" --launch-type FARGATE --count 1 \
		--started-by "deploy-${IMAGE_TAG:0:12}" --network-configuration "file://$TMP/network.json" \
		--output json > "$TMP/run-task.json"
	task="$(jq -r '.tasks[0].taskArn // empty' "$TMP/run-task.json")"
	[[ -n "$task" ]] || { jq -c '.failures' "$TMP/run-task.json" >&2; die "migrate: run-task started no task"; }
	log "migrate: $(basename "$td") started as task ${task##*/}; waiting (up to ${timeout}s)"
	deadline=$((SECONDS + timeout))
	until aws ecs wait tasks-stopped --cluster "$ECS_CLUSTER" --tasks "$task"; do
		((SECONDS < deadline)) || die "migrate: task ${task##*/} still running after ${timeout}s (it holds the migration lock; see the log group, stream prefix migrate)"
	done
	aws ecs describe-tasks --cluster "$ECS_CLUSTER" --tasks "$task" --output json > "$TMP/migrate-task.json"
	exit_code="$(jq -r '.tasks[0].containers[0].exitCode // "none"' "$TMP/migrate-task.json")"
	reason="$(jq -r '.tasks[0].stoppedReason // "?"' "$TMP/migrate-task.json")"
	[[ "$exit_code" == 0 ]] \
		|| die "migrate: task ${task##*/} exited with $exit_code ($reason): the service was not changed; see the log group, stream prefix migrate"
	log "migrate: task ${task##*/} exited 0"
	echo "migrate_task_definition=$td"
}

cmd_deploy() {
	need_env ECS_CLUSTER ECS_SERVICE CPU_ARCHITECTURE ECR_REPOSITORY_URI IMAGE_TAG API_URL
	need_tools aws jq curl
	local timeout="${DEPLOY_TIMEOUT:-1800}" current family container new_td deadline
	cmd_preflight > /dev/null
	cmd_lock
	cmd_image_arch
	cmd_provenance
	cmd_check_order
	cmd_migrate
	describe_service

	current="$(jq -r '.services[0].taskDefinition' "$TMP/service.json")"
	# Start from the family's latest revision, not the running one: a
	# `terraform apply` registers a new revision (environment, CPU, memory)
	# without switching the service to it, and the next deploy must carry it.
	family="$(jq -r '.family' "$TMP/current-td.json")"
	aws ecs describe-task-definition --task-definition "$family" --query taskDefinition --output json > "$TMP/base-td.json"
	[[ "$(jq -r '.runtimePlatform.cpuArchitecture // "X86_64"' "$TMP/base-td.json")" == "$CPU_ARCHITECTURE" ]] \
		|| die "the latest revision of $family does not run $CPU_ARCHITECTURE"
	mv "$TMP/base-td.json" "$TMP/current-td.json"
	container="$(pick_container "$TMP/current-td.json")"
	log "running task definition: $current; base: $(jq -r '.taskDefinitionArn' "$TMP/current-td.json"); container '$container': $(jq -r --arg n "$container" '.containerDefinitions[] | select(.name == $n) | .image' "$TMP/current-td.json") -> $IMAGE"

	# The current revision with the new image, minus the fields that
	# describe-task-definition returns but register-task-definition refuses.
	jq --arg n "$container" --arg image "$IMAGE" '
		.containerDefinitions |= map(if .name == $n then .image = $image else . end)
		| del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
			.registeredAt, .registeredBy, .deregisteredAt)' "$TMP/current-td.json" > "$TMP/new-td.json"
	new_td="$(aws ecs register-task-definition --cli-input-json "file://$TMP/new-td.json" \
		--query taskDefinition.taskDefinitionArn --output text)"
	log "registered $new_td"
	echo "task_definition=$new_td"

	# From here on, any failure rolls the service back to $current (cleanup).
	ROLLBACK_TO="$current"
	# shellcheck disable=SC2016 # backquotes are JMESPath literals, not shell
	aws ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" --task-definition "$new_td" \
		--query 'service.deployments[?status==`PRIMARY`].id | [0]' --output text > "$TMP/deployment-id"
	log "service $ECS_SERVICE: deployment $(cat "$TMP/deployment-id") of $(basename "$new_td") started; waiting (up to ${timeout}s)"

	# `services-stable` gives up after 10 minutes, and it also succeeds when the
	# circuit breaker has rolled back to the old revision: wait again while the
	# new deployment is in progress, then check what is actually running.
	deadline=$((SECONDS + timeout))
	until aws ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"; do
		describe_service
		log "not stable yet: $(primary_summary)"
		jq -e --arg td "$new_td" '.services[0].deployments[] | select(.status == "PRIMARY") | .taskDefinition == $td' \
			"$TMP/service.json" > /dev/null \
			|| die "the deployment of $new_td was rolled back (circuit breaker): see the stopped tasks and the log group"
		jq -e '.services[0].deployments[] | select(.status == "PRIMARY") | .rolloutState != "FAILED"' \
			"$TMP/service.json" > /dev/null \
			|| die "the deployment of $new_td FAILED: $(jq -r '.services[0].deployments[] | select(.status == "PRIMARY") | .rolloutStateReason' "$TMP/service.json")"
		((SECONDS < deadline)) || die "the service was not stable after ${timeout}s"
	done
	wait_for_bake "$new_td" "$deadline"
	verify_running "$new_td"
	cmd_smoke
	ROLLBACK_TO=""
	log "deployed $IMAGE as $new_td"
}

# --- smoke test through CloudFront --------------------------------------------

# request METHOD PATH [BODY]: sets STATUS, leaves the body in $TMP/body and the
# headers in $TMP/headers. Retries network errors and 502/503/504 (CloudFront
# and the ALB answer those while targets change); a POST is retried only when
# it never reached the API (no HTTP answer, or 502/503/504 from the edge).
request() {
	local method="$1" path="$2" body="${3:-}" attempt=1 attempts="${SMOKE_ATTEMPTS:-12}" delay="${SMOKE_DELAY:-5}"
	local -a args=(--silent --show-error --connect-timeout 10 --max-time 20
		--output "$TMP/body" --dump-header "$TMP/headers" --write-out '%{http_code}'
		-X "$method" -H 'Accept: application/json' -H "X-Request-Id: deploy-smoke-${IMAGE_TAG:0:12}-$RANDOM"
		-H @"$TMP/auth-header")
	if [[ -n "$body" ]]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	while :; do
		STATUS="$(curl "${args[@]}" "${API_URL%/}$path" 2> "$TMP/curl-err")" || STATUS="000"
		case "$STATUS" in
		000 | 502 | 503 | 504)
			((attempt < attempts)) || { cat "$TMP/curl-err" >&2; return 0; }
			log "$method $path: $STATUS $(tr -d '\n' < "$TMP/curl-err"); retrying in ${delay}s ($attempt/$attempts)"
			attempt=$((attempt + 1))
			sleep "$delay"
			;;
		*) return 0 ;;
		esac
	done
}

expect() {
	local want="$1" what="$2"
	if [[ "$STATUS" != "$want" ]]; then
		if [[ -s "$TMP/body" ]]; then
			head -c 2000 "$TMP/body" >&2
			echo >&2
		fi
		die "smoke: $what answered $STATUS, expected $want"
	fi
	grep -qi '^x-request-id:' "$TMP/headers" || die "smoke: $what: no X-Request-Id header (is this answer from snippetd?)"
	log "smoke: $what -> $STATUS"
}

cmd_smoke() {
	need_env API_URL
	need_tools curl jq
	[[ "$API_URL" =~ ^https?://[^/]+/?$ ]] || die "API_URL '$API_URL' is not a base URL like https://d123.cloudfront.net"
	IMAGE_TAG="${IMAGE_TAG:-manual}"
	[[ -n "${SMOKE_TOKEN:-}" ]] || log "SMOKE_TOKEN is not set: the writes will get 401 from a server with AUTH_MODE=tokens"
	local id code
	request GET /health
	expect 200 "GET /health"
	jq -e '.status == "ok"' "$TMP/body" > /dev/null || die "smoke: /health body is not {\"status\":\"ok\"}"

	request GET '/snippets?limit=5'
	expect 200 "GET /snippets"
	jq -e 'type == "array"' "$TMP/body" > /dev/null || die "smoke: GET /snippets is not a JSON array"

	code="// deploy smoke test $IMAGE_TAG $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	request POST /snippets "$(jq -cn --arg code "$code" --arg t "deploy smoke test ${IMAGE_TAG:0:12}" \
		'{title: $t, language: "text", code: $code, description: "created and deleted by deploy.sh smoke", tags: ["deploy-smoke"]}')"
	expect 201 "POST /snippets"
	id="$(jq -r '.id // empty' "$TMP/body")"
	[[ "$id" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || die "smoke: POST /snippets returned no UUID id"
	CLEANUP_SNIPPET="$id"

	request GET "/snippets/$id"
	expect 200 "GET /snippets/$id"
	jq -e --arg id "$id" --arg code "$code" '.id == $id and .code == $code' "$TMP/body" > /dev/null \
		|| die "smoke: GET /snippets/$id is not the snippet just created"

	request DELETE "/snippets/$id"
	expect 204 "DELETE /snippets/$id"
	CLEANUP_SNIPPET=""

	request GET "/snippets/$id"
	expect 404 "GET /snippets/$id after DELETE"
	log "smoke test passed at $API_URL"
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

main() {
	case "${1:-}" in
	preflight) cmd_preflight ;;
	check-order) cmd_check_order ;;
	image-exists) cmd_image_exists ;;
	image-arch) cmd_image_arch ;;
	deploy) cmd_deploy ;;
	smoke) cmd_smoke ;;
	lock) cmd_lock ;;
	migrate) cmd_migrate ;;
	provenance) cmd_provenance ;;
	*) usage ;;
	esac
}

main "$@"
