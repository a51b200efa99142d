//! The request path as a tower stack, outermost first:
//!
//! 1. [`framing`] (here): the request id and its task-local scope, the HTTP
//!    MUSTs of [`super::guard`], problem+json for any bare error status an
//!    inner layer produced, `X-Request-Id` on every response, the trace
//!    context ([`super::trace`]), the request metrics (pre-registered
//!    handles: a few atomic increments) and the access log.
//! 2. tower-http `CorsLayer`, from `CORS_ALLOWED_ORIGINS`.
//! 3. tower-http `TimeoutLayer`: `REQUEST_TIMEOUT_SECONDS` → 503.
//! 4. tower-http `CatchPanicLayer`: a panicking handler → 500, logged.
//! 5. tower-http `RequestBodyLimitLayer` ([`BodyLimits`]): `MAX_BODY_BYTES`
//!    → 413 (`IMPORT_MAX_BYTES` for `POST /snippets/import`).
//! 6. the dispatcher (src/http/dispatch.rs) and the handlers; it applies the rate
//!    limits once the route and the caller are known (src/http/ratelimit.rs).
//!
//! The same stack serves hyper (src/http/server.rs) and in-process tests
//! (`tower::ServiceExt::oneshot`, tests/common/inproc.rs), so tests exercise
//! exactly what production runs.
//!
//! Framing is hand-written: the request id must be chosen before the
//! task-local scope that tags every log line opens, i.e. outside every
//! other layer; tower-http's `SetRequestId` would also echo a client's id
//! of any length or content, and `TraceLayer` logs through `tracing`, not
//! the `log`/env_logger pair this project is built on.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Either};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use super::client_ip::{self, ClientIp, Peer};
use super::layers::{cors, panicked, BodyLimits, PerConnection};
use super::problem::{self, ApiError};
use super::trace::{self, TraceParent};
use super::{dispatch, guard, probes, router, App};
use crate::config::CorsOrigins;
use crate::logging;

pub use super::body::{BodyError, BoxError, HandlerBody, InnerBody, ReqBody, RespBody};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API as one service: a tower `Service` (in-process tests) and
/// a hyper `Service` (the server; see [`Api`]). Cloned once per connection.
pub fn service(
    app: Arc<App>,
) -> Api<impl Inner + Clone + Send + Sync + 'static, impl Inner + Clone + Send + Sync + 'static> {
    let handlers = {
        let app = app.clone();
        tower::service_fn(move |req| dispatch::dispatch(app.clone(), req))
    };
    let plain = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            app.cfg.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(BodyLimits::layer(&app.cfg))
        .service(handlers);
    // With no origin configured there is nothing for CORS to add (no
    // origin is ever allowed), so the layer is left out.
    let cors = match app.cfg.cors {
        CorsOrigins::None => None,
        _ => Some(PerConnection(Mutex::new(
            cors(&app.cfg.cors).layer(plain.clone()),
        ))),
    };
    Api {
        app,
        peer: None,
        cors,
        plain,
    }
}

/// The stack's entry. hyper calls it through `&self`, tower through
/// `&mut self`; both run [`framing`]. Hand-written rather than tower's
/// `service_fn` + hyper-util's `TowerToHyperService`: those clone the whole
/// layered service, tower-http's `Cors` included (its configuration: header
/// lists, origins), for every request, and move it through a `Oneshot`;
/// callgrind counted that at ~4,000 instructions per GET by id
/// (docs/performance.md, "The server's own hyper service and the probe").
#[derive(Clone)]
pub struct Api<C, S> {
    app: Arc<App>,
    /// The TCP peer of the connection this copy serves (the server sets
    /// it; in-process tests put a [`Peer`] on the request instead).
    peer: Option<std::net::SocketAddr>,
    cors: Option<PerConnection<C>>,
    plain: S,
}

impl<C: Clone, S: Clone> Api<C, S> {
    /// This service for one connection from `peer`.
    pub fn for_peer(&self, peer: std::net::SocketAddr) -> Self {
        Api {
            peer: Some(peer),
            ..self.clone()
        }
    }
}

/// The layered services inside framing: CORS, timeout, panic guard, body
/// limit and the handlers.
pub trait Inner:
    Service<
    Request<ReqBody>,
    Response = Response<InnerBody>,
    Error = Infallible,
    Future: Send + 'static,
>
{
}

impl<T> Inner for T where
    T: Service<
        Request<ReqBody>,
        Response = Response<InnerBody>,
        Error = Infallible,
        Future: Send + 'static,
    >
{
}

type ApiFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<RespBody>, Infallible>> + Send>,
>;

impl<B, C, S> hyper::service::Service<Request<B>> for Api<C, S>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    C: Inner,
    S: Inner + Clone,
{
    type Response = Response<RespBody>;
    type Error = Infallible;
    type Future = ApiFuture;

    fn call(&self, req: Request<B>) -> ApiFuture {
        Box::pin(framing(self, req))
    }
}

impl<B, C, S> Service<Request<B>> for Api<C, S>
where
    Api<C, S>: hyper::service::Service<
        Request<B>,
        Response = Response<RespBody>,
        Error = Infallible,
        Future = ApiFuture,
    >,
{
    type Response = Response<RespBody>;
    type Error = Infallible;
    type Future = ApiFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ApiFuture {
        hyper::service::Service::call(&*self, req)
    }
}

/// The client's `X-Request-Id` when it is sane (1–128 visible ASCII
/// characters), a fresh UUID otherwise.
pub fn request_id(req_headers: &hyper::HeaderMap) -> Arc<str> {
    req_headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()))
}

/// A liveness probe as orchestrators send it: `GET`/`HEAD /health`, no
/// query, no `Origin` (an `Authorization` is never read on this route).
/// Answered by framing itself
/// (request id, metrics and access log included), around the inner
/// layers: none of them has anything to do for it (no body, no caller, no
/// CORS, nothing that can hang or panic), and going through them cost
/// ~40 % of a probe's instructions (docs/performance.md). Anything else
/// for `/health` (a query, checked and refused when bad, a browser's CORS
/// request, another method) takes the full path.
fn is_plain_health<B>(req: &Request<B>, route: Option<usize>) -> bool {
    route.is_some_and(|i| router::ROUTES[i].1 == router::Resource::Health)
        && (req.method() == hyper::Method::GET || req.method() == hyper::Method::HEAD)
        && req.uri().query().is_none()
        && !req.headers().contains_key(hyper::header::ORIGIN)
}

