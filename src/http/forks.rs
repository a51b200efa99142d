//! `POST /snippets/{id}/forks`.

use hyper::Response;
use uuid::Uuid;

use super::problem::{ApiError, Body};
use super::respond::created;
use super::App;
use crate::auth::Caller;

/// 201 with the fork; the source must be readable by the caller (another
/// owner's private snippet is a 404, as on GET). No body is read.
pub(super) async fn create(
    app: &App,
    caller: &Caller,
    id: Uuid,
) -> Result<Response<Body>, ApiError> {
    // Its source named only if the caller may be shown it (docs/api.md).
    let s = app.snippets.fork(caller, id).await?;
    Ok(created(caller, &s))
}
