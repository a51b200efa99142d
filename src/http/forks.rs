//! `POST /snippets/{id}/forks`.

use hyper::Response;
use uuid::Uuid;

use super::handlers::created;
use super::problem::{ApiError, Body};
use super::App;
use crate::auth::Caller;
use crate::snippets::forks;

/// 201 with the fork; the source must be readable by the caller (another
/// owner's private snippet is a 404, as on GET). No body is read.
pub(super) async fn create(
    app: &App,
    caller: &Caller,
    id: Uuid,
) -> Result<Response<Body>, ApiError> {
    let source = app.lookups.get_for(caller, id).await?;
    let mut s = forks::fork(&app.creates, caller, &source, app.cfg.limits.quota).await?;
    // Named only if the caller may be shown the source (docs/api.md).
    forks::show_sources(&app.pool, caller, std::slice::from_mut(&mut s)).await?;
    Ok(created(caller, &s))
}
