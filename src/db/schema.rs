//! The diesel view of the tables. `snippets.search` (a generated tsvector)
//! is left out: only raw SQL fragments in the list query use it.

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
    }
}
