//! Owners and API tokens: the token format and its checksum (`token`),
//! scopes and the [`Caller`] the domain receives (`scope`), verification
//! with an in-memory cache (`cache`, [`Auth::verify_cached`], [`Auth::verify_stored`]), the queries
//! (`store`), what `serve` and the operator commands do (`cli`). No HTTP in here: the http
//! layer turns `Authorization` into a `Caller` and these errors into
//! 401/403.

pub mod cache;
pub mod cli;
pub mod lineage;
pub mod scope;
pub mod store;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use diesel::result::Error as DieselError;
use time::OffsetDateTime;
use uuid::Uuid;

pub use cache::Verified;
pub use scope::{Caller, Denied, Scope, Scopes};
pub use token::{Malformed, Secret, TokenHash};

use crate::db::DbPool;

#[derive(Clone, Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a token: wrong shape or checksum (no database work was done).
    #[error("{0}")]
    Malformed(Malformed),
    /// Unknown, expired or revoked.
    #[error("the token is unknown, expired or revoked")]
    InvalidToken,
    #[error("{0}")]
    Denied(Denied),
    /// Admin only (e.g. another owner's tokens, creating owners).
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// A request field that is wrong: its JSON pointer and why.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::db::CheckoutError> for AuthError {
    fn from(e: crate::db::CheckoutError) -> Self {
        AuthError::Unavailable(e.to_string())
    }
}

impl From<DieselError> for AuthError {
    /// The database layer's one classification (src/db/error.rs).
    fn from(e: DieselError) -> Self {
        use crate::db::error::Failure;
        match crate::db::error::classify(&e) {
            Failure::Unavailable(why) => AuthError::Unavailable(why),
            Failure::NotFound => AuthError::NotFound,
            Failure::OwnerGone => AuthError::Denied(Denied::OwnerGone),
            Failure::Other(why) => AuthError::Internal(format!("internal error: {why}")),
        }
    }
}

impl From<Denied> for AuthError {
    fn from(d: Denied) -> Self {
        AuthError::Denied(d)
    }
}

/// How long a verified token is trusted before it is checked again: a
/// revocation on another instance takes effect within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// Tokens kept in memory (each entry is ~100 bytes).
pub const CACHE_MAX: usize = 10_000;
/// `last_used_at` is written at most this often per token.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// How often the uses noted since are written, in one statement.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Uses are written only while a pooled connection is idle (never making
/// the pool open one, nor taking one a request waits for), unless the
/// oldest has waited this long.
const FLUSH_AT_LATEST: Duration = Duration::from_secs(30);

/// [`Auth::verify_cached`]'s answer.
pub enum Verification {
    /// Known without the database.
    Answered(Result<Caller, AuthError>),
    /// A well-formed token the cache does not know: [`Auth::verify_stored`].
    Lookup(TokenHash),
}

/// Token uses not yet written, and since when the oldest waits.
type Pending = Mutex<HashMap<Uuid, Instant>>;

/// Token verification for one process: the cache, and `last_used_at`
/// updates off the request path.
pub struct Auth {
    pool: DbPool,
    cache: Mutex<cache::Cache>,
    /// When each token's use was last noted by this process.
    touched: Mutex<HashMap<Uuid, Instant>>,
    /// Uses to write; the flusher task holds a `Weak` and ends with `Auth`.
    pending: Arc<Pending>,
    flusher: OnceLock<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these; the data stays sound.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Auth {
    pub fn new(pool: DbPool) -> Auth {
        Auth::with_cache(pool, CACHE_MAX, CACHE_TTL)
    }

    pub fn with_cache(pool: DbPool, max: usize, ttl: Duration) -> Auth {
        Auth {
            pool,
            cache: Mutex::new(cache::Cache::new(max, ttl)),
            touched: Mutex::default(),
            pending: Arc::default(),
            flusher: OnceLock::new(),
        }
    }

    /// What can be said of a bearer token without the database: malformed,
    /// or known to the cache (valid, or remembered as unknown for
    /// [`CACHE_TTL`]). The HTTP layer charges the client's address before
    /// it lets a [`Verification::Lookup`] reach the database.
    pub fn verify_cached(&self, bearer: &str) -> Verification {
        let hash = match token::parse(bearer) {
            Ok(hash) => hash,
            Err(e) => return Verification::Answered(Err(AuthError::Malformed(e))),
        };
        let now = Instant::now();
        let cached = lock(&self.cache).get(&hash, now);
        match cached {
            Some(found) => Verification::Answered(self.caller(found, now)),
            None => Verification::Lookup(hash),
        }
    }

    /// Looks a well-formed token up, and caches the answer (an unknown
    /// token too: the same forged token costs one query per TTL).
    pub async fn verify_stored(&self, hash: TokenHash) -> Result<Caller, AuthError> {
        let row = store::find_by_hash(&self.pool, &hash).await?;
        let found = row.filter(|r| r.revoked_at.is_none()).map(|r| Verified {
            token_id: r.id,
            owner: r.owner.into(),
            scopes: Scopes::from_names(&r.scopes),
            expires_at: r.expires_at,
        });
        let now = Instant::now();
        lock(&self.cache).insert(hash, found.clone(), now);
        self.caller(found, now)
    }

    fn caller(&self, found: Option<Verified>, now: Instant) -> Result<Caller, AuthError> {
        let v = found.ok_or(AuthError::InvalidToken)?;
        if v.expires_at.is_some_and(|t| t <= OffsetDateTime::now_utc()) {
            return Err(AuthError::InvalidToken);
        }
        self.touch(v.token_id, now);
        Ok(Caller::Owner {
            handle: v.owner,
            token_id: v.token_id,
            scopes: v.scopes,
            expires_at: v.expires_at,
        })
    }

    /// Notes a use for `last_used_at`, at most once a minute per token per
    /// process. A background task writes the noted uses in one statement,
    /// off the request path; a failure is logged, never the request's
    /// problem.
    fn touch(&self, id: Uuid, now: Instant) {
        {
            let mut t = lock(&self.touched);
            if t.get(&id)
                .is_some_and(|last| now.saturating_duration_since(*last) < TOUCH_EVERY)
            {
                return;
            }
            if t.len() >= CACHE_MAX {
                t.retain(|_, last| now.saturating_duration_since(*last) < TOUCH_EVERY);
            }
            t.insert(id, now);
        }
        lock(&self.pending).entry(id).or_insert(now);
        self.flusher.get_or_init(|| {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(flush(Arc::downgrade(&self.pending), self.pool.clone()));
            }
        });
    }

