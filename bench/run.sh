#!/usr/bin/env bash
# `make bench`: measures snippetd on loopback, the way its users run it.
#
#  1. builds the release binary (cargo build --release --locked);
#  2. starts a throw-away PostgreSQL in bench/out/pg on its own port (never
#     the developer's .local/pg), stopped on exit whatever happens;
#  3. footprint: binary size, exec -> first 200 (migrations pending / applied);
#  4. R_db: pgbench -M prepared on diesel's statements, as many clients as the
#     pool has connections;
#  5. for each RUST_LOG level (info = as deployed, warn = no access log):
#     reseeds 10,000 snippets, starts `snippetd serve`, and drives each
#     scenario with wrk (warm-up, then the measured run), recording req/s,
#     p50/p99 latency, errors, CPU seconds per component, RSS;
#  6. writes bench/out/results.tsv and bench/out/report.md, prints the report.
#
# Everything binds 127.0.0.1 and every run has a fixed duration.
# Knobs (environment): BENCH_DURATION (s per measured run, 12),
# BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (64), BENCH_THREADS (wrk threads and
# pgbench jobs, 2), BENCH_POOL_SIZE (DB_POOL_SIZE, 10), BENCH_ROWS (10000),
# BENCH_LOG_LEVELS ("info warn"), BENCH_SCENARIOS ("health get_id list search
# post put json100 page100"), BENCH_PGBENCH (1; 0 skips R_db), BENCH_STARTUP (1; 0 skips the
# startup timings), BENCH_PG_PORT (54391), BENCH_HTTP_PORT (38391),
# SNIPPETD_BIN (a prebuilt binary: skips cargo build), BENCH_LABEL (a name for
# this run in the report), BENCH_OUT (bench/out), BENCH_PGSS (1 loads
# pg_stat_statements and reports statements per scenario; adds overhead),
# BENCH_SERVER_ENV (extra VAR=value words for the server, e.g. to try a
# setting), BENCH_PG_OPTS (extra postgres options, e.g.
# "-c log_min_duration_statement=0" to see every parse/bind/execute in
# bench/out/pg/server.log), BENCH_PERF (scenario names to sample with `perf record -a -g`
# during their measured run: bench/out/perf/; costs throughput), BENCH_AUTH_GET
# (1: get_id sends the bench's token too, to compare authenticated reads;
# POST, PUT and PATCH always send it, as writes need one), BENCH_OWNER (1:
# writes by a non-admin owner, whose quota is checked: the seeded rows
# belong to the bench's owner, its token has snippets:read and
# snippets:write, and the quotas are raised so that they check but never
# refuse; 0, the default: an admin token, exempt from quotas).
# Scenarios beyond the default list: patch (PATCH with If-Match, the PUT
# body as a merge patch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=scripts/pg-env.sh
. "$root/scripts/pg-env.sh"

out=${BENCH_OUT:-$here/out}
dur=${BENCH_DURATION:-12}
warm=${BENCH_WARMUP:-3}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
pool=${BENCH_POOL_SIZE:-10}
rows=${BENCH_ROWS:-10000}
pg_port=${BENCH_PG_PORT:-54391}
http_port=${BENCH_HTTP_PORT:-38391}
levels=${BENCH_LOG_LEVELS:-info warn}
scenarios=${BENCH_SCENARIOS:-health get_id list search post put json100 page100}
# json100 and page100: the same 100-line snippets (bench/seed-pages.sql) as
# JSON and as the page for people (issue 34: the page at >= 0.5x the JSON).
pages=1000
label=${BENCH_LABEL:-default}
pgss=${BENCH_PGSS:-0}
# Rate limits off: wrk is one client at tens of thousands of requests a
# second (BENCH_SERVER_ENV=RATE_LIMITS=on measures them; later wins). For
# the same reason its searches may take every search slot
# (SEARCH_PER_CLIENT; older binaries ignore it).
server_env="RATE_LIMITS=off SEARCH_PER_CLIENT=1000 ${BENCH_SERVER_ENV:-}"
owner_writes=${BENCH_OWNER:-0}
[ "$owner_writes" = 1 ] && server_env="QUOTA_MAX_SNIPPETS=1000000000 QUOTA_MAX_BYTES=1000000000000 $server_env"

sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "wrk is missing: apt-get install wrk (as root)"
  say "installing wrk"
  command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
pgbin=$(pg_bindir)
command -v curl >/dev/null || die "curl is missing"
for t in initdb pg_ctl psql pgbench createdb; do
  [ -x "$pgbin/$t" ] || die "$pgbin/$t not found (install postgresql and postgresql-contrib)"
done
command -v python3 >/dev/null || die "python3 is needed for the CPU and startup probes"
[ -x /usr/bin/time ] || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; } ||
  die "/usr/bin/time is missing: apt-get install time"

# --- binary ------------------------------------------------------------------
if [ -z "${SNIPPETD_BIN:-}" ]; then
  say "building the release binary"
  (cd "$root" && cargo build --release --locked --quiet)
  bin=$root/target/release/snippetd
else
  bin=$SNIPPETD_BIN
fi
[ -x "$bin" ] || die "no binary at $bin"

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/pg" "$out/logs" "$out/wrk" "$out/pgbench"
mkdir -p "$out/logs" "$out/wrk" "$out/pgbench"
results=$out/results.tsv
meta=$out/meta.tsv
printf 'label\tlevel\tscenario\trps\tp50_ms\tp99_ms\tmean_ms\tsocket_errors\thttp_errors\trequests\tseconds\tcpu_busy_s\tcpu_snippetd_s\tcpu_pg_s\tcpu_wrk_s\n' >"$results"
: >"$meta"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$meta"; }
meta label "$label"
meta commit "$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$root" && git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo '+dirty src')"
meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
meta cpus "$(nproc)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta kernel "$(uname -r)"
meta wrk "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
meta postgres "$("$pgbin/postgres" --version)"
meta settings "connections=$conns threads=$threads pool=$pool rows=$rows duration=${dur}s warmup=${warm}s"
meta binary_bytes "$(stat -c %s "$bin")"
meta binary "$bin"

