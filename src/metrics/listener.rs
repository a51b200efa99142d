//! The Prometheus scrape endpoint: `GET /metrics` on `METRICS_ADDR`, a
//! listener of its own (never the API port, so never behind the ALB), on
//! its own task. Anything else there is a 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use super::Sampler;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `addr`; the caller reports a failure (the port is configuration).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves scrapes until the process ends.
pub fn spawn(listener: TcpListener, handle: PrometheusHandle, sample: Sampler) {
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("metrics listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (handle, sample) = (handle.clone(), sample.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let answer = respond(&req, &handle, &sample);
                    async move { Ok::<_, Infallible>(answer) }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

fn respond<B>(
    req: &Request<B>,
    handle: &PrometheusHandle,
    sample: &Sampler,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::default());
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            sample();
            *resp.body_mut() = Full::new(Bytes::from(handle.render()));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(CONTENT_TYPE),
            );
        }
        (_, "/metrics") => *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED,
        _ => *resp.status_mut() = StatusCode::NOT_FOUND,
    }
    resp
}
