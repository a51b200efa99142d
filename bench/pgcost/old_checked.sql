-- A checked POST before 2026-12-03-000002: five statements (diesel-async
-- sends BEGIN and COMMIT as statements of their own).
BEGIN;
SELECT pg_advisory_xact_lock(1364545364, hashtext('bench'));
SELECT coalesce(sum(snippets), 0)::bigint AS snippets, coalesce(sum(bytes), 0)::bigint AS bytes FROM owner_usage WHERE owner = 'bench';
INSERT INTO snippets (id, title, language, code, description, tags, owner, visibility, forked_from_id, forked_from_version, expires_at) VALUES (gen_random_uuid(), :title, 'rust', :code, :descr, '{bench,rust}', 'bench', 'public', NULL, NULL, NULL) RETURNING id, title, language, code, description, tags, created_at, updated_at, version, owner, visibility, expires_at, forked_from_id, forked_from_version;
COMMIT;
