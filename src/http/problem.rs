//! RFC 9457 problem details: the one place where errors become status codes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, ACCEPT_ENCODING, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::auth::{AuthError, Denied, Scope};
use crate::snippets::{QuotaExceeded, Usage};
use crate::snippets::{SnippetError, Violation};

pub type Body = Full<Bytes>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    /// No token where one is needed (`None`), or a token that is malformed,
    /// unknown, expired or revoked (`Some(why)`, `error="invalid_token"`).
    #[error("{}", .0.as_deref().unwrap_or("this request needs a bearer token"))]
    Unauthorized(Option<String>),
    /// 403 `error="insufficient_scope"`.
    #[error("the token lacks the scope {0}")]
    InsufficientScope(Scope),
    /// 403: the caller is known and may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(std::time::Duration),
    #[error("the snippet has changed since the version given in If-Match")]
    PreconditionFailed,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    UnsupportedContentEncoding(String),
    #[error("request header fields larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("the request target is too long")]
    UriTooLong,
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    HttpVersionNotSupported(String),
    #[error("the request body breaks the schema")]
    Invalid(Vec<Violation>),
    /// 429: a rate limit; the seconds until a retry may pass.
    #[error("rate limit exceeded: retry in {0} s (see the RateLimit header)")]
    TooManyRequests(u64),
    /// 403 with its own type: the owner's quota, and where it stands.
    #[error("{0}")]
    QuotaExceeded(QuotaExceeded),
    /// 429 with its own type: the client's share of the search slots is
    /// taken by its own searches (`SEARCH_PER_CLIENT`).
    #[error("{0}")]
    SearchBusy(String),
    /// 503 with its own type: a search ran past `SEARCH_TIMEOUT_MS`. Not a
    /// server fault (never logged as an error): a narrower query helps.
    #[error("{0}")]
    SearchTimeout(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Why an authentication or authorization failed, the `reason` of
    /// `snippetd_auth_failures_total`; `None` for every other error (a
    /// quota's 403 is not an authorization failure).
    pub fn auth_failure(&self) -> Option<&'static str> {
        match self {
            ApiError::Unauthorized(None) => Some("missing_token"),
            ApiError::Unauthorized(Some(_)) => Some("invalid_token"),
            ApiError::InsufficientScope(_) => Some("insufficient_scope"),
            ApiError::Forbidden(_) => Some("forbidden"),
            _ => None,
        }
    }
}

impl From<SnippetError> for ApiError {
    fn from(e: SnippetError) -> Self {
        match e {
            SnippetError::NotFound => ApiError::NotFound,
            SnippetError::Denied(d) => d.into(),
            SnippetError::Forbidden => {
                ApiError::Forbidden("Only the snippet's owner or an admin may modify it.".into())
            }
            SnippetError::PreconditionFailed => ApiError::PreconditionFailed,
            SnippetError::Invalid(v) => ApiError::Invalid(v),
            SnippetError::QuotaExceeded(q) => ApiError::QuotaExceeded(q),
            SnippetError::Unavailable(why) => ApiError::Unavailable(why),
            SnippetError::Busy(why) => ApiError::SearchBusy(why),
            SnippetError::SearchTimeout(why) => ApiError::SearchTimeout(why),
            SnippetError::Internal(why) => ApiError::Internal(why),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Unauthenticated => ApiError::Unauthorized(None),
            Denied::MissingScope(s) => ApiError::InsufficientScope(s),
            Denied::OwnerGone => ApiError::Unauthorized(Some(d.to_string())),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Malformed(m) => ApiError::Unauthorized(Some(m.to_string())),
            AuthError::InvalidToken => ApiError::Unauthorized(Some(e.to_string())),
            AuthError::Denied(d) => d.into(),
            AuthError::Forbidden(why) => ApiError::Forbidden(why),
            AuthError::NotFound => ApiError::NotFound,
            AuthError::Conflict(why) => ApiError::Conflict(why),
            AuthError::Invalid(pointer, detail) => ApiError::Invalid(vec![Violation {
                pointer: pointer.into(),
                detail,
            }]),
            AuthError::Unavailable(why) => ApiError::Unavailable(why),
            AuthError::Internal(why) => ApiError::Internal(why),
        }
    }
}

/// The RFC 9457 body, members in the RFC's order.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(rename = "requestId")]
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ProblemError<'a>>>,
    /// Quota problems: the owner's usage and the limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<Usage>,
}

#[derive(Serialize)]
struct ProblemError<'a> {
    pointer: &'a str,
    detail: &'a str,
}

