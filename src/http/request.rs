//! Reading requests: ids, content types, bodies, query strings, ETags.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::Value;

use super::body::{HandlerBody, Req};
use super::problem::ApiError;
use crate::config::HttpConfig;
use crate::snippets::model::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::snippets::revisions::{RevisionCursor, RevisionQuery};
use crate::snippets::{validate, Cursor, ListQuery, OwnerFilter, Precondition, Tags};

/// Media types a body may come in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Json {
    Plain,
    MergePatch,
    /// `application/x-ndjson`: one JSON value per line (import).
    Ndjson,
}

/// Checks `Content-Type` against the accepted JSON media types; a charset
/// other than UTF-8 is refused as well.
pub fn content_type(headers: &HeaderMap, accept: &[Json]) -> Result<Json, ApiError> {
    let names = accept
        .iter()
        .map(|j| match j {
            Json::Plain => "application/json",
            Json::MergePatch => "application/merge-patch+json",
            Json::Ndjson => "application/x-ndjson",
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
        "application/x-ndjson" => Json::Ndjson,
        _ => return Err(refuse()),
    };
    if accept.contains(&kind) {
        Ok(kind)
    } else {
        Err(refuse())
    }
}

/// Reads the whole body within `timeout` (408). `RequestBodyLimitLayer`
/// already refused a `Content-Length` over the limit and caps the stream
/// at it (413).
pub async fn body(
    body: HandlerBody,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    let collected = tokio::time::timeout(timeout, body.collect())
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

/// A JSON body of one of the `accept`ed media types, read within
/// `MAX_BODY_BYTES` and `BODY_READ_TIMEOUT_SECONDS`.
pub async fn json_body(cfg: &HttpConfig, req: Req, accept: &[Json]) -> Result<Value, ApiError> {
    content_type(req.headers(), accept)?;
    let bytes = body(req.into_body(), cfg.max_body_bytes, cfg.body_read_timeout).await?;
    json(&bytes)
}

/// Parses a body as JSON: 400 for bytes that are not UTF-8 or not JSON.
pub fn json(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "the request body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let v: UniqueKeys = serde_json::from_str(text).map_err(|e| {
        // serde_json's message names line and column, never the input.
        ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))
    })?;
    Ok(v.0)
}

/// A JSON value whose objects have unique member names. serde_json keeps
/// the last of duplicates; a proxy or WAF may read the first, and see
/// another request than we do (RFC 8259 4: names SHOULD be unique), so a
/// duplicate is a 400.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(UniqueKeys)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let UniqueKeys(v) = map.next_value()?;
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate member name {:?}",
                    k.chars().take(40).collect::<String>()
                )));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// `GET /snippets` parameters as they arrive: serde_html_form decodes
/// them (`+` and percent escapes, repeated `tag=`), refuses unknown names
/// and a second `limit`/`cursor`/`language`/`q`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    language: Option<String>,
    #[serde(default)]
    tag: Vec<String>,
    q: Option<String>,
    owner: Option<String>,
}

/// A query string decoded into `T` (which refuses unknown names); `names`
/// lists the known ones for the 400's detail.
fn form<T: serde::de::DeserializeOwned>(query: Option<&str>, names: &str) -> Result<T, ApiError> {
    let bad = |msg: String| ApiError::BadRequest(msg);
    // serde_html_form decodes invalid UTF-8 lossily (U+FFFD): refuse it.
    if percent_encoding::percent_decode_str(query.unwrap_or(""))
        .decode_utf8()
        .is_err()
    {
        return Err(bad(
            "a query parameter is not valid UTF-8 once decoded".into()
        ));
    }
    serde_html_form::from_str(query.unwrap_or("")).map_err(|e| {
        let text = e.to_string();
        bad(format!(
            "{}: use {names}, each once",
            text.chars().take(120).collect::<String>()
        ))
    })
}

/// `limit=`: 1 to 100, 20 when absent (lists and revisions alike).
fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ))
            }),
    }
}

/// `GET /snippets/{id}/revisions` parameters as they arrive.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRevisionQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// Parses and checks the revision list's `limit` and `cursor`.
pub fn revision_query(query: Option<&str>) -> Result<RevisionQuery, ApiError> {
    let raw: RawRevisionQuery = form(query, "limit, cursor")?;
    let cursor = match raw.cursor {
        None => None,
        Some(c) => Some(RevisionCursor::decode(&c).ok_or_else(|| {
            ApiError::BadRequest(
                "cursor is not one this server issued (take it from the Link header)".into(),
            )
        })?),
    };
    Ok(RevisionQuery {
        limit: page_limit(raw.limit.as_deref())?,
        cursor,
    })
}

/// Parses and checks the list parameters; the rules for `language` and
/// `tag` are the snippet schema's own (validate::list_filters).
pub fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let bad = |msg: String| ApiError::BadRequest(msg);
    let raw: RawListQuery = form(query, "limit, cursor, language, tag (repeatable), q, owner")?;
    let limit = page_limit(raw.limit.as_deref())?;
    let cursor = match raw.cursor {
        None => None,
        Some(c) => Some(Cursor::decode(&c).ok_or_else(|| {
            bad("cursor is not one this server issued (take it from the Link header)".into())
        })?),
    };
    let mut tags = raw.tag;
    tags.sort();
    tags.dedup();
    if let Some(text) = &raw.q {
        validate::search_text(text).map_err(bad)?;
    }
    validate::list_filters(raw.language.as_deref(), &tags).map_err(|v| {
        bad(v
            .iter()
            .map(|v| format!("{} {}", v.pointer.trim_start_matches('/'), v.detail))
            .collect::<Vec<_>>()
            .join("; "))
    })?;
    let owner = match raw.owner.as_deref() {
        None => None,
        Some("me") => Some(OwnerFilter::Me),
        Some(h) if crate::auth::store::valid_handle(h) => Some(OwnerFilter::Handle(h.into())),
        Some(_) => {
            return Err(bad(
                "owner must be me or an owner's handle (lower-case letters, digits and '-')".into(),
            ))
        }
    };
    Ok(ListQuery {
        limit,
        cursor,
        language: raw.language,
        tags,
        q: raw.q,
        owner,
    })
}

/// The strong ETag of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Entity tags listed in `If-Match` / `If-None-Match`. Tags that are not
/// ours can never match, so they are dropped. `If-Match` compares strongly
/// (a weak tag never matches), `If-None-Match` weakly (RFC 9110 13.1.1-2).
fn listed(raw: &str, weak: bool) -> Tags {
    if raw.trim() == "*" {
        return Tags::Any;
    }
    Tags::Versions(
        raw.split(',')
            .map(str::trim)
            .map(|t| if weak { t.trim_start_matches("W/") } else { t })
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

/// `If-Match` and `If-None-Match` as the precondition of a write: a write
/// whose `If-None-Match` matches the current version (or is `*` and the
/// snippet exists) fails with 412, as RFC 9110 13.1.2 requires.
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    Ok(Precondition {
        if_match: header_str(headers, "if-match")?.map(|raw| listed(raw, false)),
        if_none_match: header_str(headers, "if-none-match")?.map(|raw| listed(raw, true)),
    })
}

/// Does `If-None-Match` match this version (→ 304)?
pub fn if_none_match(headers: &HeaderMap, version: i64) -> Result<bool, ApiError> {
    Ok(header_str(headers, "if-none-match")?.is_some_and(|raw| listed(raw, true).matches(version)))
}

#[cfg(test)]
mod tests;
