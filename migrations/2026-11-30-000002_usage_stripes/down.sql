-- Back to one row per owner: the stripes summed.
CREATE OR REPLACE FUNCTION snippets_count_usage() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TEMPORARY TABLE owner_usage_summed ON COMMIT DROP AS
    SELECT owner, sum(snippets)::bigint AS snippets, sum(bytes)::bigint AS bytes
      FROM owner_usage GROUP BY owner;
DELETE FROM owner_usage;
ALTER TABLE owner_usage DROP CONSTRAINT owner_usage_pkey;
ALTER TABLE owner_usage DROP COLUMN stripe;
ALTER TABLE owner_usage ADD PRIMARY KEY (owner);
INSERT INTO owner_usage SELECT * FROM owner_usage_summed;