    /// An owner's tokens, newest first (the HTTP layer decides whose the
    /// caller may list).
    pub async fn list_tokens(&self, owner: &str) -> Result<Vec<store::TokenRow>, AuthError> {
        store::list_tokens(&self.pool, Some(owner)).await
    }

    /// A token created through the API by the token `parent`: it expires
    /// no later than `expires_at` (already capped at the parent's) and is
    /// revoked with its parent (lineage.rs).
    pub async fn create_token(
        &self,
        parent: Uuid,
        owner: &str,
        name: &str,
        scopes: Scopes,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(store::TokenRow, Secret), AuthError> {
        lineage::create_child(&self.pool, parent, owner, name, scopes, expires_at).await
    }

    /// A new owner; when it was created.
    pub async fn create_owner(&self, handle: &str) -> Result<OffsetDateTime, AuthError> {
        store::create_owner(&self.pool, handle).await
    }

    /// Forgets tokens in this process at once (after revoking them).
    pub fn evict(&self, token_ids: &[Uuid]) {
        lock(&self.cache).evict_tokens(token_ids);
    }

    /// Revokes a token and every token it created, transitively
    /// (`lineage::revoke`): the caller's own (`tokens:write`), or any
    /// (admin). Another owner's token is `NotFound`, as a missing one. All
    /// of them are refused at once here, within [`CACHE_TTL`] elsewhere.
    pub async fn revoke(&self, caller: &Caller, id: Uuid) -> Result<(), AuthError> {
        caller.require(Scope::TokensWrite)?;
        let owner = if caller.is_admin() {
            None
        } else {
            caller.handle()
        };
        let ids = lineage::revoke(&self.pool, id, owner).await?;
        self.evict(&ids);
        Ok(())
    }

    /// Deletes an owner with its snippets and tokens (admin only;
    /// `lineage::delete_owner`); its tokens, and those they created, are
    /// refused at once here and within [`CACHE_TTL`] elsewhere.
    pub async fn delete_owner(
        &self,
        caller: &Caller,
        handle: &str,
    ) -> Result<lineage::OwnerDeleted, AuthError> {
        caller.require(Scope::Admin)?;
        let gone = lineage::delete_owner(&self.pool, handle).await?;
        self.evict(&gone.tokens);
        lock(&self.cache).evict_owner(handle);
        Ok(gone)
    }
}

/// Writes the noted token uses every [`FLUSH_EVERY`] while a pooled
/// connection is idle (or the oldest has waited [`FLUSH_AT_LATEST`]); ends
/// when its `Auth` is gone.
async fn flush(pending: Weak<Pending>, pool: DbPool) {
    loop {
        tokio::time::sleep(FLUSH_EVERY).await;
        let Some(pending) = pending.upgrade() else {
            return;
        };
        let ids: Vec<Uuid> = {
            let mut p = lock(&pending);
            let overdue = p.values().any(|t| t.elapsed() >= FLUSH_AT_LATEST);
            if p.is_empty() || (pool.idle_connections() == 0 && !overdue) {
                continue;
            }
            p.drain().map(|(id, _)| id).collect()
        };
        drop(pending);
        if let Err(e) = store::touch(&pool, &ids).await {
            log::warn!("could not record the use of {} token(s): {e}", ids.len());
        }
    }
}

/// Shared with the HTTP layer.
pub type SharedAuth = Arc<Auth>;
