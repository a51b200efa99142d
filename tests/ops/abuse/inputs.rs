//! Oversized heads and bodies, invalid UTF-8, deep nesting.

use super::*;

/// A head larger than the server buffers (64 KiB), or with more header
/// fields than it accepts, gets 431 (or the connection closed), never a
/// crash or a stall; a URI of 60 KB gets 414 or 431 or 404, not 5xx.
#[test]
fn oversized_heads_are_refused() {
    let (mut app, id) = app(&[]);
    let addr = app.server.addr;
    let prober = Prober::start(addr, probe_paths(&id));
    // hyper checks MAX_BUF (64 KiB) only while the head is incomplete and
    // reads into spare buffer capacity, so heads up to ~128 KiB may pass
    // (measured: 100 KiB → 200, 256 KiB → 431): bounded, not exact.
    let big = "a".repeat(256 * 1024);
    let many: String = (0..500).map(|i| format!("X-F{i}: v\r\n")).collect();
    let long_uri = format!("/snippets?q={}", "b".repeat(60 * 1024));
    let cases = [
        (
            "one 256 KiB header",
            format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {big}\r\n\r\n"),
        ),
        (
            "500 header fields",
            format!("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{many}\r\n"),
        ),
        (
            "a 60 KB URI",
            format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ),
    ];
    for (what, req) in cases {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = write_lenient(&mut s, req.as_bytes());
        let (closed, got) = wait_closed(&mut s, Duration::from_secs(5));
        let status = status_of(&got);
        eprintln!("{what}: status {status:?}, closed after {closed:?}");
        assert!(
            closed.is_some(),
            "{what}: connection left open, got {status:?}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{what}: took {:?}",
            t0.elapsed()
        );
        match status {
            None | Some(431) | Some(414) | Some(400) => {}
            // The long URI fits in the buffer: the query validation answers.
            Some(other) => assert!(
                what == "a 60 KB URI" && (400..500).contains(&other),
                "{what}: status {other}"
            ),
        }
    }
    prober.finish();
    assert_alive(&mut app);
}

/// Bodies over MAX_BODY_BYTES: with a Content-Length the 413 comes before
/// any of the body is sent; chunked (no Content-Length) the server stops
/// reading at the limit and answers 413. A body exactly at the limit is
/// read (and judged on its content).
#[test]
fn oversized_bodies_get_413() {
    let (mut app, id) = app(&[("MAX_BODY_BYTES", "65536")]);
    let addr = app.server.addr;
    let prober = Prober::start(addr, probe_paths(&id));

    // Content-Length of 100 MB, no body sent at all: an answer anyway.
    let mut s = TcpStream::connect(addr).unwrap();
    let t0 = Instant::now();
    // With the tester's token: the body is what is judged, not the caller.
    s.write_all(&app.client().authorized(b"POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"))
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = common::client::read_response(&mut s, false).expect("413 before the body");
    eprintln!(
        "Content-Length 100 MB: {} after {:?}",
        r.status,
        t0.elapsed()
    );
    r.problem(413);
    assert!(t0.elapsed() < PROMPT);

    // Chunked, no Content-Length, 1 MiB in 8 KiB chunks.
    let mut s = TcpStream::connect(addr).unwrap();
    let t0 = Instant::now();
    // With the tester's token: the body is what is judged, not the caller.
    s.write_all(&app.client().authorized(b"POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"))
        .unwrap();
    let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
    let mut sent = 0;
    for _ in 0..128 {
        if !write_lenient(&mut s, chunk.as_bytes()) {
            break;
        }
        sent += 0x2000;
    }
    let _ = write_lenient(&mut s, b"0\r\n\r\n");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = common::client::read_response(&mut s, false).expect("413 for a chunked body");
    eprintln!(
        "chunked 1 MiB: {} after {:?}, {sent} bytes written",
        r.status,
        t0.elapsed()
    );
    r.problem(413);

    // Content-Length one over the limit, body sent: 413 as well.
    let body = vec![b' '; 65537];
    let r = app.client().send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json")],
        Some(&body),
    );
    r.problem(413);
    // At the limit: read, then refused for what it is (blank JSON).
    let r = app.client().send(
        "POST",
        "/snippets",
        &[("Content-Type", "application/json")],
        Some(&body[..65536]),
    );
    r.problem(400);
    // PUT and PATCH have the same limit.
    let path = format!("/snippets/{id}");
    app.client()
        .send(
            "PUT",
            &path,
            &[("Content-Type", "application/json")],
            Some(&body),
        )
        .problem(413);
    app.client()
        .send(
            "PATCH",
            &path,
            &[("Content-Type", "application/merge-patch+json")],
            Some(&body),
        )
        .problem(413);

    prober.finish();
    assert_alive(&mut app);
}