/// The outer layer (module docs). Everything the inner layers need is
/// taken from `api` before the returned future's first poll, so the future
/// owns what it uses.
///
/// One function on purpose (113 lines): it returns one future built from
/// plain combinators (no `async` block; see below), and what it captures
/// before the first poll is what a split would have to pass around.
fn framing<B, C, S>(
    api: &Api<C, S>,
    req: Request<B>,
) -> impl std::future::Future<Output = Result<Response<RespBody>, Infallible>> + Send + 'static
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    C: Inner,
    S: Inner + Clone,
{
    let started = Instant::now();
    let app = api.app.clone();
    let rid = request_id(req.headers());
    let rid_value = HeaderValue::from_str(&rid).ok();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let matched = router::matched(&method, &path);
    let route = matched.template;
    let trace = TraceParent::from_headers(req.headers());
    let amzn = trace::amzn_trace_id(req.headers()).map(str::to_owned);
    let peer = (req.extensions().get::<Peer>().map(|p| p.0))
        .or(api.peer)
        .map(|p| p.ip());
    let client = client_ip::resolve(peer, req.headers(), &app.cfg.limits.trusted_proxies);
    // The inner services only build their futures here; nothing of theirs
    // logs before those futures run inside the request-id scope below.
    let inner = guard::check(&req).map(|()| {
        if is_plain_health(&req, route) {
            return None;
        }
        let mut req = req.map(|b| b.map_err(|e| BodyError(e.into())).boxed_unsync());
        req.extensions_mut().insert(ClientIp(client));
        req.extensions_mut().insert(matched);
        // Handlers and inner layers see the id that is logged and sent.
        if let Some(v) = &rid_value {
            req.headers_mut().insert(X_REQUEST_ID, v.clone());
        }
        // CorsLayer answers every OPTIONS as a preflight; a plain OPTIONS
        // (no Access-Control-Request-Method) goes around it to get `Allow`.
        let plain_options = req.method() == hyper::Method::OPTIONS
            && !req.headers().contains_key("access-control-request-method");
        Some(match &api.cors {
            Some(cors) if !plain_options => futures_util::future::Either::Left(
                cors.0.lock().unwrap_or_else(|p| p.into_inner()).call(req),
            ),
            _ => futures_util::future::Either::Right(api.plain.clone().call(req)),
        })
    });
    use futures_util::FutureExt;
    // A `map`, not an `async` block awaiting `inner`: a block keeps the
    // captured future and the awaited one as two fields (rust-lang/rust
    // #62958), which made this future 4,264 bytes instead of ~2,300
    // (`-Zprint-type-sizes`), all of it copied into the box at each call.
    let answer = match inner {
        Err(e) => futures_util::future::Either::Left(std::future::ready(
            problem::response(e, &rid, app.cfg.expose_errors).map(Either::Right),
        )),
        Ok(None) => futures_util::future::Either::Left(std::future::ready(
            probes::health().map(Either::Right),
        )),
        Ok(Some(answer)) => futures_util::future::Either::Right(answer.map(|r| match r {
            Ok(resp) => resp.map(Either::Left),
            Err(never) => match never {},
        })),
    };
    let in_flight = app.metrics.in_flight();
    let scope = rid.clone();
    let finish = move |mut resp: Response<RespBody>| {
        let _in_flight = in_flight;
        if resp.status().as_u16() >= 400 && !is_problem(&resp) {
            // A bare status from a layer (timeout, body limit, panic guard).
            let e = match ApiError::from_status(resp.status(), &app.cfg) {
                // The body limit of the import route is its own (BodyLimits).
                ApiError::PayloadTooLarge(_) if path == "/snippets/import" => {
                    ApiError::PayloadTooLarge(app.cfg.import_max_bytes)
                }
                e => e,
            };
            let cors: Vec<_> = resp
                .headers()
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("access-control-") || *k == "vary")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            resp = problem::response(e, &rid, app.cfg.expose_errors).map(Either::Right);
            for (k, v) in cors {
                resp.headers_mut().append(k, v);
            }
        }
        if let Some(v) = rid_value {
            resp.headers_mut().insert(X_REQUEST_ID, v);
        }
        if let Some(tp) = &trace {
            if let Ok(v) = HeaderValue::from_str(&tp.child()) {
                resp.headers_mut().insert(trace::TRACEPARENT, v);
            }
        }
        let elapsed = started.elapsed();
        let status = resp.status().as_u16();
        app.metrics.record(route, status, elapsed);
        access_log(AccessLine {
            method: method.as_str(),
            path: &path,
            status,
            client_ip: client,
            elapsed,
            trace_id: trace.as_ref().map(|t| t.trace_id.as_str()),
            amzn_trace_id: amzn.as_deref(),
        });
        Ok(resp)
    };
    logging::with_request_id(scope, answer.map(finish))
}

struct AccessLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    client_ip: std::net::IpAddr,
    elapsed: Duration,
    trace_id: Option<&'a str>,
    amzn_trace_id: Option<&'a str>,
}

/// The access log line: `trace_id` and `amzn_trace_id` only when the
/// request carried them (a `log` key-value cannot be absent otherwise).
fn access_log(line: AccessLine<'_>) {
    use log::kv::Value;
    if !log::log_enabled!(target: "access", log::Level::Info) {
        return;
    }
    // A token a client put in the path is never written (issue 30).
    let path = super::auth::loggable_path(line.path);
    let mut kv: [(&str, Value<'_>); 7] = [
        ("method", Value::from(line.method)),
        ("path", Value::from(&*path)),
        ("status", Value::from(line.status)),
        (
            "duration_ms",
            Value::from(line.elapsed.as_secs_f64() * 1000.0),
        ),
        ("client_ip", Value::from_display(&line.client_ip)),
        ("", Value::from("")),
        ("", Value::from("")),
    ];
    let mut n = 5;
    for (key, value) in [
        ("trace_id", line.trace_id),
        ("amzn_trace_id", line.amzn_trace_id),
    ] {
        if let Some(v) = value {
            kv[n] = (key, Value::from(v));
            n += 1;
        }
    }
    log::logger().log(
        &log::Record::builder()
            .args(format_args!("request"))
            .level(log::Level::Info)
            .target("access")
            .module_path_static(Some(module_path!()))
            .file_static(Some(file!()))
            .line(Some(line!()))
            .key_values(&&kv[..n])
            .build(),
    );
}

/// An error the handler wrote itself: problem+json, or a page for people
/// (src/web/: its 404 and 400 are HTML, like the page asked for).
fn is_problem<B>(resp: &Response<B>) -> bool {
    resp.headers().get(CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes() == b"application/problem+json" || v.as_bytes() == b"text/html; charset=utf-8"
    })
}

#[cfg(test)]
mod tests;
