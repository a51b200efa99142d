//! Per-owner quotas: most snippets and most stored bytes (UTF-8 octets of
//! title + description + code, of the snippets and of every stored
//! revision of them: migrations/2026-12-06-000011_history_in_quota; tags
//! and metadata are small and bounded per row, so the snippet count bounds
//! them).
//!
//! The counts live in `owner_usage`, kept by statement-level triggers on
//! `snippets` so that every writer counts, an older release during a
//! rolling deploy included; each connection counts into its own stripe, so
//! the counting takes no owner-wide lock. A checked write takes the owner's
//! quota lock first, in the write's transaction: an import through
//! [`lock`], a create inside its INSERT (`owner_quota_admit_after`,
//! creates.rs), a PUT or PATCH inside its UPDATE ([`resize`]). Checked
//! writes of one owner queue there, each sees the counts its predecessors
//! committed, and two creates at the limit cannot both pass. Admin tokens
//! are exempt (docs/api.md, "Quotas").

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::error::{QuotaExceeded, SnippetError, Usage};
use super::model::SnippetInput;
use crate::auth::Caller;
use crate::config::Quota;

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

/// Advisory-lock class of the quota lock (`pg_advisory_xact_lock(int, int)`;
/// the migration lock uses the one-argument form, another key space).
pub(super) const QUOTA_LOCK_CLASS: i32 = 0x5155_4f54; // "QUOT"

/// The owner's usage, with the owner's quota lock held until the
/// transaction ends: checked writes of one owner queue here, and each sees
/// the counts its predecessors committed. The trigger's own counting takes
/// no owner-wide lock (migration 2026-11-30-000002: stripes), so unchecked
/// writers (admins, the previous release) never wait on it.
///
/// Two statements: in READ COMMITTED the sum's snapshot is taken when it
/// starts, after the lock was granted; one statement would read a snapshot
/// taken before it waited.
pub async fn lock(c: &mut AsyncPgConnection, owner: &str) -> Result<Usage, SnippetError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind::<Integer, _>(QUOTA_LOCK_CLASS)
        .bind::<Text, _>(owner)
        .execute(c)
        .await?;
    read(c, owner).await
}

#[derive(QueryableByName)]
struct Summed {
    #[diesel(sql_type = BigInt)]
    snippets: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// The owner's usage as this transaction sees it (after its own writes):
/// the sum of its stripes.
pub fn read<'a>(
    c: &'a mut AsyncPgConnection,
    owner: &'a str,
) -> impl std::future::Future<Output = Result<Usage, SnippetError>> + Send + 'a {
    let q = diesel::sql_query(
        "SELECT coalesce(sum(snippets), 0)::bigint AS snippets, \
                coalesce(sum(bytes), 0)::bigint AS bytes \
           FROM owner_usage WHERE owner = $1",
    )
    .bind::<Text, _>(owner)
    .get_result::<Summed>(c);
    async move {
        let s = q.await?;
        Ok(Usage {
            snippets: s.snippets,
            bytes: s.bytes,
        })
    }
}

diesel::define_sql_function! {
    /// Migrations 2026-12-05-000001 and 2026-12-06-000011: `who` if an
    /// update from `old_bytes` to `new_bytes` keeps the owner within the
    /// bytes limit, counting the old row as the revision it becomes (so
    /// the owner grows by `new_bytes`, unless REVISIONS_KEPT is 0); a
    /// growing one takes the owner's quota lock first. Else the same error
    /// as `owner_quota_admit_after` (creates.rs).
    fn owner_quota_resize(lock_class: Integer, who: Text, new_bytes: BigInt, old_bytes: BigInt, max_bytes: BigInt) -> Text;
}

diesel::define_sql_function! {
    /// Migration 2026-11-30-000001: what a row counts against the bytes
    /// quota, as [`size`].
    fn snippet_bytes(title: Text, description: Nullable<Text>, code: Text) -> BigInt;
}

/// The row's old bytes as SQL, read in the UPDATE from the row it replaces.
pub type OldBytes = snippet_bytes<
    crate::db::schema::snippets::title,
    crate::db::schema::snippets::description,
    crate::db::schema::snippets::code,
>;

/// The owner column's value for a checked update (PUT, PATCH): the quota
/// check runs inside the update's own statement, against the row it
/// replaces.
pub fn resize(
    owner: &str,
    new_size: i64,
    limits: Quota,
) -> owner_quota_resize<i32, &str, i64, OldBytes, i64> {
    use crate::db::schema::snippets::dsl as s;
    owner_quota_resize(
        QUOTA_LOCK_CLASS,
        owner,
        new_size,
        snippet_bytes(s::title, s::description, s::code),
        limits.max_bytes,
    )
}

/// The error the quota functions raise (`owner_quota_admit_after`,
/// [`owner_quota_resize()`]), as `QuotaExceeded` with the usage it saw
/// under the lock (its DETAIL, "snippets bytes"); `None` for any other.
pub fn refused(e: &diesel::result::Error, limits: Quota) -> Option<SnippetError> {
    let diesel::result::Error::DatabaseError(_, info) = e else {
        return None;
    };
    if info.message() != "snippetd: quota exceeded" {
        return None;
    }
    let mut it = info.details()?.split(' ').map(str::parse::<i64>);
    let (Some(Ok(snippets)), Some(Ok(bytes))) = (it.next(), it.next()) else {
        return None;
    };
    Some(SnippetError::QuotaExceeded(QuotaExceeded {
        usage: Usage { snippets, bytes },
        limits: limits.into(),
    }))
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
