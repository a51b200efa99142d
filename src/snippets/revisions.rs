//! A snippet's versions, newest first: the current one (the `snippets`
//! row) and the earlier ones a trigger on `snippets` writes in the
//! statement of every update (migrations/2026-12-01-000001_revisions_forks),
//! pruned to `REVISIONS_KEPT`. DELETE of the snippet cascades to them.
//!
//! Every function takes the current [`Snippet`] as the caller obtained it
//! through `Lookups::get_for`: holding it is the proof that the caller may
//! read the snippet, so no revision is reachable without that check. Each
//! earlier version also carries the visibility it was written with, and
//! only the versions `access::can_read_version` allows the caller are
//! read at all (filtered in SQL on history pages).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use super::access;
use super::error::SnippetError;
use super::model::{Snippet, Visibility};
use crate::auth::Caller;
use crate::db::schema::snippet_revisions;
use crate::db::schema::snippet_revisions::dsl as r;
use crate::db::DbPool;
use crate::util::timestamp::iso_millis;

/// One version of a snippet, as it was when that version was written.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable)]
#[diesel(table_name = snippet_revisions, check_for_backend(diesel::pg::Pg))]
pub struct Revision {
    pub version: i64,
    pub title: String,
    pub language: String,
    pub code: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub updated_at: OffsetDateTime,
}

impl From<&Snippet> for Revision {
    fn from(s: &Snippet) -> Self {
        Revision {
            version: s.version,
            title: s.title.clone(),
            language: s.language.clone(),
            code: s.code.clone(),
            description: s.description.clone(),
            tags: s.tags.clone(),
            updated_at: s.updated_at,
        }
    }
}

impl Serialize for Revision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Revision", 7)?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("title", &self.title)?;
        st.serialize_field("language", &self.language)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("tags", &self.tags)?;
        st.serialize_field("updatedAt", &iso_millis(self.updated_at))?;
        st.end()
    }
}

/// A position in the newest-first order: the last version of a page.
/// Opaque to clients: base64url of the version (8 bytes, big-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevisionCursor(pub i64);

impl RevisionCursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_be_bytes())
    }

    pub fn decode(s: &str) -> Option<RevisionCursor> {
        let raw: [u8; 8] = URL_SAFE_NO_PAD.decode(s).ok()?.try_into().ok()?;
        let v = i64::from_be_bytes(raw);
        // Versions start at 1; anything else is not a cursor we issue.
        (v >= 1).then_some(RevisionCursor(v))
    }
}

/// `GET /snippets/{id}/revisions` parameters, already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevisionQuery {
    pub limit: u32,
    pub cursor: Option<RevisionCursor>,
}

/// One page, newest first, the current version included; `true` when
/// there is a next page. One round trip (the current version is at hand).
pub(super) async fn page(
    pool: &DbPool,
    caller: &Caller,
    current: &Snippet,
    q: RevisionQuery,
) -> Result<(Vec<Revision>, bool), SnippetError> {
    let limit = q.limit as usize;
    // Versions below this one are on the page.
    let below = q
        .cursor
        .map_or(current.version + 1, |c| c.0.min(current.version + 1));
    let mut rows = Vec::with_capacity(limit + 1);
    if current.version < below {
        rows.push(Revision::from(current));
    }
    // Older than the current version only: a write between the lookup and
    // this query adds a row for `current.version`, which is already here.
    let mut c = pool.get().await?;
    // The LIMIT written into the SQL, rounded up (extra rows are cut
    // below): bound, PostgreSQL planned every page (store::LimitLiteral).
    let older: Vec<Revision> = super::store::LimitLiteral::around(
        r::snippet_revisions
            .filter(r::snippet_id.eq(current.id))
            .filter(r::version.lt(below.min(current.version)))
            .filter(r::visibility.eq_any(readable(caller, current)))
            .order(r::version.desc())
            .select(Revision::as_select()),
        (limit + 1 - rows.len()) as i64,
    )
    .load(&mut c)
    .await?;
    // The floor is applied here, not in SQL: a third bound made the
    // generic plan look dearer, and PostgreSQL planned every page again
    // (history_pages_are_planned_once_not_per_page, tests/revisions.rs).
    // Newest first, so what is cut is the page's tail and nothing follows.
    let floor = oldest_kept(current, pool.revisions_kept());
    rows.extend(older.into_iter().take_while(|r| r.version >= floor));
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// The oldest version `REVISIONS_KEPT` (`kept`) lets a client see of
/// `current`'s history. The database prunes in batches of 16
/// (migrations/2026-12-05-000003_batched_revision_pruning), so a few older
/// rows may still be stored: every read (here, and export in transfer.rs)
/// cuts at this version.
pub(super) fn oldest_kept(current: &Snippet, kept: i64) -> i64 {
    current.version.saturating_sub(kept)
}

/// The visibilities of the earlier versions `caller` may read.
fn readable(caller: &Caller, current: &Snippet) -> Vec<&'static str> {
    access::readable_versions(caller, current.owner.as_deref(), current.visibility)
}

/// One version and the visibility it was written with: the current one,
/// or a kept earlier one the caller may read; `NotFound` for a version
/// never written, already pruned, or not the caller's to read (the same
/// answer: no oracle for what a private version was).
pub(super) async fn get(
    pool: &DbPool,
    caller: &Caller,
    current: &Snippet,
    version: i64,
) -> Result<(Revision, Visibility), SnippetError> {
    if version == current.version {
        return Ok((Revision::from(current), current.visibility));
    }
    if version > current.version || version < oldest_kept(current, pool.revisions_kept()) {
        return Err(SnippetError::NotFound);
    }
    let mut c = pool.get().await?;
    let (rev, written): (Revision, String) = r::snippet_revisions
        .find((current.id, version))
        .select((Revision::as_select(), r::visibility))
        .first(&mut c)
        .await
        .optional()?
        .ok_or(SnippetError::NotFound)?;
    let written = Visibility::from(written);
    let (owner, now) = (current.owner.as_deref(), current.visibility);
    if access::can_read_version(caller, owner, now, written) {
        Ok((rev, written))
    } else {
        Err(SnippetError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_we_never_issue() {
        for v in [1, 2, 1000, i64::MAX] {
            let c = RevisionCursor(v);
            assert_eq!(RevisionCursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(RevisionCursor::decode(&RevisionCursor(0).encode()), None);
        assert_eq!(RevisionCursor::decode(&RevisionCursor(-5).encode()), None);
        assert_eq!(RevisionCursor::decode("AAAAAAAAAAE="), None);
        assert_eq!(RevisionCursor::decode(""), None);
        assert_eq!(RevisionCursor::decode("AAAAAAAAAAAB"), None);
    }
}
