//! The list query (`GET /snippets` and its filters): which rows a caller
//! may see, the plain page, the tag walk and the text search.

use std::time::Duration;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::error::SnippetError;
use super::expiry::Live;
use super::model::{ListQuery, OwnerFilter, Snippet};
use super::rows::conn;
use super::sql::*;
use super::words::Words;
use crate::auth::{Caller, Scope};
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

/// Which rows a list may show the caller, as SQL filters.
pub(super) struct ListScope {
    /// `owner = $1`.
    owner: Option<String>,
    /// `visibility = 'public'`.
    public_only: bool,
}

/// `GET /snippets` shows public snippets; `owner=HANDLE` that owner's
/// public ones (all of them to the owner with `snippets:read`, and to
/// admins); `owner=me` all of the caller's own (needs `snippets:read`).
pub(super) fn list_scope(
    caller: &Caller,
    owner: Option<&OwnerFilter>,
) -> Result<ListScope, SnippetError> {
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
    // A search's few matches, sorted: the same filters in a statement
    // whose ORDER BY on an expression keeps its plan from walking a btree
    // in page order (the GIN index, then a sort). Text alone: one cached
    // statement with one plan.
    (rare: $query:expr, $q:expr, $scope:expr) => {{
        let q: &ListQuery = $q;
        let bare = ListQuery {
            q: None,
            ..q.clone()
        };
        let mut query = filtered!($query, &bare, $scope);
        if let Some(text) = &q.q {
            query = filtered!(text: query, text, $scope);
        }
        query.order((SortKey.desc(), s::id.desc()))
    }};
    // The text filter: public rows through their own index's expression.
    (text: $query:expr, $text:expr, $scope:expr) => {{
        let scope: &ListScope = $scope;
        match scope.public_only {
            true => $query.filter(PublicMatches($text.clone())),
            false => $query.filter(Matches($text.clone())),
        }
    }};
    ($query:expr, $q:expr, $scope:expr) => {{
        let q: &ListQuery = $q;
        let scope: &ListScope = $scope;
        let mut query = $query.filter(Live);
        if let Some(o) = &scope.owner {
            query = query.filter(s::owner.eq(o.clone()));
        }
        if scope.public_only {
            query = query.filter(PublicOnly);
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
            query = filtered!(text: query, text, scope);
        }
        if q.q.is_some() || !q.tags.is_empty() {
            query = query.filter(CustomPlan);
        }
        query
    }};
}

/// Rows a tag search first walks in page order, looking for a page: a tag
/// in 1 row of 50 fills a page there.
pub(super) const WALK_ROWS: i64 = 1000;

/// Rows a text search whose words the statistics call common first walks
/// in page order: a page of a word in [`SEARCH_SORT_LIMIT`] public rows out
/// of a million (1 in 170) is there on average.
const WALK_TEXT_ROWS: i64 = 4000;

/// Up to this many matches of a search are read through a GIN index and
/// sorted; beyond it, walking the newest-first index finds a page fast.
/// Sorting n matches reads n rows, walking for a page reads 21 x rows / n:
/// at 850,000 public rows the two meet near 4,200.
pub(super) const SEARCH_SORT_LIMIT: i64 = 5000;

/// One page, newest first; `limit + 1` rows are read so the caller knows
/// whether there is a next one. A plain page (or `language` alone) is a
/// walk of a btree in page order. A search (`tag` or `q`) runs in a
/// transaction whose statements stop after `timeout` (`SEARCH_TIMEOUT_MS`):
/// a search that would take longer gets 503 `search-timeout`.
pub async fn list(
    pool: &DbPool,
    words: &Words,
    caller: &Caller,
    q: &ListQuery,
    timeout: Option<Duration>,
) -> Result<(Vec<Snippet>, bool), SnippetError> {
    let scope = list_scope(caller, q.owner.as_ref())?;
    let page = i64::from(q.limit) + 1;
    let mut c = conn(pool).await?;
    let Some(timeout) = timeout.filter(|_| q.q.is_some() || !q.tags.is_empty()) else {
        let query = filtered!(
            s::snippets.select(Snippet::as_select()).into_boxed(),
            q,
            &scope
        )
        .order((s::created_at.desc(), s::id.desc()));
        return Ok(paged(
            LimitLiteral::around(query, page).load(&mut c).await?,
            q.limit,
        ));
    };
    let set = format!("SET LOCAL statement_timeout = {}", timeout.as_millis());
    let found = c
        .transaction::<_, DieselError, _>(async move |c| {
            diesel::sql_query(set).execute(c).await?;
            search(c, words, &scope, q, page).await
        })
        .await;
    found.map_err(|e| stopped(e, timeout))
}

