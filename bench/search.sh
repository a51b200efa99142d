#!/usr/bin/env bash
# `make bench-search`: GET /snippets at a million rows (issue 17, goal 6).
#
#   bench/search.sh db      start (or reuse) the PostgreSQL in $BENCH_OUT/pg,
#                           migrate, and seed BENCH_SEARCH_ROWS rows with
#                           bench/search/seed.sql (once; kept between runs)
#   bench/search.sh run     start `snippetd serve` on it and, for every filter
#                           combination, drive BENCH_CONNECTIONS clients with
#                           wrk; one line each: req/s, p50, p99, non-2xx
#   bench/search.sh pick    (BENCH_DATA=code) choose the rare, absent and
#                           private-only words from the data
#   bench/search.sh counts  rows matching each case (SQL count)
#   bench/search.sh explain EXPLAIN (ANALYZE, BUFFERS) of the statements
#                           snippetd sends for the combinations
#   bench/search.sh stop    stop that PostgreSQL
#
# Knobs: BENCH_DATA (zipf or code), BENCH_CODE_ROOTS (the directories
# corpus.py cuts: the Python standard library, C headers, the cargo
# registry, global npm modules), BENCH_SEARCH_ROWS (1000000), BENCH_CONNECTIONS (16), BENCH_DURATION
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
BENCH_CODE_ROOTS=${BENCH_CODE_ROOTS:-$(ls -d /usr/lib/python3.[0-9]* /usr/include "${CARGO_HOME:-$HOME/.cargo}/registry/src" /usr/lib/node_modules 2>/dev/null | tr '\n' ' ')}
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
# BENCH_DATA: zipf (seed.sql, synthetic words with chosen skew) or code
# (corpus.py: snippets cut from the source code on this machine), each in
# its own database of the same cluster, kept between runs.
data=${BENCH_DATA:-zipf}
case $data in
zipf) db=snippets ;;
code) db=snippets_code ;;
*) echo "BENCH_DATA: zipf or code, not $data" >&2; exit 2 ;;
esac
url="postgres://snippets@127.0.0.1:$pg_port/$db?sslmode=disable"
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

# The real-code cases (BENCH_DATA=code), over words `pick` chose from the
# data (bench/search/pick-words.sql): every query shape of issue 31.
code_cases() {
  # shellcheck disable=SC1090
  . "$out/words-code.env"
  cases=(
    "common|q=self"
    "mid|q=socket"
    "two_words|q=socket+timeout"
    "or|q=socket+or+timeout"
    "negation|q=socket+-timeout"
    "phrase|q=%22socket+timeout%22"
    "rare|q=$RARE"
    "absent|q=$ABSENT"
    "private_only|q=$PRIVATE"
    "rare_two|q=$RARE+$RARE2"
    "rare_or|q=$RARE+or+$RARE2"
    "absent_or|q=$ABSENT+or+$ABSENT2"
    "rare_negation|q=$RARE+-self"
    "python_rare|language=python&q=$PYRARE"
    "rust_absent|language=rust&q=$ABSENT"
    "tag_rare|tag=$TAG&q=$RARE"
    "tag_absent|tag=$TAG&q=$ABSENT"
    "owner_mid|owner=$OWNER&q=socket"
    "owner_absent|owner=$OWNER&q=$ABSENT"
    "owner_private|owner=$OWNER&q=$PRIVATE"
    "language|language=python"
    "tag|tag=$TAG"
    "language_tag|language=python&tag=$TAG"
  )
}

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
  psqlc -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psqlc -d postgres -c "CREATE DATABASE $db"
}

cmd=${1:-run}
case $cmd in
db)
  start_db
  if [ "${BENCH_MIGRATE:-1}" = 1 ]; then
    DATABASE_URL=$url LOG_FORMAT=text RUST_LOG=warn "$bin" migrate
  fi
  have=$(psqlc -d "$db" -tAc "SELECT count(*) FROM snippets")
  if [ "$have" != "$rows" ]; then
    psqlc -d "$db" -c "TRUNCATE snippets CASCADE"
    echo "seeding $rows rows ($data)" >&2
    if [ "$data" = code ]; then
      corpus=$out/corpus-$rows.tsv
      [ -s "$corpus" ] || python3 "$here/search/corpus.py" "$rows" $BENCH_CODE_ROOTS >"$corpus"
      time psqlc -d "$db" -v corpus="$corpus" -f "$here/search/load-code.sql"
    else
      time psqlc -d "$db" -v rows="$rows" -f "$here/search/seed.sql"
    fi
  fi
  psqlc -d "$db" -tAc "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('snippets')) FROM snippets"
  ;;
pick)
  start_db
  psqlc -d "$db" -At -f "$here/search/pick-words.sql" | tee "$out/words-$data.env"
  ;;
counts)
  [ "$data" = code ] && code_cases
  for c in "${cases[@]}"; do
    qs=${c#*|}
    where="visibility = 'public'"
    for kv in ${qs//&/ }; do
      v=${kv#*=} v=${v//+/ } v=${v//%22/\"}
      case $kv in
      language=*) where="$where AND language = '$v'" ;;
      tag=*) where="$where AND tags @> '{$v}'" ;;
      q=*) where="$where AND search @@ websearch_to_tsquery('simple', '$v')" ;;
      owner=*) where="$where AND owner = '$v'" ;;
      esac
    done
    printf '%s\t%s\n' "${c%%|*}" "$(psqlc -d "$db" -tAc "SELECT count(*) FROM snippets WHERE $where")"
  done
  ;;
