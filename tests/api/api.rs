//! The REST contract against a real PostgreSQL: in-process through the
//! tower stack (InProcApp), and over a real socket where raw bytes or log
//! lines matter (TestApp).

use crate::common;

use common::{InProcApp, TestApp};
use serde_json::{json, Value};

fn sample() -> Value {
    json!({"title": "Test", "language": "javascript", "code": "console.log(1);"})
}

#[test]
fn health_ready_and_unknown_paths() {
    let app = InProcApp::new();
    let c = app.client();
    let r = c.get("/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert!(r.header("x-request-id").is_some());
    let r = c.get("/ready");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ready"}));
    c.get("/nope").problem(404);
    c.get("/snippets/").problem(404);
    let r = c.send("HEAD", "/health", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

/// A plain probe is answered by the outer layer (src/http/stack.rs,
/// `is_plain_health`); one with a query or an `Origin` goes through every
/// layer. Both answer alike, and what the inner path enforces still holds.
#[test]
fn the_probe_fast_path_answers_as_the_full_path() {
    let app = InProcApp::with_env(&[("CORS_ALLOWED_ORIGINS", "https://ok.example")]);
    let c = app.client();
    let fast = c.send("GET", "/health", &[("X-Request-Id", "probe-1")], None);
    let full = c.send(
        "GET",
        "/health",
        &[
            ("X-Request-Id", "probe-2"),
            ("Origin", "https://ok.example"),
        ],
        None,
    );
    for r in [&fast, &full] {
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"status":"ok"}"#);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(fast.header("x-request-id"), Some("probe-1"));
    assert_eq!(full.header("x-request-id"), Some("probe-2"));
    assert_eq!(
        full.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    // A token in the URL is refused on the full path, as on every route.
    c.get("/health?token=snp_x").problem(400);
    c.send("POST", "/health", &[], None).problem(405);
    // Issue 30, finding 16: never stored by a cache, on either path.
    assert_eq!(fast.header("cache-control"), Some("no-store"));
    assert_eq!(full.header("cache-control"), Some("no-store"));
}

/// Issue 30, finding 16: a 304 carries the Cache-Control its 200 would
/// (RFC 9110 §15.4.5), `/ready` is never stored, `/openapi.json` has a
/// validator.
#[test]
fn conditional_answers_carry_their_caching_headers() {
    let app = InProcApp::new();
    let c = app.client();
    let s = c.create(&sample());
    let path = format!("/snippets/{}", s["id"].as_str().unwrap());
    let ok = c.get(&path);
    let etag = ok.header("etag").unwrap().to_string();
    let r = c.send("GET", &path, &[("If-None-Match", &etag)], None);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("cache-control"), ok.header("cache-control"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(c.get("/ready").header("cache-control"), Some("no-store"));
    let doc = c.get("/openapi.json");
    let tag = doc.header("etag").expect("an ETag").to_string();
    assert_eq!(doc.header("cache-control"), Some("no-cache"));
    let r = c.send("GET", "/openapi.json", &[("If-None-Match", &tag)], None);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(tag.as_str()));
}

#[test]
fn create_get_list_replace_delete() {
    let app = InProcApp::new();
    let c = app.client();
    let r = c.json("POST", "/snippets", &sample());
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/snippets/{id}").as_str())
    );
    assert!(r.header("etag").unwrap().starts_with('"'));
    assert_eq!(created["title"], "Test");
    assert_eq!(created["description"], Value::Null);
    assert_eq!(created["tags"], json!([]));
    assert_eq!(created["createdAt"], created["updatedAt"]);
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    let r = c.get(&format!("/snippets/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), created);

    let list = c.get("/snippets");
    assert_eq!(list.status, 200);
    assert_eq!(list.json(), json!([created]));

    // PUT back what we GET, changed: server-owned fields are ignored.
    let mut put = created.clone();
    put["title"] = json!("Renamed");
    put["id"] = json!("00000000-0000-0000-0000-000000000000");
    put["createdAt"] = json!("1999-01-01T00:00:00.000Z");
    let r = c.json("PUT", &format!("/snippets/{id}"), &put);
    assert_eq!(r.status, 200, "{}", r.text());
    let replaced = r.json();
    assert_eq!(replaced["id"], created["id"]);
    assert_eq!(replaced["title"], "Renamed");
    assert_eq!(replaced["createdAt"], created["createdAt"]);
    assert_ne!(r.header("etag"), None);

    let r = c.send("DELETE", &format!("/snippets/{id}"), &[], None);
    assert_eq!(r.status, 204);
    c.get(&format!("/snippets/{id}")).problem(404);
    c.send("DELETE", &format!("/snippets/{id}"), &[], None)
        .problem(404);
    c.json("PUT", &format!("/snippets/{id}"), &sample())
        .problem(404);
}

#[test]
fn newest_first_and_limit() {
    let app = InProcApp::new();
    let c = app.client();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            let mut s = sample();
            s["title"] = json!(format!("n{i}"));
            c.create(&s)["id"].as_str().unwrap().to_string()
        })
        .collect();
    let page = c.get("/snippets?limit=3").json();
    let got: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![&ids[4], &ids[3], &ids[2]]);
    assert_eq!(c.get("/snippets").json().as_array().unwrap().len(), 5);
    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "cursor=bogus",
        "sort=asc",
    ] {
        c.get(&format!("/snippets?{bad}")).problem(400);
    }
}

#[test]
fn malformed_and_unknown_ids_are_404() {
    let app = InProcApp::new();
    let c = app.client();
    for path in [
        "/snippets/123",
        "/snippets/not-a-uuid",
        "/snippets/00000000-0000-0000-0000-000000000000",
        "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/extra",
        "/snippets/%27%3B%20DROP%20TABLE%20snippets",
    ] {
        c.get(path).problem(404);
    }
}

#[test]
fn validation_lists_every_violation() {
    let app = InProcApp::new();
    let c = app.client();
    let r = c.json(
        "POST",
        "/snippets",
        &json!({"title": "   ", "language": "", "code": 5, "tags": ["Bad Tag"], "extra": true}),
    );
    let p = r.problem(422);
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for want in ["/title", "/language", "/code", "/tags/0", "/extra"] {
        assert!(pointers.contains(&want), "{want} not in {pointers:?}");
    }
    // Limits.
    let mut s = sample();
    s["title"] = json!("x".repeat(201));
    c.json("POST", "/snippets", &s).problem(422);
    let mut s = sample();
    s["code"] = json!("x".repeat(100_001));
    c.json("POST", "/snippets", &s).problem(422);
    let mut s = sample();
    s["description"] = json!("x".repeat(2001));
    c.json("POST", "/snippets", &s).problem(422);
    let mut s = sample();
    s["tags"] = json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>());
    c.json("POST", "/snippets", &s).problem(422);
    // Not an object at all.
    c.json("POST", "/snippets", &json!([1, 2])).problem(422);
    c.json("POST", "/snippets", &json!(null)).problem(422);
    // Nothing was stored.
    assert_eq!(c.get("/snippets").json(), json!([]));
}

