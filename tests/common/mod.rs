//! Test harness, shared by the two test binaries (tests/api/, tests/ops/):
//! a throw-away PostgreSQL cluster per test binary (or
//! `TEST_DATABASE_URL`), a fresh database per test, and the real snippetd
//! binary on an ephemeral port, driven over real sockets.
//!
//! Every line the servers log is also appended to `target/test-logs/`, so
//! that `make test` can scan a whole run for the database password.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod db;
pub mod inproc;
pub mod load;
pub mod pg;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use client::{Client, Response};
pub use inproc::InProcApp;
pub use pg::{cluster, Cluster, TestDb, PASSWORD};

pub const BIN: &str = env!("CARGO_BIN_EXE_snippetd");

/// `snippetd` with a clean environment (nothing leaks in from the shell).
pub fn snippetd(env: &HashMap<String, String>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    cmd.env("LOG_FORMAT", "json").env("RUST_LOG", "info");
    // Servers run side by side: none takes the default metrics port unless
    // a test gives it one (tests/ops/metrics/).
    cmd.env("METRICS_ADDR", "off");
    // Every line as it is logged: tests read logs while the server runs,
    // and "the token is in no log line" must see all of them. Batching
    // (the default) has its own test (tests/ops/process.rs).
    cmd.env("LOG_FLUSH_MS", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `target/<dir>/<test binary>-<pid>.<ext>`, opened for appending.
fn per_process_file(dir: &str, ext: &str) -> Mutex<std::fs::File> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(dir);
    std::fs::create_dir_all(&dir).expect("create a directory under target/");
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().to_string();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}-{}.{ext}", std::process::id())))
        .expect("open a per-process test file");
    Mutex::new(file)
}

/// Where every server's log lines go, for the secrets scan.
fn log_sink() -> &'static Mutex<std::fs::File> {
    static SINK: std::sync::OnceLock<Mutex<std::fs::File>> = std::sync::OnceLock::new();
    SINK.get_or_init(|| per_process_file("test-logs", "log"))
}

/// Collects a child's output lines (and tees them to the log sink).
#[derive(Clone, Default)]
pub struct Lines(
    Arc<Mutex<Vec<String>>>,
    /// Streams still being read (their reader has not met end of file).
    Arc<std::sync::atomic::AtomicUsize>,
);

impl Lines {
    pub fn capture(&self, stream: impl std::io::Read + Send + 'static) {
        let (lines, open) = (self.0.clone(), self.1.clone());
        open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut f) = log_sink().lock() {
                    let _ = writeln!(f, "{line}");
                }
                lines.lock().unwrap().push(line);
            }
            open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    }

    /// Waits (bounded) until every captured stream has been read to its
    /// end: after the process exits, its last lines may still be in the
    /// pipe when `wait` returns.
    pub fn drained(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.1.load(std::sync::atomic::Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.all().join("\n")
    }

    /// Waits until a line satisfies `pred`; returns it.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(l) = self.all().into_iter().find(|l| pred(l)) {
                return Some(l);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A running `snippetd serve` (or supervise) process.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub logs: Lines,
    /// Sent by [`Server::client`] when set ([`Server::with_token`]).
    pub token: Option<String>,
}

impl Server {
    /// Starts `snippetd <args>` with `env` plus HOST/PORT, and waits for the
    /// "listening on" line.
    pub fn start(args: &[&str], env: &HashMap<String, String>) -> Server {
        Server::start_wrapped(&[], args, env)
    }

