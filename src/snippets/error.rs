//! The domain's one error type. The HTTP layer is the only place that turns
//! these into status codes.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::logging::error_chain;

/// One schema violation: where (RFC 6901 JSON pointer) and what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub pointer: String,
    pub detail: String,
}

/// Clone: one failed coalesced lookup answers every request in its batch.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SnippetError {
    #[error("snippet not found")]
    NotFound,
    /// No token, or a token without the scope this needs.
    #[error("{0}")]
    Denied(crate::auth::Denied),
    /// Another owner's snippet (that the caller may see): 403.
    #[error("only the snippet's owner or an admin may modify it")]
    Forbidden,
    #[error("the snippet has changed since the version given in If-Match")]
    PreconditionFailed,
    /// The owner's quota (snippets or bytes) would be exceeded: 403.
    #[error("{0}")]
    QuotaExceeded(super::quota::QuotaExceeded),
    #[error("the snippet is invalid ({} violation(s))", .0.len())]
    Invalid(Vec<Violation>),
    /// The database cannot be reached or refused to work right now: a retry
    /// later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug: logged whole, shown to clients only with EXPOSE_ERRORS=1.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::db::CheckoutError> for SnippetError {
    /// No connection could be had in time: 503, retry later.
    fn from(e: crate::db::CheckoutError) -> Self {
        SnippetError::Unavailable(e.to_string())
    }
}

/// PostgreSQL errors that mean "could not get or keep a connection, or the
/// server would not do the work right now": a retry later may succeed.
/// diesel-async keeps no SQLSTATE for these (src/pg/error_helper.rs maps
/// every code but the constraint ones to `Unknown`), so they are told apart
/// by the server's message, which PostgreSQL writes in English unless
/// `lc_messages` is changed (it is not on RDS or in our clusters).
const TRANSIENT: &[&str] = &[
    "canceling statement due to statement timeout", // 57014
    "canceling statement due to lock timeout",      // 55P03
    "terminating connection due to administrator command", // 57P01
    "terminating connection due to unexpected postmaster exit",
    "terminating connection because of crash of another server process", // 57P02
    "the database system is", // 57P03: starting up, shutting down, in recovery
    "sorry, too many clients already", // 53300
    "remaining connection slots are reserved",
    "could not serialize access", // 40001
    "deadlock detected",          // 40P01
];

/// The foreign keys a write meets when the caller's owner row was deleted
/// after its token was cached (src/auth/cache.rs trusts a token for 10 s):
/// the snippet's owner (migration 2026-11-29-000001) and its usage row
/// (2026-11-30-000001). Issue 30, finding 8: a 401, not a 500.
const OWNER_FOREIGN_KEYS: &[&str] = &["snippets_owner_fkey", "owner_usage_owner_fkey"];

impl From<DieselError> for SnippetError {
    fn from(e: DieselError) -> Self {
        SnippetError::from(&e)
    }
}

impl From<&DieselError> for SnippetError {
    /// Only "could not get or keep a connection" (lost connection, server
    /// shutting down or in recovery, statement or lock timeout, read-only
    /// after a fail-over, serialization failure) is Unavailable: 503 and a
    /// retry. Everything else a fixed query can meet is our bug or a broken
    /// schema (a missing column after a bad deploy): Internal, 500, logged
    /// whole, never presented as transient.
    fn from(e: &DieselError) -> Self {
        use DatabaseErrorKind as K;
        let text = error_chain(e);
        match e {
            DieselError::DatabaseError(
                K::ClosedConnection
                | K::UnableToSendCommand
                | K::ReadOnlyTransaction
                | K::SerializationFailure,
                _,
            )
            | DieselError::BrokenTransactionManager => SnippetError::Unavailable(text),
            DieselError::DatabaseError(_, info)
                if TRANSIENT.iter().any(|t| info.message().starts_with(t)) =>
            {
                SnippetError::Unavailable(text)
            }
            DieselError::DatabaseError(K::ForeignKeyViolation, info)
                if info
                    .constraint_name()
                    .is_some_and(|c| OWNER_FOREIGN_KEYS.contains(&c)) =>
            {
                SnippetError::Denied(crate::auth::Denied::OwnerGone)
            }
            DieselError::NotFound => SnippetError::NotFound,
            _ => SnippetError::Internal(text),
        }
    }
}

impl From<crate::auth::Denied> for SnippetError {
    fn from(d: crate::auth::Denied) -> Self {
        SnippetError::Denied(d)
    }
}
