-- R_db for POST /snippets: diesel's INSERT ... RETURNING with the same ~1 KB
-- code as the HTTP body (-D code=...). The id is gen_random_uuid() on the
-- server instead of a client-side UUIDv7 (pgbench cannot make uuids).
INSERT INTO "snippets" ("id", "title", "language", "code", "description", "tags") VALUES (gen_random_uuid(), :title, :lang, :code, :descr, :tags) RETURNING "snippets"."id", "snippets"."title", "snippets"."language", "snippets"."code", "snippets"."description", "snippets"."tags", "snippets"."created_at", "snippets"."updated_at", "snippets"."version";
