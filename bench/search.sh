#!/usr/bin/env bash
# `make bench-search`: GET /snippets at a million rows (issue 17, goal 6).
#
#   bench/search.sh db      start (or reuse) the PostgreSQL in $BENCH_OUT/pg,
#                           migrate, and seed BENCH_SEARCH_ROWS rows with
#                           bench/search/seed.sql (once; kept between runs)
#   bench/search.sh run     start `snippetd serve` on it and, for every filter
#                           combination, drive BENCH_CONNECTIONS clients with
#                           wrk; one line each: req/s, p50, p99, non-2xx
#   bench/search.sh counts  rows matching each case (SQL count)
#   bench/search.sh explain EXPLAIN (ANALYZE, BUFFERS) of the statements
#                           snippetd sends for the combinations
#   bench/search.sh stop    stop that PostgreSQL
#
# Knobs: BENCH_SEARCH_ROWS (1000000), BENCH_CONNECTIONS (16), BENCH_DURATION
# (s, 10), BENCH_POOL_SIZE (10), BENCH_PG_PORT (54393), BENCH_HTTP_PORT
# (38393), SNIPPETD_BIN (target/release/snippetd), BENCH_OUT
# (bench/out/search), BENCH_SERVER_ENV (extra VAR=value words for serve),
# BENCH_MIGRATE (1; 0 keeps the schema as it is, to measure a binary
# against an older schema), BENCH_CASES (names of the cases to run, and
# "mixed": searches, lookups and creates at once).
# Loopback only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=scripts/pg-env.sh
. "$root/scripts/pg-env.sh"
rows=${BENCH_SEARCH_ROWS:-1000000}
conns=${BENCH_CONNECTIONS:-16}
dur=${BENCH_DURATION:-10}
pool=${BENCH_POOL_SIZE:-10}
pg_port=${BENCH_PG_PORT:-54393}
http_port=${BENCH_HTTP_PORT:-38393}
bin=${SNIPPETD_BIN:-$root/target/release/snippetd}
out=${BENCH_OUT:-$here/out/search}
mkdir -p "$out"
out=$(cd "$out" && pwd)
pgdata=$out/pg
pgbin=$(pg_bindir)
url="postgres://snippets@127.0.0.1:$pg_port/snippets?sslmode=disable"
psqlc() { "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U snippets -v ON_ERROR_STOP=1 -qX "$@"; }

# The cases: name and query string. Each pair is two filters that are each
# common (2-25 % of rows) but rarely meet (0.02-0.05 %): seed.sql rotates
# every language's popular tags and words, so tag001 and word0001 belong
# to lang01, tag038 and word0102 to lang02, word1011 to lang11.
cases=(
  "plain|"
  "language|language=lang01"
  "tag|tag=tag001"
  "word|q=word0001"
  "language_tag|language=lang02&tag=tag001"
  "tag_word|tag=tag001&q=word1011"
  "word_language|q=word1011&language=lang01"
  "all_three|language=lang01&tag=tag001&q=word1011"
)

start_db() {
  if ! as_pg "$pgbin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    if [ ! -f "$pgdata/PG_VERSION" ]; then
      mkdir -p "$pgdata"
      [ "$(id -u)" = 0 ] && chown postgres "$pgdata"
      as_pg "$pgbin/initdb" -D "$pgdata" -U snippets --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -o \
      "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_connections=100 ${BENCH_PG_OPTS:-}" \
      start >/dev/null
  fi
  psqlc -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'snippets'" | grep -q 1 ||
    psqlc -d postgres -c "CREATE DATABASE snippets"
}

cmd=${1:-run}
case $cmd in
db)
  start_db
  if [ "${BENCH_MIGRATE:-1}" = 1 ]; then
    DATABASE_URL=$url LOG_FORMAT=text RUST_LOG=warn "$bin" migrate
  fi
  have=$(psqlc -d snippets -tAc "SELECT count(*) FROM snippets")
  if [ "$have" != "$rows" ]; then
    psqlc -d snippets -c "TRUNCATE snippets CASCADE"
    echo "seeding $rows rows" >&2
    time psqlc -d snippets -v rows="$rows" -f "$here/search/seed.sql"
  fi
  psqlc -d snippets -tAc "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('snippets')) FROM snippets"
  ;;
counts)
  for c in "${cases[@]}"; do
    qs=${c#*|}
    where="visibility = 'public'"
    for kv in ${qs//&/ }; do
      v=${kv#*=}
      case $kv in
      language=*) where="$where AND language = '$v'" ;;
      tag=*) where="$where AND tags @> '{$v}'" ;;
      q=*) where="$where AND search @@ websearch_to_tsquery('simple', '$v')" ;;
      esac
    done
    printf '%s\t%s\n' "${c%%|*}" "$(psqlc -d snippets -tAc "SELECT count(*) FROM snippets WHERE $where")"
  done
  ;;
