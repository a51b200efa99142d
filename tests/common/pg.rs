//! A real PostgreSQL for the tests: initdb + pg_ctl from PATH or the
//! standard install folders, run as the `postgres` user when we are root
//! (PostgreSQL refuses root), password authentication (scram) on TCP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub use super::db::TestDb;

/// The application role's password: every character a URL builder breaks on.
pub const PASSWORD: &str = "p@ss:w/rd#?%&= 1";
pub const APP_USER: &str = "snippetd_app";

pub struct Cluster {
    /// Host and port the app connects to.
    pub host: String,
    pub port: u16,
    /// Data directory (None with TEST_DATABASE_URL).
    pub dir: Option<PathBuf>,
    bindir: Option<PathBuf>,
    /// How the harness connects as administrator (psql connection string).
    admin: String,
}

static CLUSTERS: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

extern "C" fn stop_clusters() {
    if let Ok(list) = CLUSTERS.lock() {
        for (bindir, dir) in list.iter() {
            let _ = as_pg(Command::new(bindir.join("pg_ctl")).args([
                "-D",
                &dir.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]))
            .output();
            let _ = std::fs::remove_dir_all(dir.parent().unwrap_or(dir));
        }
    }
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Runs the command as `postgres` when we are root.
fn as_pg(cmd: &mut Command) -> Command {
    if !is_root() {
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        return c;
    }
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c
}

fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() && p.join("pg_ctl").exists() {
            return p;
        }
    }
    if let Some(p) = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    }) {
        return std::fs::canonicalize(p.join("pg_ctl"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql or set TEST_DATABASE_URL")
}

fn check(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// TLS files for a cluster with `ssl=on`.
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The shared plain (no TLS) cluster of this test binary.
pub fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Cluster::external(&url),
        _ => Cluster::start(None),
    })
}