/// A search's statement that ran out of time is the search's timeout, not
/// a database failure.
fn stopped(e: DieselError, timeout: Duration) -> SnippetError {
    if !crate::db::error::timed_out(&e) {
        return SnippetError::from(e);
    }
    metrics::counter!(crate::metrics::SEARCH_TIMEOUTS).increment(1);
    log::warn!(target: "snippetd::search", "a search was stopped after {timeout:?} (SEARCH_TIMEOUT_MS)");
    SnippetError::SearchTimeout(format!(
        "the search took longer than {} ms; narrow it (more words, a language, a tag or an owner)",
        timeout.as_millis()
    ))
}

/// A search's page, by the cheapest plan that is bounded (issue 31):
///
/// 1. Words whose statistics (of public rows, words.rs) bound their
///    matches below [`SEARCH_SORT_LIMIT`]: the matches through the GIN
///    index, sorted, in one cached statement.
/// 2. A tag, or words the statistics expect in so many rows that two
///    pages of them are within the newest [`WALK_TEXT_ROWS`]: those rows
///    past the cursor (fewer, the denser the words), or the newest
///    [`WALK_ROWS`] for a tag, in page order; a full page there is the
///    answer. (Words expected sparser, e.g. two that each are common but
///    rarely meet, are probed first: a walk would not find their page.)
/// 3. Otherwise, or when that walk found no page: the positions
///    (created_at, id) of up to [`SEARCH_SORT_LIMIT`] matches through the
///    GIN index. Fewer: they are all there is, sorted here, and the page
///    is fetched by primary key (the filters checked again: a row may have
///    changed since). As many: matches are dense enough that walking the
///    newest-first index finds a page fast.
///
/// The planner alone walked the newest-first index for a rare or absent
/// word, hoping to meet a page early, and read the whole table (2 s at a
/// million rows). A search of public rows reads only the partial indexes
/// of public rows ([`PublicOnly`], [`PublicMatches`]), and every choice
/// here depends on public rows alone.
async fn search(
    c: &mut AsyncPgConnection,
    words: &Words,
    scope: &ListScope,
    q: &ListQuery,
    page: i64,
) -> QueryResult<(Vec<Snippet>, bool)> {
    let estimate = match &q.q {
        Some(text) => words.estimate(c, text).await,
        None => None,
    };
    let walk = match (&q.q, estimate) {
        // A first page. Past a cursor, the probe below (the cursor as a
        // range in a generic plan let the planner walk a btree from it).
        (Some(_), Some(e)) if e.at_most < SEARCH_SORT_LIMIT as f64 && q.cursor.is_none() => {
            return sorted(c, scope, q, page).await;
        }
        (Some(_), Some(e)) if e.at_most < SEARCH_SORT_LIMIT as f64 => None,
        // Two pages' worth of rows at the expected density.
        (Some(_), Some(e)) => Some(
            (2.0 * page as f64 * e.rows / e.expected.max(1.0))
                .clamp(WALK_ROWS as f64 / 5.0, WALK_TEXT_ROWS as f64) as i64,
        )
        .filter(|rows| *rows < WALK_TEXT_ROWS),
        (Some(_), None) => None,
        (None, _) => Some(WALK_ROWS),
    };
    if let Some(rows) = walk {
        if let Some(found) = walk_newest(c, scope, q, page, rows).await? {
            return Ok(found);
        }
    }
    // Without the cursor, so that the only plan is the GIN index: the
    // cursor as a range would let the planner walk a btree from it.
    let probe = filtered!(
        s::snippets.select((s::created_at, s::id)).into_boxed(),
        &ListQuery {
            cursor: None,
            ..q.clone()
        },
        scope
    )
    .limit(SEARCH_SORT_LIMIT);
    let mut matches: Vec<(time::OffsetDateTime, Uuid)> = probe.load(c).await?;
    if (matches.len() as i64) < SEARCH_SORT_LIMIT {
        if let Some(cur) = &q.cursor {
            matches.retain(|m| *m < (cur.created_at, cur.id));
        }
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let more = matches.len() > q.limit as usize;
        matches.truncate(page as usize);
        if matches.is_empty() {
            return Ok((Vec::new(), false));
        }
        let ids: Vec<Uuid> = matches.iter().map(|m| m.1).collect();
        // By primary key, the filters checked again as expressions no
        // index serves (a row may have changed since the probe).
        let (bare, filters) = unindexed(q);
        let query = filtered!(
            s::snippets.select(Snippet::as_select()).into_boxed(),
            &bare,
            scope
        )
        .filter(s::id.eq_any(ids))
        .filter(filters)
        .order((s::created_at.desc(), s::id.desc()));
        // A match that changed since the first query is left out, and the
        // next page is still offered.
        let (rows, _) = paged(query.load(c).await?, q.limit);
        return Ok((rows, more));
    }
    let query = filtered!(
        s::snippets.select(Snippet::as_select()).into_boxed(),
        q,
        scope
    )
    .order((s::created_at.desc(), s::id.desc()))
    .limit(page);
    Ok(paged(query.load(c).await?, q.limit))
}

