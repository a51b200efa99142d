//! Export and import: a caller's snippets as NDJSON, one snippet's JSON (as
//! `GET /snippets/{id}` shows it) per line, and back.
//!
//! Export reads keyset pages ([`export_page`]) so the HTTP layer can stream
//! them with one page in memory at a time. Import inserts batches, one
//! transaction each ([`import_batch`]): a batch is in the database whole or
//! not at all, and when its multi-row INSERT meets a constraint (an id that
//! exists, an owner that does not) its rows are tried again one by one so
//! that only the bad row fails.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::SnippetError;
use super::expiry::Live;
use super::model::{Cursor, Snippet};
use super::revisions::Revision;
use super::store::Before;
use crate::auth::{Caller, Scope};
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

/// Snippets per export page (one query, one connection check-out, then
/// the connection is back in the pool while the client reads).
pub const EXPORT_PAGE: i64 = 500;
/// Lines per import transaction.
pub const IMPORT_BATCH: usize = 500;

/// Whose snippets the caller exports: its own (`snippets:read`); in open
/// mode, the unowned ones (every snippet written in open mode).
pub(super) fn exporter(caller: &Caller) -> Result<Option<String>, SnippetError> {
    caller.require(Scope::SnippetsRead)?;
    Ok(caller.handle().map(str::to_string))
}

/// One page of an export: its NDJSON lines and where the next page starts.
pub struct ExportPage {
    pub ndjson: Vec<u8>,
    pub next: Option<Cursor>,
}

/// A line of an export: the snippet as the API shows it, and with
/// `?revisions=true` its history.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    snippet: &'a Snippet,
    #[serde(skip_serializing_if = "Option::is_none")]
    revisions: Option<Vec<Value>>,
}

/// The page of `owner`'s live snippets after `after`, newest first (the
/// `(owner, created_at, id)` index serves it).
pub(super) async fn export_page(
    pool: &DbPool,
    owner: Option<&str>,
    after: Option<Cursor>,
    with_revisions: bool,
) -> Result<ExportPage, SnippetError> {
    let mut c = pool.get().await?;
    let mut q = s::snippets
        .filter(Live)
        .select(Snippet::as_select())
        .into_boxed();
    q = match owner {
        Some(o) => q.filter(s::owner.eq(o.to_string())),
        None => q.filter(s::owner.is_null()),
    };
    if let Some(a) = after {
        q = q.filter(Before(a.created_at, a.id));
    }
    let mut rows: Vec<Snippet> = q
        .order((s::created_at.desc(), s::id.desc()))
        .limit(EXPORT_PAGE)
        .load(&mut c)
        .await?;
    // `forkedFrom.id` as GET shows it to the exporting owner (issue 30,
    // finding 13): one batched query per page, only if it holds forks.
    super::forks::hide_sources(&mut c, &mut rows, |o, v| {
        super::access::shows_source_to(owner, o, v)
    })
    .await?;
    let mut history = if with_revisions {
        revisions_of(&mut c, &rows, pool.revisions_kept()).await?
    } else {
        HashMap::new()
    };
    let mut ndjson = Vec::with_capacity(rows.len() * 512);
    for snippet in &rows {
        let line = Line {
            snippet,
            revisions: with_revisions.then(|| history.remove(&snippet.id).unwrap_or_default()),
        };
        serde_json::to_writer(&mut ndjson, &line)
            .map_err(|e| SnippetError::Internal(format!("cannot serialize a snippet: {e}")))?;
        ndjson.push(b'\n');
    }
    let next = (rows.len() as i64 == EXPORT_PAGE)
        .then(|| rows.last().map(Cursor::after))
        .flatten();
    Ok(ExportPage { ndjson, next })
}

/// The history of each snippet of a page, oldest first, for
/// `?revisions=true`: the earlier versions kept in `snippet_revisions`
/// (src/snippets/revisions.rs), one `WHERE snippet_id = ANY($1)` query per
/// page. Each entry is a `Revision` as `GET …/revisions/{version}` shows it.
/// Only the versions `REVISIONS_KEPT` shows: a few older ones may still be
/// stored until the next batch prune (src/snippets/revisions.rs).
async fn revisions_of(
    c: &mut AsyncPgConnection,
    rows: &[Snippet],
    kept: i64,
) -> Result<HashMap<Uuid, Vec<Value>>, SnippetError> {
    use crate::db::schema::snippet_revisions::dsl as r;
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let stored: Vec<(Uuid, Revision)> = r::snippet_revisions
        .filter(r::snippet_id.eq_any(&ids))
        .order((r::snippet_id, r::version.asc()))
        .select((r::snippet_id, Revision::as_select()))
        .load(c)
        .await?;
    let oldest: HashMap<Uuid, i64> = rows
        .iter()
        .map(|s| (s.id, super::revisions::oldest_kept(s, kept)))
        .collect();
    let mut history: HashMap<Uuid, Vec<Value>> = HashMap::new();
    for (id, rev) in stored {
        if oldest.get(&id).is_some_and(|&o| rev.version < o) {
            continue;
        }
        let v = serde_json::to_value(&rev)
            .map_err(|e| SnippetError::Internal(format!("cannot serialize a revision: {e}")))?;
        history.entry(id).or_default().push(v);
    }
    Ok(history)
}

pub use super::import_check::{check_line, LineError, NewRow, Outcome, MAX_IMPORTED_VERSION};
pub(super) use super::import_write::import_batch;
#[cfg(test)]
mod tests;
