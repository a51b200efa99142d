//! The list query (`GET /snippets` and its filters): which rows a caller
//! may see, the plain page, the tag walk and the text search.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::error::SnippetError;
use super::expiry::Live;
use super::model::{ListQuery, OwnerFilter, Snippet, Visibility};
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
pub(super) const WALK_ROWS: i64 = 1000;

/// Up to this many matches of a text or tag search are read through the GIN index
/// and sorted; beyond it, walking the newest-first index finds a page fast.
pub(super) const SEARCH_SORT_LIMIT: i64 = 1000;

/// One page, newest first; `limit + 1` rows are read so the caller knows
/// whether there is a next page.
///
/// A tag search without text first walks the newest 1,000 rows past the
/// cursor in page order: a common tag fills its page there. Text searches do
/// not walk: matching 1,000 stored `tsvector`s cost PostgreSQL ~3.7 ms of CPU
/// per search, and `make bench`'s search of a rare word fell from 3,420 to
/// 422 req/s (docs/performance.md, "Search at a million rows"). Otherwise it picks
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
///
/// One function (101 lines): the four plans (plain page, rare-word
/// statement, bounded tag walk, sorted matches) share the scope, the
/// connection and the page size, and read best side by side.
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

/// The page and whether there is a next one (`limit + 1` rows were asked for).
pub(super) fn paged(mut rows: Vec<Snippet>, limit: u32) -> (Vec<Snippet>, bool) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    (rows, more)
}
