//! Reading requests: ids, content types, bodies, query strings, ETags.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::problem::ApiError;
use crate::snippets::Precondition;

/// The client's `X-Request-Id` when it is sane (1–128 visible ASCII
/// characters), a fresh UUID otherwise.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Media types a body may come in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Json {
    Plain,
    MergePatch,
}

/// Checks `Content-Type` against the accepted JSON media types; a charset
/// other than UTF-8 is refused as well.
pub fn content_type(headers: &HeaderMap, accept: &[Json]) -> Result<Json, ApiError> {
    let names = accept
        .iter()
        .map(|j| match j {
            Json::Plain => "application/json",
            Json::MergePatch => "application/merge-patch+json",
        })
        .collect::<Vec<_>>()
        .join(" or ");
    let refuse = || ApiError::UnsupportedMediaType(format!("Content-Type must be {names}"));
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for param in parts {
        if let Some((k, v)) = param.split_once('=') {
            if k.trim().eq_ignore_ascii_case("charset")
                && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            {
                return Err(refuse());
            }
        }
    }
    let kind = match essence.as_str() {
        "application/json" => Json::Plain,
        "application/merge-patch+json" => Json::MergePatch,
        _ => return Err(refuse()),
    };
    if accept.contains(&kind) {
        Ok(kind)
    } else {
        Err(refuse())
    }
}

/// Reads the whole body, at most `limit` bytes (413 beyond, before reading
/// anything when `Content-Length` already says so) within `timeout` (408).
pub async fn body(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(ApiError::PayloadTooLarge(limit));
        }
    }
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| ApiError::RequestTimeout(timeout))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::PayloadTooLarge(limit))
        }
        Err(e) => Err(ApiError::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// Parses a body as JSON: 400 for bytes that are not UTF-8 or not JSON.
pub fn json(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the request body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        // serde_json's message names line and column, never the input.
        ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))
    })
}

/// Decodes `a=1&b=2` (with `+` as space), in order, repeated keys kept.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    ApiError::BadRequest("a query parameter is not valid UTF-8 once decoded".into())
                })
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// The strong ETag of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Entity tags listed in `If-Match` / `If-None-Match`. `None` for `*`.
/// Weak tags (`W/"…"`) never match strongly, so they are dropped; tags that
/// are not ours can never match either.
fn listed_versions(raw: &str) -> Option<Vec<i64>> {
    if raw.trim() == "*" {
        return None;
    }
    Some(
        raw.split(',')
            .map(str::trim)
            .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse().ok())
            .collect(),
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::BadRequest(format!(
            "send one {name} header (list tags with commas)"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::BadRequest(format!("{name} is not visible ASCII")))
}

/// `If-Match` as a precondition for a write.
pub fn if_match(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    Ok(match header_str(headers, "if-match")? {
        None => Precondition::None,
        Some(raw) => match listed_versions(raw) {
            None => Precondition::Exists,
            Some(v) => Precondition::Versions(v),
        },
    })
}

/// Does `If-None-Match` match this version (→ 304)?
pub fn if_none_match(headers: &HeaderMap, version: i64) -> Result<bool, ApiError> {
    Ok(match header_str(headers, "if-none-match")? {
        None => false,
        Some(raw) => match raw.trim() {
            "*" => true,
            // Weak comparison for If-None-Match (RFC 9110 13.1.2).
            _ => raw
                .split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag(version)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        assert_eq!(
            request_id(&headers(&[("x-request-id", "abc-123")])),
            "abc-123"
        );
        let long = "a".repeat(129);
        assert_ne!(request_id(&headers(&[("x-request-id", &long)])), long);
        assert_ne!(request_id(&headers(&[("x-request-id", "a b")])), "a b");
    }

    #[test]
    fn content_types() {
        let j = [Json::Plain];
        assert!(content_type(&headers(&[("content-type", "application/json")]), &j).is_ok());
        assert!(content_type(
            &headers(&[("content-type", "Application/JSON; charset=UTF-8")]),
            &j
        )
        .is_ok());
        assert!(content_type(
            &headers(&[("content-type", "application/json; charset=latin1")]),
            &j
        )
        .is_err());
        assert!(content_type(&headers(&[("content-type", "text/plain")]), &j).is_err());
        assert!(content_type(&headers(&[]), &j).is_err());
        assert!(content_type(
            &headers(&[("content-type", "application/merge-patch+json")]),
            &j
        )
        .is_err());
    }

    #[test]
    fn preconditions() {
        assert_eq!(if_match(&headers(&[])).unwrap(), Precondition::None);
        assert_eq!(
            if_match(&headers(&[("if-match", "*")])).unwrap(),
            Precondition::Exists
        );
        assert_eq!(
            if_match(&headers(&[("if-match", "\"3\", W/\"4\", \"x\"")])).unwrap(),
            Precondition::Versions(vec![3])
        );
        assert!(if_none_match(&headers(&[("if-none-match", "W/\"3\"")]), 3).unwrap());
        assert!(!if_none_match(&headers(&[("if-none-match", "\"2\"")]), 3).unwrap());
    }

    #[test]
    fn query_decoding() {
        let p = query_pairs(Some("q=a+b%20c&tag=x&tag=y&empty")).unwrap();
        assert_eq!(p[0], ("q".into(), "a b c".into()));
        assert_eq!(p.len(), 4);
        assert!(query_pairs(Some("q=%FF")).is_err());
    }
}