/// The page from a search's matches read through a GIN index and sorted:
/// an ORDER BY on an expression keeps the plan from walking a btree in page
/// order. A text search without other filters is one cached statement.
async fn sorted(
    c: &mut AsyncPgConnection,
    scope: &ListScope,
    q: &ListQuery,
    page: i64,
) -> QueryResult<(Vec<Snippet>, bool)> {
    let query = filtered!(
        rare: s::snippets.select(Snippet::as_select()).into_boxed(),
        q,
        scope
    )
    .limit(page);
    Ok(paged(query.load(c).await?, q.limit))
}

/// `q` split in two: its scope, cursor and page (no filter), and its
/// filters as expressions no index serves.
fn unindexed(q: &ListQuery) -> (ListQuery, Unindexed) {
    let filters = Unindexed(q.language.clone(), q.tags.clone(), q.q.clone());
    let bare = ListQuery {
        language: None,
        tags: Vec::new(),
        q: None,
        ..q.clone()
    };
    (bare, filters)
}

/// The newest `rows` rows past the cursor, in page order, searched with
/// the filters as expressions no index serves ([`Walk`]: one range of a
/// newest-first index, read lazily; given a GIN index, the planner would
/// intersect it with the range, and a walk that finds no page would pay
/// for the GIN search twice). `None`: no full page there.
async fn walk_newest(
    c: &mut AsyncPgConnection,
    scope: &ListScope,
    q: &ListQuery,
    page: i64,
    rows: i64,
) -> QueryResult<Option<(Vec<Snippet>, bool)>> {
    let (bare, filters) = unindexed(q);
    let newest = filtered!(s::snippets.select(AllColumns).into_boxed(), &bare, scope)
        .order((s::created_at.desc(), s::id.desc()))
        .limit(rows);
    let walk = Walk {
        select: Snippet::as_select(),
        rows: newest,
        filter: filters,
        page,
    };
    let found = walk.load(c).await?;
    // A full page. Fewer: the matches are sparse, or the list ends within
    // the walk; the probe that follows tells, and costs little when the
    // list is that short.
    Ok((found.len() as i64 == page).then(|| paged(found, q.limit)))
}

/// The page and whether there is a next one (`limit + 1` rows were asked for).
pub(super) fn paged(mut rows: Vec<Snippet>, limit: u32) -> (Vec<Snippet>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}
