//! Slowloris, idle connections and stalled bodies: the timeouts.

use super::*;

/// Slowloris (a header line now and then, never the end of the head), a
/// connection that sends nothing, and a keep-alive connection left idle
/// after one request: each is closed after HEADER_READ_TIMEOUT_SECONDS.
#[test]
fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let (mut app, id) = app(&[("HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let addr = app.server.addr;
    let prober = Prober::start(addr, probe_paths(&id));
    let limit = Duration::from_secs(5);

    let slowloris = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let t0 = Instant::now();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
        let mut lines = 0;
        loop {
            // One more header line every 300 ms: far from any size limit.
            let (closed, got) = wait_closed(&mut s, Duration::from_millis(300));
            if closed.is_some() {
                return (Some(t0.elapsed()), got, lines);
            }
            if t0.elapsed() > limit
                || !write_lenient(&mut s, format!("X-{lines}: a\r\n").as_bytes())
            {
                let (closed, got) = wait_closed(&mut s, Duration::from_millis(500));
                return (closed.map(|_| t0.elapsed()), got, lines);
            }
            lines += 1;
        }
    });
    let silent = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        wait_closed(&mut s, limit)
    });
    let kept_alive = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let first = common::client::read_response(&mut s, false).unwrap();
        assert_eq!(first.status, 200);
        wait_closed(&mut s, limit)
    });

    let (closed, got, lines) = slowloris.join().unwrap();
    let closed = closed.unwrap_or_else(|| {
        panic!("slowloris connection still open after {limit:?} ({lines} header lines sent)")
    });
    eprintln!(
        "slowloris: closed after {closed:?}, {lines} header lines, got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        closed >= Duration::from_millis(1500),
        "closed too early: {closed:?}"
    );
    assert!(!got.starts_with(b"HTTP/1.1 200"), "slowloris was served");
    let (closed, got) = silent.join().unwrap();
    let closed = closed.expect("a silent connection is still open");
    eprintln!(
        "silent: closed after {closed:?}, got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(closed <= Duration::from_secs(4), "{closed:?}");
    let (closed, got) = kept_alive.join().unwrap();
    let closed = closed.expect("an idle keep-alive connection is still open");
    eprintln!(
        "idle keep-alive: closed after {closed:?}, got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(closed <= Duration::from_secs(4), "{closed:?}");

    prober.finish();
    assert_alive(&mut app);
    assert_eq!(app.server.stop(), Some(0));
}

/// A body that stalls half-way gets 408 Request Timeout (the client's
/// fault, not the database's: no 503, no Retry-After) after
/// BODY_READ_TIMEOUT_SECONDS, and the connection is closed; a normal client
/// is served meanwhile.
#[test]
fn a_stalled_body_gets_408() {
    let (app, id) = app(&[
        ("REQUEST_TIMEOUT_SECONDS", "5"),
        ("BODY_READ_TIMEOUT_SECONDS", "1"),
    ]);
    let addr = app.server.addr;
    let prober = Prober::start(addr, probe_paths(&id));
    let mut s = TcpStream::connect(addr).unwrap();
    // With the tester's token: the body is what is judged, not the caller.
    s.write_all(&app.client().authorized(b"POST /snippets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"title\":"))
        .unwrap();
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    let r = common::client::read_response(&mut s, false).expect("an answer to a stalled body");
    let took = t0.elapsed();
    eprintln!("stalled body: {} after {took:?}: {}", r.status, r.text());
    r.problem(408);
    assert!(
        r.header("retry-after").is_none(),
        "408 is not a retry-later"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    let (closed, _) = wait_closed(&mut s, Duration::from_secs(2));
    assert!(closed.is_some(), "the connection stays open after the 408");
    prober.finish();
}
