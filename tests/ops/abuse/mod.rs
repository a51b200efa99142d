//! Slow and hostile clients over raw sockets: slowloris, idle connections,
//! oversized heads and bodies, bytes that are not UTF-8, absurdly nested
//! JSON, a thousand idle connections. Throughout, a normal client is served
//! promptly and the server stays up.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::load::request;
use common::TestApp;
use serde_json::json;

mod connections;
mod inputs;
mod timeouts;

/// What a normal client may wait, even while the server is being abused.
const PROMPT: Duration = Duration::from_millis(500);

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
    // One read after the deadline too: a test thread starved past the
    // deadline (2 cores, four test threads) still sees a close that came
    // in time.
    let mut last = false;
    while !last {
        last = t0.elapsed() >= limit;
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
