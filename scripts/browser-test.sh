#!/usr/bin/env bash
# `make browser-test`: the real snippetd (SNIPPETD_BIN, the debug build by
# default) on a free loopback port, against a throw-away PostgreSQL of its
# own (scripts/dev-db.sh in target/browser/pg, on another free port), then
# tests/browser/docs.test.mjs (GET /docs) and tests/browser/web.test.mjs
# (the pages for people, seeded with a token of owner `browser`) in
# headless Chromium. Everything it started is
# stopped on exit; the server's log is kept in target/browser/server.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SNIPPETD_BIN:-$root/target/debug/snippetd}
out=$root/target/browser
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rm -rf "$out/pg"
mkdir -p "$out/pg"
export PGDEV_DIR=$out/pg PGDEV_PORT
PGDEV_PORT=$(free_port)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$root/scripts/dev-db.sh" stop
  rm -rf "$out/pg"
}
trap cleanup EXIT

DATABASE_URL=$("$root/scripts/dev-db.sh")
port=$(free_port)
export DATABASE_URL HOST=127.0.0.1 PORT=$port METRICS_ADDR=off LOG_FORMAT=text
"$bin" migrate >"$out/server.log" 2>&1
"$bin" owner add browser >>"$out/server.log" 2>&1
SNIPPETD_TOKEN=$("$bin" token create --owner browser --name browser-test \
  --scopes snippets:read,snippets:write 2>>"$out/server.log")
export SNIPPETD_TOKEN
"$bin" serve >>"$out/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.1
done

export SNIPPETD_URL=http://127.0.0.1:$port
node "$root/tests/browser/docs.test.mjs"
node "$root/tests/browser/web.test.mjs"
