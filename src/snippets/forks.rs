//! Forks: which readers may be shown a fork's source ([`hide_sources`]);
//! the copy itself is a create (src/snippets/service.rs, `fork`).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::access;
use super::error::SnippetError;
use super::expiry::Live;
use super::model::{Snippet, Visibility};
use crate::auth::Caller;
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

/// `rows` as `caller` may see them: [`hide_sources`] with
/// `access::shows_source`. No connection is taken when no row is a fork.
pub async fn show_sources(
    pool: &DbPool,
    caller: &Caller,
    rows: &mut [Snippet],
) -> Result<(), SnippetError> {
    if rows.iter().all(|r| r.forked_from_id.is_none()) {
        return Ok(());
    }
    let mut c = pool.get().await?;
    hide_sources(&mut c, rows, |o, v| access::shows_source(caller, o, v)).await
}

/// Clears `forkedFrom.id` (the version stays) of every fork in `rows`
/// whose source `shown(owner, visibility)` refuses, or that no longer
/// exists (deleted, expired): issue 30, finding 13, docs/api.md
/// (`forkedFrom`). One batched query for a whole page, only when the page
/// holds a fork: `SELECT id, owner, visibility FROM snippets WHERE id =
/// ANY($1)` (no N+1).
pub async fn hide_sources(
    c: &mut AsyncPgConnection,
    rows: &mut [Snippet],
    shown: impl Fn(Option<&str>, Visibility) -> bool,
) -> Result<(), SnippetError> {
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r.forked_from_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let sources: HashMap<Uuid, (Option<String>, String)> = s::snippets
        .filter(s::id.eq_any(&ids))
        .filter(Live)
        .select((s::id, s::owner, s::visibility))
        .load::<(Uuid, Option<String>, String)>(c)
        .await?
        .into_iter()
        .map(|(id, owner, vis)| (id, (owner, vis)))
        .collect();
    for row in rows.iter_mut() {
        let Some(source) = row.forked_from_id else {
            continue;
        };
        let named = sources
            .get(&source)
            .is_some_and(|(o, v)| shown(o.as_deref(), Visibility::from(v.clone())));
        if !named {
            row.forked_from_id = None;
        }
    }
    Ok(())
}
