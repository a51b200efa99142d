//! Forks: a copy of a snippet the caller may read, owned by the caller,
//! remembering where it came from (`forkedFrom`).

use super::creates::Creates;
use super::error::SnippetError;
use super::model::{ForkedFrom, Snippet, SnippetInput};
use super::store;
use crate::auth::Caller;
use crate::config::Quota;

/// Copies `source` (obtained through `Lookups::get_for`, so readable by the
/// caller) into a new snippet of the caller's, as a create: `snippets:write`
/// and the caller's quota apply. The fork keeps the source's visibility: a
/// copy is never more visible than what it was copied from.
pub async fn fork(
    creates: &Creates,
    caller: &Caller,
    source: &Snippet,
    limits: Quota,
) -> Result<Snippet, SnippetError> {
    let from = ForkedFrom {
        id: source.id,
        version: source.version,
    };
    store::insert_from(
        creates,
        caller,
        SnippetInput::from(source),
        Some(from),
        limits,
    )
    .await
}
