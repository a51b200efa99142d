//! The hostile-inputs review (issue 20), one regression test per finding:
//! what an attacker or a careless client sends, and the one answer RFC 9110
//! and RFC 9112 allow. No client may cause a 5xx. Wire-level cases go over
//! a real socket to the real binary (TestApp); the rest run in-process.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::client::read_response;
use common::{Client, InProcApp, Response, TestApp};
use serde_json::json;

fn sample() -> serde_json::Value {
    json!({"title": "t", "language": "rust", "code": "fn main() {}", "tags": ["a"]})
}

/// Sends `bytes` (in `piece`-byte writes when given) and reads the answer.
fn wire(c: &Client, bytes: &[u8], piece: Option<usize>) -> Response {
    let mut s = TcpStream::connect(c.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match piece {
        None => {
            let _ = s.write_all(bytes);
        }
        Some(n) => {
            for chunk in bytes.chunks(n) {
                // The server may answer 431 and close before the rest arrives.
                if s.write_all(chunk).is_err() {
                    break;
                }
            }
        }
    }
    read_response(&mut s, false).expect("an answer")
}

fn assert_problem(r: &Response, status: u16) {
    r.problem(status);
    assert!(r.header("x-request-id").is_some(), "{r:?}");
}

#[test]
fn forged_cursors_are_400_never_503() {
    let app = InProcApp::new();
    let c = app.client();
    c.create(&sample());
    for q in ["", "&q=fn", "&tag=a", "&language=rust"] {
        let r = c.get(&format!(
            "/snippets?cursor=-zLC1Uu3AAAAAAAAAAAAAAAAAAAAAAAA{q}"
        ));
        assert_problem(&r, 400);
    }
}

/// Random query strings and cursors, through the whole stack to
/// PostgreSQL: only 200 or 400, never a 5xx.
#[test]
fn random_list_queries_get_200_or_400() {
    use proptest::prelude::*;
    let app = InProcApp::new();
    let c = app.client();
    for i in 0..30 {
        c.create(
            &json!({"title": format!("s{i}"), "language": "rust", "code": "x", "tags": ["a", "b"]}),
        );
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let key = prop_oneof![
        Just("limit".to_string()),
        Just("cursor".to_string()),
        Just("language".to_string()),
        Just("tag".to_string()),
        Just("q".to_string()),
        "[a-z]{1,6}".prop_map(|s| s)
    ];
    let value = prop_oneof![
        "[A-Za-z0-9_-]{32}",
        "[A-Za-z0-9%+=&._~-]{0,40}",
        any::<[u8; 24]>().prop_map(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        }),
        (-5i64..200).prop_map(|n| n.to_string()),
    ];
    let pairs = proptest::collection::vec((key, value), 0..5);
    runner
        .run(&pairs, |pairs| {
            let qs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
                .collect();
            let path = format!("/snippets?{}", qs.join("&"));
            let r = c.get(&path);
            prop_assert!(
                r.status == 200 || r.status == 400,
                "{path} -> {} {}",
                r.status,
                r.text()
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn concurrent_patches_all_apply_or_get_412() {
    // Generous timeouts: this is about every PATCH applying, not latency
    // (32 transactions queue on one row lock).
    let app = InProcApp::with_env(&[
        ("DB_POOL_SIZE", "32"),
        ("DB_POOL_TIMEOUT_MS", "30000"),
        ("DB_STATEMENT_TIMEOUT_MS", "60000"),
        ("REQUEST_TIMEOUT_SECONDS", "120"),
    ]);
    let c = app.client();
    let id = c.create(&sample())["id"].as_str().unwrap().to_string();
    let run = |if_match: Option<&str>| -> Vec<u16> {
        let mut statuses = Vec::new();
        for round in 0..2 {
            let barrier = Arc::new(Barrier::new(32));
            let handles: Vec<_> = (0..32)
                .map(|i| {
                    let (c, id, barrier) = (c.clone(), id.clone(), barrier.clone());
                    let etag = if_match.map(str::to_string);
                    std::thread::spawn(move || {
                        let body =
                            json!({"description": format!("writer {round}-{i}")}).to_string();
                        let mut headers = vec![("Content-Type", "application/merge-patch+json")];
                        if let Some(e) = &etag {
                            headers.push(("If-Match", e.as_str()));
                        }
                        barrier.wait();
                        c.send(
                            "PATCH",
                            &format!("/snippets/{id}"),
                            &headers,
                            Some(body.as_bytes()),
                        )
                        .status
                    })
                })
                .collect();
            statuses.extend(handles.into_iter().map(|h| h.join().unwrap()));
        }
        statuses
    };
    let plain = run(None);
    assert!(plain.iter().all(|s| *s == 200), "{plain:?}");
    let v = c.get(&format!("/snippets/{id}"));
    // Every one of the 64 applied: the version moved by 64.
    assert_eq!(v.header("etag"), Some("\"65\""));
    let conditional = run(Some("\"65\""));
    assert!(
        conditional.iter().all(|s| *s == 200 || *s == 412),
        "{conditional:?}"
    );
    assert_eq!(conditional.iter().filter(|s| **s == 200).count(), 1);
}

#[test]
fn if_none_match_on_writes_is_a_precondition() {
    let app = InProcApp::new();
    let c = app.client();
    let created = c.create(&sample());
    let path = format!("/snippets/{}", created["id"].as_str().unwrap());
    let put = |inm: &str| {
        c.send(
            "PUT",
            &path,
            &[("Content-Type", "application/json"), ("If-None-Match", inm)],
            Some(sample().to_string().as_bytes()),
        )
    };
    put("*").problem(412);
    put("\"1\"").problem(412);
    put("W/\"1\"").problem(412);
    assert_eq!(put("\"7\"").status, 200);
    let patch = c.send(
        "PATCH",
        &path,
        &[
            ("Content-Type", "application/json"),
            ("If-None-Match", "\"2\""),
        ],
        Some(b"{\"title\":\"x\"}"),
    );
    patch.problem(412);
    c.send("DELETE", &path, &[("If-None-Match", "*")], None)
        .problem(412);
    assert_eq!(c.get(&path).status, 200, "nothing was deleted");
    assert_eq!(
        c.send("DELETE", &path, &[("If-None-Match", "\"1\"")], None)
            .status,
        204
    );
}

#[test]
fn parser_differentials_are_400() {
    let app = InProcApp::new();
    let c = app.client();
    c.send(
        "POST",
        "/snippets",
        &[
            ("Content-Type", "application/json"),
            ("Content-Type", "text/plain"),
        ],
        Some(sample().to_string().as_bytes()),
    )
    .problem(400);
    let dup = br#"{"title":"a","title":"b","language":"rust","code":"x"}"#;
    let r = c.send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json")],
        Some(dup),
    );
    assert_problem(&r, 400);
    assert!(r.json()["detail"].as_str().unwrap().contains("duplicate"));
    let nested = br#"{"title":"a","language":"rust","code":"x","tags":[],"description":null,"x":{"k":1,"k":2}}"#;
    c.send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json")],
        Some(nested),
    )
    .problem(400);
}

#[test]
fn one_url_per_snippet() {
    let app = InProcApp::new();
    let c = app.client();
    let id = c.create(&sample())["id"].as_str().unwrap().to_string();
    assert_eq!(c.get(&format!("/snippets/{id}")).status, 200);
    c.get(&format!("/snippets/{}", id.to_uppercase()))
        .problem(404);
    c.get(&format!("/snippets/{{{id}}}")).problem(404);
}

#[test]
fn host_header_musts() {
    let app = TestApp::new();
    let c = app.client();
    for head in [
        "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n".to_string(),
        "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n".into(),
        "GET /health HTTP/1.1\r\nHost: a b/c@d\r\nConnection: close\r\n\r\n".into(),
        "GET /health HTTP/1.1\r\nHost: é.example\r\nConnection: close\r\n\r\n".into(),
    ] {
        assert_problem(&wire(&c, head.as_bytes(), None), 400);
    }
    let ok = wire(&c, b"GET /health HTTP/1.0\r\n\r\n", None);
    assert_eq!(ok.status, 200, "HTTP/1.0 needs no Host");
}

#[test]
fn header_limit_holds_however_the_head_arrives() {
    let app = TestApp::new();
    let c = app.client();
    for size in [70_000, 114_000] {
        let head = format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(size)
        );
        for piece in [None, Some(4096)] {
            let r = wire(&c, head.as_bytes(), piece);
            assert_problem(&r, 431);
        }
    }
    let fine = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(60_000)
    );
    for piece in [None, Some(4096)] {
        assert_eq!(wire(&c, fine.as_bytes(), piece).status, 200);
    }
}

#[test]
fn codings_we_do_not_implement_are_refused() {
    let app = TestApp::new();
    let c = app.client();
    let body = sample().to_string();
    for te in ["gzip, chunked", "chunked, chunked"] {
        let req = format!(
            "POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: {te}\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        assert_problem(&wire(&c, req.as_bytes(), None), 501);
    }
    let r = c.send(
        "POST",
        "/snippets",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        Some(body.as_bytes()),
    );
    assert_problem(&r, 415);
    assert_eq!(r.header("accept-encoding"), Some("identity"));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&c.get("/snippets").body).unwrap();
    assert!(list.is_empty(), "nothing was created from a misread body");
}

#[test]
fn versions() {
    let app = TestApp::new();
    let c = app.client();
    for v in ["HTTP/2.0", "HTTP/3.0"] {
        let r = wire(
            &c,
            format!("GET /health {v}\r\nHost: x\r\n\r\n").as_bytes(),
            None,
        );
        assert_problem(&r, 505);
    }
    // httparse (hyper's parser) accepts only HTTP/1.0 and HTTP/1.1; a
    // higher minor version is a 400 there, and hyper cannot be told
    // otherwise (docs/api.md, "Malformed requests").
    let r = wire(&c, b"GET /health HTTP/1.2\r\nHost: x\r\n\r\n", None);
    assert_problem(&r, 400);
}

/// What hyper refuses by itself gets a problem body, a request id and a
/// log line with the peer and the reason.
#[test]
fn requests_hyper_rejects_leave_a_trace() {
    let app = TestApp::new();
    let c = app.client();
    let probes: [&[u8]; 4] = [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
        b"POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /health HTTP/9\r\nHost: x\r\n\r\n",
        b"GET\x01 /health HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for p in probes {
        let r = wire(&c, p, None);
        assert!(r.status == 400 || r.status == 505, "{r:?}");
        assert_problem(&r, r.status);
    }
    let logged = app.server.logs.wait_for(Duration::from_secs(5), |l| {
        l.contains("\"target\":\"rejected\"") && l.contains("\"peer\":\"127.0.0.1:")
    });
    assert!(logged.is_some(), "{}", app.server.logs.text());
}

/// A flood of malformed requests is logged at most LOG_PER_SECOND lines a
/// second, and the server keeps serving.
#[test]
fn rejection_logging_is_rate_limited() {
    let app = TestApp::new();
    let c = app.client();
    let started = std::time::Instant::now();
    for _ in 0..200 {
        let mut s = TcpStream::connect(c.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n");
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    let secs = started.elapsed().as_secs() + 1;
    std::thread::sleep(Duration::from_millis(200));
    let lines = app
        .server
        .logs
        .all()
        .iter()
        .filter(|l| l.contains("\"target\":\"rejected\""))
        .count() as u64;
    assert!(
        lines >= 1 && lines <= 10 * (secs + 1),
        "{lines} lines in {secs}s"
    );
    assert_eq!(c.get("/health").status, 200);
}

/// Issue 13.5: only "could not get or keep a connection" is a 503; a
/// broken schema (a bad deploy) is a 500 that nobody should retry.
#[test]
fn database_errors_are_classified_truthfully() {
    let app = InProcApp::with_env(&[
        ("DB_POOL_SIZE", "2"),
        ("DB_STATEMENT_TIMEOUT_MS", "500"),
        ("DB_POOL_TIMEOUT_MS", "5000"),
    ]);
    let c = app.client();
    let id = c.create(&sample())["id"].as_str().unwrap().to_string();

    // Statement timeout while a lock is held: transient, 503 + Retry-After.
    let locker = app.db.lock_snippets(2);
    let r = c.get(&format!("/snippets/{id}"));
    assert_problem(&r, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    locker.join().unwrap();

    // The server ends our sessions (admin shutdown, fail-over): 503, and
    // the pool heals.
    app.db.psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND application_name = 'snippetd'",
        app.db.name
    ));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(c.get(&format!("/snippets/{id}")).status);
    }
    assert!(seen.iter().all(|s| *s == 200 || *s == 503), "{seen:?}");
    assert_eq!(*seen.last().unwrap(), 200, "{seen:?}");

    // A column gone (schema and binary disagree): 500, not "retry later".
    app.db
        .psql("ALTER TABLE snippets DROP COLUMN description CASCADE");
    let r = c.get(&format!("/snippets/{id}"));
    assert_problem(&r, 500);
    assert_eq!(r.header("retry-after"), None);
    let r = c.create_status(&sample());
    assert_eq!(r, 500);
}
