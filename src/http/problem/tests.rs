//! Unit tests of http/problem.rs.

use super::*;
use http_body_util::BodyExt;

fn body(resp: Response<Body>) -> serde_json::Value {
    let bytes = futures_util::FutureExt::now_or_never(resp.into_body().collect())
        .unwrap()
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn every_error_is_a_problem_with_its_status_and_type() {
    let cases = [
        (ApiError::BadRequest("x".into()), 400, "bad-request"),
        (ApiError::NotFound, 404, "not-found"),
        (ApiError::Unauthorized(None), 401, "unauthorized"),
        (
            ApiError::Unauthorized(Some("x".into())),
            401,
            "invalid-token",
        ),
        (
            ApiError::InsufficientScope(Scope::Admin),
            403,
            "insufficient-scope",
        ),
        (ApiError::Forbidden("x".into()), 403, "forbidden"),
        (ApiError::Conflict("x".into()), 409, "conflict"),
        (ApiError::MethodNotAllowed("GET"), 405, "method-not-allowed"),
        (ApiError::PreconditionFailed, 412, "precondition-failed"),
        (ApiError::PayloadTooLarge(1), 413, "payload-too-large"),
        (
            ApiError::UnsupportedContentEncoding("x".into()),
            415,
            "unsupported-content-encoding",
        ),
        (
            ApiError::HeadersTooLarge(1),
            431,
            "request-header-fields-too-large",
        ),
        (ApiError::NotImplemented("x".into()), 501, "not-implemented"),
        (
            ApiError::Unavailable("pool".into()),
            503,
            "service-unavailable",
        ),
        (ApiError::Internal("bug".into()), 500, "internal-error"),
        (ApiError::TooManyRequests(3), 429, "rate-limited"),
        (
            ApiError::QuotaExceeded(QuotaExceeded {
                usage: Usage {
                    snippets: 2,
                    bytes: 10,
                },
                limits: Usage {
                    snippets: 2,
                    bytes: 100,
                },
            }),
            403,
            "quota-exceeded",
        ),
    ];
    for (e, status, slug) in cases {
        let resp = e.into_response("rid-1", false);
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/problem+json");
        let p = body(resp);
        assert_eq!(p["type"], format!("{TYPE_BASE}{slug}"));
        assert_eq!(p["status"], status);
        assert_eq!(p["requestId"], "rid-1");
    }
}

#[test]
fn headers_that_go_with_a_status() {
    let r = ApiError::MethodNotAllowed("GET, HEAD").into_response("r", false);
    assert_eq!(r.headers()[ALLOW], "GET, HEAD");
    let r = ApiError::Unavailable("x".into()).into_response("r", false);
    assert_eq!(r.headers()[RETRY_AFTER], "1");
    let r = ApiError::TooManyRequests(17).into_response("r", false);
    assert_eq!(r.headers()[RETRY_AFTER], "17");
    let r = ApiError::Internal("x".into()).into_response("r", false);
    assert!(
        r.headers().get(RETRY_AFTER).is_none(),
        "a bug is not transient"
    );
    let r = ApiError::UnsupportedContentEncoding("x".into()).into_response("r", false);
    assert_eq!(r.headers()[ACCEPT_ENCODING], "identity");
    let r = ApiError::Unauthorized(None).into_response("r", false);
    assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"snippetd\"");
    let r = ApiError::Unauthorized(Some("x".into())).into_response("r", false);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"snippetd\", error=\"invalid_token\""
    );
    let r = ApiError::InsufficientScope(Scope::SnippetsWrite).into_response("r", false);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"snippetd\", error=\"insufficient_scope\", scope=\"snippets:write\""
    );
}

#[test]
fn server_error_details_only_when_exposed() {
    let hidden = body(ApiError::Internal("secret detail".into()).into_response("r", false));
    assert!(!hidden["detail"].as_str().unwrap().contains("secret"));
    let shown = body(ApiError::Internal("secret detail".into()).into_response("r", true));
    assert!(shown["detail"].as_str().unwrap().contains("secret detail"));
}
