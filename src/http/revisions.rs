//! `GET /snippets/{id}/revisions` and `GET /snippets/{id}/revisions/{version}`.

use hyper::header::{HeaderValue, CACHE_CONTROL, ETAG, LINK};
use hyper::{HeaderMap, Response, StatusCode};
use uuid::Uuid;

use super::problem::{ApiError, Body};
use super::request;
use super::respond::{empty, etag_header, json};
use super::App;
use crate::auth::Caller;
use crate::snippets::revisions::{Revision, RevisionCursor};
use crate::snippets::{Snippet, Visibility};

type Result<T> = std::result::Result<T, ApiError>;

/// A version never changes once written: shared caches may keep it for a
/// year only if it was written public and the snippet is public now;
/// anything else only the caller's own cache (issue 30, finding 11: a
/// version written private must never sit in CloudFront).
pub(super) fn immutable(current: &Snippet, written: Visibility) -> HeaderValue {
    let public = current.visibility == Visibility::Public && written == Visibility::Public;
    HeaderValue::from_static(if public {
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=31536000, immutable"
    })
}

/// 304 when `If-None-Match` lists `version`: its ETag and caching headers.
pub(super) fn not_modified(
    headers: &HeaderMap,
    version: i64,
    cache: HeaderValue,
) -> Result<Option<Response<Body>>> {
    if !request::if_none_match(headers, version)? {
        return Ok(None);
    }
    let mut resp = empty(StatusCode::NOT_MODIFIED);
    resp.headers_mut().insert(ETAG, etag_header(version));
    resp.headers_mut().insert(CACHE_CONTROL, cache);
    Ok(Some(resp))
}

pub(super) async fn list(
    app: &App,
    caller: &Caller,
    id: Uuid,
    query: Option<&str>,
) -> Result<Response<Body>> {
    let q = request::revision_query(query)?;
    let (_, rows, more) = app.snippets.history(caller, id, q).await?;
    let mut resp = json(StatusCode::OK, &rows);
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let (true, Some(last)) = (more, rows.last()) {
        let link = format!(
            "</snippets/{id}/revisions?limit={}&cursor={}>; rel=\"next\"",
            q.limit,
            RevisionCursor(last.version).encode()
        );
        h.insert(
            LINK,
            HeaderValue::from_str(&link).expect("uuid, digits, base64url"),
        );
    }
    Ok(resp)
}

/// The version asked for with its `Cache-Control`, or the 304 that
/// answers the request (the JSON and the raw view alike).
pub(super) async fn find(
    app: &App,
    caller: &Caller,
    id: Uuid,
    version: i64,
    headers: &HeaderMap,
) -> Result<std::result::Result<(Revision, HeaderValue), Response<Body>>> {
    let (current, rev, written) = app.snippets.version(caller, id, version).await?;
    let cache = immutable(&current, written);
    Ok(match not_modified(headers, version, cache.clone())? {
        Some(resp) => Err(resp),
        None => Ok((rev, cache)),
    })
}

pub(super) async fn get(
    app: &App,
    caller: &Caller,
    id: Uuid,
    version: i64,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    let (rev, cache) = match find(app, caller, id, version, headers).await? {
        Ok(found) => found,
        Err(not_modified) => return Ok(not_modified),
    };
    let mut resp = json(StatusCode::OK, &rev);
    let h = resp.headers_mut();
    h.insert(ETAG, etag_header(version));
    h.insert(CACHE_CONTROL, cache);
    Ok(resp)
}