    /// The same, with `snippetd` run under `wrapper` (e.g. `unshare`).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str], env: &HashMap<String, String>) -> Server {
        Server::start_binary(BIN, wrapper, args, env)
    }

    /// The same with another build of snippetd (e.g. the previous release).
    pub fn start_binary(
        bin: &str,
        wrapper: &[&str],
        args: &[&str],
        env: &HashMap<String, String>,
    ) -> Server {
        let mut env = env.clone();
        env.entry("HOST".into())
            .or_insert_with(|| "127.0.0.1".into());
        let port = env
            .get("PORT")
            .cloned()
            .unwrap_or_else(|| free_port().to_string());
        env.insert("PORT".into(), port.clone());
        let mut cmd = snippetd(&env);
        if bin != BIN {
            let inner = cmd;
            cmd = Command::new(bin);
            cmd.env_clear();
            for (k, v) in inner.get_envs() {
                if let Some(v) = v {
                    cmd.env(k, v);
                }
            }
        }
        if let Some((program, rest)) = wrapper.split_first() {
            let inner = cmd;
            cmd = Command::new(program);
            cmd.env_clear();
            for (k, v) in inner.get_envs() {
                if let Some(v) = v {
                    cmd.env(k, v);
                }
            }
            cmd.args(rest).arg(bin);
        }
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start snippetd");
        let logs = Lines::default();
        logs.capture(child.stdout.take().unwrap());
        logs.capture(child.stderr.take().unwrap());
        let found = logs.wait_for(Duration::from_secs(60), |l| l.contains("listening on"));
        if found.is_none() {
            let _ = child.kill();
            panic!("snippetd did not start listening:\n{}", logs.text());
        }
        Server {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            logs,
            token: None,
        }
    }

    /// The same server; its clients send `token`.
    pub fn with_token(mut self, token: String) -> Server {
        self.token = Some(token);
        self
    }

    /// A client, with the server's token if it has one.
    pub fn client(&self) -> Client {
        let c = Client::new(self.addr);
        match &self.token {
            Some(t) => c.with_token(t),
            None => c,
        }
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal(libc::SIGTERM);
        self.wait(Duration::from_secs(30))
    }

    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Its last lines may still be in the pipe (a grandchild
                // holding it open is waited for at most a second).
                self.logs.drained(Duration::from_secs(1));
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The process-wide metrics recorder (`snippetd::metrics::install`, once
/// per process) counts what every in-process app of the binary serves. A
/// test that asserts exact counts or series holds this while it sends, and
/// so does any other in-process test of the same binary (tests/ops/).
pub fn metrics_recorder_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tests that load the machine (load threads, crash writers, 100,000-row
/// seeds) and the test that times answers in milliseconds beside slow
/// searches (faults::pool) take turns: in one binary on 2 busy cores, a
/// 400 ms bound did not hold beside another test's load generator. Take
/// it before any other turn (`outage_turn` excepted, taken first).
pub fn load_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The owner every test app's default client writes as.
pub const TESTER: &str = "tester";
/// Its scopes: what a client of the guide's API does.
pub const TESTER_SCOPES: &[&str] = &["snippets:read", "snippets:write"];

/// Remembers a token the tests minted, for `make log-scan` (which fails if
/// any of them appears in a log line). Its secret part only, one a line, in
/// target/test-tokens/ (not under test-logs/, which is what is scanned).
pub fn record_token(token: &str) {
    static SINK: std::sync::OnceLock<Mutex<std::fs::File>> = std::sync::OnceLock::new();
    let sink = SINK.get_or_init(|| per_process_file("test-tokens", "txt"));
    if let (Some(secret), Ok(mut f)) = (token.get(4..), sink.lock()) {
        let _ = writeln!(f, "{secret}");
    }
}

/// A fresh token for `owner` (created if missing), written to the
/// database by SHA-256 as `snippetd token create` does. `extra_sql` is
/// appended to the token's column list (e.g. an expiry or a revocation).
pub fn mint_with(db: &TestDb, owner: &str, scopes: &[&str], extra: &[(&str, &str)]) -> String {
    let secret = snippetd::auth::token::generate().expect("CSPRNG");
    let hash = snippetd::auth::token::hex(&secret.hash());
    let scopes = scopes
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",");
    let (cols, vals): (Vec<&str>, Vec<&str>) = extra.iter().copied().unzip();
    let (cols, vals) = if extra.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(", {}", cols.join(", ")),
            format!(", {}", vals.join(", ")),
        )
    };
    db.psql(&format!(
        "INSERT INTO owners (handle) VALUES ('{owner}') ON CONFLICT DO NOTHING; \
         INSERT INTO tokens (id, owner, name, scopes, sha256{cols}) VALUES \
         (gen_random_uuid(), '{owner}', 'test', ARRAY[{scopes}]::text[], decode('{hash}', 'hex'){vals});"
    ));
    record_token(secret.expose());
    secret.expose().to_string()
}

/// A fresh token for `owner` with `scopes`.
pub fn mint(db: &TestDb, owner: &str, scopes: &[&str]) -> String {
    mint_with(db, owner, scopes, &[])
}

/// A fresh token for [`TESTER`] (a migrated database).
pub fn tester(db: &TestDb) -> String {
    mint(db, TESTER, TESTER_SCOPES)
}

/// A fresh database, migrated, with a server on it.
pub struct TestApp {
    pub db: TestDb,
    pub server: Server,
    /// The default client's token: owner [`TESTER`], [`TESTER_SCOPES`].
    pub token: String,
}

impl TestApp {
    pub fn new() -> TestApp {
        TestApp::with_env(&[])
    }

    pub fn with_env(extra: &[(&str, &str)]) -> TestApp {
        let (db, env) = migrated_db(extra);
        let token = tester(&db);
        let server = Server::start(&["serve"], &env);
        TestApp { db, server, token }
    }

    /// A client that sends the tester's token.
    pub fn client(&self) -> Client {
        self.anon().with_token(&self.token)
    }

    /// A client without a token.
    pub fn anon(&self) -> Client {
        Client::new(self.server.addr)
    }
}

/// A fresh database, migrated by `snippetd migrate`, and the app's
/// environment for it with `extra` on top.
pub fn migrated_db(extra: &[(&str, &str)]) -> (TestDb, HashMap<String, String>) {
    let db = cluster().create_db();
    let mut env = db.env();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let out = snippetd(&env).arg("migrate").output().expect("run migrate");
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (db, env)
}

/// Runs `snippetd <args>` to completion with `env`; (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &HashMap<String, String>) -> (i32, String, String) {
    let out = snippetd(env).args(args).output().expect("run snippetd");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if let Ok(mut f) = log_sink().lock() {
        let _ = f.write_all(stderr.as_bytes());
    }
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        stderr,
    )
}
