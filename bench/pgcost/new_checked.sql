-- A checked POST after 2026-12-03-000002: one statement, the quota check
-- in the owner column's value.
INSERT INTO snippets (id, title, language, code, description, tags, owner, visibility, forked_from_id, forked_from_version, expires_at) VALUES (gen_random_uuid(), :title, 'rust', :code, :descr, '{bench,rust}', owner_quota_admit(1364545364, 'bench', 1000, 100000000, 100000000000), 'public', NULL, NULL, NULL) RETURNING id, title, language, code, description, tags, created_at, updated_at, version, owner, visibility, expires_at, forked_from_id, forked_from_version;
