#!/usr/bin/env bash
# `make fuzz`: property-based fuzzing of the API with schemathesis against
# the server's own /openapi.json. Starts a throw-away PostgreSQL (its own
# directory and port, so it never meets `make run`'s) and snippetd, runs
# schemathesis with the checks below, and stops both whatever happens.
#
# Fails on: any 5xx, a status code the document does not list for the
# operation, a Content-Type or response headers it does not document, a
# body that breaks the documented schema; and on a panic in the server log.
#
# One worker: with several threads, CPython 3.11.7's ast.parse (which
# hypothesis calls to describe lambdas) fails with "SystemError: AST
# constructor recursion depth mismatch" (seen in the coverage phase).
#
# Environment: ST (schemathesis CLI), FUZZ_WORKERS, SNIPPETD_BIN, FUZZ_DIR (work dir),
# FUZZ_PG_PORT, FUZZ_MAX_EXAMPLES (per operation), FUZZ_SEED, FUZZ_TIMEOUT
# (seconds for the whole schemathesis run), FUZZ_CHECKS, FUZZ_EXTRA (more
# `st run` arguments).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

st=${ST:-.venv/fuzz/bin/st}
bin=${SNIPPETD_BIN:-target/debug/snippetd}
work=${FUZZ_DIR:-target/fuzz}
pg_port=${FUZZ_PG_PORT:-54339}
max_examples=${FUZZ_MAX_EXAMPLES:-40}
seed=${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}
run_timeout=${FUZZ_TIMEOUT:-600}
checks=${FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}

[ -x "$st" ] || { echo "fuzz: $st missing (make fuzz installs it)" >&2; exit 1; }
[ -x "$bin" ] || { echo "fuzz: $bin missing (cargo build)" >&2; exit 1; }

pgdir=$work/pg
mkdir -p "$work"
export PGDEV_DIR=$pgdir PGDEV_PORT=$pg_port
# A fresh database every run: stop and remove what a previous run left.
scripts/dev-db.sh stop
rm -rf "$pgdir" "$work/report"
server_pid=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  status=$?
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  scripts/dev-db.sh stop
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DATABASE_URL=$(scripts/dev-db.sh)
export DATABASE_URL
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HOST=127.0.0.1 PORT=$port LOG_FORMAT=json RUST_LOG=info
# Rate limits on (their headers are checked against the document) with a
# budget the fuzzer's few thousand requests from one client never exhaust.
export RATE_LIMIT_READS_PER_MINUTE=${FUZZ_RATE_PER_MINUTE:-1000000}
export RATE_LIMIT_WRITES_PER_MINUTE=${FUZZ_RATE_PER_MINUTE:-1000000}
"$bin" migrate 2>>"$work/server.log"
# Writes need a token: an owner `fuzz` and a token with every scope but
# admin, sent with every request (its snippets are its own, so PUT, PATCH
# and DELETE reach the 2xx paths too).
"$bin" owner add fuzz 2>>"$work/server.log"
FUZZ_TOKEN=$("$bin" token create --owner fuzz --name schemathesis \
  --scopes snippets:read,snippets:write,tokens:write 2>>"$work/server.log")
export FUZZ_TOKEN
# schemathesis fills a `bearer` security scheme itself (with generated
# values: every write was a 401) unless the scheme has credentials: these,
# read from the environment, never written to disk. It loads
# schemathesis.toml from the directory it runs in ($work). DELETE
# /tokens/{id} is left out (--exclude-operation-id revokeToken below): the
# stateful phase finds the token's own id (GET /me, GET /tokens) and revokes
# it, and every request after that is a 401. tests/api/auth/ covers it.
cat >"$work/schemathesis.toml" <<'TOML'
[auth.openapi.bearer]
bearer = "${FUZZ_TOKEN}"
TOML
: >"$work/server.log"
"$bin" serve >>"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  "$bin" healthcheck >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "fuzz: snippetd exited:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done
"$bin" healthcheck

echo "fuzz: schemathesis $("$st" --version | awk '{print $NF}') against http://127.0.0.1:$port/openapi.json, seed $seed, $max_examples examples per operation"
read -r -a extra <<<"${FUZZ_EXTRA:-}"
st_status=0
# --request-timeout: a request that takes 10 s is a hang, reported as such.
# Run from $work: schemathesis keeps its crash cache (.schemathesis/) in the
# current directory, which belongs under target/, not in the work tree.
st_abs=$(cd "$(dirname "$st")" && pwd)/$(basename "$st")
# NDJSON (POST /snippets/import, GET /snippets/export): tests/schemathesis/hooks.py.
export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
(cd "$work" && timeout --kill-after=10 "$run_timeout" "$st_abs" run "http://127.0.0.1:$port/openapi.json" \
  --checks "$checks" \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --workers "${FUZZ_WORKERS:-1}" \
  --request-timeout 10 \
  --suppress-health-check too_slow \
  --report junit --report-dir report \
  --exclude-operation-id revokeToken \
  "${extra[@]}") || st_status=$?

kill -0 "$server_pid" 2>/dev/null || { echo "fuzz: snippetd died during the run" >&2; st_status=1; }
if grep -F '"panicked' "$work/server.log" >/dev/null || grep -F 'handler panicked' "$work/server.log" >/dev/null; then
  echo "fuzz: the server log has a panic:" >&2
  grep -F 'panicked' "$work/server.log" | head -n 5 >&2
  st_status=1
fi
echo "fuzz: $(grep -c '"target":"access"' "$work/server.log") requests served; statuses:" \
  "$(grep -o '"status":[0-9]*' "$work/server.log" | sort | uniq -c | awk '{printf "%s×%s ", $1, substr($2, 10)}')"
if [ "$st_status" = 124 ] || [ "$st_status" = 137 ]; then
  echo "fuzz: schemathesis did not finish within ${run_timeout}s" >&2
fi
[ "$st_status" = 0 ] && echo "fuzz: passed (seed $seed)" || echo "fuzz: FAILED (seed $seed; rerun with FUZZ_SEED=$seed)" >&2
exit "$st_status"
