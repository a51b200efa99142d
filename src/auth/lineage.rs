//! Token lineage (docs/api.md, "Owners, tokens and visibility"): a token created through the API records its parent
//! (`tokens.parent_id`, migration 2026-12-06-000020), expires no later than
//! it, and revoking a token revokes its descendants. Deleting an owner
//! revokes every token its tokens created, then deletes the owner, its
//! tokens and its snippets.
//!
//! Races. A child is inserted only while its parent row is unrevoked, and
//! the insert holds `FOR SHARE` on that row until it commits; a revocation
//! re-walks the tree (each statement of a READ COMMITTED transaction sees
//! what committed before it) until a walk revokes nothing new. So a child
//! created concurrently with its parent's revocation is either refused
//! (the insert waited on the revoked row) or revoked by the next walk
//! (the revocation's UPDATE waited on the insert's lock). Tested in
//! tests/auth.rs, `no_child_survives_a_revocation_it_raced` (without
//! `FOR SHARE` it leaves 1 to 3 of the children it races valid).

use diesel::prelude::*;
use diesel::sql_types::{Array, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use time::OffsetDateTime;
use uuid::Uuid;

use super::scope::Scopes;
use super::store::TokenRow;
use super::token::{self, Secret};
use super::AuthError;
use crate::db::{DbConn, DbPool};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// A child's expiry: the one asked for if it is no later than the
/// parent's, the parent's when none is asked for (so a child of a token
/// that never expires may never expire either). `Err(parent's)`: asked for
/// a later one.
pub fn child_expiry(
    parent: Option<OffsetDateTime>,
    asked: Option<OffsetDateTime>,
) -> Result<Option<OffsetDateTime>, OffsetDateTime> {
    match (parent, asked) {
        (Some(p), Some(a)) if a > p => Err(p),
        (_, Some(a)) => Ok(Some(a)),
        (p, None) => Ok(p),
    }
}

/// Inserts a token created by the bearer of `parent`, only while `parent`
/// is unrevoked and unexpired (else `InvalidToken`: the caller's token died
/// since it was verified). `LEAST` (which skips NULLs) keeps the expiry no
/// later than the parent's whatever `expires_at` says; the caller checks
/// [`child_expiry`] first to answer 422 rather than shorten silently.
pub async fn create_child(
    pool: &DbPool,
    parent: Uuid,
    owner: &str,
    name: &str,
    scopes: Scopes,
    expires_at: Option<OffsetDateTime>,
) -> Result<(TokenRow, Secret), AuthError> {
    let secret = token::generate().map_err(|e| AuthError::Internal(format!("getrandom: {e}")))?;
    let mut c: DbConn<'_> = pool.get().await?;
    let row: Option<TokenRow> = diesel::sql_query(
        "INSERT INTO tokens (id, owner, name, scopes, sha256, expires_at, parent_id) \
         SELECT $1, $2, $3, $4, $5, LEAST($6, p.expires_at), p.id FROM tokens p \
          WHERE p.id = $7 AND p.revoked_at IS NULL \
            AND (p.expires_at IS NULL OR p.expires_at > now()) \
            FOR SHARE \
         RETURNING id, owner, name, scopes, created_at, expires_at, last_used_at, revoked_at",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(owner)
    .bind::<Text, _>(name)
    .bind::<Array<Text>, _>(scopes.names())
    .bind::<Bytea, _>(secret.hash().as_slice())
    .bind::<Nullable<Timestamptz>, _>(expires_at)
    .bind::<SqlUuid, _>(parent)
    .get_result(&mut c)
    .await
    .optional()
    .map_err(|e| super::store::unknown_owner(e, owner))?;
    Ok((row.ok_or(AuthError::InvalidToken)?, secret))
}

/// Revokes the tokens `roots` and every descendant not revoked yet, until
/// a walk finds none (see the module's "Races"); the ids it revoked.
///
/// Rows are locked in id order: ids are UUIDv7 (time-ordered), so a
/// token's descendants sort after it, and two revocations of an ancestor
/// and a descendant queue on the descendant instead of deadlocking over
/// its subtree (a deadlock would still be a 503 and a retry, never a
/// half-done revocation: the transaction rolls back).
async fn revoke_descendants(c: &mut DbConn<'_>, roots: &[Uuid]) -> Result<Vec<Uuid>, AuthError> {
    let mut revoked = Vec::new();
    loop {
        let ids: Vec<Id> = diesel::sql_query(
            "WITH RECURSIVE tree(id) AS ( \
                 SELECT unnest($1::uuid[]) \
               UNION \
                 SELECT t.id FROM tokens t JOIN tree ON t.parent_id = tree.id), \
             doomed AS ( \
                 SELECT id FROM tokens \
                  WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL \
                  ORDER BY id FOR UPDATE) \
             UPDATE tokens SET revoked_at = now() \
              WHERE id IN (SELECT id FROM doomed) \
             RETURNING id",
        )
        .bind::<Array<SqlUuid>, _>(roots)
        .load(c)
        .await?;
        if ids.is_empty() {
            return Ok(revoked);
        }
        revoked.extend(ids.into_iter().map(|r| r.id));
    }
}

/// Revokes a token (of `owner` only, when given) and its descendants, in
/// one transaction. Revoking twice is not an error; a token that is not
/// there (or not the owner's) is `NotFound`. Returns every id to forget:
/// the token and the descendants revoked now.
pub async fn revoke(pool: &DbPool, id: Uuid, owner: Option<&str>) -> Result<Vec<Uuid>, AuthError> {
    use crate::db::schema::tokens::dsl as t;
    let mut c: DbConn<'_> = pool.get().await?;
    let owner = owner.map(str::to_string);
    c.transaction::<_, AuthError, _>(async move |c| {
        // Locked: a concurrent revocation of the same token waits here.
        let q = t::tokens.select(t::id).filter(t::id.eq(id));
        let found: Option<Uuid> = match owner {
            Some(owner) => q.filter(t::owner.eq(owner)).for_update().first(c).await,
            None => q.for_update().first(c).await,
        }
        .optional()?;
        let root = found.ok_or(AuthError::NotFound)?;
        let mut ids = revoke_descendants(c, &[root]).await?;
        if !ids.contains(&root) {
            ids.push(root);
        }
        Ok(ids)
    })
    .await
}

/// What deleting an owner removed.
#[derive(Debug, Default)]
pub struct OwnerDeleted {
    /// The owner's tokens and every token they created (other owners'
    /// included): all to forget.
    pub tokens: Vec<Uuid>,
    pub snippets: usize,
}

/// Deletes an owner in one transaction: locks its row (a concurrent
/// insert that names it waits, then fails its foreign key: a 401, see
/// `Denied::OwnerGone`), revokes its tokens' descendants, deletes its
/// snippets (their revisions cascade) and the owner (its tokens and usage
/// rows cascade). `NotFound` when there is no such owner.
pub async fn delete_owner(pool: &DbPool, handle: &str) -> Result<OwnerDeleted, AuthError> {
    use crate::db::schema::{owners::dsl as o, snippets::dsl as s, tokens::dsl as t};
    let mut c: DbConn<'_> = pool.get().await?;
    let handle = handle.to_string();
    c.transaction::<_, AuthError, _>(async move |c| {
        let found: Option<String> = o::owners
            .select(o::handle)
            .filter(o::handle.eq(&handle))
            .for_update()
            .first(c)
            .await
            .optional()?;
        found.ok_or(AuthError::NotFound)?;
        let own: Vec<Uuid> = t::tokens
            .select(t::id)
            .filter(t::owner.eq(&handle))
            .load(c)
            .await?;
        let mut tokens = revoke_descendants(c, &own).await?;
        tokens.extend(own);
        tokens.sort_unstable();
        tokens.dedup();
        let snippets = diesel::delete(s::snippets.filter(s::owner.eq(&handle)))
            .execute(c)
            .await?;
        diesel::delete(o::owners.filter(o::handle.eq(&handle)))
            .execute(c)
            .await?;
        Ok(OwnerDeleted { tokens, snippets })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::child_expiry;
    use time::OffsetDateTime;

    #[test]
    fn a_child_expires_no_later_than_its_parent() {
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let (early, p, late) = (at(1_000), at(2_000), at(3_000));
        assert_eq!(child_expiry(None, None), Ok(None));
        assert_eq!(child_expiry(None, Some(late)), Ok(Some(late)));
        assert_eq!(child_expiry(Some(p), None), Ok(Some(p)));
        assert_eq!(child_expiry(Some(p), Some(early)), Ok(Some(early)));
        assert_eq!(child_expiry(Some(p), Some(p)), Ok(Some(p)));
        assert_eq!(child_expiry(Some(p), Some(late)), Err(p));
    }
}