run)
  start_db
  log=$out/serve.log
  # shellcheck disable=SC2086
  env DATABASE_URL="$url" HOST=127.0.0.1 PORT="$http_port" DB_POOL_SIZE="$pool" \
    LOG_FORMAT=json RUST_LOG=warn RATE_LIMITS=off METRICS_ADDR=off AUTH_MODE=open \
    ${BENCH_SERVER_ENV:-} "$bin" serve >"$log" 2>&1 &
  server=$!
  trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && break; sleep 0.1; done
  if ! curl -sf "http://127.0.0.1:$http_port/health" >/dev/null; then
    echo "bench/search.sh: snippetd did not start (pending migrations? run \`bench/search.sh db\`):" >&2
    cat "$log" >&2
    exit 1
  fi
  measure() { # name path
    BENCH_WRK_DIR=$here/wrk wrk -t2 -c"$conns" -d"${dur}s" --timeout 30s -s "$here/wrk/search_case.lua" \
      "http://127.0.0.1:$http_port$2" >"$out/wrk-$1.txt" 2>&1 || true
    awk -v n="$1" -F'\t' '$1 == "BENCH" { printf "%s\t%s\t%s\t%s\t%s\t%s\n", n, $2, $3, $4, $7, $8 }' "$out/wrk-$1.txt"
  }
  printf 'case\trps\tp50_ms\tp99_ms\tnon2xx\trequests\n'
  for c in "${cases[@]}"; do
    name=${c%%|*} qs=${c#*|}
    [ -n "${BENCH_CASES:-}" ] && [[ " $BENCH_CASES " != *" $name "* ]] && continue
    path="/snippets?$qs"
    measure "$name" "$path"
    # The second page, through the cursor in the first page's Link.
    next=$(curl -sI "http://127.0.0.1:$http_port$path" | sed -n 's/^[Ll]ink: <\([^>]*\)>.*/\1/p')
    [ -n "$next" ] && measure "$name+cursor" "$next"
  done
  # Id lookups and writes while the dearest searches hold every client:
  # 16 connections searching language x tag and word x language, 4 looking
  # up one id, 2 creating snippets.
  if [ -z "${BENCH_CASES:-}" ] || [[ " $BENCH_CASES " == *" mixed "* ]]; then
    id=$(psqlc -d snippets -tAc "SELECT id FROM snippets ORDER BY created_at DESC LIMIT 1")
    BENCH_WRK_DIR=$here/wrk wrk -t1 -c$((conns / 2)) -d"$((dur + 2))s" --timeout 30s -s "$here/wrk/search_case.lua" \
      "http://127.0.0.1:$http_port/snippets?language=lang02&tag=tag001" >"$out/wrk-mixed-search1.txt" 2>&1 &
    s1=$!
    BENCH_WRK_DIR=$here/wrk wrk -t1 -c$((conns / 2)) -d"$((dur + 2))s" --timeout 30s -s "$here/wrk/search_case.lua" \
      "http://127.0.0.1:$http_port/snippets?q=word1011&language=lang01" >"$out/wrk-mixed-search2.txt" 2>&1 &
    s2=$!
    sleep 1
    BENCH_WRK_DIR=$here/wrk wrk -t1 -c4 -d"${dur}s" --timeout 30s -s "$here/wrk/search_case.lua" \
      "http://127.0.0.1:$http_port/snippets/$id" >"$out/wrk-mixed-get_id.txt" 2>&1 &
    g=$!
    BENCH_WRK_DIR=$here/wrk wrk -t1 -c2 -d"${dur}s" --timeout 30s -s "$here/wrk/search_post.lua" \
      "http://127.0.0.1:$http_port/snippets" >"$out/wrk-mixed-post.txt" 2>&1 || true
    wait $g $s1 $s2 || true
    psqlc -d snippets -c "DELETE FROM snippets WHERE title = 'bench'"
    for n in search1 search2 get_id post; do
      awk -v n="mixed:$n" -F'\t' '$1 == "BENCH" { printf "%s\t%s\t%s\t%s\t%s\t%s\n", n, $2, $3, $4, $7, $8 }' "$out/wrk-mixed-$n.txt"
    done
  fi
  ;;
explain)
  start_db
  psqlc -d snippets -f "$here/search/explain.sql"
  ;;
stop)
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 db|counts|run|explain|stop" >&2; exit 2 ;;
esac
