//! The snippet resource's routes: list, create, get, replace, patch,
//! delete (HTTP in, one call of the domain's face, HTTP out).

use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, ETAG, LINK, VARY};
use hyper::{Response, StatusCode};
use uuid::Uuid;

use super::body::Req;
use super::client_ip::ClientIp;
use super::problem::{ApiError, Body};
use super::ratelimit::Key;
use super::request::{self, Json};
use super::respond::{created, empty, etag_header, json_sized, snippet, written};
use super::App;
use crate::auth::Caller;
use crate::snippets::{Cursor, ListQuery};

type Result<T> = std::result::Result<T, ApiError>;

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
    if let Some(owner) = &q.owner {
        parts.push(format!("owner={}", enc(owner.as_str())));
    }
    parts.push(format!("cursor={}", cursor.encode()));
    format!("</snippets?{}>; rel=\"next\"", parts.join("&"))
}

/// `client`: [`client`] of the request.
pub async fn list(
    app: &App,
    caller: &Caller,
    query: Option<&str>,
    client: String,
) -> Result<Response<Body>> {
    let q = request::list_query(query)?;
    let (rows, more) = app.snippets.list(caller, &client, &q).await?;
    // The text fields, plus the rest of a row's JSON (~300 bytes).
    let size = rows
        .iter()
        .map(|r| {
            let text = r.title.len() + r.code.len() + r.description.as_ref().map_or(0, String::len);
            text + r.tags.iter().map(|t| t.len() + 3).sum::<usize>() + 320
        })
        .sum::<usize>();
    let mut resp = json_sized(StatusCode::OK, &rows, size + 2);
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

/// Who asks, for the search slots' per-client share: a token's owner, or
/// the client address as the rate limits key it (an IPv6 /64).
pub fn client(caller: &Caller, req: &Req) -> String {
    match caller.handle() {
        Some(h) => format!("owner {h}"),
        None => {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
            match Key::address(ip) {
                Key::Ip(a) => format!("address {a}"),
                other => format!("{other:?}"),
            }
        }
    }
}

pub async fn create(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>> {
    let body = request::json_body(&app.cfg, req, &[Json::Plain]).await?;
    let s = app.snippets.create(caller, body).await?;
    Ok(created(caller, &s))
}

pub async fn get(
    app: &App,
    caller: &Caller,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    let mut s = app.snippets.get(caller, id).await?;
    if request::if_none_match(headers, s.version)? {
        // What the 200 would carry (RFC 9110 §15.4.5): ETag, Cache-Control.
        let mut resp = empty(StatusCode::NOT_MODIFIED);
        resp.headers_mut().insert(ETAG, etag_header(s.version));
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        resp.headers_mut()
            .append(VARY, HeaderValue::from_static("accept"));
        return Ok(resp);
    }
    app.snippets
        .show_sources(caller, std::slice::from_mut(&mut s))
        .await?;
    // A browser's Accept gets a 303 to the page instead (dispatch.rs).
    let mut resp = snippet(StatusCode::OK, &s);
    resp.headers_mut()
        .append(VARY, HeaderValue::from_static("accept"));
    Ok(resp)
}

pub async fn replace(app: &App, caller: &Caller, id: Uuid, req: Req) -> Result<Response<Body>> {
    let pre = request::precondition(req.headers())?;
    let body = request::json_body(&app.cfg, req, &[Json::Plain]).await?;
    let s = app.snippets.replace(caller, id, body, &pre).await?;
    Ok(written(StatusCode::OK, caller, &s))
}

pub async fn patch(app: &App, caller: &Caller, id: Uuid, req: Req) -> Result<Response<Body>> {
    let pre = request::precondition(req.headers())?;
    let body = request::json_body(&app.cfg, req, &[Json::MergePatch, Json::Plain]).await?;
    let s = app.snippets.patch(caller, id, body, &pre).await?;
    Ok(written(StatusCode::OK, caller, &s))
}

pub async fn delete(
    app: &App,
    caller: &Caller,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    let pre = request::precondition(headers)?;
    app.snippets.delete(caller, id, &pre).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests;
