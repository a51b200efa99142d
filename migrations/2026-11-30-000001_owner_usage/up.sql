-- Per-owner usage for quotas (issue 15): snippets and stored bytes, the
-- UTF-8 octets of title + description + code.
--
-- Kept by a trigger, not by the application: every writer counts, the
-- previous release included, which keeps serving during a rolling deploy
-- and knows nothing of quotas (it writes rows; the trigger counts them).
-- The application only reads the row, locked, in the transaction of a
-- write (src/snippets/quota.rs), so two creates at the limit queue on it
-- and cannot both pass. Expand-only: nothing an old binary reads changes.

CREATE TABLE owner_usage (
    owner    text   PRIMARY KEY REFERENCES owners (handle) ON DELETE CASCADE,
    snippets bigint NOT NULL DEFAULT 0,
    bytes    bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION snippet_bytes(title text, description text, code text)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT octet_length(title)::bigint + coalesce(octet_length(description), 0) + octet_length(code)
$$;

CREATE FUNCTION snippets_count_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.owner IS NOT DISTINCT FROM NEW.owner THEN
        IF NEW.owner IS NOT NULL THEN
            UPDATE owner_usage
               SET bytes = bytes
                         - snippet_bytes(OLD.title, OLD.description, OLD.code)
                         + snippet_bytes(NEW.title, NEW.description, NEW.code)
             WHERE owner = NEW.owner;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.owner IS NOT NULL THEN
        UPDATE owner_usage
           SET snippets = snippets - 1,
               bytes = bytes - snippet_bytes(OLD.title, OLD.description, OLD.code)
         WHERE owner = OLD.owner;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.owner IS NOT NULL THEN
        INSERT INTO owner_usage AS u (owner, snippets, bytes)
        VALUES (NEW.owner, 1, snippet_bytes(NEW.title, NEW.description, NEW.code))
        ON CONFLICT (owner) DO UPDATE
           SET snippets = u.snippets + 1, bytes = u.bytes + EXCLUDED.bytes;
    END IF;
    RETURN NULL;
END
$$;

-- The trigger first, then the backfill: creating the trigger locks out
-- writers until this migration's transaction commits, so no row is missed
-- or counted twice.
CREATE TRIGGER snippets_count_usage
    AFTER INSERT OR UPDATE OR DELETE ON snippets
    FOR EACH ROW EXECUTE FUNCTION snippets_count_usage();

INSERT INTO owner_usage (owner, snippets, bytes)
SELECT owner, count(*), sum(snippet_bytes(title, description, code))
  FROM snippets
 WHERE owner IS NOT NULL
 GROUP BY owner;
