//! Per-owner quotas: most snippets and most stored bytes (UTF-8 octets of
//! title + description + code; tags and metadata are small and bounded per
//! row, so the snippet count bounds them).
//!
//! The counts live in `owner_usage`, kept by a trigger on `snippets` so
//! that every writer counts, an older release during a rolling deploy
//! included. A write locks the owner's row first ([`lock`]), in the
//! write's transaction: concurrent writes of one owner queue there, each
//! sees the counts its predecessors committed, and two creates at the
//! limit cannot both pass. Admin tokens are exempt (docs/api.md, "Quotas").

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::error::SnippetError;
use super::model::SnippetInput;
use crate::auth::Caller;
use crate::config::Quota;
use crate::db::schema::owner_usage::dsl as u;

/// Snippets and bytes: an owner's usage, or the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub snippets: i64,
    pub bytes: i64,
}

/// A write that would take the owner past a quota; `usage` is where the
/// owner stands without it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "this would exceed the owner's quota: {} of {} snippets and {} of {} bytes are in use",
    usage.snippets, limits.snippets, usage.bytes, limits.bytes
)]
pub struct QuotaExceeded {
    pub usage: Usage,
    pub limits: Usage,
}

impl From<Quota> for Usage {
    fn from(q: Quota) -> Usage {
        Usage {
            snippets: q.max_snippets,
            bytes: q.max_bytes,
        }
    }
}

/// What a snippet counts against the bytes quota (as `snippet_bytes()` in
/// SQL: octets, not characters).
pub fn size(input: &SnippetInput) -> i64 {
    let n = input.title.len() + input.code.len() + input.description.as_deref().map_or(0, str::len);
    n as i64
}

/// The owner whose quota a write by `caller` is checked against: a
/// non-admin owner. Open mode has no owners; admins are exempt.
pub fn owner_of(caller: &Caller) -> Option<&str> {
    match caller {
        Caller::Owner { .. } if !caller.is_admin() => caller.handle(),
        _ => None,
    }
}

/// The owner's usage, its row locked until the transaction ends (created
/// at zero if the owner has none yet).
pub async fn lock(c: &mut AsyncPgConnection, owner: &str) -> Result<Usage, SnippetError> {
    let (snippets, bytes) = diesel::insert_into(u::owner_usage)
        .values(u::owner.eq(owner))
        .on_conflict(u::owner)
        .do_update()
        .set(u::owner.eq(diesel::upsert::excluded(u::owner)))
        .returning((u::snippets, u::bytes))
        .get_result::<(i64, i64)>(c)
        .await?;
    Ok(Usage { snippets, bytes })
}

/// The owner's usage as this transaction sees it (after its own writes).
pub async fn read(c: &mut AsyncPgConnection, owner: &str) -> Result<Usage, SnippetError> {
    let (snippets, bytes) = u::owner_usage
        .find(owner)
        .select((u::snippets, u::bytes))
        .first::<(i64, i64)>(c)
        .await?;
    Ok(Usage { snippets, bytes })
}

/// Would `before` grow into `after` past a limit? Growing is refused; a
/// write that shrinks or keeps usage passes even above a (lowered) limit.
pub fn check(before: Usage, after: Usage, limits: Quota) -> Result<(), SnippetError> {
    let over = (after.snippets > before.snippets && after.snippets > limits.max_snippets)
        || (after.bytes > before.bytes && after.bytes > limits.max_bytes);
    if over {
        Err(SnippetError::QuotaExceeded(QuotaExceeded {
            usage: before,
            limits: limits.into(),
        }))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_growth_past_a_limit_is_refused() {
        let q = Quota {
            max_snippets: 2,
            max_bytes: 100,
        };
        let u = |snippets, bytes| Usage { snippets, bytes };
        assert!(check(u(1, 10), u(2, 100), q).is_ok());
        assert!(check(u(2, 10), u(3, 20), q).is_err());
        assert!(check(u(1, 90), u(2, 101), q).is_err());
        // Above a lowered limit, shrinking and deleting still work.
        assert!(check(u(5, 500), u(5, 400), q).is_ok());
        assert!(check(u(5, 500), u(4, 450), q).is_ok());
    }
}
