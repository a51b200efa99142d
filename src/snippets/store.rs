//! Queries. Every conditional write checks its precondition in the same
//! statement that writes (`WHERE id = $1 AND ($2 OR version = ANY($3))`),
//! so two writers holding the same ETag cannot both win. Every write and
//! list takes the [`Caller`] and filters by owner and visibility in SQL
//! (`access.rs` has the rules): a row the caller may not touch is a row the
//! statement does not match.

use diesel::dsl::{now, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::access;
use super::error::SnippetError;
use super::expiry::Live;
use super::model::ExpiryChange;
use super::model::{Precondition, Snippet, SnippetInput, Tags, Visibility};
use super::quota;
use super::validate;
use crate::auth::{Caller, Scope};
use crate::config::Quota;
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

pub(super) use super::list::list;
use super::rows::conn;
pub(super) use super::rows::{find, find_many};
use super::sql::*;
pub(super) use super::sql::{Before, LimitLiteral};

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
