-- Owners, API tokens, and each snippet's owner and visibility (issue 14).
--
-- Expand-only: a server of the previous version keeps working on this
-- schema during a rolling deploy. It names its columns in every INSERT and
-- SELECT, so the new `snippets` columns get their defaults (owner NULL:
-- an unowned row; visibility 'public': what every row was before), and it
-- never reads `owners` or `tokens`. Adding a column with a constant default
-- rewrites nothing on PostgreSQL 11 and later.

CREATE TABLE owners (
    handle     text        PRIMARY KEY
                           CONSTRAINT owners_handle_format
                           CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,38}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Only SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE tokens (
    id           uuid        PRIMARY KEY,
    owner        text        NOT NULL REFERENCES owners (handle) ON DELETE CASCADE,
    name         text        NOT NULL,
    scopes       text[]      NOT NULL DEFAULT '{}',
    sha256       bytea       NOT NULL UNIQUE
                             CONSTRAINT tokens_sha256_length CHECK (octet_length(sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX tokens_owner_idx ON tokens (owner, created_at DESC);

-- NULL: a row written before owners existed; only an admin may modify it.
ALTER TABLE snippets ADD COLUMN owner text REFERENCES owners (handle);
ALTER TABLE snippets ADD COLUMN visibility text NOT NULL DEFAULT 'public'
    CONSTRAINT snippets_visibility_values
    CHECK (visibility IN ('public', 'unlisted', 'private'));

-- `?owner=…` lists, newest first (keyset order within one owner).
CREATE INDEX snippets_owner_created_id_idx ON snippets (owner, created_at DESC, id DESC);
