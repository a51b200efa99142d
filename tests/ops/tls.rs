//! PostgreSQL TLS, mode by mode, against a server with `ssl=on` and
//! password authentication, with certificates made for this run: each mode
//! does what libpq would do.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::pg::{Cluster, ServerTls, TestDb};
use common::{cluster, run, Server};

struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two unrelated CAs; a server certificate from the first for CN/SAN
/// localhost and 127.0.0.1; `bundle.pem` = unrelated CA first, then ours.
fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("snippetd-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.pem"),
                    "-subj", &format!("/CN=snippetd test {ca}"),
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        openssl(
            &dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext",
            ],
        );
        let bundle = [
            std::fs::read_to_string(dir.join("other-ca.pem")).unwrap(),
            std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("bundle.pem"), bundle).unwrap();
        Pki { dir }
    })
}

fn tls_cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let p = pki();
        Cluster::start(Some(&ServerTls {
            cert: p.dir.join("server.pem"),
            key: p.dir.join("server.key"),
        }))
    })
}

/// A migrated database on the TLS server, and its env with `mode`/`ca`.
fn setup(host: &str, mode: &str, ca: Option<&str>) -> (TestDb, HashMap<String, String>) {
    let db = tls_cluster().create_db();
    let mut env = db.env();
    env.insert("DB_HOST".into(), host.into());
    env.insert("DB_SSLMODE".into(), mode.into());
    if let Some(ca) = ca {
        env.insert("DB_SSLROOTCERT".into(), pki().path(ca));
    }
    (db, env)
}

fn connects(host: &str, mode: &str, ca: Option<&str>) -> Result<(), String> {
    let (_db, env) = setup(host, mode, ca);
    let (code, _, stderr) = run(&["migrate"], &env);
    if code == 0 {
        Ok(())
    } else {
        Err(stderr)
    }
}

#[test]
fn verify_full_with_a_bundle_whose_first_ca_is_unrelated() {
    connects("127.0.0.1", "verify-full", Some("bundle.pem")).unwrap();
    connects("localhost", "verify-full", Some("bundle.pem")).unwrap();
    connects("127.0.0.1", "verify-full", Some("ca.pem")).unwrap();
}

#[test]
fn verify_full_really_uses_tls_and_logs_its_state_once() {
    let (db, env) = setup("127.0.0.1", "verify-full", Some("bundle.pem"));
    assert_eq!(run(&["migrate"], &env).0, 0);
    let server = Server::start(&["serve"], &env);
    assert_eq!(server.client().get("/ready").status, 200);
    let ssl = db.psql(
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'snippetd' AND a.datname = current_database()",
    );
    assert_eq!(ssl, "t\n", "the pool's connections are TLS");
    let lines: Vec<String> = server
        .logs
        .all()
        .into_iter()
        .filter(|l| l.contains("sslmode="))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(
            "sslmode=verify-full (TLS required, certificate chain and host name verified)"
        ),
        "{}",
        lines[0]
    );
    assert!(!server.logs.text().contains(common::PASSWORD));
}

#[test]
fn sslmode_and_rootcert_from_the_url() {
    let db = tls_cluster().create_db();
    let c = db.cluster;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={}",
        common::pg::APP_USER,
        "p%40ss%3Aw%2Frd%23%3F%25%26%3D%201",
        c.port,
        db.name,
        pki().path("bundle.pem")
    );
    let mut env = HashMap::new();
    env.insert("DATABASE_URL".to_string(), url);
    let (code, _, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn wrong_ca_is_refused_with_an_actionable_error() {
    for mode in ["verify-ca", "verify-full"] {
        let err = connects("127.0.0.1", mode, Some("other-ca.pem")).unwrap_err();
        assert!(err.contains("certificate verify failed"), "{err}");
        assert!(err.contains("127.0.0.1"), "names the host: {err}");
        assert!(
            err.contains(&format!("sslmode={mode}")),
            "names the mode: {err}"
        );
        assert_eq!(
            err.lines().count(),
            2,
            "config line + one error line: {err}"
        );
    }
    // require + a root cert behaves like verify-ca (as libpq).
    let err = connects("127.0.0.1", "require", Some("other-ca.pem")).unwrap_err();
    assert!(err.contains("certificate verify failed"), "{err}");
}

#[test]
fn host_name_mismatch_fails_verify_full_but_not_verify_ca() {
    let err = connects("127.0.0.2", "verify-full", Some("bundle.pem")).unwrap_err();
    assert!(
        err.contains("certificate verify failed") && err.to_lowercase().contains("mismatch"),
        "{err}"
    );
    connects("127.0.0.2", "verify-ca", Some("bundle.pem")).unwrap();
}

#[test]
fn require_and_prefer_encrypt_without_verifying() {
    connects("127.0.0.2", "require", None).unwrap();
    connects("127.0.0.1", "prefer", None).unwrap();
    connects("127.0.0.1", "disable", None).unwrap();
}

#[test]
fn no_verify_from_the_guide_is_require_with_a_warning() {
    let (_db, mut env) = setup("127.0.0.1", "no-verify", None);
    env.remove("DB_SSLMODE");
    env.insert("DB_SSLMODE".into(), "no-verify".into());
    let (code, _, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no-verify is read as require"), "{stderr}");
}

#[test]
fn require_refuses_a_server_without_tls() {
    let db = cluster().create_db();
    let mut env = db.env();
    env.insert("DB_SSLMODE".into(), "require".into());
    let (code, _, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 1);
    assert!(stderr.contains("sslmode=require"), "{stderr}");
    assert!(stderr.to_lowercase().contains("tls"), "{stderr}");
    // prefer falls back to plain text, as libpq does.
    env.insert("DB_SSLMODE".into(), "prefer".into());
    assert_eq!(run(&["migrate"], &env).0, 0);
}

#[test]
fn serve_never_reports_healthy_with_a_wrong_ca() {
    let (_db, env) = setup("127.0.0.1", "verify-full", Some("other-ca.pem"));
    let mut env = env;
    let port = common::free_port();
    env.insert("PORT".into(), port.to_string());
    env.insert("HOST".into(), "127.0.0.1".into());
    let (code, _, stderr) = run(&["serve"], &env);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("listening on"));
    assert!(stderr.contains("certificate verify failed"), "{stderr}");
}