#[test]
fn unparseable_bodies_are_400() {
    let app = InProcApp::new();
    let c = app.client();
    let ct = [("Content-Type", "application/json")];
    c.send("POST", "/snippets", &ct, Some(b"{\"title\": "))
        .problem(400);
    c.send("POST", "/snippets", &ct, Some(b"")).problem(400);
    c.send("POST", "/snippets", &ct, Some(b"{\"title\":\"\xff\xfe\"}"))
        .problem(400);
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    c.send("POST", "/snippets", &ct, Some(deep.as_bytes()))
        .problem(400);
}

#[test]
fn content_type_and_size() {
    let app = TestApp::with_env(&[("MAX_BODY_BYTES", "4096")]);
    let c = app.client();
    let body = sample().to_string();
    c.send(
        "POST",
        "/snippets",
        &[("Content-Type", "text/plain")],
        Some(body.as_bytes()),
    )
    .problem(415);
    c.send("POST", "/snippets", &[], Some(body.as_bytes()))
        .problem(415);
    c.send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json; charset=iso-8859-1")],
        Some(body.as_bytes()),
    )
    .problem(415);
    let r = c.send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json; charset=utf-8")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 201);
    let mut big = sample();
    big["code"] = json!("x".repeat(5000));
    c.json("POST", "/snippets", &big).problem(413);
    // Chunked, no Content-Length: the limit still holds.
    let chunk = "y".repeat(5000);
    let raw = format!(
        "POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    c.raw(raw.as_bytes()).unwrap().problem(413);
}

#[test]
fn wrong_methods_get_405_with_allow() {
    let app = InProcApp::new();
    let c = app.client();
    let r = c.send("DELETE", "/snippets", &[], None);
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let id = c.create(&sample())["id"].as_str().unwrap().to_string();
    let r = c.send("POST", &format!("/snippets/{id}"), &[], None);
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH, DELETE"));
    let r = c.send("POST", "/health", &[], None);
    r.problem(405);
    let r = c.send("OPTIONS", "/snippets", &[], None);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
}

#[test]
fn text_round_trips_exactly_and_nul_is_422() {
    let app = InProcApp::new();
    let c = app.client();
    let tricky = "quotes \" ' ` backslash \\ \\n tab\t newline\n SQL: '); DROP TABLE snippets;-- emoji 🦀👩‍💻 CJK 漢字かな 한국어 RTL עברית \u{200b}";
    let body = json!({"title": "🦀 漢字 \"x\"", "language": "c++", "code": tricky,
                      "description": tricky, "tags": ["a-1", "z9"]});
    let created = c.create(&body);
    let got = c
        .get(&format!("/snippets/{}", created["id"].as_str().unwrap()))
        .json();
    for k in ["title", "language", "code", "description", "tags"] {
        assert_eq!(got[k], body[k], "{k}");
    }
    let mut nul = sample();
    nul["code"] = json!("a\u{0}b");
    let p = c.json("POST", "/snippets", &nul).problem(422);
    assert_eq!(p["errors"][0]["pointer"], "/code");
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let app = TestApp::new();
    let c = app.client();
    let r = c.send("GET", "/nope", &[("X-Request-Id", "trace-abc.123")], None);
    assert_eq!(r.header("x-request-id"), Some("trace-abc.123"));
    assert_eq!(r.problem(404)["requestId"], "trace-abc.123");
    let long = "a".repeat(129);
    let r = c.send("GET", "/health", &[("X-Request-Id", &long)], None);
    let generated = r.header("x-request-id").unwrap();
    assert_ne!(generated, long);
    assert_eq!(generated.len(), 36);
    // The access log line carries the id.
    let line = app
        .server
        .logs
        .wait_for(std::time::Duration::from_secs(5), |l| {
            l.contains("trace-abc.123") && l.contains("\"status\":404")
        })
        .expect("access log line with the request id");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/nope");
    assert!(v["duration_ms"].is_number());
}
