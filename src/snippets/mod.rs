//! The snippet domain: model, validation and queries. No HTTP in here.

pub mod access;
pub mod creates;
pub mod error;
pub mod expiry;
pub mod forks;
pub mod lookups;
pub mod model;
pub mod quota;
pub mod revisions;
pub mod searches;
pub mod store;
pub mod transfer;
pub mod validate;
pub mod words;

pub use error::{SnippetError, Violation};
pub use model::{
    Cursor, ForkedFrom, ListQuery, OwnerFilter, Precondition, Snippet, SnippetInput, Tags,
    Visibility,
};
