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
    #[error("the snippet has changed since the version given in If-Match")]
    PreconditionFailed,
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

impl From<crate::db::DbError> for SnippetError {
    /// Only a pool checkout reaches the domain as a DbError: unavailable.
    fn from(e: crate::db::DbError) -> Self {
        SnippetError::Unavailable(e.to_string())
    }
}

impl From<DieselError> for SnippetError {
    /// Constraint violations would be our own bugs (the schema validates
    /// first), so they are internal. Every other database error our fixed
    /// queries can meet at run time is a server-side condition: connection
    /// lost, shutdown, fail-over (read-only), statement timeout, out of
    /// resources, serialization failure. diesel does not expose the
    /// SQLSTATE, so those are all "unavailable": 503 and retry, never 500.
    fn from(e: DieselError) -> Self {
        let text = error_chain(&e);
        match &e {
            DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::RestrictViolation
                | DatabaseErrorKind::ExclusionViolation,
                _,
            ) => SnippetError::Internal(text),
            DieselError::DatabaseError(..) | DieselError::BrokenTransactionManager => {
                SnippetError::Unavailable(text)
            }
            DieselError::NotFound => SnippetError::NotFound,
            _ => SnippetError::Internal(text),
        }
    }
}
