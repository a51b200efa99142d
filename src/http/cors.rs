//! CORS from `CORS_ALLOWED_ORIGINS`. A disallowed origin gets no CORS
//! headers at all, so the browser blocks the response.

use hyper::header::{HeaderMap, HeaderValue, ORIGIN, VARY};
use hyper::Method;

use crate::config::CorsOrigins;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "Content-Type, If-Match, If-None-Match, X-Request-Id";
const EXPOSE_HEADERS: &str = "ETag, Location, Link, Retry-After, X-Request-Id";

/// The origin to echo, when the request has one that is allowed.
pub fn allowed_origin(cfg: &CorsOrigins, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    match cfg {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(HeaderValue::from_static("*")),
        CorsOrigins::List(list) => {
            let o = origin.to_str().ok()?;
            list.iter()
                .any(|a| a.eq_ignore_ascii_case(o))
                .then(|| origin.clone())
        }
    }
}

pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key("access-control-request-method")
}

/// Adds the CORS headers of an allowed origin to a response.
pub fn decorate(headers: &mut HeaderMap, origin: Option<HeaderValue>, preflight: bool) {
    // Responses differ by Origin whenever a list is configured.
    headers.append(VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = origin else { return };
    headers.insert("access-control-allow-origin", origin);
    if preflight {
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            "access-control-allow-headers",
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert("access-control-max-age", HeaderValue::from_static("600"));
    } else {
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}
