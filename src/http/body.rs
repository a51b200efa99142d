//! The body types of the request path, from the transport to the
//! handlers and back (src/http/stack.rs layers them).

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{Either, Full};
use hyper::Request;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A request body as the stack sees it, whatever the transport.
pub type ReqBody = UnsyncBoxBody<Bytes, BodyError>;

/// The transport's body error, as one concrete type. With `BoxError`
/// itself here, rustc cannot prove the handlers' futures Send ("From is not
/// general enough", rust-lang/rust#64552): the trait object's lifetime is
/// erased inside the future and must then convert for every lifetime.
#[derive(Debug)]
pub struct BodyError(pub BoxError);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
/// The body handlers read: at most `MAX_BODY_BYTES` (RequestBodyLimitLayer).
pub type HandlerBody = tower_http::body::Limited<ReqBody>;
/// What the layers inside framing answer with (CatchPanicLayer boxes).
pub type InnerBody = tower_http::body::UnsyncBoxBody<Bytes, BoxError>;
/// Every response body: the inner layers' or a problem made by framing,
/// without boxing it once more.
pub type RespBody = Either<InnerBody, Full<Bytes>>;

/// A request as the handlers see it.
pub type Req = Request<HandlerBody>;
