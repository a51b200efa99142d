//! The binary as an operator meets it: config errors, migrate, the
//! pending-migration refusal, the special-character password.

mod common;

use std::collections::HashMap;

use common::{cluster, run, Server, PASSWORD};
use serde_json::json;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn config_errors_name_the_variable_and_exit_78() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "DB_HOST"),
        (&[("DB_HOST", "h")], "DB_USERNAME"),
        (&[("DB_HOST", "h"), ("DB_USERNAME", "u")], "DB_PASSWORD"),
        (
            &[
                ("DB_HOST", "h"),
                ("DB_USERNAME", "u"),
                ("DB_PASSWORD", "p"),
                ("DB_PORT", "99999"),
            ],
            "DB_PORT",
        ),
        (
            &[("DATABASE_URL", "mysql://u:topsecret@h/d")],
            "DATABASE_URL",
        ),
        (
            &[("DATABASE_URL", "postgres://u:p@h/d"), ("PORT", "x")],
            "PORT",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:p@h/d"),
                ("DB_SSLMODE", "sometimes"),
            ],
            "DB_SSLMODE",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:p@h/d"),
                ("LOG_FORMAT", "xml"),
            ],
            "LOG_FORMAT",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:p@h/d"),
                ("EXPOSE_ERRORS", "maybe"),
            ],
            "EXPOSE_ERRORS",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:p@h/d?sslmode=require"),
                ("DB_SSLMODE", "verify-full"),
            ],
            "DB_SSLMODE",
        ),
        (
            &[("DATABASE_URL", "postgres://u:p@h/d?sslmode=verify-full")],
            "DB_SSLROOTCERT",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:p@h/d"),
                ("MAX_BODY_BYTES", "lots"),
            ],
            "MAX_BODY_BYTES",
        ),
    ];
    for (vars, var) in cases {
        for cmd in [&["serve"][..], &["migrate"], &["supervise"], &["config"]] {
            if *var != "DB_HOST"
                && cmd == ["migrate"]
                && !var.starts_with("DB")
                && *var != "DATABASE_URL"
            {
                continue; // migrate reads only the database variables and logging
            }
            let (code, stdout, stderr) = run(cmd, &env(vars));
            assert_eq!(code, 78, "{cmd:?} with {vars:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(stderr.contains(var), "{stderr} should name {var}");
            assert!(stdout.is_empty());
            assert!(!stderr.contains("topsecret"));
        }
    }
}

#[test]
fn missing_ca_file_is_a_config_error() {
    let (code, _, stderr) = run(
        &["serve"],
        &env(&[
            ("DATABASE_URL", "postgres://u:p@127.0.0.1:1/d"),
            ("DB_SSLMODE", "verify-full"),
            ("DB_SSLROOTCERT", "/nonexistent/ca.pem"),
        ]),
    );
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("DB_SSLROOTCERT"), "{stderr}");
}

#[test]
fn config_prints_the_effective_configuration_without_the_password() {
    let (code, stdout, _) = run(
        &["config"],
        &env(&[
            ("DB_HOST", "db.internal"),
            ("DB_USERNAME", "app"),
            ("DB_PASSWORD", PASSWORD),
            ("PORT", "8080"),
        ]),
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("DB_HOST=db.internal\n"));
    assert!(stdout.contains("PORT=8080\n"));
    assert!(stdout.contains("DB_PASSWORD=<redacted>\n"));
    assert!(stdout.contains("DB_SSLMODE=prefer\n"));
    assert!(!stdout.contains(PASSWORD));
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let port = common::free_port().to_string();
    let (code, _, stderr) = run(
        &["migrate"],
        &env(&[
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", &port),
            ("DB_USERNAME", "u"),
            ("DB_PASSWORD", PASSWORD),
            ("DB_SSLMODE", "disable"),
        ]),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD));
}

#[test]
fn wrong_password_is_reported_without_the_password() {
    let db = cluster().create_db();
    let mut e = db.env();
    e.insert("DB_PASSWORD".into(), "not-the-password".into());
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"));
}

#[test]
fn migrate_check_then_migrate_then_serve() {
    let db = cluster().create_db();
    let e = db.env();
    // serve refuses a database with pending migrations.
    let (code, _, stderr) = run(&["serve"], &e);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("pending"), "{stderr}");
    assert_eq!(run(&["migrate", "--check"], &e).0, 1);
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("applied 2 migration"), "{stderr}");
    assert_eq!(run(&["migrate", "--check"], &e).0, 0);
    // Idempotent.
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 0);
    assert!(stderr.contains("no migration to apply"), "{stderr}");
    let mut server = Server::start(&["serve"], &e);
    assert_eq!(server.client().get("/ready").status, 200);
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn six_concurrent_migrations_leave_one_schema() {
    for _ in 0..3 {
        let db = cluster().create_db();
        let e = db.env();
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let e = e.clone();
                std::thread::spawn(move || run(&["migrate"], &e))
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (code, _, stderr) in &results {
            assert_eq!(*code, 0, "{stderr}");
        }
        let applied = results
            .iter()
            .filter(|(_, _, err)| err.contains("applied 2 migration"))
            .count();
        assert_eq!(applied, 1, "exactly one process applies the migrations");
        assert_eq!(
            db.psql("SELECT count(*) FROM __diesel_schema_migrations"),
            "2\n"
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM pg_indexes WHERE tablename = 'snippets'"),
            "6\n"
        );
    }
}

#[test]
fn percent_encoded_password_in_database_url() {
    let db = cluster().create_db();
    let c = db.cluster;
    let encoded: String = PASSWORD
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let url = format!(
        "postgresql://{}:{encoded}@{}:{}/{}?schema=public&sslmode=disable",
        common::pg::APP_USER,
        c.host,
        c.port,
        db.name
    );
    let e = env(&[("DATABASE_URL", &url)]);
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(&encoded));
    let server = Server::start(&["serve"], &e).with_token(common::tester(&db));
    let r = server.client().json(
        "POST",
        "/snippets",
        &json!({"title": "t", "language": "l", "code": "c"}),
    );
    assert_eq!(r.status, 201);
}
