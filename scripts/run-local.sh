#!/usr/bin/env bash
# `make run`: serve the API on :3000. With no database configured
# (DATABASE_URL or DB_HOST), start a throw-away PostgreSQL in .local/pg
# first; Ctrl-C stops the server and then that database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${SNIPPETD_BIN:-$here/../target/release/snippetd}

started_db=0
if [ -z "${DATABASE_URL:-}" ] && [ -z "${DB_HOST:-}" ]; then
  DATABASE_URL=$("$here/dev-db.sh")
  export DATABASE_URL
  started_db=1
  echo "local PostgreSQL in .local/pg: $DATABASE_URL" >&2
fi
export LOG_FORMAT=${LOG_FORMAT:-text}

stop_db() { [ "$started_db" = 1 ] && "$here/dev-db.sh" stop; }
trap stop_db EXIT

"$bin" migrate
if [ "${AUTH_MODE:-tokens}" = tokens ]; then
  # A ready-to-use token for the README's curl examples: owner `local`
  # (created once), a new token each run, shown here and nowhere else.
  "$bin" owner add local 2>/dev/null || true
  TOKEN=$("$bin" token create --owner local --name make-run \
    --scopes snippets:read,snippets:write,tokens:write 2>/dev/null)
  printf '\nA token for owner "local" (shown once):\n\n  export TOKEN=%s\n\n' "$TOKEN" >&2
else
  echo "AUTH_MODE=${AUTH_MODE}: no token needed" >&2
fi
port=${PORT:-3000}
printf 'Pages for people: http://localhost:%s/s (a snippet: http://localhost:%s/s/<id>); API docs: http://localhost:%s/docs\n\n' \
  "$port" "$port" "$port" >&2
# Not exec: when the server stops (Ctrl-C reaches it too), stop the database.
"$bin" serve &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
# `wait` returns early (128+n) when a trapped signal arrives: wait again
# until the server has really exited, and report its own status.
while :; do
  status=0
  wait "$pid" || status=$?
  kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
