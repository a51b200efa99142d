//! The accept loop, per-request framing (request id, CORS, timeout, panic
//! guard, access log) and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::problem::{ApiError, Body};
use super::{cors, handlers, request, router, App};

/// Binds the listening socket with a deep accept queue: with the usual 128,
/// a burst of connections overflows it and other clients' SYNs are dropped
/// and retried a second later. The kernel caps it at `net.core.somaxconn`.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish within the grace period and returns.
pub async fn run(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(app.cfg.max_connections));
    let mut builder = http1::Builder::new();
    // Without a timer the header timeout silently does nothing.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.cfg.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    let serve = |stream: TcpStream, permit| {
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(respond(&app, req).await) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                log::debug!("connection closed with an error: {e}");
            }
            drop(permit);
        });
    };
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => serve(stream, Some(permit)),
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // Connections the kernel has already accepted were promised an answer:
    // take them from the backlog before closing the socket.
    while let Some(Ok((stream, _))) = listener.accept().now_or_never() {
        serve(stream, None);
    }
    drop(listener);
    let grace = app.cfg.shutdown_grace;
    log::info!("shutting down: no new connections, {grace:?} for requests in flight");
    // hyper closes a connection that is idle when told to shut down, and a
    // fresh one counts as idle until its request head is parsed: give fresh
    // connections a moment to get their request in first.
    let settle = grace.min(Duration::from_millis(500));
    tokio::time::sleep(settle).await;
    tokio::select! {
        () = graceful.shutdown() => log::info!("all connections closed"),
        () = tokio::time::sleep(grace - settle) => log::warn!("grace period over, closing connections still open"),
    }
}

/// Wraps every request: whatever happens inside, the client gets a response
/// with a request id, and one access-log line is written.
async fn respond(app: &App, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let rid = request::request_id(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let origin = cors::allowed_origin(&app.cfg.cors, req.headers());
    let preflight = cors::is_preflight(&method, req.headers());

    let outcome = if preflight {
        let mut resp = Response::new(Body::default());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        Ok(resp)
    } else {
        let work = async {
            let route = router::route(&method, &path)?;
            handlers::handle(app, route, req).await
        };
        match tokio::time::timeout(
            app.cfg.request_timeout,
            AssertUnwindSafe(work).catch_unwind(),
        )
        .await
        {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(ApiError::Internal(format!(
                "handler panicked: {}",
                panic_text(panic.as_ref())
            ))),
            Err(_) => Err(ApiError::Unavailable(format!(
                "request took longer than {:?}",
                app.cfg.request_timeout
            ))),
        }
    };
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(e) => {
            if e.is_server_error() {
                // Logged whole: the response shows it only with EXPOSE_ERRORS=1.
                log::error!(target: "snippetd::error", request_id = rid.as_str(), method = method.as_str(), path = path.as_str(); "{e}");
            }
            e.into_response(&rid, app.cfg.expose_errors)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v);
    }
    if app.cfg.cors != crate::config::CorsOrigins::None {
        cors::decorate(resp.headers_mut(), origin, preflight);
    }
    log::info!(
        target: "access",
        request_id = rid.as_str(),
        method = method.as_str(),
        path = path.as_str(),
        status = resp.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        "request"
    );
    resp
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
