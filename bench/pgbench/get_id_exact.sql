-- diesel's id lookup byte for byte ($1 = :id from -D, $2 = 1).
\set lim 1
SELECT "snippets"."id", "snippets"."title", "snippets"."language", "snippets"."code", "snippets"."description", "snippets"."tags", "snippets"."created_at", "snippets"."updated_at", "snippets"."version" FROM "snippets" WHERE ("snippets"."id" = :id) LIMIT :lim;
