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
    }
}

// Kept by a trigger on `snippets` (migration 2026-11-30-000001).
diesel::table! {
    owner_usage (owner) {
        owner -> Text,
        snippets -> BigInt,
        bytes -> BigInt,
    }
}

diesel::joinable!(tokens -> owners (owner));
diesel::joinable!(snippets -> owners (owner));
diesel::allow_tables_to_appear_in_same_query!(snippets, owners, tokens, owner_usage);