impl Cluster {
    /// Uses a server someone else runs (`TEST_DATABASE_URL`, a superuser or
    /// a role with CREATEDB and CREATEROLE).
    fn external(url: &str) -> Cluster {
        let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
        let hostport = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
        let hostport = hostport.split(['/', '?']).next().unwrap_or("localhost");
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().unwrap_or(5432)),
            None => (hostport.to_string(), 5432),
        };
        let c = Cluster {
            host,
            port,
            dir: None,
            bindir: None,
            admin: url.to_string(),
        };
        c.ensure_app_role();
        c
    }

    /// initdb + start a private cluster on a free port.
    pub fn start(tls: Option<&ServerTls>) -> Cluster {
        let bindir = bindir();
        let base = std::env::temp_dir().join(format!(
            "snippetd-test-{}-{}",
            std::process::id(),
            super::db::next_id()
        ));
        let dir = base.join("data");
        let sock = base.join("sock");
        std::fs::create_dir_all(&sock).unwrap();
        if is_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(&base)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        check(
            as_pg(
                Command::new(bindir.join("initdb"))
                    .arg("-D")
                    .arg(&dir)
                    .args([
                        "-U",
                        "admin",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                    ])
                    .args(["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
            )
            .output()
            .expect("run initdb"),
            "initdb",
        );
        let port = super::free_port();
        let mut conf = format!(
            "listen_addresses = '127.0.0.1,127.0.0.2'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track_planning = on\n",
            sock.display()
        );
        if let Some(t) = tls {
            for (src, name) in [(&t.cert, "server.crt"), (&t.key, "server.key")] {
                std::fs::copy(src, dir.join(name)).unwrap();
            }
            if is_root() {
                Command::new("chown")
                    .args(["postgres"])
                    .arg(dir.join("server.crt"))
                    .arg(dir.join("server.key"))
                    .status()
                    .unwrap();
            }
            std::fs::set_permissions(
                dir.join("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        // 127.0.0.2 reaches the same server under a name its certificate
        // does not carry (host-name mismatch tests).
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("pg_hba.conf"))
            .unwrap();
        std::io::Write::write_all(&mut hba, b"host all all 127.0.0.2/32 scram-sha-256\n").unwrap();
        check(
            as_pg(
                Command::new(bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(&dir)
                    .arg("-l")
                    .arg(base.join("server.log"))
                    .args(["-w", "-t", "60", "start"]),
            )
            .output()
            .expect("run pg_ctl"),
            "pg_ctl start",
        );
        {
            let mut list = CLUSTERS.lock().unwrap();
            if list.is_empty() {
                unsafe {
                    libc::atexit(stop_clusters);
                }
            }
            list.push((bindir.clone(), dir.clone()));
        }
        let c = Cluster {
            host: "127.0.0.1".into(),
            port,
            dir: Some(dir),
            bindir: Some(bindir),
            admin: format!(
                "host={} port={port} user=admin dbname=postgres",
                sock.display()
            ),
        };
        c.ensure_app_role();
        // Tests count the statements the server sends (TestDb::calls).
        c.psql("postgres", "CREATE EXTENSION pg_stat_statements");
        c
    }

    fn ensure_app_role(&self) {
        // The password goes in as a SQL literal; it has no quote in it.
        self.psql(
            "postgres",
            &format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_USER}') THEN \
                 CREATE ROLE {APP_USER} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$;"
            ),
        );
    }

    fn psql_program(&self) -> PathBuf {
        match &self.bindir {
            Some(b) if b.join("psql").exists() => b.join("psql"),
            _ => PathBuf::from("psql"),
        }
    }

    /// Runs SQL as administrator in `db`; returns psql's unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.psql_program())
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.conninfo(db))
            .args(["-c", sql])
            .output()
            .expect("run psql");
        check(out, &format!("psql {sql:?}"))
    }

    /// A psql session as administrator in `db`, reading SQL from its stdin:
    /// whatever it starts (a transaction, a lock) lasts until the test
    /// writes more or closes it.
    pub fn psql_session(&self, db: &str) -> std::process::Child {
        Command::new(self.psql_program())
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.conninfo(db))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run psql")
    }

    /// The administrator's connection string, for database `db`.
    fn conninfo(&self, db: &str) -> String {
        if self.admin.contains("://") {
            // Swap the database of the URL.
            let (head, tail) = self.admin.split_at(self.admin.find("://").unwrap() + 3);
            let (auth_host, rest) = tail.split_once('/').unwrap_or((tail, ""));
            let query = rest
                .split_once('?')
                .map(|x| format!("?{}", x.1))
                .unwrap_or_default();
            format!("{head}{auth_host}/{db}{query}")
        } else {
            format!("{} dbname={db}", self.admin.replace(" dbname=postgres", ""))
        }
    }

    /// A fresh database owned by the app role.
    pub fn create_db(&'static self) -> TestDb {
        let name = super::db::next_name();
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER {APP_USER}"),
        );
        TestDb::new(self, name)
    }

    /// Stops the server (fast shutdown: clients are disconnected).
    pub fn stop(&self) {
        let (Some(bindir), Some(dir)) = (&self.bindir, &self.dir) else {
            panic!("cannot stop an external server");
        };
        check(
            as_pg(
                Command::new(bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(dir)
                    .args(["-m", "fast", "-w", "stop"]),
            )
            .output()
            .unwrap(),
            "pg_ctl stop",
        );
    }

    /// Kills the server as a crash would (`pg_ctl -m immediate`: every
    /// process quits at once, no checkpoint; the next start recovers from
    /// the WAL).
    pub fn kill(&self) {
        let (Some(bindir), Some(dir)) = (&self.bindir, &self.dir) else {
            panic!("cannot kill an external server");
        };
        check(
            as_pg(
                Command::new(bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(dir)
                    .args(["-m", "immediate", "-w", "stop"]),
            )
            .output()
            .unwrap(),
            "pg_ctl stop -m immediate",
        );
    }

    pub fn start_again(&self) {
        let (Some(bindir), Some(dir)) = (&self.bindir, &self.dir) else {
            panic!("cannot start an external server");
        };
        check(
            as_pg(
                Command::new(bindir.join("pg_ctl"))
                    .arg("-D")
                    .arg(dir)
                    .arg("-l")
                    .arg(dir.parent().unwrap().join("server.log"))
                    .args(["-w", "start"]),
            )
            .output()
            .unwrap(),
            "pg_ctl start",
        );
    }
}
