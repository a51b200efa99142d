//! The domain's one error type. The HTTP layer is the only place that turns
//! these into status codes.

use diesel::result::Error as DieselError;
use serde::Serialize;

use crate::db::error::Failure;

/// One schema violation: where (RFC 6901 JSON pointer) and what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub pointer: String,
    pub detail: String,
}

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
    QuotaExceeded(QuotaExceeded),
    #[error("the snippet is invalid ({} violation(s))", .0.len())]
    Invalid(Vec<Violation>),
    /// The database cannot be reached or refused to work right now: a retry
    /// later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The client already runs its share of the searches: 429, retry
    /// when one has finished (searches.rs).
    #[error("{0}")]
    Busy(String),
    /// A search ran past `SEARCH_TIMEOUT_MS` (list.rs): 503, its own type.
    #[error("{0}")]
    SearchTimeout(String),
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

impl From<DieselError> for SnippetError {
    fn from(e: DieselError) -> Self {
        SnippetError::from(&e)
    }
}

impl From<&DieselError> for SnippetError {
    /// The database layer's one classification (src/db/error.rs).
    fn from(e: &DieselError) -> Self {
        match crate::db::error::classify(e) {
            Failure::Unavailable(why) => SnippetError::Unavailable(why),
            Failure::NotFound => SnippetError::NotFound,
            Failure::OwnerGone => SnippetError::Denied(crate::auth::Denied::OwnerGone),
            Failure::Other(why) => SnippetError::Internal(why),
        }
    }
}

impl From<crate::auth::Denied> for SnippetError {
    fn from(d: crate::auth::Denied) -> Self {
        SnippetError::Denied(d)
    }
}
