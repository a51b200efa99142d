//! Slow and hostile clients over raw sockets: slowloris, idle connections,
//! oversized heads and bodies, bytes that are not UTF-8, absurdly nested
//! JSON, a thousand idle connections. Throughout, a normal client is served
//! promptly and the server stays up.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::load::request;
use common::TestApp;
use serde_json::json;

/// What a normal client may wait, even while the server is being abused.
const PROMPT: Duration = Duration::from_millis(500);

/// The test process's open-file soft limit raised to the hard limit (the
/// server child inherits it); returns the new soft limit.
fn raise_fd_limit() -> u64 {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        let soft = lim.rlim_cur as u64;
        soft
    }
}

/// One probe: path, status (or the socket error), latency.
type Probe = (String, Result<u16, String>, Duration);

/// A normal client asking `paths` in turn every 100 ms on new connections,
/// from another thread, while a test abuses the server.
struct Prober {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Probe>>>,
    thread: JoinHandle<()>,
}

impl Prober {
    fn start(addr: SocketAddr, paths: Vec<String>) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                for path in paths.iter().cycle() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let t0 = Instant::now();
                    let r = request(addr, "GET", path, &[], None, Duration::from_secs(5));
                    let took = t0.elapsed();
                    let r = r.map(|r| r.status).map_err(|e| e.to_string());
                    seen.lock().unwrap().push((path.clone(), r, took));
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Prober { stop, seen, thread }
    }

    /// Stops (after 3 probes at least); asserts every probe got 200 within
    /// PROMPT; returns how many.
    fn finish(self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.seen.lock().unwrap().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let seen = self.seen.lock().unwrap();
        let bad: Vec<_> = seen
            .iter()
            .filter(|(_, r, took)| *r != Ok(200) || *took > PROMPT)
            .collect();
        assert!(
            bad.is_empty(),
            "a normal client was not served promptly ({} of {}): {bad:?}",
            bad.len(),
            seen.len()
        );
        assert!(seen.len() >= 3, "too few probes: {seen:?}");
        let slowest = seen.iter().map(|s| s.2).max().unwrap();
        eprintln!("prober: {} requests, slowest {slowest:?}", seen.len());
        seen.len()
    }
}

/// Reads until the server closes the connection or `limit` passes; the
/// time it took and whatever the server sent (None: still open).
fn wait_closed(s: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < limit {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (Some(t0.elapsed()), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // Reset by the server: closed as well.
            Err(_) => return (Some(t0.elapsed()), got),
        }
    }
    (None, got)
}

/// Writes what it can: a server that gives up early may reset the socket.
fn write_lenient(s: &mut TcpStream, bytes: &[u8]) -> bool {
    s.write_all(bytes).is_ok()
}

fn status_of(response: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(response);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn app(extra: &[(&str, &str)]) -> (TestApp, String) {
    let app = TestApp::with_env(extra);
    let id = app
        .client()
        .create(&json!({"title": "t", "language": "c", "code": "x"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    (app, id)
}

fn probe_paths(id: &str) -> Vec<String> {
    vec!["/health".into(), format!("/snippets/{id}")]
}

/// The server is still running (no crash, no exit) after the abuse.
fn assert_alive(app: &mut TestApp) {
    assert!(
        app.server.child.try_wait().unwrap().is_none(),
        "snippetd exited"
    );
}

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

/// Opens `n` connections to `addr`, half of them with an unfinished head.
fn open_idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            if i % 2 == 1 {
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            s
        })
        .collect()
}

/// 1,000 connections held open (half silent, half with an unfinished
/// head) while a normal client's GET /health and GET /snippets/{id} each
/// answer within 500 ms; the server keeps them all (none is closed).
#[test]
fn a_thousand_idle_connections_do_not_starve_a_normal_client() {
    const IDLE: usize = 1000;
    let limit = raise_fd_limit();
    assert!(
        limit >= (IDLE as u64) + 200,
        "the open-file limit ({limit}) is too low for {IDLE} connections"
    );
    // Many clients, as behind a proxy: the per-address cap has its own test.
    let (mut app, id) = app(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "30"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "2000"),
    ]);
    let addr = app.server.addr;
    let t0 = Instant::now();
    let mut idle = open_idle(addr, IDLE);
    eprintln!("{IDLE} idle connections opened in {:?}", t0.elapsed());
    // Let the server accept whatever is still in its backlog.
    std::thread::sleep(Duration::from_millis(500));
    let prober = Prober::start(addr, probe_paths(&id));
    std::thread::sleep(Duration::from_secs(2));
    let n = prober.finish();
    // Every idle connection is still open (accepted, not reset).
    let mut buf = [0u8; 64];
    let mut closed = 0;
    for s in &mut idle {
        s.set_nonblocking(true).unwrap();
        match s.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            _ => closed += 1,
        }
    }
    assert_eq!(closed, 0, "{closed} of the idle connections were closed");
    drop(idle);
    eprintln!("{IDLE} idle connections held, {n} normal requests all prompt");
    assert_alive(&mut app);
}

