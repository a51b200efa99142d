//! What a failed statement means, decided once for every layer above
//! (the snippets' and the tokens' errors both map [`Failure`]).

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::logging::error_chain;

/// PostgreSQL errors that mean "could not get or keep a connection, or the
/// server would not do the work right now": a retry later may succeed.
/// diesel-async keeps no SQLSTATE for these (src/pg/error_helper.rs maps
/// every code but the constraint ones to `Unknown`), so they are told apart
/// by the server's message, which PostgreSQL writes in English unless
/// `lc_messages` is changed (it is not on RDS or in our clusters).
const TRANSIENT: &[&str] = &[
    STATEMENT_TIMEOUT,                                     // 57014
    "canceling statement due to lock timeout",             // 55P03
    "terminating connection due to administrator command", // 57P01
    "terminating connection due to unexpected postmaster exit",
    "terminating connection because of crash of another server process", // 57P02
    "the database system is", // 57P03: starting up, shutting down, in recovery
    "sorry, too many clients already", // 53300
    "remaining connection slots are reserved",
    "could not serialize access", // 40001
    "deadlock detected",          // 40P01
];

/// PostgreSQL's message when `statement_timeout` stopped a statement.
const STATEMENT_TIMEOUT: &str = "canceling statement due to statement timeout";

/// Whether `statement_timeout` stopped the statement (one of the
/// [`TRANSIENT`] failures, which a caller that set its own timeout may
/// want to tell apart: a search's, src/snippets/list.rs).
pub fn timed_out(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(_, info) if info.message().starts_with(STATEMENT_TIMEOUT))
}

/// The foreign keys a write meets when the caller's owner row was deleted
/// after its token was cached (src/auth/cache.rs trusts a token for 10 s):
/// the snippet's owner (migration 2026-11-29-000001) and its usage row
/// (2026-11-30-000001). Issue 30, finding 8: a 401, not a 500.
const OWNER_FOREIGN_KEYS: &[&str] = &["snippets_owner_fkey", "owner_usage_owner_fkey"];

/// What a failed statement means to the layers above, which map it into
/// their own error types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Transient: 503 and a retry.
    Unavailable(String),
    NotFound,
    /// A write met the foreign key of an owner that was deleted after its
    /// token was cached: the caller's credentials are gone (401).
    OwnerGone,
    /// Anything else: a bug or a broken schema (500, logged whole).
    Other(String),
}

/// Only "could not get or keep a connection" (lost connection, server
/// shutting down or in recovery, statement or lock timeout, read-only
/// after a fail-over, serialization failure) is Unavailable: 503 and a
/// retry. Everything else a fixed query can meet is our bug or a broken
/// schema (a missing column after a bad deploy): Internal, 500, logged
/// whole, never presented as transient.
pub fn classify(e: &DieselError) -> Failure {
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
        | DieselError::BrokenTransactionManager => Failure::Unavailable(text),
        DieselError::DatabaseError(_, info)
            if TRANSIENT.iter().any(|t| info.message().starts_with(t)) =>
        {
            Failure::Unavailable(text)
        }
        DieselError::DatabaseError(K::ForeignKeyViolation, info)
            if info
                .constraint_name()
                .is_some_and(|c| OWNER_FOREIGN_KEYS.contains(&c)) =>
        {
            Failure::OwnerGone
        }
        DieselError::NotFound => Failure::NotFound,
        _ => Failure::Other(text),
    }
}
