//! One function per route: HTTP in, domain call, HTTP out.

use bytes::Bytes;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, LINK, LOCATION};
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use uuid::Uuid;

use super::client_ip::ClientIp;
use super::problem::{ApiError, Body};
use super::ratelimit::{Budget, Key};
use super::request::{self, Json};
use super::router::{self, Route};
use super::stack::{problem, HandlerBody};
use super::transfer::{self, Reply};
use super::App;
use super::{auth, docs_ui, forks, identity, import, raw, revisions};
use crate::auth::{Caller, Scope, Verification};
use crate::snippets::{
    expiry, forks as fork_sources, store, Cursor, ListQuery, Snippet, SnippetError,
};
use http_body_util::Either;

type Result<T> = std::result::Result<T, ApiError>;
pub(super) type Req = Request<HandlerBody>;

/// What [`dispatch`] returns: the handlers' whole state, boxed once.
pub type Dispatched = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<Response<Reply>, std::convert::Infallible>,
            > + Send,
    >,
>;

/// Routes a request, rate-limits it and answers it; errors become
/// problem+json here.
///
/// Boxed here, at the bottom of the stack: every layer above wraps this
/// future by value (body limit, panic guard, timeout, CORS, framing), so
/// unboxed its ~1,700 bytes were moved into each wrapper in turn (a
/// `memcpy` uprobe per GET by id: 41,006 → 28,191 bytes copied, copies of
/// 1 KB or more 11.8 → 4.5; docs/performance.md, "Evening, 2026-12-05").
/// A plain fn over an `async` block rather than an
/// `async fn`: a fn's arguments are kept twice in its future (as captured
/// and as locals), and a request is 248 bytes.
pub fn dispatch(app: Arc<App>, req: Req) -> Dispatched {
    Box::pin(async move { Ok(dispatched(&app, req).await) })
}

async fn dispatched(app: &App, req: Req) -> Response<Reply> {
    let route = router::route(req.method(), req.uri().path());
    // Probes and the contract are never limited: an orchestrator or a
    // client generator must not be refused because of someone's budget.
    // Nor is the docs page: static bytes (no database, no allocation), and
    // one visit is five requests that would eat a reader's budget. They
    // need no identity either, so their `Authorization` is never read.
    let exempt = matches!(
        route,
        Ok(Route::Health | Route::Ready | Route::OpenApi | Route::Docs | Route::DocsAsset(_))
    );
    let budget = Budget::of(req.method());
    let address = req
        .extensions()
        .get::<ClientIp>()
        .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
            c.0
        });
    let limits = app.limits.as_deref().filter(|_| !exempt);
    // Set when the address may not have another token looked up.
    let mut refused = None;
    let routed = match route {
        // Each route's future is boxed where it starts, and so is a
        // token's lookup: the futures that wrap this one (layers,
        // task-local scope, hyper's dispatcher) then stay small instead of
        // the largest handler's size moved at every level (callgrind: ~20 KB
        // memcpy per request). A request without a token (most reads)
        // builds no lookup future at all.
        Ok(route) => match auth::credential(app, req.uri(), req.headers(), exempt) {
            Ok(auth::Credential::Known(caller)) => Ok(caller),
            Ok(auth::Credential::Token(tok)) => match app.auth.verify_cached(tok) {
                Verification::Answered(answer) => answer.map_err(ApiError::from),
                // A token the cache does not know costs a query: its
                // address pays first (src/http/ratelimit.rs,
                // `Budget::Lookups`), so a flood of forged tokens gets 429
                // without database work.
                Verification::Lookup(hash) => {
                    let lookup = limits
                        .map(|l| l.check(Budget::Lookups, &l.anonymous(Budget::Lookups, address)));
                    match lookup {
                        Some(d) if !d.allowed => {
                            refused = Some(d);
                            Err(ApiError::Unauthorized(None))
                        }
                        _ => Box::pin(app.auth.verify_stored(hash))
                            .await
                            .map_err(ApiError::from),
                    }
                }
            },
            Err(e) => Err(e),
        }
        .map(|caller| (route, caller)),
        Err(e) => Err(e),
    };
    let decision = match (limits, &routed) {
        (None, _) => None,
        _ if refused.is_some() => refused,
        // The owner's bucket with a valid token.
        (Some(l), Ok((_, Caller::Owner { handle, .. }))) => {
            Some(l.check(budget, &Key::Owner(handle.clone())))
        }
        // The client address's otherwise (anonymous, open mode, invalid
        // token, no route).
        (Some(l), _) => Some(l.check(budget, &l.anonymous(budget, address))),
    };
    let outcome = match routed {
        _ if decision.as_ref().is_some_and(|d| !d.allowed) => {
            metrics::counter!(crate::metrics::RATE_LIMITED).increment(1);
            Err(ApiError::TooManyRequests(
                decision.as_ref().map_or(1, |d| d.retry_after),
            ))
        }
        // The one streamed answer.
        Ok((Route::ExportSnippets, caller)) => {
            Box::pin(transfer::export(app, &caller, req.uri().query())).await
        }
        Ok((route, caller)) => handle(app, route, &caller, req)
            .await
            .map(|r| r.map(Either::Left)),
        Err(e) => Err(e),
    };
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(e) => {
            let rid = crate::logging::current_request_id().unwrap_or_default();
            problem(e, &rid, app.cfg.expose_errors).map(Either::Left)
        }
    };
    if let Some(d) = decision {
        d.apply(resp.headers_mut());
    }
    resp
}