/// The listening socket's backlog (`ss` shows it as Send-Q), or None
/// without `ss`.
fn listen_backlog(port: u16) -> Option<u32> {
    let out = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(2)?.parse().ok()
}

/// While 1,000 connections arrive in a burst (4 clients at once), a normal
/// client still connects and is served within 500 ms. The accept queue must
/// hold such a burst: with mio's default backlog of 128 the kernel dropped
/// SYNs while the accept loop caught up, and the normal client's connect was
/// retried after 1 s (seen with the suite running on 2 cores); the server
/// now listens with a backlog of 4096 (capped by net.core.somaxconn).
#[test]
fn a_connection_burst_does_not_delay_a_normal_client() {
    const IDLE: usize = 1000;
    raise_fd_limit();
    let (app, id) = app(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "30"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "2000"),
    ]);
    let addr = app.server.addr;
    if let Some(backlog) = listen_backlog(addr.port()) {
        eprintln!("listen backlog: {backlog}");
        assert!(
            backlog >= 1024,
            "listen backlog {backlog}: a burst of connections overflows it"
        );
    }
    let prober = Prober::start(addr, probe_paths(&id));
    let burst: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || open_idle(addr, IDLE / 4)))
        .collect();
    let idle: Vec<Vec<TcpStream>> = burst.into_iter().map(|b| b.join().unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    prober.finish();
    drop(idle);
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.0/8
/// is all loopback on Linux: a second client address on this machine).
fn connect_from(from: std::net::Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 server expected")
    };
    let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, owned by the TcpStream from here on; the
    // addresses are valid sockaddr_in values of the length given.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sin(from, 0);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sin(*to.ip(), to.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Issue 30, finding 3: connections that never finish their head held
/// every MAX_CONNECTIONS slot for the head timeout. One address now holds
/// at most MAX_CONNECTIONS_PER_ADDRESS (by default a quarter of
/// MAX_CONNECTIONS): past it, its new connections are closed at once,
/// while another address is served.
#[test]
fn one_address_cannot_hold_every_connection() {
    let (mut app, id) = app(&[
        ("MAX_CONNECTIONS", "16"),
        ("HEADER_READ_TIMEOUT_SECONDS", "60"),
    ]);
    let addr = app.server.addr;
    let attacker = std::net::Ipv4Addr::new(127, 0, 0, 1);
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| connect_from(attacker, addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The fifth from the same address: closed without an answer.
    let mut fifth = connect_from(attacker, addr).unwrap();
    write_lenient(&mut fifth, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let (closed, got) = wait_closed(&mut fifth, Duration::from_secs(5));
    assert!(
        closed.is_some_and(|t| t < Duration::from_secs(2)),
        "{closed:?}"
    );
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Another address is served at once.
    let other = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let mut s = connect_from(other, addr).unwrap();
    let req = format!("GET /snippets/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let (_, got) = wait_closed(&mut s, Duration::from_secs(5));
    assert_eq!(
        status_of(&got),
        Some(200),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // A slot given back is the address's again, once the server has seen
    // the idle connections close (retried: that takes a moment under load).
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut s = connect_from(attacker, addr).unwrap();
        write_lenient(
            &mut s,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let (_, got) = wait_closed(&mut s, Duration::from_secs(5));
        if status_of(&got) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the address never got a slot back"
        );
    }
    assert_alive(&mut app);
}
