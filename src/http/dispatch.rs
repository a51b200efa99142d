//! The dispatcher: the route (matched once, by framing), the caller, the
//! rate limits, then the route's handler; errors become problem+json here.

use hyper::header::{HeaderValue, ALLOW};
use hyper::{Response, StatusCode};
use std::sync::Arc;

use super::body::Req;
use super::client_ip::ClientIp;
use super::problem::{ApiError, Body};
use super::ratelimit::{Budget, Key};
use super::router::{self, Route};
use super::transfer::{self, Reply};
use super::App;
use super::{
    auth, docs_ui, forks, identity, import, negotiate, probes, raw, respond, revisions, snippet,
};
use crate::auth::{Caller, Scope, Verification};
use crate::web;
use http_body_util::Either;

type Result<T> = std::result::Result<T, ApiError>;

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
/// 1 KB or more 11.8 → 4.5; docs/performance.md, "Boxing the handlers' future once").
/// A plain fn over an `async` block rather than an
/// `async fn`: a fn's arguments are kept twice in its future (as captured
/// and as locals), and a request is 248 bytes.
pub fn dispatch(app: Arc<App>, req: Req) -> Dispatched {
    Box::pin(async move { Ok(dispatched(&app, req).await) })
}

/// One function on purpose (98 lines): the caller, the lookup's charge
/// and the rate-limit decision depend on each other in this order, and
/// the boxing of each step's future (below) keeps this future small;
/// split into helpers, each would carry the request and the app again.
async fn dispatched(app: &App, req: Req) -> Response<Reply> {
    // Matched once, by framing (src/http/stack.rs).
    let route = match req.extensions().get::<router::Matched>() {
        Some(m) => m.route.map_err(ApiError::from),
        None => router::route(req.method(), req.uri().path()),
    };
    // Probes and the contract are never limited: an orchestrator or a
    // client generator must not be refused because of someone's budget.
    // Nor is the docs page: static bytes (no database, no allocation), and
    // one visit is five requests that would eat a reader's budget. They
    // need no identity either, so their `Authorization` is never read.
    let exempt = matches!(
        route,
        Ok(Route::Health
            | Route::Ready
            | Route::OpenApi
            | Route::Docs
            | Route::DocsAsset(_)
            | Route::Static(_))
    );
    // The pages for people are limited like any read, but never read a
    // token: a browser sees what anyone sees (src/web/mod.rs).
    let anonymous = exempt
        || matches!(
            route,
            Ok(Route::Browse | Route::Page(_) | Route::PageHistory(_) | Route::PageVersion(..))
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
        Ok(route) => match auth::credential(app, req.uri(), req.headers(), anonymous) {
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
            super::problem::response(e, &rid, app.cfg.expose_errors).map(Either::Left)
        }
    };
    if let Some(d) = decision {
        d.apply(resp.headers_mut());
    }
    resp
}

/// One arm per route of `router::ROUTES`, each a call into the handler
/// module of its resource: a table, over 80 lines because it has an arm
/// per route, kept whole so that the scope rule at its top covers them all.
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
        Route::Health => Ok(probes::health()),
        Route::Ready => Box::pin(probes::ready(app)).await,
        Route::OpenApi => probes::openapi(app, req.headers()),
        Route::Docs => Ok(docs_ui::page()),
        Route::DocsAsset(asset) => Ok(docs_ui::serve(asset, req.headers())),
        Route::Static(asset) => Ok(web::assets::serve(asset, req.headers()).map(Body::new)),
        Route::Browse => {
            let client = snippet::client(caller, &req);
            page(
                Box::pin(web::browse(
                    &app.snippets,
                    caller,
                    req.uri().query(),
                    &client,
                ))
                .await,
            )
        }
        Route::Page(id) => {
            page(Box::pin(web::snippet(&app.snippets, caller, id, req.headers())).await)
        }
        Route::PageHistory(id) => page(
            Box::pin(web::history(
                &app.snippets,
                caller,
                id,
                req.uri().query(),
                req.headers(),
            ))
            .await,
        ),
        Route::PageVersion(id, v) => {
            page(Box::pin(web::version(&app.snippets, caller, id, v, req.headers())).await)
        }
        // A browser opening the API's URL is sent to the page.
        Route::GetSnippet(id) if negotiate::prefers_html(req.headers()) => Ok(to_page(id)),
        Route::Options(allow) => {
            let mut resp = respond::empty(StatusCode::NO_CONTENT);
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            Ok(resp)
        }
        Route::ListSnippets => {
            let client = snippet::client(caller, &req);
            Box::pin(snippet::list(app, caller, req.uri().query(), client)).await
        }
        Route::CreateSnippet => Box::pin(snippet::create(app, caller, req)).await,
        Route::GetSnippet(id) => Box::pin(snippet::get(app, caller, id, req.headers())).await,
        Route::ReplaceSnippet(id) => Box::pin(snippet::replace(app, caller, id, req)).await,
        Route::PatchSnippet(id) => Box::pin(snippet::patch(app, caller, id, req)).await,
        Route::DeleteSnippet(id) => Box::pin(snippet::delete(app, caller, id, req.headers())).await,
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

/// A page's answer as the API's: its errors other than 404 (which the
/// page answers itself) become problem+json like any route's.
fn page(
    r: std::result::Result<Response<bytes::Bytes>, crate::snippets::SnippetError>,
) -> Result<Response<Body>> {
    r.map(|resp| resp.map(Body::new)).map_err(ApiError::from)
}

/// 303 to `/s/{id}`; `Vary: Accept`, as the JSON answer carries too.
fn to_page(id: uuid::Uuid) -> Response<Body> {
    let mut resp = respond::empty(StatusCode::SEE_OTHER);
    let h = resp.headers_mut();
    h.insert(
        hyper::header::LOCATION,
        HeaderValue::from_str(&format!("/s/{id}")).expect("uuid is ASCII"),
    );
    h.append(hyper::header::VARY, HeaderValue::from_static("accept"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    resp
}
