//! Queries. Every conditional write checks its precondition in the same
//! statement that writes (`WHERE id = $1 AND ($2 OR version = ANY($3))`),
//! so two writers holding the same ETag cannot both win. Every write and
//! list takes the [`Caller`] and filters by owner and visibility in SQL
//! (`access.rs` has the rules): a row the caller may not touch is a row the
//! statement does not match.

use diesel::dsl::{now, sql};
use diesel::expression::{is_aggregate, ValidGrouping};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Bool, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::access;
use super::error::SnippetError;
use super::expiry::Live;
use super::model::ExpiryChange;
use super::model::{ListQuery, OwnerFilter, Precondition, Snippet, SnippetInput, Tags, Visibility};
use super::quota;
use super::validate;
use super::words::Words;
use crate::auth::{Caller, Scope};
use crate::config::Quota;
use crate::db::schema::snippets::dsl as s;
use crate::db::{DbConn, DbPool};

async fn conn(pool: &DbPool) -> Result<DbConn<'_>, SnippetError> {
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
/// instructions (callgrind, docs/performance.md, "Morning, 2026-12-05 (2)").
#[derive(Debug, Clone, Copy)]
struct OneId(Uuid);

/// See [`OneId`].
#[derive(Debug, Clone, Copy)]
struct ManyIds<'a>(&'a [Uuid]);

