//! The snippet domain: model, validation and queries. No HTTP in here.
//! [`Snippets`] (service.rs) is its one face; the modules that read and
//! write rows (store, lookups, creates, forks) are private to it, so a
//! query that skips the visibility check cannot be called from outside.

pub mod access;
mod creates;
pub mod error;
pub mod expiry;
mod forks;
mod import_check;
mod import_write;
mod list;
mod lookups;
pub mod model;
pub mod quota;
pub mod revisions;
mod rows;
mod searches;
pub mod service;
mod sql;
mod store;
pub mod transfer;
pub mod validate;
mod words;

pub use error::{QuotaExceeded, SnippetError, Usage, Violation};
pub use model::{
    Cursor, ForkedFrom, ListQuery, OwnerFilter, Precondition, Snippet, SnippetInput, Tags,
    Visibility,
};
pub use service::{Exporter, Rules, Snippets};
