#!/usr/bin/env bash
# `make bench-reference`: GET /health of snippetd beside the reference
# service of issue 17 (bench/reference: axum 0.8 on tokio, a static JSON
# body, no per-request log), on this machine, in one run.
#
# Interleaved rounds (BENCH_ROUNDS, 2) of wrk -t2 -c64 (BENCH_DURATION s,
# 10, after BENCH_WARMUP s, 2) against: the reference; snippetd with
# RUST_LOG=info (one JSON access-log line per request, to a file, as
# deployed); snippetd with RUST_LOG=warn (no access log). /health needs no
# database, but serve does to start: a throw-away PostgreSQL as in run.sh.
# Prints a table of requests/s and CPU µs per request.
set -euo pipefail
dur=${BENCH_DURATION:-10} warm=${BENCH_WARMUP:-2} rounds=${BENCH_ROUNDS:-2}
pg_port=${BENCH_PG_PORT:-54394}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${BENCH_OUT:-$here/out/reference}
# shellcheck source=scripts/pg-env.sh
. "$root/scripts/pg-env.sh"
bin=${SNIPPETD_BIN:-$root/target/release/snippetd}
die() { echo "bench-reference: $*" >&2; exit 1; }

command -v wrk >/dev/null || die "wrk is missing: run make bench once (it installs wrk) or apt-get install wrk"
[ -n "${SNIPPETD_BIN:-}" ] || (cd "$root" && cargo build --release --locked --quiet)
(cd "$here/reference" && cargo build --release --locked --quiet)
ref=$here/reference/target/release/reference

rm -rf "$out" && mkdir -p "$out"
pgbin=$(pg_bindir)
if [ "$(id -u)" = 0 ]; then chown postgres "$out"; fi
as_pg "$pgbin/initdb" -D "$out/pg" -U snippets --auth=trust >/dev/null
as_pg "$pgbin/pg_ctl" -D "$out/pg" -o "-p $pg_port -k $out/pg -c listen_addresses=127.0.0.1" -l "$out/pg.log" -w start >/dev/null
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  as_pg "$pgbin/pg_ctl" -D "$out/pg" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U snippets snippets
db="postgres://snippets@127.0.0.1:$pg_port/snippets?sslmode=disable"
DATABASE_URL=$db "$bin" migrate >"$out/migrate.log" 2>&1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # label port pid
  wrk -t2 -c64 -d"${warm}s" "http://127.0.0.1:$2/health" >/dev/null
  local c0 c1 rps
  c0=$(cpu "$3")
  rps=$(wrk -t2 -c64 -d"${dur}s" "http://127.0.0.1:$2/health" | awk '/^Requests\/sec/ {print $2}')
  c1=$(cpu "$3")
  awk -v l="$1" -v r="$rps" -v c=$((c1 - c0)) -v t="$(getconf CLK_TCK)" -v d="$dur" \
    'BEGIN { printf "| %s | %\047d | %.1f |\n", l, r, c / t / (r * d) * 1e6 }'
}
start() { # port log command... -> server_pid, answering /health
  local port=$1 log=$2
  shift 2
  "$@" >>"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
    sleep 0.05
  done
  die "nothing answered on port $port (see $log)"
}
stop() { kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

echo "| server | GET /health req/s | server CPU µs/request |"
echo "|---|---:|---:|"
for r in $(seq 1 "$rounds"); do
  PORT=38392 start 38392 "$out/reference.log" "$ref"
  measure "reference (round $r)" 38392 "$server_pid"
  stop
  for level in info warn; do
    DATABASE_URL=$db PORT=38393 RUST_LOG=$level LOG_FORMAT=json RATE_LIMITS=off \
      start 38393 "$out/access-$level.log" "$bin" serve
    measure "snippetd RUST_LOG=$level (round $r)" 38393 "$server_pid"
    stop
  done
done