async fn handle(app: &App, route: Route, caller: &Caller, req: Req) -> Result<Response<Body>> {
    // Writes need a token with the scope before anything else is read: no
    // 415/422 for a client that may not write at all.
    if matches!(
        route,
        Route::CreateSnippet
            | Route::ReplaceSnippet(_)
            | Route::PatchSnippet(_)
            | Route::DeleteSnippet(_)
            | Route::ForkSnippet(_)
            | Route::ImportSnippets
    ) {
        caller.require(Scope::SnippetsWrite)?;
    }
    match route {
        Route::Health => Ok(health()),
        Route::Ready => Box::pin(ready(app)).await,
        Route::OpenApi => openapi(app, req.headers()),
        Route::Docs => Ok(docs_ui::page()),
        Route::DocsAsset(asset) => Ok(docs_ui::serve(asset, req.headers())),
        Route::Options(allow) => {
            let mut resp = empty(StatusCode::NO_CONTENT);
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            Ok(resp)
        }
        Route::ListSnippets => Box::pin(list(app, caller, req.uri().query())).await,
        Route::CreateSnippet => Box::pin(create(app, caller, req)).await,
        Route::GetSnippet(id) => Box::pin(get(app, caller, id, req.headers())).await,
        Route::ReplaceSnippet(id) => Box::pin(replace(app, caller, id, req)).await,
        Route::PatchSnippet(id) => Box::pin(patch(app, caller, id, req)).await,
        Route::DeleteSnippet(id) => Box::pin(delete(app, caller, id, req.headers())).await,
        Route::RawSnippet(id) => Box::pin(raw::current(app, caller, id, req.headers())).await,
        Route::ListRevisions(id) => {
            Box::pin(revisions::list(app, caller, id, req.uri().query())).await
        }
        Route::GetRevision(id, v) => {
            Box::pin(revisions::get(app, caller, id, v, req.headers())).await
        }
        Route::RawRevision(id, v) => {
            Box::pin(raw::revision(app, caller, id, v, req.headers())).await
        }
        Route::ForkSnippet(id) => Box::pin(forks::create(app, caller, id)).await,
        Route::ImportSnippets => Box::pin(import::import(app, caller, req)).await,
        // Streamed: answered by `dispatch`.
        Route::ExportSnippets => Err(ApiError::Internal("export is dispatched apart".into())),
        Route::Me => Box::pin(identity::me(caller)).await,
        Route::ListTokens => Box::pin(identity::list(app, caller, req.uri().query())).await,
        Route::CreateToken => Box::pin(identity::create(app, caller, req)).await,
        Route::RevokeToken(id) => Box::pin(identity::revoke(app, caller, id)).await,
        Route::CreateOwner => Box::pin(identity::create_owner(app, caller, req)).await,
        Route::DeleteOwner(h) => Box::pin(identity::delete_owner(app, caller, h)).await,
    }
}

