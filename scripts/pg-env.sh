# Sourced by the scripts here: finds the PostgreSQL server binaries and runs
# them as an unprivileged user when we are root (PostgreSQL refuses root).
pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ]; then
    echo "PostgreSQL server binaries not found: install postgresql (initdb, pg_ctl)" >&2
    return 1
  fi
  echo "$d"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
