-- Token lineage (issue 30, finding 7; docs/api.md "Owners, tokens and
-- visibility"): the token whose bearer created this one through
-- `POST /tokens`. NULL for tokens made by the operator commands, the
-- bootstrap, or a previous release.
--
-- Expand-only: a previous-release server names its columns in every
-- INSERT and SELECT (src/auth/store.rs of that release), so it writes NULL
-- here and never reads the column; a token it creates during a rolling
-- deploy simply has no recorded parent. Adding a nullable column without
-- a default rewrites nothing.
--
-- ON DELETE SET NULL: deleting an owner deletes its tokens (tokens.owner
-- is ON DELETE CASCADE); a child an admin made for another owner stays,
-- revoked by the same command first (src/auth/store.rs, delete_owner).
ALTER TABLE tokens ADD COLUMN parent_id uuid REFERENCES tokens (id) ON DELETE SET NULL;

-- The revocation's recursive walk goes parent → children (store::revoke),
-- and the foreign key's ON DELETE looks children up the same way. Partial:
-- most tokens have no parent. The table is small (one row per token), so
-- building it inside the migration's transaction blocks token writes only
-- briefly.
CREATE INDEX tokens_parent_id_idx ON tokens (parent_id) WHERE parent_id IS NOT NULL;
