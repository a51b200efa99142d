-- Snippet expiry (issue 16): an optional absolute time after which the
-- snippet answers 404 everywhere (every query filters `expires_at IS NULL
-- OR expires_at > now()`, src/snippets/expiry.rs) until the sweeper
-- deletes it.
--
-- Expand-only: a previous-release server names its columns in every
-- INSERT and SELECT, so it writes NULL here (no expiry) and never reads
-- the column; while it still serves, it shows an expired snippet until the
-- sweeper of a new task deletes the row. Adding a nullable column without
-- a default rewrites nothing.
ALTER TABLE snippets ADD COLUMN expires_at timestamptz;

-- The sweeper's index: only rows that expire at all (partial), in expiry
-- order, so `WHERE expires_at <= now() ORDER BY expires_at LIMIT n` reads
-- the due rows and nothing else (no scan of the table, whatever its size).
-- Built in the migration's transaction: it blocks writes while it builds,
-- which is quick because no row has an expiry yet.
CREATE INDEX snippets_expires_at_idx ON snippets (expires_at)
    WHERE expires_at IS NOT NULL;