/// The documented limit on a request head (request line and headers), in
/// bytes, however its bytes arrive (docs/api.md).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Problem `type` URIs: stable identifiers, documented in docs/api.md.
const TYPE_BASE: &str = "tag:snippetd,2026:problem:";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_)
            | ApiError::Forbidden(_)
            | ApiError::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(_) | ApiError::SearchBusy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::HttpVersionNotSupported(_) => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::SearchTimeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::NotFound => "not-found",
            ApiError::Unauthorized(None) => "unauthorized",
            ApiError::Unauthorized(Some(_)) => "invalid-token",
            ApiError::InsufficientScope(_) => "insufficient-scope",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::RequestTimeout(_) => "request-timeout",
            ApiError::PreconditionFailed => "precondition-failed",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::UnsupportedContentEncoding(_) => "unsupported-content-encoding",
            ApiError::HeadersTooLarge(_) => "request-header-fields-too-large",
            ApiError::UriTooLong => "uri-too-long",
            ApiError::NotImplemented(_) => "not-implemented",
            ApiError::HttpVersionNotSupported(_) => "http-version-not-supported",
            ApiError::Invalid(_) => "validation-failed",
            ApiError::TooManyRequests(_) => "rate-limited",
            ApiError::SearchBusy(_) => "too-many-searches",
            ApiError::SearchTimeout(_) => "search-timeout",
            ApiError::QuotaExceeded(_) => "quota-exceeded",
            ApiError::Unavailable(_) => "service-unavailable",
            ApiError::Internal(_) => "internal-error",
        }
    }

    /// Server-side failures: logged whole, detail hidden from clients unless
    /// `EXPOSE_ERRORS=1`.
    pub fn is_server_error(&self) -> bool {
        matches!(self, ApiError::Unavailable(_) | ApiError::Internal(_))
    }

    /// The problem for a bare error status that a layer (timeout, body
    /// limit, panic guard) or hyper itself produced without a body.
    pub fn from_status(status: StatusCode, cfg: &crate::config::HttpConfig) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound,
            StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout(cfg.body_read_timeout),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(cfg.max_body_bytes),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                ApiError::HeadersTooLarge(MAX_HEAD_BYTES)
            }
            StatusCode::URI_TOO_LONG => ApiError::UriTooLong,
            StatusCode::HTTP_VERSION_NOT_SUPPORTED => {
                ApiError::HttpVersionNotSupported("this server speaks HTTP/1.0 and HTTP/1.1".into())
            }
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(format!(
                "request took longer than {:?}",
                cfg.request_timeout
            )),
            s if s.is_server_error() => ApiError::Internal(format!("bare {s} from a layer")),
            _ => ApiError::BadRequest(
                "the request is malformed (bad framing, header syntax or version)".into(),
            ),
        }
    }

    fn public_detail(&self, expose: bool) -> String {
        match self {
            ApiError::Unavailable(why) if expose => format!("service unavailable: {why}"),
            ApiError::Unavailable(_) => {
                "The database is unavailable right now; retry after the time in Retry-After.".into()
            }
            ApiError::Internal(why) if expose => format!("internal error: {why}"),
            ApiError::Internal(_) => {
                "An unexpected error occurred; quote the requestId when reporting it.".into()
            }
            ApiError::NotFound => "No resource at this path.".into(),
            ApiError::MethodNotAllowed(allow) => format!("Allowed methods: {allow}."),
            ApiError::Invalid(v) => format!("{} field(s) break the schema; see errors.", v.len()),
            other => other.to_string(),
        }
    }

    /// The whole problem body and its headers, status by status, in one
    /// place (86 lines): the point of this module is that no other code
    /// decides a status or a header of an error.
    pub fn into_response(self, request_id: &str, expose: bool) -> Response<Body> {
        let status = self.status();
        let errors = match &self {
            ApiError::Invalid(v) => Some(
                v.iter()
                    .map(|v| ProblemError {
                        pointer: &v.pointer,
                        detail: &v.detail,
                    })
                    .collect(),
            ),
            _ => None,
        };
        let body = Problem {
            kind: format!("{TYPE_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.public_detail(expose),
            request_id,
            errors,
            usage: match &self {
                ApiError::QuotaExceeded(q) => Some(q.usage),
                _ => None,
            },
            limits: match &self {
                ApiError::QuotaExceeded(q) => Some(q.limits),
                _ => None,
            },
        };
        let mut resp = Response::new(Body::from(
            serde_json::to_vec(&body).expect("problem serializes"),
        ));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::MethodNotAllowed(allow) => {
                h.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable(_) | ApiError::SearchBusy(_) | ApiError::SearchTimeout(_) => {
                h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyRequests(secs) => {
                h.insert(RETRY_AFTER, HeaderValue::from(*secs));
            }
            ApiError::Unauthorized(None) => {
                h.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"snippetd\""),
                );
            }
            ApiError::Unauthorized(Some(_)) => {
                h.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"snippetd\", error=\"invalid_token\""),
                );
            }
            ApiError::InsufficientScope(scope) => {
                let v = format!(
                    "Bearer realm=\"snippetd\", error=\"insufficient_scope\", scope=\"{scope}\""
                );
                h.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_str(&v).expect("scope names are ASCII"),
                );
            }
            ApiError::UnsupportedContentEncoding(_) => {
                // RFC 9110 15.5.16: say which content codings are accepted.
                h.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
            }
            ApiError::RequestTimeout(_)
            | ApiError::NotImplemented(_)
            | ApiError::HeadersTooLarge(_)
            | ApiError::UriTooLong
            | ApiError::HttpVersionNotSupported(_) => {
                // The rest of the request may still come, framed in a way we
                // do not read: never parse it as the next request.
                h.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

/// An error as a response, logged whole when it is the server's fault.
pub fn response(e: ApiError, rid: &str, expose: bool) -> Response<Body> {
    if let Some(reason) = e.auth_failure() {
        metrics::counter!(crate::metrics::AUTH_FAILURES, "reason" => reason).increment(1);
    }
    if e.is_server_error() {
        // Logged whole: the response shows it only with EXPOSE_ERRORS=1.
        log::error!(target: "snippetd::error", "{e}");
    }
    e.into_response(rid, expose)
}

#[cfg(test)]
mod tests;