run)
  start_db
  [ "$data" = code ] && code_cases
  log=$out/serve.log
  # shellcheck disable=SC2086
  env DATABASE_URL="$url" HOST=127.0.0.1 PORT="$http_port" DB_POOL_SIZE="$pool" \
    LOG_FORMAT=json RUST_LOG=warn RATE_LIMITS=off METRICS_ADDR=off AUTH_MODE=open TRUSTED_PROXIES=127.0.0.1/32 \
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
    BENCH_WRK_DIR=$here/wrk wrk -t"$(( conns < 2 ? 1 : 2 ))" -c"$conns" -d"${dur}s" --timeout 30s -s "$here/wrk/search_case.lua" \
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
  # Real code: 16 clients (each its own address, as CloudFront tells it)
  # searching every shape in turn, one client looking up ids; then one
  # greedy client with 10 connections beside 6 others, each with one.
  if [ "$data" = code ] && { [ -z "${BENCH_CASES:-}" ] || [[ " $BENCH_CASES " == *" concurrent "* ]]; }; then
    id=$(psqlc -d "$db" -tAc "SELECT id FROM snippets WHERE visibility = 'public' ORDER BY created_at DESC LIMIT 1")
    paths=""
    for c in "${cases[@]}"; do paths="$paths /snippets?${c#*|}"; done
    # Starts `clients` wrk processes of `connections` each, every one its
    # own address; their pids in $pids.
    searchers() { # name clients connections-each
      local n
      pids=()
      for n in $(seq "$2"); do
        BENCH_PATHS=$paths BENCH_WRK_DIR=$here/wrk wrk -t1 -c"$3" -d"${dur}s" --timeout 30s -s "$here/wrk/search_mix.lua" \
          -H "CloudFront-Viewer-Address: 10.0.$n.1:4000" \
          "http://127.0.0.1:$http_port/" >"$out/wrk-$1-$n.txt" 2>&1 &
        pids+=($!)
      done
    }
    # The clients' lines merged: requests/s summed, the median client's
    # p50, the worst client's p99, non-2xx and requests summed.
    merged() { # label files...
      local label=$1; shift
      grep -h '^BENCH' "$@" | sort -t$'\t' -k3,3g |
        awk -v n="$label" -F'\t' '{ rps += $2; p50[++k] = $3; if ($4 > p99) p99 = $4; bad += $7; reqs += $8 }
          END { printf "%s\t%.1f\t%s\t%s\t%d\t%d\n", n, rps, p50[int((k + 1) / 2)], p99, bad, reqs }'
    }
    # PostgreSQL's CPU seconds (every process of the postgres user: the
    # bench's cluster is the only one it runs here), for µs per search.
    pg_cpu() { ps -u postgres -o times= | awk '{ s += $1 } END { print s }'; }
    cpu0=$(pg_cpu)
    searchers concurrent 16 1
    BENCH_WRK_DIR=$here/wrk wrk -t1 -c1 -d"${dur}s" --timeout 30s -s "$here/wrk/search_case.lua" \
      "http://127.0.0.1:$http_port/snippets/$id" >"$out/wrk-concurrent-get_id.txt" 2>&1 || true
    wait "${pids[@]}" || true
    cpu1=$(pg_cpu)
    merged concurrent:search "$out"/wrk-concurrent-[0-9]*.txt | tee "$out/concurrent.tsv"
    awk -F'\t' -v cpu=$((cpu1 - cpu0)) '{ if ($6 > 0) printf "concurrent:postgres_us_per_search\t%.0f\n", cpu * 1e6 / $6 }' "$out/concurrent.tsv"
    awk -F'\t' '$1 == "BENCH" { printf "concurrent:get_id\t%s\t%s\t%s\t%s\t%s\n", $2, $3, $4, $7, $8 }' "$out/wrk-concurrent-get_id.txt"
    # The greedy client: 10 connections from one address, flooding (the
    # 429s of its share cost CPU; RATE_LIMITS=off here), then inside the
    # default read limit (600 a minute: 1 request a second each).
    for greed in flood:0 limited:1000; do
      BENCH_DELAY_MS=${greed#*:} BENCH_PATHS=$paths BENCH_WRK_DIR=$here/wrk wrk -t1 -c10 -d"${dur}s" --timeout 30s \
        -s "$here/wrk/search_mix.lua" -H "CloudFront-Viewer-Address: 10.9.9.9:4000" \
        "http://127.0.0.1:$http_port/" >"$out/wrk-greedy.txt" 2>&1 &
      greedy=$!
      searchers polite 6 1
      wait $greedy "${pids[@]}" || true
      merged "greedy(${greed%:*}):search" "$out/wrk-greedy.txt"
      merged "polite(${greed%:*}):search" "$out"/wrk-polite-[0-9]*.txt
    done
  fi
  if [ "$data" = zipf ] && { [ -z "${BENCH_CASES:-}" ] || [[ " $BENCH_CASES " == *" mixed "* ]]; }; then
    id=$(psqlc -d "$db" -tAc "SELECT id FROM snippets ORDER BY created_at DESC LIMIT 1")
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
    psqlc -d "$db" -c "DELETE FROM snippets WHERE title = 'bench'"
    for n in search1 search2 get_id post; do
      awk -v n="mixed:$n" -F'\t' '$1 == "BENCH" { printf "%s\t%s\t%s\t%s\t%s\t%s\n", n, $2, $3, $4, $7, $8 }' "$out/wrk-mixed-$n.txt"
    done
  fi
  ;;
explain)
  start_db
  if [ "$data" = code ]; then
    # shellcheck disable=SC1090
    . "$out/words-code.env"
    psqlc -d "$db" -v rare="$RARE" -v private="$PRIVATE" -f "$here/search/explain-code.sql"
  else
    psqlc -d "$db" -f "$here/search/explain.sql"
  fi
  ;;
stop)
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 db|counts|run|explain|stop" >&2; exit 2 ;;
esac
