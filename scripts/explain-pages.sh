#!/usr/bin/env bash
# Seeds N snippets into a scratch database of the dev PostgreSQL and prints
# EXPLAIN (ANALYZE, BUFFERS) for the list queries snippetd sends: the
# evidence behind "a page costs the same at 1,000 and 1,000,000 rows" in
# docs/api.md. Usage: scripts/explain-pages.sh 1000000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000}
url=$("$here/dev-db.sh")
db="explain_$n"
base=${url%/*}
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
DATABASE_URL="$base/$db?sslmode=disable" LOG_FORMAT=text RUST_LOG=warn "$here/../target/release/snippetd" migrate
psql "$base/$db" -q <<SQL
INSERT INTO snippets (id, title, language, code, description, tags, created_at, updated_at)
SELECT gen_random_uuid(),
       'snippet ' || g,
       (ARRAY['rust','python','javascript','go','sql'])[1 + g % 5],
       'fn f' || g || '() { println!("' || md5(g::text) || '"); } // ' || repeat('x', 100),
       CASE WHEN g % 3 = 0 THEN 'helper number ' || g END,
       CASE WHEN g % 10 = 0 THEN ARRAY['rare'] ELSE ARRAY['common', 'tag' || (g % 7)] END,
       now() - make_interval(secs => g), now() - make_interval(secs => g)
FROM generate_series(1, $n) AS g;
VACUUM ANALYZE snippets;
SQL
run() {
  echo "-- $1"
  psql "$base/$db" -qAt -c "PREPARE q AS $2" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q${3:+($3)}" | sed 's/^/    /'
  echo
}
cols='"snippets"."id", "snippets"."title", "snippets"."language", "snippets"."code", "snippets"."description", "snippets"."tags", "snippets"."created_at", "snippets"."updated_at", "snippets"."version"'
order='ORDER BY "snippets"."created_at" DESC, "snippets"."id" DESC LIMIT 21'
mid=$(psql "$base/$db" -qAt -c "SELECT created_at || '|' || id FROM snippets ORDER BY created_at DESC, id DESC OFFSET $((n / 2)) LIMIT 1")
ts=${mid%|*}; id=${mid#*|}
echo "rows: $n"
run "first page" "SELECT $cols FROM snippets $order"
run "a page from the middle (cursor)" "SELECT $cols FROM snippets WHERE (created_at, id) < (\$1::timestamptz, \$2::uuid) $order" "'$ts', '$id'"
run "language=rust" "SELECT $cols FROM snippets WHERE language = \$1 $order" "'rust'"
run "tag=rare (10% of rows)" "SELECT $cols FROM snippets WHERE tags @> \$1::text[] $order" "'{rare}'"
run "q=helper (a third of rows)" "SELECT $cols FROM snippets WHERE search @@ websearch_to_tsquery('simple', \$1) $order" "'helper'"
rare=$(printf %s 42 | md5sum | cut -c1-32)
run "q=<one md5> (one row), in page order: what the planner would pick" "SELECT $cols FROM snippets WHERE search @@ websearch_to_tsquery('simple', \$1) $order" "'$rare'"
run "q=<one md5>: the probe snippetd sends first (counts up to 1,000 matches)" "SELECT 1 FROM snippets WHERE search @@ websearch_to_tsquery('simple', \$1) LIMIT 1000" "'$rare'"
run "q=<one md5>: then, as fewer than 1,000 match, GIN + sort" "SELECT $cols FROM snippets WHERE search @@ websearch_to_tsquery('simple', \$1) ORDER BY created_at + interval '0 s' DESC, id DESC LIMIT 21" "'$rare'"
run "q=helper: the probe (1,000 matches found: page order it is)" "SELECT 1 FROM snippets WHERE search @@ websearch_to_tsquery('simple', \$1) LIMIT 1000" "'helper'"
run "tag=rare&language=go (no snippet has both): the case the probe does not fix" "SELECT $cols FROM snippets WHERE language = \$1 AND tags @> \$2::text[] $order" "'go', '{rare}'"
run "by id" "SELECT $cols FROM snippets WHERE id = \$1 LIMIT 1" "'$id'"
[ -n "${KEEP:-}" ] || psql "$base/postgres" -qc "DROP DATABASE $db"
