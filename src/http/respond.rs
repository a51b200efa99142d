//! Responses the route handlers build: JSON with its size, a snippet with
//! its ETag (or, to a write-only caller, its receipt), empty answers.

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Response, StatusCode};
use serde::Serialize;
use uuid::Uuid;

use super::problem::Body;
use super::request;
use crate::auth::Caller;
use crate::snippets::Snippet;

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = status;
    resp
}

pub fn raw_json(bytes: Bytes) -> Response<Body> {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn no_store(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    // serde_json::to_vec's own starting capacity.
    json_sized(status, value, 128)
}

/// [`json`] into a buffer of about the size it needs: a page of 20
/// snippets of 1 KB grew by doubling from 128 bytes, 8 reallocations and
/// copies (docs/performance.md, "Id lookup SQL and timestamps rendered once").
pub fn json_sized<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    size: usize,
) -> Response<Body> {
    let mut bytes = Vec::with_capacity(size);
    serde_json::to_writer(&mut bytes, value).expect("our types serialize");
    let mut resp = raw_json(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp
}

pub fn etag_header(version: i64) -> HeaderValue {
    HeaderValue::from_str(&request::etag(version)).expect("digits and quotes")
}

/// A snippet with its ETag; clients must revalidate before reusing it.
pub fn snippet(status: StatusCode, s: &Snippet) -> Response<Body> {
    let mut resp = json(status, s);
    let h = resp.headers_mut();
    h.insert(ETAG, etag_header(s.version));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// What a write answers: the snippet with its ETag, or, to a caller
/// without `snippets:read`, only `{"id", "version"}` and the ETag
/// (access::sees_content; docs/api.md, "Write-only tokens").
pub fn written(status: StatusCode, caller: &Caller, s: &Snippet) -> Response<Body> {
    if crate::snippets::access::sees_content(caller) {
        return snippet(status, s);
    }
    #[derive(Serialize)]
    struct Receipt {
        id: Uuid,
        version: i64,
    }
    let mut resp = json(
        status,
        &Receipt {
            id: s.id,
            version: s.version,
        },
    );
    let h = resp.headers_mut();
    h.insert(ETAG, etag_header(s.version));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// 201 with the new snippet (or its receipt: [`written`]), its ETag and
/// `Location`.
pub fn created(caller: &Caller, s: &Snippet) -> Response<Body> {
    let mut resp = written(StatusCode::CREATED, caller, s);
    resp.headers_mut().insert(
        LOCATION,
        HeaderValue::from_str(&format!("/snippets/{}", s.id)).expect("uuid is ASCII"),
    );
    resp
}