/// Bytes that are not UTF-8 (body, query, path, header values) and JSON
/// nested far deeper than any snippet: 400 (or 404 for a path), never 5xx.
#[test]
fn invalid_utf8_and_deep_nesting_are_client_errors() {
    let (mut app, id) = app(&[]);
    let c = app.client();
    let ct = [("Content-Type", "application/json")];
    let path = format!("/snippets/{id}");

    // Not UTF-8: in a string, bare, and as an overlong encoding.
    for body in [
        &b"{\"title\":\"\xff\xfe\",\"language\":\"c\",\"code\":\"x\"}"[..],
        b"\xc0\xaf",
        b"{\"title\":\"\xed\xa0\x80\",\"language\":\"c\",\"code\":\"x\"}",
    ] {
        c.send("POST", "/snippets", &ct, Some(body)).problem(400);
        c.send("PUT", &path, &ct, Some(body)).problem(400);
    }
    c.get("/snippets?q=%FF%FE").problem(400);
    c.get("/snippets?language=%C0%AF").problem(400);
    // A raw 0xFF in the request target: hyper refuses it or it is not found.
    let r = c.raw(b"GET /snippets/\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if let Ok(r) = r {
        assert!(
            matches!(r.status, 400 | 404),
            "raw 0xFF in the path: {}",
            r.status
        );
    }
    // A request id that is not ASCII is replaced, not echoed or refused.
    let r = c
        .raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xff\xfe\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r
        .header("x-request-id")
        .is_some_and(|v| v.is_ascii() && v.len() == 36));

    // 100,000 nested arrays and 30,000 nested objects (both under 256 KiB).
    let arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let objects = format!("{}1{}", "{\"a\":".repeat(30_000), "}".repeat(30_000));
    for deep in [&arrays, &objects] {
        let t0 = Instant::now();
        let p = c
            .send("POST", "/snippets", &ct, Some(deep.as_bytes()))
            .problem(400);
        assert!(t0.elapsed() < PROMPT, "{:?}", t0.elapsed());
        assert!(
            p["detail"].as_str().unwrap().len() < 300,
            "the detail does not echo the input"
        );
        c.send(
            "PATCH",
            &path,
            &[("Content-Type", "application/merge-patch+json")],
            Some(deep.as_bytes()),
        )
        .problem(400);
    }
    // Nesting the parser accepts (100 levels) inside a field: 422, in a
    // merge patch: 422 as well (description must be a string).
    let nested = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let body =
        format!("{{\"title\":\"t\",\"language\":\"c\",\"code\":\"x\",\"description\":{nested}}}");
    c.send("POST", "/snippets", &ct, Some(body.as_bytes()))
        .problem(422);
    let body = format!("{{\"description\":{nested}}}");
    c.send(
        "PATCH",
        &path,
        &[("Content-Type", "application/merge-patch+json")],
        Some(body.as_bytes()),
    )
    .problem(422);
    let nested_obj = format!("{}1{}", "{\"a\":".repeat(120), "}".repeat(120));
    let body = format!("{{\"tags\":{nested_obj}}}");
    c.send(
        "PATCH",
        &path,
        &[("Content-Type", "application/merge-patch+json")],
        Some(body.as_bytes()),
    )
    .problem(422);

    // The snippet is unchanged and the server is fine.
    let r = c.get(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["title"], "t");
    assert_alive(&mut app);
}
