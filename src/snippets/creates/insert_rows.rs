//! The coalesced INSERT: any number of rows in one statement of fixed
//! text (creates.rs sends it through its `Inserter`).

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::snippets::model::Snippet;
use crate::snippets::quota;

use super::*;

/// `INSERT INTO snippets (…) SELECT … FROM unnest($1, …, $11) … RETURNING
/// …`: any number of rows in one statement of fixed text, so diesel-async
/// keeps it prepared (diesel's own multi-row insert renders one text per
/// row count and is never cached). The owner column of a checked row is
/// `owner_quota_admit_after(…)` (migration 2026-12-05-000001), of any other
/// row the owner itself.
pub(super) struct InsertRows {
    ids: Vec<Uuid>,
    titles: Vec<String>,
    languages: Vec<String>,
    codes: Vec<String>,
    descriptions: Vec<Option<String>>,
    /// Comma-joined: tags are `[a-z0-9][a-z0-9-]*` (snippet-input.json),
    /// and PostgreSQL arrays of arrays must be rectangular.
    tags: Vec<String>,
    owners: Vec<Option<String>>,
    visibilities: Vec<&'static str>,
    forked_ids: Vec<Option<Uuid>>,
    forked_versions: Vec<Option<i64>>,
    expires: Vec<Option<OffsetDateTime>>,
    checked: Vec<bool>,
    /// Checked rows of the same owner ahead in the statement, and their
    /// bytes.
    before_n: Vec<i64>,
    before_b: Vec<i64>,
    max_snippets: Vec<i64>,
    max_bytes: Vec<i64>,
    returning: diesel::dsl::AsSelect<Snippet, Pg>,
}

impl InsertRows {
    /// `rows` in owner order.
    pub(super) fn new(rows: &[&NewRow]) -> InsertRows {
        let (mut before_n, mut before_b) = (Vec::new(), Vec::new());
        let (mut n, mut b) = (0, 0);
        for (i, r) in rows.iter().enumerate() {
            if i > 0 && rows[i - 1].owner != r.owner {
                (n, b) = (0, 0);
            }
            before_n.push(n);
            before_b.push(b);
            if r.checked.is_some() {
                n += 1;
                b += quota::size(&r.input);
            }
        }
        InsertRows {
            ids: rows.iter().map(|r| r.id).collect(),
            titles: rows.iter().map(|r| r.input.title.clone()).collect(),
            languages: rows.iter().map(|r| r.input.language.clone()).collect(),
            codes: rows.iter().map(|r| r.input.code.clone()).collect(),
            descriptions: rows.iter().map(|r| r.input.description.clone()).collect(),
            tags: rows.iter().map(|r| r.input.tags.join(",")).collect(),
            owners: rows.iter().map(|r| r.owner.clone()).collect(),
            visibilities: rows.iter().map(|r| r.visibility.as_str()).collect(),
            forked_ids: rows.iter().map(|r| r.forked_from.map(|f| f.0)).collect(),
            forked_versions: rows.iter().map(|r| r.forked_from.map(|f| f.1)).collect(),
            expires: rows.iter().map(|r| r.input.expiry.on_insert()).collect(),
            checked: rows.iter().map(|r| r.checked.is_some()).collect(),
            before_n,
            before_b,
            max_snippets: rows
                .iter()
                .map(|r| r.checked.map_or(0, |q| q.max_snippets))
                .collect(),
            max_bytes: rows
                .iter()
                .map(|r| r.checked.map_or(0, |q| q.max_bytes))
                .collect(),
            returning: Snippet::as_select(),
        }
    }
}

impl QueryId for InsertRows {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for InsertRows {
    type SqlType = crate::snippets::rows::SnippetRow;
}

/// Bind parameters separated by commas.
macro_rules! binds {
    ($out:ident; $t0:ty => $v0:expr $(, $t:ty => $v:expr)*) => {
        $out.push_bind_param::<$t0, _>($v0)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$t, _>($v)?;
        )*
    };
}

impl QueryFragment<Pg> for InsertRows {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO snippets (id, title, language, code, description, tags, owner, \
             visibility, forked_from_id, forked_from_version, expires_at) \
             SELECT r.id, r.title, r.language, r.code, r.description, \
             string_to_array(r.tags, ','), \
             CASE WHEN r.checked THEN owner_quota_admit_after(",
        );
        out.push_bind_param::<Integer, _>(&quota::QUOTA_LOCK_CLASS)?;
        out.push_sql(
            ", r.owner, snippet_bytes(r.title, r.description, r.code), r.before_n, \
             r.before_b, r.max_snippets, r.max_bytes) ELSE r.owner END, \
             r.visibility, r.forked_from_id, r.forked_from_version, r.expires_at \
             FROM unnest(",
        );
        binds!(out;
            Array<diesel::sql_types::Uuid> => &self.ids,
            Array<Text> => &self.titles,
            Array<Text> => &self.languages,
            Array<Text> => &self.codes,
            Array<Nullable<Text>> => &self.descriptions,
            Array<Text> => &self.tags,
            Array<Nullable<Text>> => &self.owners,
            Array<Text> => &self.visibilities,
            Array<Nullable<diesel::sql_types::Uuid>> => &self.forked_ids,
            Array<Nullable<BigInt>> => &self.forked_versions,
            Array<Nullable<Timestamptz>> => &self.expires,
            Array<Bool> => &self.checked,
            Array<BigInt> => &self.before_n,
            Array<BigInt> => &self.before_b,
            Array<BigInt> => &self.max_snippets,
            Array<BigInt> => &self.max_bytes
        );
        out.push_sql(
            ") AS r(id, title, language, code, description, tags, owner, visibility, \
             forked_from_id, forked_from_version, expires_at, checked, before_n, before_b, \
             max_snippets, max_bytes) RETURNING ",
        );
        self.returning.walk_ast(out.reborrow())
    }
}
