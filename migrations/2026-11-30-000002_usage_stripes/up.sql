-- Usage counted in stripes (docs/performance.md, "Quota checks inside the writing statement").
--
-- With one `owner_usage` row per owner, every insert of an owner updated
-- that row and held its lock until the commit's WAL flush: one owner's
-- writes committed one after another (a one-owner POST flood fell from
-- 2,050 to 1,232 req/s). Now each connection counts into its own stripe
-- (its backend pid modulo 32) and the usage is the sum of an owner's
-- stripes, so concurrent writers of one owner no longer wait for each
-- other. A stripe may go negative (a delete counted on another stripe than
-- its insert); only the sum has a meaning.
--
-- The quota check (src/snippets/quota.rs) serializes one owner's checked
-- writes with a transaction advisory lock instead of the row lock.
-- Expand-only: the previous release never reads this table.

ALTER TABLE owner_usage ADD COLUMN stripe smallint NOT NULL DEFAULT 0;
ALTER TABLE owner_usage DROP CONSTRAINT owner_usage_pkey;
ALTER TABLE owner_usage ADD PRIMARY KEY (owner, stripe);

-- One upsert per trigger call, in PL/pgSQL: its plan is cached for the
-- session (a SQL-language helper function would be planned again in every
-- transaction before PostgreSQL 18).
CREATE OR REPLACE FUNCTION snippets_count_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text;
    n   bigint := 0;
    b   bigint := 0;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.owner IS NOT DISTINCT FROM NEW.owner THEN
        who := NEW.owner;
        b := snippet_bytes(NEW.title, NEW.description, NEW.code)
           - snippet_bytes(OLD.title, OLD.description, OLD.code);
    ELSIF TG_OP = 'INSERT' THEN
        who := NEW.owner;
        n := 1;
        b := snippet_bytes(NEW.title, NEW.description, NEW.code);
    ELSIF TG_OP = 'DELETE' THEN
        who := OLD.owner;
        n := -1;
        b := -snippet_bytes(OLD.title, OLD.description, OLD.code);
    ELSE
        -- An update that changes the owner (an admin's): two owners move.
        IF OLD.owner IS NOT NULL THEN
            INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
            VALUES (OLD.owner, (pg_backend_pid() % 32)::smallint, -1,
                    -snippet_bytes(OLD.title, OLD.description, OLD.code))
            ON CONFLICT (owner, stripe) DO UPDATE
               SET snippets = u.snippets + EXCLUDED.snippets, bytes = u.bytes + EXCLUDED.bytes;
        END IF;
        who := NEW.owner;
        n := 1;
        b := snippet_bytes(NEW.title, NEW.description, NEW.code);
    END IF;
    IF who IS NOT NULL THEN
        INSERT INTO owner_usage AS u (owner, stripe, snippets, bytes)
        VALUES (who, (pg_backend_pid() % 32)::smallint, n, b)
        ON CONFLICT (owner, stripe) DO UPDATE
           SET snippets = u.snippets + EXCLUDED.snippets, bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END
$$;