# --- PostgreSQL ----------------------------------------------------------------
pgdata=$out/pg
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting PostgreSQL on 127.0.0.1:$pg_port ($pgdata)"
if (exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null; then die "port $pg_port is taken (BENCH_PG_PORT)"; fi
if (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; then die "port $http_port is taken (BENCH_HTTP_PORT)"; fi
mkdir -p "$pgdata"
[ "$(id -u)" = 0 ] && chown postgres "$pgdata" "$out/pgbench"
as_pg "$pgbin/initdb" -D "$pgdata" -U snippets --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
pg_opts="-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c max_connections=200"
[ "$pgss" = 1 ] && pg_opts="$pg_opts -c shared_preload_libraries=pg_stat_statements"
pg_opts="$pg_opts ${BENCH_PG_OPTS:-}"
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -o "$pg_opts" start >/dev/null
postmaster=$(head -n 1 "$pgdata/postmaster.pid")
psqlc() { "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U snippets -v ON_ERROR_STOP=1 -qX "$@"; }
psqlc -d postgres -c "CREATE DATABASE snippets"
url() { echo "postgres://snippets@127.0.0.1:$pg_port/$1?sslmode=disable"; }

server_env_for() { # db level
  echo "DATABASE_URL=$(url "$1") HOST=127.0.0.1 PORT=$http_port DB_POOL_SIZE=$pool LOG_FORMAT=json RUST_LOG=$2 $server_env"
}

# --- footprint: exec -> first 200 -------------------------------------------------
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if [ "${BENCH_STARTUP:-1}" = 1 ]; then
  say "startup: exec -> first 200 on GET /health (median of 5)"
  slog=$out/logs/startup.log
  pending=() applied=() serve_only=()
  for _ in 1 2 3 4 5; do
    psqlc -d postgres -c "DROP DATABASE IF EXISTS startup" -c "CREATE DATABASE startup"
    # supervise = what the container runs: wait for the DB, migrate, serve.
    # shellcheck disable=SC2046
    pending+=("$(env $(server_env_for startup info) "$here/first200.py" "$http_port" "$slog" "$bin" supervise)")
    # shellcheck disable=SC2046
    applied+=("$(env $(server_env_for startup info) "$here/first200.py" "$http_port" "$slog" "$bin" supervise)")
    # shellcheck disable=SC2046
    serve_only+=("$(env $(server_env_for startup info) "$here/first200.py" "$http_port" "$slog" "$bin" serve)")
  done
  meta startup_pending_ms "$(printf '%s\n' "${pending[@]}" | median)"
  meta startup_applied_ms "$(printf '%s\n' "${applied[@]}" | median)"
  meta startup_serve_ms "$(printf '%s\n' "${serve_only[@]}" | median)"
  meta startup_samples "pending: ${pending[*]}; applied: ${applied[*]}; serve: ${serve_only[*]}"
  psqlc -d postgres -c "DROP DATABASE startup"
fi

# shellcheck disable=SC2046
env $(server_env_for snippets info) "$bin" migrate >>"$out/logs/migrate.log" 2>&1
# Writes need a token: an admin (the seeded rows are unowned, and only an
# admin may modify those), minted by the CLI as an operator would; with
# BENCH_OWNER=1 the owner's own (seed() gives it the rows). A build from
# before tokens (compare.sh's "before") has no such commands: no token.
# shellcheck disable=SC2046
env $(server_env_for snippets info) "$bin" owner add bench >>"$out/logs/migrate.log" 2>&1 || true
# shellcheck disable=SC2046
token_scopes="admin"
[ "$owner_writes" = 1 ] && token_scopes=snippets:read,snippets:write
# shellcheck disable=SC2046
bench_token=$(env $(server_env_for snippets info) "$bin" token create --owner bench --name bench \
  --scopes "$token_scopes" 2>>"$out/logs/migrate.log") || bench_token=""
[ "$pgss" = 1 ] && psqlc -d snippets -c "CREATE EXTENSION pg_stat_statements"

# The request body for POST and PUT: ~1 KB of code, like the seeded rows.
code=$(python3 -c '
import random
random.seed(7)
kw = "fn let mut return if else for while match struct impl pub use const static async await loop break continue self true false where".split()
toks = [random.choice(kw) if random.random() < 0.7 else "sym%d" % random.randrange(5000) for _ in range(160)]
print(" ".join(toks))')
body_file=$out/body.json
python3 -c 'import json,sys; print(json.dumps({"title": "Benchmark snippet", "language": "rust", "code": sys.argv[1], "description": "Posted by the load test", "tags": ["bench", "rust"]}), end="")' "$code" >"$body_file"
meta body_bytes "$(stat -c %s "$body_file")"

seed() {
  psqlc -d snippets -c "TRUNCATE snippets CASCADE"
  psqlc -d snippets -v rows="$rows" -f "$here/seed.sql" >"$out/logs/seed.log"
  if [ "$owner_writes" = 1 ]; then
    psqlc -d snippets -c "UPDATE snippets SET owner = 'bench'" >/dev/null
    psqlc -d snippets -c "VACUUM (ANALYZE) snippets" >/dev/null
  fi
  [ "$pgss" = 1 ] && psqlc -d snippets -c "SELECT pg_stat_statements_reset()" >/dev/null
  return 0
}

# The 100-line rows of json100 and page100, added just before the first of
# them runs: present earlier, their words change the statistics the search
# scenario's plan is chosen by (search fell 3,563 -> 69 req/s).
seed_pages() {
  [ "$pages_seeded" = 1 ] && return 0
  psqlc -d snippets -v pages="$pages" -f "$here/seed-pages.sql" >>"$out/logs/seed.log"
  pages_seeded=1
}

pgss_dump() { # file
  [ "$pgss" = 1 ] || return 0
  psqlc -d snippets -A -F $'\t' -c "SELECT calls, round(mean_exec_time::numeric * 1000, 1) AS mean_us, left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query FROM pg_stat_statements WHERE calls > 100 ORDER BY calls DESC LIMIT 12" >"$1"
  psqlc -d snippets -c "SELECT pg_stat_statements_reset()" >/dev/null
}

# --- R_db: pgbench -----------------------------------------------------------------
pgbench_run() { # name script [extra args]
  local name=$1 script=$2
  shift 2
  cp "$here/pgbench/$script" "$out/pgbench/$script"
  as_pg "$pgbin/pgbench" -h 127.0.0.1 -p "$pg_port" -U snippets -n -M prepared -c "$pool" -j "$threads" \
    -T "$warm" -D rows="$rows" "$@" -f "$out/pgbench/$script" snippets >/dev/null 2>&1
  local before after
  before=$("$here/cpu.py" 0 "$postmaster")
  as_pg "$pgbin/pgbench" -h 127.0.0.1 -p "$pg_port" -U snippets -n -M prepared -c "$pool" -j "$threads" \
    -T "$dur" -D rows="$rows" "$@" -f "$out/pgbench/$script" snippets >"$out/pgbench/$name.txt" 2>&1 ||
    { cat "$out/pgbench/$name.txt" >&2; die "pgbench $name failed"; }
  after=$("$here/cpu.py" 0 "$postmaster")
  local tps lat n
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out/pgbench/$name.txt")
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out/pgbench/$name.txt")
  n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out/pgbench/$name.txt")
  read -r b0 _ p0 w0 <<<"$before"
  read -r b1 _ p1 w1 <<<"$after"
  printf '%s\t%s\t%s\t%s\t\t\t%s\t0\t0\t%s\t%s\t%s\t0\t%s\t\n' "$label" pgbench "$name" "$tps" "$lat" "$n" "$(sub "$w1" "$w0")" \
    "$(sub "$b1" "$b0")" "$(sub "$p1" "$p0")" >>"$results"
  printf '  %-22s %10s tps  (mean %s ms)\n' "$name" "$tps" "$lat" >&2
}

if [ "${BENCH_PGBENCH:-1}" = 1 ]; then
  say "R_db: pgbench -M prepared -c $pool -j $threads, ${dur}s each"
  seed
  pgbench_run db_get_id get_id.sql
  pgbench_run db_get_id_exact get_id_exact.sql -D id=00000000-0000-4000-8000-000000000001
  pgss_dump "$out/pgbench/pgss-select.tsv"
  pgbench_run db_insert insert.sql -D title="Benchmark snippet" -D lang=rust -D code="$code" \
    -D descr="Posted by the load test" -D tags="{bench,rust}"
  pgss_dump "$out/pgbench/pgss-insert.tsv"
fi

# --- HTTP scenarios ----------------------------------------------------------------
rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

start_server() { # level
  local log=$out/logs/snippetd-$1.log
  : >"$log"
  # shellcheck disable=SC2046
  env $(server_env_for snippets "$1") "$bin" serve 2>>"$log" >>"$log" &
  server_pid=$!
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$http_port/health" && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "snippetd exited"; }
    sleep 0.05
  done
  die "snippetd did not start listening; see $log"
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

scenario() { # level name -> script path
  case $2 in
    health) echo "static.lua /health" ;;
    get_id | json100 | page100) echo "get_id.lua /" ;;
    list) echo "static.lua /snippets?limit=20" ;;
    search) echo "search.lua /" ;;
    post) echo "post.lua /snippets" ;;
    put | patch) echo "put.lua /" ;;
    *) die "unknown scenario $2" ;;
  esac
}

