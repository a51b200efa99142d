-- Snippets. `version` is bumped by every write and is the ETag; `search` is
-- derived by PostgreSQL so it can never disagree with the text it indexes.
CREATE TABLE snippets (
    id          uuid        PRIMARY KEY,
    title       text        NOT NULL,
    language    text        NOT NULL,
    code        text        NOT NULL,
    description text,
    tags        text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint      NOT NULL DEFAULT 1,
    search      tsvector    GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig,
                    title || ' ' || coalesce(description, '') || ' ' || code)
    ) STORED
);

-- Keyset pagination: newest first, id breaks ties.
CREATE INDEX snippets_created_id_idx ON snippets (created_at DESC, id DESC);
-- The same order within one language.
CREATE INDEX snippets_language_created_id_idx ON snippets (language, created_at DESC, id DESC);
CREATE INDEX snippets_tags_idx ON snippets USING gin (tags);
CREATE INDEX snippets_search_idx ON snippets USING gin (search);
