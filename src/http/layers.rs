//! The tower layers inside framing that this project writes or
//! configures itself: CORS per connection, the two body limits, the panic
//! guard's answer (src/http/stack.rs stacks them).

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::ratelimit::{RATELIMIT, RATELIMIT_POLICY};
use super::trace;
use crate::config::CorsOrigins;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The CORS service of one connection. HTTP/1 serves one request at a time
/// per connection, so the lock is never contended; a clone (a new
/// connection) gets its own copy, so connections never share a lock.
pub struct PerConnection<C>(pub Mutex<C>);

impl<C: Clone> Clone for PerConnection<C> {
    fn clone(&self) -> Self {
        let c = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        PerConnection(Mutex::new(c))
    }
}

/// `RequestBodyLimitLayer` with two limits: `IMPORT_MAX_BYTES` for
/// `POST /snippets/import`, `MAX_BODY_BYTES` for every other request. Both
/// are the same tower-http service with another limit, so the handlers
/// see one body type.
#[derive(Clone)]
pub struct BodyLimits<S> {
    normal: tower_http::limit::RequestBodyLimit<S>,
    import: tower_http::limit::RequestBodyLimit<S>,
}

impl BodyLimits<()> {
    pub fn layer<S: Clone>(
        cfg: &crate::config::HttpConfig,
    ) -> impl Layer<S, Service = BodyLimits<S>> + Clone {
        let (normal, import) = (cfg.max_body_bytes, cfg.import_max_bytes);
        tower::layer::layer_fn(move |inner: S| BodyLimits {
            normal: RequestBodyLimitLayer::new(normal).layer(inner.clone()),
            import: RequestBodyLimitLayer::new(import).layer(inner),
        })
    }
}

impl<S, B> Service<Request<B>> for BodyLimits<S>
where
    tower_http::limit::RequestBodyLimit<S>: Service<Request<B>>,
{
    type Response = <tower_http::limit::RequestBodyLimit<S> as Service<Request<B>>>::Response;
    type Error = <tower_http::limit::RequestBodyLimit<S> as Service<Request<B>>>::Error;
    type Future = <tower_http::limit::RequestBodyLimit<S> as Service<Request<B>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // Both wrap clones of one always-ready service (a service_fn).
        match self.normal.poll_ready(cx) {
            std::task::Poll::Ready(Ok(())) => self.import.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.method() == hyper::Method::POST && req.uri().path() == "/snippets/import" {
            self.import.call(req)
        } else {
            self.normal.call(req)
        }
    }
}

/// CatchPanicLayer's answer: a bare 500 that [`framing`] turns into a
/// problem; the panic message is logged here, with the request id.
pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Full<Bytes>> {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    log::error!(target: "snippetd::error", "handler panicked: {text}");
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

/// Methods and headers a browser may use cross-origin, and the response
/// headers its scripts may read.
pub fn cors(origins: &CorsOrigins) -> CorsLayer {
    use hyper::header::{
        AUTHORIZATION, ETAG, IF_MATCH, IF_NONE_MATCH, LINK, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
    };
    use hyper::Method;
    let allow = match origins {
        // No origin allowed: no CORS headers at all, so browsers block.
        CorsOrigins::None => AllowOrigin::list([]),
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            IF_MATCH,
            IF_NONE_MATCH,
            X_REQUEST_ID,
            HeaderName::from_static(trace::TRACEPARENT),
            HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            ETAG,
            LOCATION,
            LINK,
            RETRY_AFTER,
            WWW_AUTHENTICATE,
            X_REQUEST_ID,
            HeaderName::from_static(trace::TRACEPARENT),
            RATELIMIT_POLICY,
            RATELIMIT,
        ])
        .max_age(Duration::from_secs(600))
}
