//! Rows by id, as the coalesced lookups read them (src/snippets/lookups.rs):
//! two written-out statements. No visibility check here: lookups.rs
//! applies access.rs to what they return.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::error::SnippetError;
use super::expiry::Live;
use super::model::Snippet;
use crate::db::{DbConn, DbPool};

pub(super) async fn conn(pool: &DbPool) -> Result<DbConn<'_>, SnippetError> {
    Ok(pool.get().await?)
}

pub async fn find(c: &mut DbConn<'_>, id: Uuid) -> Result<Option<Snippet>, SnippetError> {
    Ok(OneId(id).get_result(c).await.optional()?)
}

/// The snippets among `ids` (any order, missing ones left out, duplicates
/// allowed): one cached statement, `WHERE id = ANY($1)`, whatever the number
/// of ids.
pub async fn find_many(c: &mut DbConn<'_>, ids: &[Uuid]) -> Result<Vec<Snippet>, SnippetError> {
    Ok(ManyIds(ids).load(c).await?)
}

/// The id lookups' statements, written out: `SELECT <Snippet's columns>
/// FROM snippets WHERE id = $1 AND <Live> LIMIT 1` ([`OneId`]) or
/// `id = ANY($1)` ([`ManyIds`]). diesel renders a query's SQL on every
/// execution, cached statement or not (diesel-async 0.9, `pg/mod.rs`),
/// walking the select clause and quoting each of the 14 columns as two
/// identifiers through an allocating `str::replace`; a query without a
/// static id is also looked up in the statement cache by that SQL text.
/// Here the column list is rendered once, by diesel from
/// `Snippet::as_select()` (so it cannot drift from the model), and each
/// statement has a static id: a GET by id went from 101,550 to ~90,000
/// instructions (callgrind, docs/performance.md, "Id lookup SQL and timestamps rendered once").
#[derive(Debug, Clone, Copy)]
pub(super) struct OneId(pub(super) Uuid);

/// See [`OneId`].
#[derive(Debug, Clone, Copy)]
pub(super) struct ManyIds<'a>(pub(super) &'a [Uuid]);

pub(super) fn snippet_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut qb = diesel::pg::PgQueryBuilder::default();
        Snippet::as_select()
            .to_sql(&mut qb, &Pg)
            .expect("a column list renders");
        diesel::query_builder::QueryBuilder::finish(qb)
    })
}

/// `SELECT <columns> FROM snippets WHERE `.
pub(super) fn select_snippets_where(out: &mut AstPass<'_, '_, Pg>) {
    out.push_sql("SELECT ");
    out.push_sql(snippet_columns());
    out.push_sql(" FROM snippets WHERE ");
}

/// The SQL type of a `Snippet::as_select()` row.
pub(super) type SnippetRow = <diesel::dsl::AsSelect<Snippet, Pg> as Expression>::SqlType;

impl QueryId for OneId {
    type QueryId = OneId;
}

impl diesel::query_builder::Query for OneId {
    type SqlType = SnippetRow;
}

impl QueryFragment<Pg> for OneId {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        select_snippets_where(&mut out);
        out.push_sql("id = ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.0)?;
        out.push_sql(" AND ");
        Live.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT 1");
        Ok(())
    }
}

impl QueryId for ManyIds<'_> {
    type QueryId = ManyIds<'static>;
}

impl diesel::query_builder::Query for ManyIds<'_> {
    type SqlType = SnippetRow;
}

impl QueryFragment<Pg> for ManyIds<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Uuid as SqlUuid};
        select_snippets_where(&mut out);
        out.push_sql("id = ANY(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.0)?;
        out.push_sql(") AND ");
        Live.walk_ast(out.reborrow())?;
        Ok(())
    }
}