fn snippet_columns() -> &'static str {
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
fn select_snippets_where(out: &mut AstPass<'_, '_, Pg>) {
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

/// Which rows a list may show the caller, as SQL filters.
struct ListScope {
    /// `owner = $1`.
    owner: Option<String>,
    /// `visibility = 'public'`.
    public_only: bool,
}

/// `GET /snippets` shows public snippets; `owner=HANDLE` that owner's
/// public ones (all of them to the owner with `snippets:read`, and to
/// admins); `owner=me` all of the caller's own (needs `snippets:read`).
fn list_scope(caller: &Caller, owner: Option<&OwnerFilter>) -> Result<ListScope, SnippetError> {
    Ok(match owner {
        None => ListScope {
            owner: None,
            public_only: true,
        },
        Some(OwnerFilter::Me) => {
            caller.require(Scope::SnippetsRead)?;
            ListScope {
                // Open mode has no "me": no rows (an empty owner matches none).
                owner: Some(caller.handle().unwrap_or_default().to_string()),
                public_only: false,
            }
        }
        Some(OwnerFilter::Handle(h)) => {
            let own =
                caller.handle() == Some(h.as_str()) && caller.scopes().allows(Scope::SnippetsRead);
            ListScope {
                owner: Some(h.clone()),
                public_only: !(own || caller.is_admin()),
            }
        }
    })
}

/// Adds the page's filters to a boxed query on `snippets`.
macro_rules! filtered {
    // A text search of a rare word ([`Words::rare`]): the same filters in
    // a cached statement with one plan, the GIN index and a sort, which an
    // ORDER BY on an expression keeps from walking a btree in page order.
    (rare: $query:expr, $q:expr, $scope:expr) => {{
        let q: &ListQuery = $q;
        let bare = ListQuery {
            q: None,
            ..q.clone()
        };
        filtered!($query, &bare, $scope)
            .filter(Matches(q.q.clone().unwrap_or_default()))
            .order((SortKey.desc(), s::id.desc()))
    }};
    ($query:expr, $q:expr, $scope:expr) => {{
        let q: &ListQuery = $q;
        let scope: &ListScope = $scope;
        let mut query = $query.filter(Live);
        if let Some(o) = &scope.owner {
            query = query.filter(s::owner.eq(o.clone()));
        }
        if scope.public_only {
            query = query.filter(s::visibility.eq(Visibility::Public.as_str()));
        }
        if let Some(c) = &q.cursor {
            // A row comparison, so that the (created_at, id) index serves it.
            query = query.filter(Before(c.created_at, c.id));
        }
        if let Some(lang) = &q.language {
            query = query.filter(s::language.eq(lang.clone()));
        }
        if !q.tags.is_empty() {
            query = query.filter(s::tags.contains(q.tags.clone()));
        }
        if let Some(text) = &q.q {
            query = query.filter(Matches(text.clone()));
        }
        if q.q.is_some() || !q.tags.is_empty() {
            query = query.filter(CustomPlan);
        }
        query
    }};
}

/// Rows a tag search first walks in page order, looking for a page.
const WALK_ROWS: i64 = 1000;

/// Up to this many matches of a text or tag search are read through the GIN index
/// and sorted; beyond it, walking the newest-first index finds a page fast.
const SEARCH_SORT_LIMIT: i64 = 1000;

/// One page, newest first; `limit + 1` rows are read so the caller knows
/// whether there is a next page.
///
/// A tag search without text first walks the newest 1,000 rows past the
/// cursor in page order: a common tag fills its page there. Text searches do
/// not walk: matching 1,000 stored `tsvector`s cost PostgreSQL ~3.7 ms of CPU
/// per search, and `make bench`'s search of a rare word fell from 3,420 to
/// 422 req/s (docs/performance.md, "Evening, 2026-12-04"). Otherwise it picks
/// its plan by how many rows match, because the
/// planner misjudges GIN selectivity (a word it has no statistics on, two
/// filters it takes for independent) and then walks the whole newest-first
/// index hoping to fill the page early. So a first query reads the
/// position (created_at, id) of up to 1,000 matches through the GIN index.
/// Fewer: they are all there is, sorted here, and the page is fetched by
/// primary key (the filters checked again: the row may have changed since).
/// 1,000: matches are dense and walking the (created_at, id) index finds a
/// page fast. docs/api.md and docs/performance.md have the plans and timings.
///
/// A text search without tags whose words PostgreSQL's statistics call rare
/// ([`Words::rare`]: fewer than SEARCH_SORT_LIMIT matches) needs no plan
/// for its values: it is one cached statement, the GIN index and a sort.
pub async fn list(
    pool: &DbPool,
    words: &Words,
    caller: &Caller,
    q: &ListQuery,
) -> Result<(Vec<Snippet>, bool), SnippetError> {
    let scope = list_scope(caller, q.owner.as_ref())?;
    let page = i64::from(q.limit) + 1;
    let mut c = conn(pool).await?;
    if let (Some(text), true) = (&q.q, q.tags.is_empty()) {
        if words.rare(&mut c, text, SEARCH_SORT_LIMIT as f64).await {
            let query = filtered!(
                rare: s::snippets.select(Snippet::as_select()).into_boxed(),
                q,
                &scope
            )
            .limit(page);
            return Ok(paged(query.load(&mut c).await?, q.limit));
        }
    }
    // `language` alone has its own btree in page order.
    if q.q.is_none() && !q.tags.is_empty() {
        // A bounded walk first: the newest WALK_ROWS rows past the cursor,
        // in page order, hold a page of any filter that matches one row in
        // 50 (a common tag) and cost about a millisecond.
        let bare = ListQuery {
            language: None,
            tags: Vec::new(),
            q: None,
            ..q.clone()
        };
        let edge: Option<(time::OffsetDateTime, Uuid)> = filtered!(
            s::snippets.select((s::created_at, s::id)).into_boxed(),
            &bare,
            &scope
        )
        .order((s::created_at.desc(), s::id.desc()))
        .offset(WALK_ROWS - 1)
        .limit(1)
        .load(&mut c)
        .await?
        .pop();
        // The filters as expressions no index serves, so that the walk is
        // one range of the (created_at, id) index: given the GIN index, the
        // planner would intersect it with the range, and a walk that finds
        // no page would pay for the GIN search twice.
        let mut walk = filtered!(
            s::snippets.select(Snippet::as_select()).into_boxed(),
            &bare,
            &scope
        )
        .filter(Unindexed(q.language.clone(), q.tags.clone()))
        .filter(CustomPlan)
        .order((s::created_at.desc(), s::id.desc()))
        .limit(page);
        if let Some((at, id)) = edge {
            walk = walk.filter(NotBefore(at, id));
        }
        let rows = walk.load(&mut c).await?;
        // A full page, or the walk reached the end of the list: done.
        if rows.len() as i64 == page || edge.is_none() {
            return Ok(paged(rows, q.limit));
        }
        let probe = filtered!(
            s::snippets.select((s::created_at, s::id)).into_boxed(),
            q,
            &scope
        )
        .limit(SEARCH_SORT_LIMIT);
        let mut matches: Vec<(time::OffsetDateTime, Uuid)> = probe.load(&mut c).await?;
        if (matches.len() as i64) < SEARCH_SORT_LIMIT {
            matches.sort_unstable_by(|a, b| b.cmp(a));
            let more = matches.len() > q.limit as usize;
            matches.truncate(page as usize);
            let ids: Vec<Uuid> = matches.iter().map(|m| m.1).collect();
            let query = filtered!(
                s::snippets.select(Snippet::as_select()).into_boxed(),
                q,
                &scope
            )
            .filter(s::id.eq_any(ids))
            .order((s::created_at.desc(), s::id.desc()));
            // A match that changed since the first query is left out, and
            // the next page is still offered.
            let (rows, _) = paged(query.load(&mut c).await?, q.limit);
            return Ok((rows, more));
        }
    }
    let query = filtered!(
        s::snippets.select(Snippet::as_select()).into_boxed(),
        q,
        &scope
    )
    .order((s::created_at.desc(), s::id.desc()));
    let rows = if q.q.is_none() && q.tags.is_empty() {
        LimitLiteral::around(query, page).load(&mut c).await?
    } else {
        query.limit(page).load(&mut c).await?
    };
    Ok(paged(rows, q.limit))
}

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
/// "Morning, 2026-12-05 (2)"). The literal is one of five sizes, the
/// smallest that holds the page (read rows beyond it are dropped by
/// [`paged`]), so a connection keeps at most five statements per filter
/// shape, not one per `limit`. A history page (revisions.rs) has the same
/// problem and the same answer (`history_pages_are_planned_once_not_per_page`,
/// tests/revisions.rs: 30 plans for 30 pages with `LIMIT $3`).
pub(super) struct LimitLiteral<Q>(Q, &'static str);

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

/// The page and whether there is a next one (`limit + 1` rows were asked for).
fn paged(mut rows: Vec<Snippet>, limit: u32) -> (Vec<Snippet>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}

/// The precondition as SQL: `(($1 OR version = ANY($2)) AND NOT ($3 OR
/// version = ANY($4)))`, checked in the statement that writes.
#[derive(Debug, Clone)]
struct Condition(bool, Vec<i64>, bool, Vec<i64>);

fn condition(pre: &Precondition) -> Condition {
    let split = |t: &Option<Tags>, absent: bool| match t {
        None => (absent, Vec::new()),
        Some(Tags::Any) => (true, Vec::new()),
        Some(Tags::Versions(v)) => (false, v.clone()),
    };
    let (m_any, m_versions) = split(&pre.if_match, true);
    let (n_any, n_versions) = split(&pre.if_none_match, false);
    Condition(m_any, m_versions, n_any, n_versions)
}

/// The row is still at `version`: the optimistic PATCH's condition.
fn at_version(version: i64) -> Condition {
    Condition(false, vec![version], false, Vec::new())
}

/// The rows the caller may modify, as SQL: `(coalesce(owner = $1, false)
/// OR $2)`, $2 being "admin". One statement text for every caller.
#[derive(Debug, Clone)]
struct Modifiable(String, bool);

fn modifiable(caller: &Caller) -> Modifiable {
    Modifiable(
        caller.handle().unwrap_or_default().to_string(),
        caller.is_admin(),
    )
}

/// After a write matched no row: 404 (none, or private and not the
/// caller's: the same answer), 403 (another owner's visible snippet) or
/// 412 (the caller's, at another version)?
async fn miss(c: &mut AsyncPgConnection, caller: &Caller, id: Uuid) -> SnippetError {
    let row = s::snippets
        .find(id)
        .filter(Live)
        .select((s::owner, s::visibility))
        .first::<(Option<String>, String)>(c)
        .await
        .optional();
    match row {
        Ok(None) => SnippetError::NotFound,
        Ok(Some((owner, vis))) => {
            if !access::can_read(caller, owner.as_deref(), Visibility::from(vis)) {
                SnippetError::NotFound
            } else if !access::can_modify(caller, owner.as_deref()) {
                SnippetError::Forbidden
            } else {
                SnippetError::PreconditionFailed
            }
        }
        Err(e) => e.into(),
    }
}

/// PUT: one statement. A checked owner's quota is checked inside it
/// ([`quota::resize`] as the owner column's value), where it took BEGIN,
/// the lock, two sums and COMMIT around the UPDATE.
pub async fn replace(
    pool: &DbPool,
    caller: &Caller,
    id: Uuid,
    input: &SnippetInput,
    pre: &Precondition,
    limits: Quota,
) -> Result<Snippet, SnippetError> {
    caller.require(Scope::SnippetsWrite)?;
    let mut c = conn(pool).await?;
    match update(&mut c, caller, id, input, &condition(pre), limits).await? {
        Some(s) => Ok(s),
        None => Err(miss(&mut c, caller, id).await),
    }
}

/// The UPDATE of a PUT or a merged PATCH, where `cond` holds and the caller
/// may modify the row; `None` when no row matched. For a checked owner the
/// owner column is set to itself through `owner_quota_resize(…)`, which
/// refuses growth past the bytes quota (mapped by [`quota::refused`]).
async fn update(
    c: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    input: &SnippetInput,
    cond: &Condition,
    limits: Quota,
) -> Result<Option<Snippet>, SnippetError> {
    // Open mode keeps every snippet public.
    let visibility = match caller {
        Caller::Open => Some(Visibility::Public),
        _ => input.visibility,
    };
    let checked = quota::owner_of(caller)
        .map(|o| s::owner.eq(quota::resize(o, quota::size(input), limits).nullable()));
    Prepared(
        diesel::update(
            s::snippets
                .filter(s::id.eq(id))
                .filter(Live)
                .filter(modifiable(caller))
                .filter(cond.clone()),
        )
        .set((
            s::title.eq(&input.title),
            s::language.eq(&input.language),
            s::code.eq(&input.code),
            s::description.eq(&input.description),
            s::tags.eq(&input.tags),
            // Absent in a PUT: unchanged (None sets nothing).
            visibility.map(|v| s::visibility.eq(v.as_str())),
            s::updated_at.eq(now),
            s::version.eq(s::version + 1),
            input.expiry.on_update().map(|t| s::expires_at.eq(t)),
            checked,
        ))
        .returning(Snippet::as_returning()),
    )
    .get_result(c)
    .await
    .optional()
    .map_err(|e| quota::refused(&e, limits).unwrap_or_else(|| e.into()))
}

/// An UPDATE that diesel keeps prepared, keyed by its SQL text like any
/// other statement without a static query id. diesel marks every UPDATE
/// unsafe to cache (diesel 2.3, `update_statement/mod.rs`: a changeset of
/// `Option`s varies its SQL), so each PUT was a Parse round trip, a parse
/// and a plan, and a Close. The SQL key keeps the variants apart, and
/// [`update`]'s are few: visibility set or not, expiry kept or set, owner
/// checked or not (at most 8 statements per connection).
/// docs/performance.md, "Morning, 2026-12-05 (2)".
#[derive(Debug, Clone)]
struct Prepared<Q>(Q);

wraps_a_query!(Prepared);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// Optimistic tries of a PATCH before it queues on the row's lock.
const PATCH_TRIES: usize = 3;

/// Merge-patch. Optimistic first: read the row, merge and validate, and
/// write it only if its version has not moved (`version = ANY($n)` in the
/// UPDATE): two statements and no transaction, where a locked transaction
/// took four (seven with a quota). A try that lost a race reads again;
/// after `PATCH_TRIES` tries the PATCH takes the row's lock (`FOR UPDATE`) and
/// queues behind the other writers, so every PATCH applies and none can
/// starve. With `If-Match`, one that lost a race sees the new version and
/// gets 412.
pub async fn patch(
    pool: &DbPool,
    caller: &Caller,
    id: Uuid,
    patch: &serde_json::Value,
    expiry: ExpiryChange,
    pre: &Precondition,
    limits: Quota,
) -> Result<Snippet, SnippetError> {
    caller.require(Scope::SnippetsWrite)?;
    let mut c = conn(pool).await?;
    for _ in 0..PATCH_TRIES {
        // Only a row the caller may modify is read.
        let Some(current) = modifiable_row(&mut c, caller, id, false).await? else {
            return Err(miss(&mut c, caller, id).await);
        };
        let merged = merge(&current, patch, expiry, pre)?;
        if unchanged(&current, &merged) {
            return Ok(current);
        }
        let at = at_version(current.version);
        if let Some(row) = update(&mut c, caller, id, &merged, &at, limits).await? {
            return Ok(row);
        }
    }
    // Owned copies: a closure holding references cannot be proven Send for
    // every lifetime diesel-async's `for<'r> AsyncFnOnce` asks about.
    let (pre, patch, who) = (pre.clone(), patch.clone(), caller.clone());
    let owner = quota::owner_of(caller).map(str::to_string);
    let outcome = c
        .transaction::<_, SnippetError, _>(async move |c| {
            // The quota lock before the snippet's row: every write locks in
            // this order (a checked UPDATE takes it before the row's), so
            // two of them cannot deadlock.
            if let Some(o) = &owner {
                quota::lock(c, o).await?;
            }
            let Some(current) = modifiable_row(c, &who, id, true).await? else {
                return Ok(None);
            };
            let merged = merge(&current, &patch, expiry, &pre)?;
            if unchanged(&current, &merged) {
                return Ok(Some(current));
            }
            let at = at_version(current.version);
            let row = update(c, &who, id, &merged, &at, limits)
                .await?
                .ok_or(SnippetError::NotFound)?;
            Ok(Some(row))
        })
        .await?;
    match outcome {
        Some(s) => Ok(s),
        None => Err(miss(&mut c, caller, id).await),
    }
}

/// The row if the caller may modify it, locked (`FOR UPDATE`) if asked.
async fn modifiable_row(
    c: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<Snippet>> {
    let q = s::snippets
        .filter(s::id.eq(id))
        .filter(Live)
        .filter(modifiable(caller))
        .select(Snippet::as_select());
    if lock {
        q.for_update().first(c).await.optional()
    } else {
        q.first(c).await.optional()
    }
}

/// The row after the patch, validated, if the precondition holds for it.
fn merge(
    current: &Snippet,
    patch: &serde_json::Value,
    expiry: ExpiryChange,
    pre: &Precondition,
) -> Result<SnippetInput, SnippetError> {
    if !pre.holds(current.version) {
        return Err(SnippetError::PreconditionFailed);
    }
    let mut merged = validate::patch(&SnippetInput::from(current), patch)?;
    merged.expiry = expiry;
    Ok(merged)
}

/// A patch that changes nothing (`{}`, or every field as it is) writes
/// nothing: no new version, no revision, no quota check. The answer is the
/// row as it is (issue 30, finding 12).
fn unchanged(current: &Snippet, merged: &SnippetInput) -> bool {
    *merged == SnippetInput::from(current)
}

pub async fn delete(
    pool: &DbPool,
    caller: &Caller,
    id: Uuid,
    pre: &Precondition,
) -> Result<(), SnippetError> {
    caller.require(Scope::SnippetsWrite)?;
    let mut c = conn(pool).await?;
    // No quota lock: a delete only shrinks usage, and the trigger counts
    // it in this connection's stripe without an owner-wide lock.
    let n = delete_row(&mut c, caller, id, pre).await?;
    if n == 1 {
        Ok(())
    } else {
        Err(miss(&mut c, caller, id).await)
    }
}

async fn delete_row(
    c: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    pre: &Precondition,
) -> Result<usize, SnippetError> {
    Ok(diesel::delete(
        s::snippets
            .filter(s::id.eq(id))
            .filter(Live)
            .filter(modifiable(caller))
            .filter(condition(pre)),
    )
    .execute(c)
    .await?)
}

/// Readiness: a round trip through the pool.
pub async fn ping(pool: &DbPool) -> Result<(), SnippetError> {
    let mut c = conn(pool).await?;
    diesel::select(sql::<Bool>("true"))
        .get_result::<bool>(&mut c)
        .await?;
    Ok(())
}

// SQL fragments that keep their query a cached prepared statement.
// `diesel::dsl::sql` marks any query containing it "unsafe to cache", so
// diesel-async would parse and plan it again on every request (one more
// round trip each); these render fixed SQL text around their binds, and
// diesel-async caches the query by that text (a bounded set: one per
// combination of filters).

/// `search @@ websearch_to_tsquery('simple', $n)`.
#[derive(Debug, Clone)]
struct Matches(String);

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
struct CustomPlan;

/// `(created_at + interval '0 s')`: the page order's first key as an
/// expression no index provides, so the plan is a sort of the matches.
#[derive(Debug, Clone, Copy)]
struct SortKey;

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
struct Unindexed(Option<String>, Vec<String>);

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
struct NotBefore(time::OffsetDateTime, Uuid);

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
