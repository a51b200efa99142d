//! The routes that need no identity and no rate limit: `/health`,
//! `/ready`, `/openapi.json`.

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, ETAG};
use hyper::{Response, StatusCode};

use super::problem::{ApiError, Body};
use super::request;
use super::respond::{empty, etag_header, json, no_store, raw_json};
use super::App;

type Result<T> = std::result::Result<T, ApiError>;

/// `GET /health`: the process is up (no dependency is checked: `/ready`).
/// Never stored: a cache's heuristic freshness would answer for a process
/// that is gone.
pub fn health() -> Response<Body> {
    no_store(raw_json(Bytes::from_static(br#"{"status":"ok"}"#)))
}

/// `GET /openapi.json`, revalidated by its ETag (RFC 9110 §8.8.3).
pub fn openapi(app: &App, headers: &HeaderMap) -> Result<Response<Body>> {
    let mut resp = if request::if_none_match(headers, app.openapi_tag)? {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        raw_json(app.openapi.clone())
    };
    let h = resp.headers_mut();
    h.insert(ETAG, etag_header(app.openapi_tag));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

pub async fn ready(app: &App) -> Result<Response<Body>> {
    app.snippets.ping().await?;
    Ok(no_store(json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready"}),
    )))
}
