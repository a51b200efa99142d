//! The diesel view of the tables. `snippets.search` (a generated tsvector)
//! is left out: only raw SQL fragments in the list query use it. diesel's
//! default feature set allows at most 16 columns per table.

diesel::table! {
    snippets (id) {
        id -> Uuid,
        title -> Text,
        language -> Text,
        code -> Text,
        description -> Nullable<Text>,
        tags -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> BigInt,
        owner -> Nullable<Text>,
        visibility -> Text,
        forked_from_id -> Nullable<Uuid>,
        forked_from_version -> Nullable<BigInt>,
        /// Migration 2026-12-02-000001: NULL never expires.
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    owners (handle) {
        handle -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    tokens (id) {
        id -> Uuid,
        owner -> Text,
        name -> Text,
        scopes -> Array<Text>,
        sha256 -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        // The token that created this one (migration 2026-12-06-000020).
        parent_id -> Nullable<Uuid>,
    }
}

// Kept by triggers on `snippets` (migrations 2026-11-30-000001, -000002 and
// 2026-12-03-000002).
diesel::table! {
    owner_usage (owner, stripe) {
        owner -> Text,
        stripe -> SmallInt,
        snippets -> BigInt,
        bytes -> BigInt,
    }
}

// Earlier versions, written by a trigger on `snippets` (migration
// 2026-12-01-000001).
diesel::table! {
    snippet_revisions (snippet_id, version) {
        snippet_id -> Uuid,
        version -> BigInt,
        title -> Text,
        language -> Text,
        code -> Text,
        description -> Nullable<Text>,
        tags -> Array<Text>,
        updated_at -> Timestamptz,
        /// Migration 2026-12-06-000010: the snippet's visibility while this
        /// version was current ('private' for versions written before).
        visibility -> Text,
    }
}

diesel::joinable!(tokens -> owners (owner));
diesel::joinable!(snippets -> owners (owner));
diesel::joinable!(snippet_revisions -> snippets (snippet_id));
diesel::allow_tables_to_appear_in_same_query!(
    snippets,
    owners,
    tokens,
    owner_usage,
    snippet_revisions
);