pub(super) fn empty(status: StatusCode) -> Response<Body> {
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

/// `GET /health`: the process is up (no dependency is checked: `/ready`).
/// Never stored: a cache's heuristic freshness would answer for a process
/// that is gone.
pub(super) fn health() -> Response<Body> {
    no_store(raw_json(Bytes::from_static(br#"{"status":"ok"}"#)))
}

fn no_store(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /openapi.json`, revalidated by its ETag (RFC 9110 §8.8.3).
fn openapi(app: &App, headers: &HeaderMap) -> Result<Response<Body>> {
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

pub(super) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    // serde_json::to_vec's own starting capacity.
    json_sized(status, value, 128)
}

/// [`json`] into a buffer of about the size it needs: a page of 20
/// snippets of 1 KB grew by doubling from 128 bytes, 8 reallocations and
/// copies (docs/performance.md, "Morning, 2026-12-05 (2)").
fn json_sized<T: Serialize + ?Sized>(status: StatusCode, value: &T, size: usize) -> Response<Body> {
    let mut bytes = Vec::with_capacity(size);
    serde_json::to_writer(&mut bytes, value).expect("our types serialize");
    let mut resp = raw_json(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp
}

pub(super) fn etag_header(version: i64) -> HeaderValue {
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

/// What a write answers: the snippet with its ETag, or, to a caller
/// without `snippets:read`, only `{"id", "version"}` and the ETag
/// (access::sees_content; docs/api.md, "Write-only tokens").
pub(super) fn written(status: StatusCode, caller: &Caller, s: &Snippet) -> Response<Body> {
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

async fn ready(app: &App) -> Result<Response<Body>> {
    store::ping(&app.pool).await?;
    Ok(no_store(json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready"}),
    )))
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
    if let Some(owner) = &q.owner {
        parts.push(format!("owner={}", enc(owner.as_str())));
    }
    parts.push(format!("cursor={}", cursor.encode()));
    format!("</snippets?{}>; rel=\"next\"", parts.join("&"))
}

async fn list(app: &App, caller: &Caller, query: Option<&str>) -> Result<Response<Body>> {
    let q = request::list_query(query)?;
    // A search (tags or text) may be slow: it waits for a search slot
    // first, so that searches queue behind each other and never take the
    // connections lookups and writes need. A plain page, or one language
    // alone, is a walk of 21 rows of a btree in page order: no slot.
    let search = !q.tags.is_empty() || q.q.is_some();
    let _slot = if search {
        Some(app.searches.slot().await?)
    } else {
        None
    };
    let (mut rows, more) = store::list(&app.pool, &app.words, caller, &q).await?;
    fork_sources::show_sources(&app.pool, caller, &mut rows).await?;
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

pub(super) async fn json_body(app: &App, req: Req, accept: &[Json]) -> Result<serde_json::Value> {
    request::content_type(req.headers(), accept)?;
    let bytes = request::body(
        req.into_body(),
        app.cfg.max_body_bytes,
        app.cfg.body_read_timeout,
    )
    .await?;
    request::json(&bytes)
}

async fn create(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>> {
    let body = json_body(app, req, &[Json::Plain]).await?;
    let input = expiry::input(body, app.cfg.max_expiry)?;
    let s = store::insert(&app.creates, caller, input, app.cfg.limits.quota).await?;
    Ok(created(caller, &s))
}

/// 201 with the new snippet (or its receipt: [`written`]), its ETag and
/// `Location`.
pub(super) fn created(caller: &Caller, s: &Snippet) -> Response<Body> {
    let mut resp = written(StatusCode::CREATED, caller, s);
    resp.headers_mut().insert(
        LOCATION,
        HeaderValue::from_str(&format!("/snippets/{}", s.id)).expect("uuid is ASCII"),
    );
    resp
}

async fn get(app: &App, caller: &Caller, id: Uuid, headers: &HeaderMap) -> Result<Response<Body>> {
    let mut s = app.lookups.get_for(caller, id).await?;
    if request::if_none_match(headers, s.version)? {
        // What the 200 would carry (RFC 9110 §15.4.5): ETag, Cache-Control.
        let mut resp = empty(StatusCode::NOT_MODIFIED);
        resp.headers_mut().insert(ETAG, etag_header(s.version));
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(resp);
    }
    fork_sources::show_sources(&app.pool, caller, std::slice::from_mut(&mut s)).await?;
    Ok(snippet(StatusCode::OK, &s))
}

async fn replace(app: &App, caller: &Caller, id: Uuid, req: Req) -> Result<Response<Body>> {
    let pre = request::precondition(req.headers())?;
    let body = json_body(app, req, &[Json::Plain]).await?;
    let input = expiry::input(body, app.cfg.max_expiry)?;
    let mut s = store::replace(&app.pool, caller, id, &input, &pre, app.cfg.limits.quota).await?;
    fork_sources::show_sources(&app.pool, caller, std::slice::from_mut(&mut s)).await?;
    Ok(written(StatusCode::OK, caller, &s))
}

async fn patch(app: &App, caller: &Caller, id: Uuid, req: Req) -> Result<Response<Body>> {
    let pre = request::precondition(req.headers())?;
    let mut body = json_body(app, req, &[Json::MergePatch, Json::Plain]).await?;
    let change = expiry::take(
        &mut body,
        app.cfg.max_expiry,
        time::OffsetDateTime::now_utc(),
    )
    .map_err(SnippetError::Invalid)?;
    let mut s = store::patch(
        &app.pool,
        caller,
        id,
        &body,
        change,
        &pre,
        app.cfg.limits.quota,
    )
    .await?;
    fork_sources::show_sources(&app.pool, caller, std::slice::from_mut(&mut s)).await?;
    Ok(written(StatusCode::OK, caller, &s))
}

async fn delete(
    app: &App,
    caller: &Caller,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    let pre = request::precondition(headers)?;
    store::delete(&app.pool, caller, id, &pre).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests;
