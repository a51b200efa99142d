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

/// A tag search's filters as expressions no index serves (a bounded walk):
/// `(language || '') = $1 AND (tags || '{}'::text[]) @> $2`, the language
/// when set. Text searches never walk (see `list`).
#[derive(Debug, Clone)]
pub(super) struct Unindexed(pub(super) Option<String>, pub(super) Vec<String>);

fixed_sql!(Unindexed, Bool, |self, out| {
    out.push_sql("(TRUE");
    if let Some(lang) = &self.0 {
        out.push_sql(" AND (language || '') = ");
        out.push_bind_param::<Text, _>(lang)?;
    }
    out.push_sql(" AND (tags || '{}'::text[]) @> ");
    out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.1)?;
    out.push_sql(")");
    Ok(())
});

/// `(created_at, id) >= ($a, $b)`: the far end of a bounded walk.
#[derive(Debug, Clone)]
pub(super) struct NotBefore(pub(super) time::OffsetDateTime, pub(super) Uuid);

fixed_sql!(NotBefore, Bool, |self, out| {
    out.push_sql("(created_at, id) >= (");
    out.push_bind_param::<Timestamptz, _>(&self.0)?;
    out.push_sql(", ");
    out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.1)?;
    out.push_sql(")");
    Ok(())
});

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
