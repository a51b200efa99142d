//! CORS, the /docs page and its assets, the OpenAPI document.

use super::*;

#[test]
fn cors_for_listed_origins_only() {
    let app = InProcApp::with_env(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com, http://localhost:5173",
    )]);
    let c = app.client();
    let pre = |origin: &str| {
        c.send(
            "OPTIONS",
            "/snippets",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type, if-match"),
            ],
            None,
        )
    };
    let r = pre("https://app.example.com");
    // tower-http's CorsLayer answers a preflight with 200 (any 2xx will do).
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PUT"));
    let allowed = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("if-match") && allowed.contains("content-type"));
    assert!(allowed.contains("authorization"), "{allowed}");
    let r = pre("https://evil.example.com");
    // No Access-Control-Allow-Origin: the browser refuses. (tower-http
    // lists the allowed methods on every preflight; they grant nothing
    // without the origin.)
    assert_eq!(r.header("access-control-allow-origin"), None);

    let r = c.send(
        "GET",
        "/snippets",
        &[("Origin", "http://localhost:5173")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    // Header names are case-insensitive; tower-http writes them lower-case.
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("www-authenticate"),
        "{exposed}"
    );
    assert!(r.header("vary").unwrap().to_lowercase().contains("origin"));
    let r = c.send(
        "GET",
        "/nope",
        &[("Origin", "https://evil.example.com")],
        None,
    );
    assert_eq!(r.header("access-control-allow-origin"), None);

    let any = InProcApp::with_env(&[("CORS_ALLOWED_ORIGINS", "*")]);
    let r = any
        .client()
        .send("GET", "/health", &[("Origin", "https://x.example")], None);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

/// `GET /docs` (src/http/docs_ui/): the page with its CSP, the assets with
/// their types, year-long caching and gzip only for clients that take it.
/// The browser test (make browser-test) renders it.
#[test]
fn docs_page_and_assets() {
    use snippetd::http::docs_ui::ASSET_DIR;
    let app = InProcApp::new();
    let c = app.client();
    let page = c.get("/docs");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains(&format!("/docs/{ASSET_DIR}/init.js")));

    let bundle = format!("/docs/{ASSET_DIR}/swagger-ui-bundle.js");
    let gz = c.send("GET", &bundle, &[("Accept-Encoding", "gzip, br")], None);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b], "a gzip stream");
    assert_eq!(
        gz.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(gz.header("vary").unwrap().contains("accept-encoding"));
    let plain = c.send("GET", &bundle, &[("Accept-Encoding", "identity")], None);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.len() > 3 * gz.body.len(), "the plain bytes");
    for (file, ctype) in [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("init.js", "text/javascript; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
        ("LICENSE", "text/plain; charset=utf-8"),
    ] {
        let r = c.get(&format!("/docs/{ASSET_DIR}/{file}"));
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), Some(ctype), "{file}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let head = c.send("HEAD", "/docs", &[], None);
    assert_eq!((head.status, head.body.len()), (200, 0));
    // Another release's directory, or a file we do not ship: 404.
    for path in ["/docs/0.0.0-1/init.js", &format!("/docs/{ASSET_DIR}/x.js")] {
        c.get(path).problem(404);
    }
    c.send("POST", "/docs", &[], None).problem(405);
}

#[test]
fn openapi_document_is_served_and_valid() {
    let app = InProcApp::new();
    let r = app.client().get("/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");

    // Validate against the OpenAPI 3.1 schema (openapi-spec-validator from
    // PyPI, installed by `make tools`).
    let validator =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/openapi-spec-validator");
    if !validator.exists() {
        assert!(
            std::env::var_os("SNIPPETD_REQUIRE_TOOLS").is_none(),
            "openapi-spec-validator missing: run `make tools`"
        );
        eprintln!("skipping the OpenAPI 3.1 schema check: run `make tools`");
        return;
    }
    let file = std::env::temp_dir().join(format!("snippetd-openapi-{}.json", std::process::id()));
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new(validator)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ops: HashSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    assert!(ops.contains("PATCH /snippets/{id}"), "{ops:?}");
}
