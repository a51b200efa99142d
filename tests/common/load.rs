//! Background load for the fault tests: a few threads issuing
//! `GET /snippets/{id}`, `GET /snippets` and `POST /snippets` in a loop, each
//! on a new connection with a short per-request timeout (so a request that
//! hangs shows up as a failure, not as a slow test), recording every outcome.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::client::{read_response, Response};

/// One request: `path` with `method`, optional JSON body, on a new
/// connection, with `timeout` for connecting, writing and each read.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    s.write_all(&bytes)?;
    read_response(&mut s, method == "HEAD")
}

/// What one request of the load got.
#[derive(Clone, Debug)]
pub struct Sample {
    /// "get", "list" or "post".
    pub op: &'static str,
    /// 0 when the request failed at the socket level (refused, reset,
    /// timed out): `error` says how.
    pub status: u16,
    pub retry_after: bool,
    /// When the request started, since the load started.
    pub at: Duration,
    pub latency: Duration,
    pub error: Option<String>,
    /// The body when the status is 5xx (to check it leaks nothing).
    pub body: Option<String>,
    /// The id of the snippet a 201 created.
    pub created: Option<String>,
}

impl Sample {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub struct Load {
    pub started: Instant,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

/// A valid snippet body, different each time.
pub fn snippet_body(n: usize) -> Vec<u8> {
    serde_json::json!({
        "title": format!("load {n}"),
        "language": "rust",
        "code": format!("fn main() {{ println!(\"{n}\"); }}"),
        "tags": ["load"],
    })
    .to_string()
    .into_bytes()
}

impl Load {
    /// Starts `threads` threads against `addr`; `ids` are snippets that
    /// exist (GETs pick among them and among those the load creates).
    /// Each thread pauses `pause` between requests to keep the load moderate.
    pub fn start(
        addr: SocketAddr,
        token: &str,
        threads: usize,
        timeout: Duration,
        pause: Duration,
        ids: Vec<String>,
    ) -> Load {
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let ids = Arc::new(Mutex::new(ids));
        let counter = Arc::new(AtomicUsize::new(0));
        let threads = (0..threads)
            .map(|t| {
                let (stop, samples, ids, counter) =
                    (stop.clone(), samples.clone(), ids.clone(), counter.clone());
                let bearer = format!("Bearer {token}");
                std::thread::spawn(move || {
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let (op, method, path, body) = match i % 3 {
                            0 => {
                                let list = ids.lock().unwrap();
                                let id = list[n % list.len()].clone();
                                ("get", "GET", format!("/snippets/{id}"), None)
                            }
                            1 => ("list", "GET", "/snippets?limit=5".to_string(), None),
                            _ => (
                                "post",
                                "POST",
                                "/snippets".to_string(),
                                Some(snippet_body(n)),
                            ),
                        };
                        i += 1;
                        let at = started.elapsed();
                        let t0 = Instant::now();
                        let auth = [("Authorization", bearer.as_str())];
                        let r = request(addr, method, &path, &auth, body.as_deref(), timeout);
                        let latency = t0.elapsed();
                        let sample = match r {
                            Ok(r) => {
                                let created = (r.status == 201)
                                    .then(|| r.json()["id"].as_str().map(str::to_string))
                                    .flatten();
                                if let Some(id) = &created {
                                    ids.lock().unwrap().push(id.clone());
                                }
                                Sample {
                                    op,
                                    status: r.status,
                                    retry_after: r.header("retry-after").is_some(),
                                    at,
                                    latency,
                                    error: None,
                                    body: (r.status >= 500).then(|| r.text()),
                                    created,
                                }
                            }
                            Err(e) => Sample {
                                op,
                                status: 0,
                                retry_after: false,
                                at,
                                latency,
                                error: Some(format!("{method} {path}: {e}")),
                                body: None,
                                created: None,
                            },
                        };
                        samples.lock().unwrap().push(sample);
                        std::thread::sleep(pause);
                    }
                })
            })
            .collect();
        Load {
            started,
            stop,
            samples,
            threads,
        }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Stops the threads (each finishes its request) and returns every sample.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let out = self.samples.lock().unwrap().clone();
        out
    }
}

/// Counts by status, for messages: `{201: 40, 503: 12, ...}`.
pub fn status_counts(samples: &[Sample]) -> std::collections::BTreeMap<u16, usize> {
    let mut m = std::collections::BTreeMap::new();
    for s in samples {
        *m.entry(s.status).or_insert(0) += 1;
    }
    m
}

/// Words that must never reach a client when `EXPOSE_ERRORS` is off: SQL,
/// driver and crate names, panics, source paths, connection details.
pub const LEAKS: &[&str] = &[
    "SQL",
    "SELECT",
    "INSERT",
    "UPDATE",
    "snippets_",
    "constraint",
    "diesel",
    "tokio_postgres",
    "tokio-postgres",
    "postgres",
    "bb8",
    "panicked",
    "src/",
    ".rs:",
    "backtrace",
    "connection refused",
    "Connection refused",
    "127.0.0.1",
    "snippetd_app",
    "db error",
    "statement timeout",
    "canceling statement",
    "timed out waiting",
    "p@ss",
];

/// The leak words found in `body` (empty when clean). A problem body's
/// `requestId` is left out: a random UUID may well contain "bb8".
pub fn leaks(body: &str) -> Vec<&'static str> {
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("requestId");
            }
            v.to_string()
        }
        Err(_) => body.to_string(),
    };
    LEAKS.iter().copied().filter(|w| text.contains(w)).collect()
}

/// Failures by status (0: the connection gave no answer).
pub type Failures = std::collections::BTreeMap<u16, usize>;

/// The crash tests' kill (tests/ops/post_crash.rs, tests/ops/revisions_crash.rs):
/// 1.5 s of load, PostgreSQL killed with `-m immediate` and started again
/// after 1 s, load until 20 more writes are acknowledged and 0.5 s more,
/// then the writers stopped and joined. Asserts that the load ran before
/// the kill, that the writers saw it, and that they saw nothing but 503s
/// and dropped connections; returns the acknowledged writes.
pub fn crash_under_load<T: Clone>(
    cluster: &super::Cluster,
    what: &str,
    acked: &Mutex<Vec<T>>,
    failed: &Mutex<Failures>,
    stop: &AtomicBool,
    writers: Vec<JoinHandle<()>>,
    started: Instant,
) -> Vec<T> {
    std::thread::sleep(Duration::from_millis(1500));
    let before_kill = acked.lock().unwrap().len();
    cluster.kill();
    std::thread::sleep(Duration::from_millis(1000));
    cluster.start_again();
    let restarted = Instant::now();
    // Writes go through again, then a little more load.
    while acked.lock().unwrap().len() <= before_kill + 20 {
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "no {what} succeeded after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    eprintln!(
        "{} {what} acknowledged ({before_kill} before the kill) in {:?}; failures by status: {failed:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(
        before_kill > 20,
        "too few {what} before the kill: {before_kill}"
    );
    assert!(
        failed.keys().all(|s| [0, 503].contains(s)),
        "only 503s and dropped connections while the database was down: {failed:?}"
    );
    assert!(!failed.is_empty(), "the kill was not seen by the writers");
    acked
}
