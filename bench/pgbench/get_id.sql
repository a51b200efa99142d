-- R_db for GET /snippets/{id}: diesel's statement, a random seeded id.
-- pgbench has no string functions, so the uuid is built from the ordinal in
-- SQL (as seed.sql does); pgbench/get_id_exact.sql measures diesel's text
-- byte for byte with one fixed id, to show that this costs nothing.
\set n random(1, :rows)
\set lim 1
SELECT "snippets"."id", "snippets"."title", "snippets"."language", "snippets"."code", "snippets"."description", "snippets"."tags", "snippets"."created_at", "snippets"."updated_at", "snippets"."version" FROM "snippets" WHERE ("snippets"."id" = ('00000000-0000-4000-8000-' || lpad(to_hex(:n::int), 12, '0'))::uuid) LIMIT :lim;
