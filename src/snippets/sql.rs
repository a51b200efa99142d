//! SQL fragments and query wrappers that keep their query a cached
//! prepared statement (written out rather than `diesel::dsl::sql`).

use diesel::expression::{is_aggregate, ValidGrouping};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text, Timestamptz};
use uuid::Uuid;

/// A query type that wraps another (its field 0): the same rows, and
/// statements cached by their SQL text.
macro_rules! wraps_a_query {
    ($t:ident) => {
        impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for $t<Q> {
            type SqlType = Q::SqlType;
        }
        impl<Q> QueryId for $t<Q> {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
    };
}

/// A plain page's query (no search: a walk of the page-order index) with
/// its LIMIT written into the SQL. With `LIMIT $n`, PostgreSQL estimates a
/// generic plan as reading a tenth of the table, so it never prefers it
/// to a custom plan and plans the kept statement again on every execution:
/// pgbench of the list statement, 10,000 rows, 2 clients, 16,200 tps with
/// `LIMIT $2`, 21,700 with the literal, 21,900 with `LIMIT $2` and
/// `plan_cache_mode = force_generic_plan` (docs/performance.md,
/// "Prepared updates"). The literal is one of five sizes, the
/// smallest that holds the page (read rows beyond it are dropped by
/// [`paged`]), so a connection keeps at most five statements per filter
/// shape, not one per `limit`. A history page (revisions.rs) has the same
/// problem and the same answer (`history_pages_are_planned_once_not_per_page`,
/// tests/revisions.rs: 30 plans for 30 pages with `LIMIT $3`).
pub(super) struct LimitLiteral<Q>(pub(super) Q, pub(super) &'static str);

impl<Q> LimitLiteral<Q> {
    /// `query` with a LIMIT of at least `page` rows (at most 101).
    pub(super) fn around(query: Q, page: i64) -> Self {
        let limit = match page {
            ..=6 => " LIMIT 6",
            7..=11 => " LIMIT 11",
            12..=21 => " LIMIT 21",
            22..=51 => " LIMIT 51",
            _ => " LIMIT 101",
        };
        LimitLiteral(query, limit)
    }
}

// The largest size holds the largest page.
const _: () = assert!(super::model::MAX_LIMIT < 101);

wraps_a_query!(LimitLiteral);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LimitLiteral<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(self.1);
        Ok(())
    }
}

/// The precondition as SQL: `(($1 OR version = ANY($2)) AND NOT ($3 OR
/// version = ANY($4)))`, checked in the statement that writes.
#[derive(Debug, Clone)]
pub(super) struct Condition(
    pub(super) bool,
    pub(super) Vec<i64>,
    pub(super) bool,
    pub(super) Vec<i64>,
);

/// The rows the caller may modify, as SQL: `(coalesce(owner = $1, false)
/// OR $2)`, $2 being "admin". One statement text for every caller.
#[derive(Debug, Clone)]
pub(super) struct Modifiable(pub(super) String, pub(super) bool);

/// An UPDATE that diesel keeps prepared, keyed by its SQL text like any
/// other statement without a static query id. diesel marks every UPDATE
/// unsafe to cache (diesel 2.3, `update_statement/mod.rs`: a changeset of
/// `Option`s varies its SQL), so each PUT was a Parse round trip, a parse
/// and a plan, and a Close. The SQL key keeps the variants apart, and
/// [`update`]'s are few: visibility set or not, expiry kept or set, owner
/// checked or not (at most 8 statements per connection).
/// docs/performance.md, "Prepared updates".
#[derive(Debug, Clone)]
pub(super) struct Prepared<Q>(pub(super) Q);

wraps_a_query!(Prepared);

// SQL fragments that keep their query a cached prepared statement.
// `diesel::dsl::sql` marks any query containing it "unsafe to cache", so
// diesel-async would parse and plan it again on every request (one more
// round trip each); these render fixed SQL text around their binds, and
// diesel-async caches the query by that text (a bounded set: one per
// combination of filters).

/// `search @@ websearch_to_tsquery('simple', $n)`.
#[derive(Debug, Clone)]
pub(super) struct Matches(pub(super) String);

/// The same match written as the expression of the index of public rows,
/// `(search || ''::tsvector) @@ websearch_to_tsquery('simple', $n)`, for
/// searches of public rows: only that index serves it
/// (migrations/2026-12-06-000030_public_search).
#[derive(Debug, Clone)]
pub(super) struct PublicMatches(pub(super) String);

/// `(created_at, id) < ($a, $b)`: the keyset condition, for the
/// (created_at, id) index.
#[derive(Debug, Clone)]
pub(super) struct Before(pub time::OffsetDateTime, pub Uuid);

/// `TRUE`, and the statement is not kept prepared: PostgreSQL plans it for
/// its values each time. A search's plan depends on them (a tag in 5 % of
/// rows or in 0.01 %): after five executions PostgreSQL would otherwise
/// settle on one generic plan for all values, which turned a 0.2 ms page
/// into 700 ms (docs/performance.md). Costs one round trip (parse).
#[derive(Debug, Clone, Copy)]
pub(super) struct CustomPlan;

/// `(created_at + interval '0 s')`: the page order's first key as an
/// expression no index provides, so the plan is a sort of the matches.
#[derive(Debug, Clone, Copy)]
pub(super) struct SortKey;

macro_rules! fixed_sql {
    ($t:ty, $st:ty, |$self:ident, $out:ident| $body:block) => {
        impl Expression for $t {
            type SqlType = $st;
        }
        impl<QS> AppearsOnTable<QS> for $t {}
        impl<QS> SelectableExpression<QS> for $t {}
        impl ValidGrouping<()> for $t {
            type IsAggregate = is_aggregate::Never;
        }
        impl QueryId for $t {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
        impl QueryFragment<Pg> for $t {
            fn walk_ast<'b>(&'b $self, mut $out: AstPass<'_, 'b, Pg>) -> QueryResult<()> $body
        }
    };
}

