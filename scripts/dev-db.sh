#!/usr/bin/env bash
# Starts a throw-away PostgreSQL for development in .local/pg (created on
# first use; git-ignored) and prints its DATABASE_URL. `dev-db.sh stop`
# stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/pg-env.sh
. "$here/pg-env.sh"
dir=${PGDEV_DIR:-$here/../.local/pg}
port=${PGDEV_PORT:-54329}
bin=$(pg_bindir)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ "${1:-start}" = stop ]; then
  as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  exit 0
fi

if [ ! -f "$dir/PG_VERSION" ]; then
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg "$bin/initdb" -D "$dir" -U snippets --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
fi
if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U snippets -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'snippets'" | grep -q 1; then
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U snippets snippets
fi
echo "postgres://snippets@127.0.0.1:$port/snippets?sslmode=disable"