wrk_env() { # put_base scenario
  local method=PUT
  [ "${2:-}" = patch ] && method=PATCH
  local get=
  case ${2:-} in
    json100) get="BENCH_GET_ROWS=$pages BENCH_GET_PATH=/snippets/00000000-0000-4000-9000-%012x" ;;
    page100) get="BENCH_GET_ROWS=$pages BENCH_GET_PATH=/s/00000000-0000-4000-9000-%012x" ;;
  esac
  echo "$get BENCH_METHOD=$method BENCH_WRK_DIR=$here/wrk BENCH_ROWS=$rows BENCH_BODY_FILE=$body_file BENCH_CONNS_PER_THREAD=$((conns / threads)) BENCH_PUT_BASE=$1 BENCH_TOKEN=$bench_token BENCH_AUTH_GET=${BENCH_AUTH_GET:-0}"
}

for level in $levels; do
  say "HTTP, RUST_LOG=$level: wrk -t$threads -c$conns, ${warm}s warm-up + ${dur}s per scenario"
  seed
  pages_seeded=0
  start_server "$level"
  sleep 1
  meta "rss_idle_kb_$level" "$(rss "$server_pid" VmRSS)"
  put_base=1
  for name in $scenarios; do
    case $name in json100 | page100) seed_pages ;; esac
    read -r script path <<<"$(scenario "$level" "$name")"
    url="http://127.0.0.1:$http_port$path"
    # shellcheck disable=SC2046
    env $(wrk_env "$put_base" "$name") wrk -t"$threads" -c"$conns" -d"${warm}s" -s "$here/wrk/$script" "$url" >/dev/null
    put_base=$((put_base + 2 * conns))
    # The access log only grows: keep the last scenario's lines, not all.
    : >"$out/logs/snippetd-$level.log"
    perf_pid=
    if [[ " ${BENCH_PERF:-} " == *" $name "* ]]; then
      mkdir -p "$out/perf"
      perf record -F 999 -a -g -o "$out/perf/$level-$name.data" -- sleep "$dur" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    before=$("$here/cpu.py" "$server_pid" "$postmaster")
    # shellcheck disable=SC2046
    env $(wrk_env "$put_base" "$name") /usr/bin/time -f '%U %S' -o "$out/wrk/$level-$name.time" \
      wrk -t"$threads" -c"$conns" -d"${dur}s" -s "$here/wrk/$script" "$url" >"$out/wrk/$level-$name.txt" 2>&1
    after=$("$here/cpu.py" "$server_pid" "$postmaster")
    if [ -n "$perf_pid" ]; then
      wait "$perf_pid" || true
      perf report -i "$out/perf/$level-$name.data" --stdio --no-children --sort comm,dso -g none \
        >"$out/perf/$level-$name.by-process.txt" 2>/dev/null || true
      perf report -i "$out/perf/$level-$name.data" --stdio --no-children --comms snippetd --sort sym -g none \
        >"$out/perf/$level-$name.snippetd.txt" 2>/dev/null || true
    fi
    put_base=$((put_base + 2 * conns))
    pgss_dump "$out/wrk/pgss-$level-$name.tsv"
    line=$(grep '^BENCH' "$out/wrk/$level-$name.txt") || { cat "$out/wrk/$level-$name.txt" >&2; die "wrk $name failed"; }
    read -r _ rps p50 p99 mean serr herr n <<<"$line"
    read -r b0 s0 p0 w0 <<<"$before"
    read -r b1 s1 p1 w1 <<<"$after"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$level" "$name" "$rps" "$p50" "$p99" "$mean" \
      "$serr" "$herr" "$n" "$(sub "$w1" "$w0")" "$(sub "$b1" "$b0")" "$(sub "$s1" "$s0")" "$(sub "$p1" "$p0")" \
      "$(awk '{ printf "%.2f", $1 + $2 }' "$out/wrk/$level-$name.time")" >>"$results"
    printf '  %-8s %10s req/s  p50 %7s ms  p99 %7s ms  errors %s+%s\n' "$name" "$rps" "$p50" "$p99" "$serr" "$herr" >&2
  done
  meta "rss_peak_kb_$level" "$(rss "$server_pid" VmHWM)"
  sleep 2
  meta "rss_after_kb_$level" "$(rss "$server_pid" VmRSS)"
  meta "access_log_lines_$level" "$(wc -l <"$out/logs/snippetd-$level.log")"
  stop_server
done

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/report.py" "$out" | tee "$out/report.md"
