//! Unit tests of http/stack.rs.

use super::*;
use http_body_util::Full;
use tower::ServiceExt;

async fn through_cors(origins: CorsOrigins, req: Request<Full<Bytes>>) -> hyper::HeaderMap {
    let inner = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    cors(&origins)
        .layer(inner)
        .oneshot(req)
        .await
        .unwrap()
        .headers()
        .clone()
}

fn get(origin: &str) -> Request<Full<Bytes>> {
    Request::get("/snippets")
        .header("origin", origin)
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn listed_origins_only() {
    let list = CorsOrigins::List(vec!["https://app.example.com".into()]);
    let h = through_cors(list.clone(), get("https://app.example.com")).await;
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert!(h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("etag"));
    let h = through_cors(list, get("https://evil.example.com")).await;
    assert!(h.get("access-control-allow-origin").is_none());
    let h = through_cors(CorsOrigins::None, get("https://app.example.com")).await;
    assert!(h.get("access-control-allow-origin").is_none());
    let h = through_cors(CorsOrigins::Any, get("https://x.example")).await;
    assert_eq!(h["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn preflight_lists_methods_and_headers() {
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/snippets")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "if-match")
        .body(Full::default())
        .unwrap();
    let list = CorsOrigins::List(vec!["https://app.example.com".into()]);
    let h = through_cors(list, req).await;
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PATCH"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("if-match"));
    assert_eq!(h["access-control-max-age"], "600");
}

#[test]
fn request_ids_are_echoed_only_when_sane() {
    let h = |v: &str| {
        let mut m = hyper::HeaderMap::new();
        m.insert(X_REQUEST_ID, HeaderValue::from_str(v).unwrap());
        request_id(&m)
    };
    assert_eq!(&*h("abc-123"), "abc-123");
    let long = "a".repeat(129);
    assert_ne!(&*h(&long), long);
    assert_ne!(&*h("a b"), "a b");
    assert_eq!(request_id(&hyper::HeaderMap::new()).len(), 36);
}