fixed_sql!(Matches, Bool, |self, out| {
    out.push_sql("search @@ websearch_to_tsquery('simple', ");
    out.push_bind_param::<Text, _>(&self.0)?;
    out.push_sql(")");
    Ok(())
});

fixed_sql!(PublicMatches, Bool, |self, out| {
    out.push_sql("(search || ''::tsvector) @@ websearch_to_tsquery('simple', ");
    out.push_bind_param::<Text, _>(&self.0)?;
    out.push_sql(")");
    Ok(())
});

/// A search's filters as expressions no index serves, for a bounded walk
/// in page order ([`Walk`]): `(language || '') = $1 AND (tags ||
/// '{}'::text[]) @> $2 AND setweight(search, 'D') @@
/// websearch_to_tsquery('simple', $3)`, each when set (every lexeme
/// already has weight D: the same match).
#[derive(Debug, Clone)]
pub(super) struct Unindexed(
    pub(super) Option<String>,
    pub(super) Vec<String>,
    pub(super) Option<String>,
);

fixed_sql!(Unindexed, Bool, |self, out| {
    out.push_sql("(TRUE");
    if let Some(lang) = &self.0 {
        out.push_sql(" AND (language || '') = ");
        out.push_bind_param::<Text, _>(lang)?;
    }
    if !self.1.is_empty() {
        out.push_sql(" AND (tags || '{}'::text[]) @> ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.1)?;
    }
    if let Some(text) = &self.2 {
        out.push_sql(" AND setweight(search, 'D') @@ websearch_to_tsquery('simple', ");
        out.push_bind_param::<Text, _>(text)?;
        out.push_sql(")");
    }
    out.push_sql(")");
    Ok(())
});

/// `"snippets".*`: what a bounded walk's rows carry to its filters.
#[derive(Debug, Clone, Copy)]
pub(super) struct AllColumns;

fixed_sql!(AllColumns, Bool, |self, out| {
    out.push_sql("\"snippets\".*");
    Ok(())
});

/// A bounded walk, one statement: `SELECT <select> FROM (<rows>) AS
/// "snippets" WHERE <filter> ORDER BY created_at DESC, id DESC LIMIT $n`,
/// `rows` being the newest rows in page order with their own LIMIT. The
/// executor pulls rows lazily: a page of dense matches stops it after a
/// few rows, sparse ones after `rows`, never more.
pub(super) struct Walk<S, R, F> {
    pub(super) select: S,
    pub(super) rows: R,
    pub(super) filter: F,
    pub(super) page: i64,
}

impl<S: Expression, R, F> diesel::query_builder::Query for Walk<S, R, F> {
    type SqlType = S::SqlType;
}

impl<S, R, F> QueryId for Walk<S, R, F> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S, R, F> QueryFragment<Pg> for Walk<S, R, F>
where
    S: QueryFragment<Pg>,
    R: QueryFragment<Pg>,
    F: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.select.walk_ast(out.reborrow())?;
        out.push_sql(" FROM (");
        self.rows.walk_ast(out.reborrow())?;
        out.push_sql(") AS \"snippets\" WHERE ");
        self.filter.walk_ast(out.reborrow())?;
        out.push_sql(" ORDER BY \"snippets\".\"created_at\" DESC, \"snippets\".\"id\" DESC LIMIT ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.page)?;
        Ok(())
    }
}

fixed_sql!(Before, Bool, |self, out| {
    out.push_sql("(created_at, id) < (");
    out.push_bind_param::<Timestamptz, _>(&self.0)?;
    out.push_sql(", ");
    out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.1)?;
    out.push_sql(")");
    Ok(())
});

fixed_sql!(Condition, Bool, |self, out| {
    use diesel::sql_types::{Array, BigInt};
    out.push_sql("((");
    out.push_bind_param::<Bool, _>(&self.0)?;
    out.push_sql(" OR version = ANY(");
    out.push_bind_param::<Array<BigInt>, _>(&self.1)?;
    out.push_sql(")) AND NOT (");
    out.push_bind_param::<Bool, _>(&self.2)?;
    out.push_sql(" OR version = ANY(");
    out.push_bind_param::<Array<BigInt>, _>(&self.3)?;
    out.push_sql(")))");
    Ok(())
});

fixed_sql!(Modifiable, Bool, |self, out| {
    out.push_sql("(coalesce(owner = ");
    out.push_bind_param::<Text, _>(&self.0)?;
    out.push_sql(", false) OR ");
    out.push_bind_param::<Bool, _>(&self.1)?;
    out.push_sql(")");
    Ok(())
});

fixed_sql!(SortKey, Timestamptz, |self, out| {
    out.push_sql("(created_at + interval '0 s')");
    Ok(())
});

fixed_sql!(CustomPlan, Bool, |self, out| {
    out.unsafe_to_cache_prepared();
    out.push_sql("TRUE");
    Ok(())
});

/// `visibility = 'public'` as a literal, never a bind: the partial indexes
/// of public rows (migrations/2026-12-06-000030_public_search) serve a
/// query only when its plan can prove their predicate, and a generic plan
/// of `visibility = $1` cannot. A search for everyone then never reads an
/// index entry of a private or unlisted row: its time cannot depend on
/// them (issue 31).
#[derive(Debug, Clone, Copy)]
pub(super) struct PublicOnly;

fixed_sql!(PublicOnly, Bool, |self, out| {
    out.push_sql("visibility = 'public'");
    Ok(())
});
