//! One function per route: HTTP in, domain call, HTTP out.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, LINK, LOCATION};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use uuid::Uuid;

use super::problem::{ApiError, Body};
use super::request::{self, Json};
use super::router::Route;
use super::App;
use crate::snippets::model::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::snippets::{store, validate, Cursor, ListQuery, Snippet};

type Result<T> = std::result::Result<T, ApiError>;

pub async fn handle(app: &App, route: Route, req: Request<Incoming>) -> Result<Response<Body>> {
    match route {
        Route::Health => Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        Route::Ready => ready(app).await,
        Route::OpenApi => Ok(raw_json(app.openapi.clone())),
        Route::Options(allow) => {
            let mut resp = empty(StatusCode::NO_CONTENT);
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            Ok(resp)
        }
        Route::ListSnippets => list(app, req.uri().query()).await,
        Route::CreateSnippet => create(app, req).await,
        Route::GetSnippet(id) => get(app, id, &req).await,
        Route::ReplaceSnippet(id) => replace(app, id, req).await,
        Route::PatchSnippet(id) => patch(app, id, req).await,
        Route::DeleteSnippet(id) => delete(app, id, &req).await,
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = status;
    resp
}

fn raw_json(bytes: Bytes) -> Response<Body> {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("our types serialize");
    let mut resp = raw_json(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp
}

fn etag_header(version: i64) -> HeaderValue {
    HeaderValue::from_str(&request::etag(version)).expect("digits and quotes")
}

/// A snippet with its ETag; clients must revalidate before reusing it.
fn snippet(status: StatusCode, s: &Snippet) -> Response<Body> {
    let mut resp = json(status, s);
    let h = resp.headers_mut();
    h.insert(ETAG, etag_header(s.version));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn ready(app: &App) -> Result<Response<Body>> {
    store::ping(&app.pool).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready"}),
    ))
}

fn parse_list_query(query: Option<&str>) -> Result<ListQuery> {
    let mut q = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    let bad = |msg: String| ApiError::BadRequest(msg);
    let mut seen_single = Vec::new();
    for (key, value) in request::query_pairs(query)? {
        if key != "tag" {
            if seen_single.contains(&key) {
                return Err(bad(format!("{key} may be given only once")));
            }
            seen_single.push(key.clone());
        }
        match key.as_str() {
            "limit" => {
                q.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        bad(format!(
                            "limit must be a whole number from 1 to {MAX_LIMIT}"
                        ))
                    })?;
            }
            "cursor" => {
                q.cursor = Some(Cursor::decode(&value).ok_or_else(|| {
                    bad(
                        "cursor is not one this server issued (take it from the Link header)"
                            .into(),
                    )
                })?);
            }
            "language" => {
                if value.is_empty() || value.chars().count() > 40 || value.contains('\0') {
                    return Err(bad("language must be 1 to 40 characters".into()));
                }
                q.language = Some(value);
            }
            "tag" => {
                let ok = value.len() <= 32
                    && value.bytes().enumerate().all(|(i, b)| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || (b == b'-' && i > 0)
                    })
                    && !value.is_empty();
                if !ok {
                    return Err(bad(
                        "tag must be 1 to 32 lower-case letters, digits or '-', not starting with '-'"
                            .into(),
                    ));
                }
                if q.tags.len() >= 20 {
                    return Err(bad("at most 20 tag parameters".into()));
                }
                if !q.tags.contains(&value) {
                    q.tags.push(value);
                }
            }
            "q" => {
                if value.trim().is_empty() || value.chars().count() > 200 || value.contains('\0') {
                    return Err(bad("q must be 1 to 200 characters, not blank".into()));
                }
                q.q = Some(value);
            }
            other => {
                return Err(bad(format!(
                    "unknown query parameter {:?}: use limit, cursor, language, tag, q",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    Ok(q)
}

/// The same query with another cursor, for the `Link` header.
fn next_link(q: &ListQuery, cursor: &Cursor) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let mut parts = vec![format!("limit={}", q.limit)];
    if let Some(l) = &q.language {
        parts.push(format!("language={}", enc(l)));
    }
    for t in &q.tags {
        parts.push(format!("tag={}", enc(t)));
    }
    if let Some(text) = &q.q {
        parts.push(format!("q={}", enc(text)));
    }
    parts.push(format!("cursor={}", cursor.encode()));
    format!("</snippets?{}>; rel=\"next\"", parts.join("&"))
}

async fn list(app: &App, query: Option<&str>) -> Result<Response<Body>> {
    let q = parse_list_query(query)?;
    let (rows, more) = store::list(&app.pool, &q).await?;
    let mut resp = json(StatusCode::OK, &rows);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let (true, Some(last)) = (more, rows.last()) {
        let link = next_link(&q, &Cursor::after(last));
        resp.headers_mut().insert(
            LINK,
            HeaderValue::from_str(&link).expect("percent-encoded ASCII"),
        );
    }
    Ok(resp)
}

async fn json_body(
    app: &App,
    req: Request<Incoming>,
    accept: &[Json],
) -> Result<serde_json::Value> {
    request::content_type(req.headers(), accept)?;
    let (parts, body) = req.into_parts();
    let bytes = request::body(
        &parts.headers,
        body,
        app.cfg.max_body_bytes,
        app.cfg.body_read_timeout,
    )
    .await?;
    request::json(&bytes)
}

async fn create(app: &App, req: Request<Incoming>) -> Result<Response<Body>> {
    let body = json_body(app, req, &[Json::Plain]).await?;
    let input = validate::input(body)?;
    let s = store::insert(&app.pool, &input).await?;
    let mut resp = snippet(StatusCode::CREATED, &s);
    resp.headers_mut().insert(
        LOCATION,
        HeaderValue::from_str(&format!("/snippets/{}", s.id)).expect("uuid is ASCII"),
    );
    Ok(resp)
}

async fn get(app: &App, id: Uuid, req: &Request<Incoming>) -> Result<Response<Body>> {
    let s = app.lookups.get(id).await?;
    if request::if_none_match(req.headers(), s.version)? {
        let mut resp = empty(StatusCode::NOT_MODIFIED);
        resp.headers_mut().insert(ETAG, etag_header(s.version));
        return Ok(resp);
    }
    Ok(snippet(StatusCode::OK, &s))
}

async fn replace(app: &App, id: Uuid, req: Request<Incoming>) -> Result<Response<Body>> {
    let pre = request::if_match(req.headers())?;
    let body = json_body(app, req, &[Json::Plain]).await?;
    let input = validate::input(body)?;
    let s = store::replace(&app.pool, id, &input, &pre).await?;
    Ok(snippet(StatusCode::OK, &s))
}

async fn patch(app: &App, id: Uuid, req: Request<Incoming>) -> Result<Response<Body>> {
    let pre = request::if_match(req.headers())?;
    let body = json_body(app, req, &[Json::MergePatch, Json::Plain]).await?;
    let s = store::patch(&app.pool, id, &body, &pre).await?;
    Ok(snippet(StatusCode::OK, &s))
}

async fn delete(app: &App, id: Uuid, req: &Request<Incoming>) -> Result<Response<Body>> {
    let pre = request::if_match(req.headers())?;
    store::delete(&app.pool, id, &pre).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters() {
        assert_eq!(parse_list_query(None).unwrap().limit, 20);
        let q = parse_list_query(Some("limit=5&tag=a&tag=b&q=hello+world&language=rust")).unwrap();
        assert_eq!(q.limit, 5);
        assert_eq!(q.tags, vec!["a", "b"]);
        assert_eq!(q.q.as_deref(), Some("hello world"));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=zz",
            "tag=-a",
            "tag=A",
            "q=",
            "foo=1",
            "limit=1&limit=2",
        ] {
            assert!(parse_list_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_link_keeps_the_filters() {
        let q = parse_list_query(Some("limit=5&tag=a&q=x y&language=c%2B%2B")).unwrap();
        let c = Cursor {
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            id: Uuid::nil(),
        };
        let link = next_link(&q, &c);
        assert!(
            link.starts_with("</snippets?limit=5&language=c%2B%2B&tag=a&q=x%20y&cursor="),
            "{link}"
        );
        assert!(link.ends_with(">; rel=\"next\""));
    }
}
