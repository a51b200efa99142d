//! Configuration errors, the effective configuration, the password.

use super::*;

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

#[test]
fn empty_values_are_unset_and_help_lists_every_variable_without_secrets() {
    let (code, stdout, stderr) = run(
        &["config"],
        &env(&[
            ("DATABASE_URL", "postgres://u:p@h/d"),
            ("PORT", ""),
            ("DB_POOL_SIZE", ""),
        ]),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("PORT=3000\n"), "{stdout}");
    assert!(stdout.contains("DB_POOL_SIZE=10\n"), "{stdout}");
    let (code, help, _) = run(
        &["serve", "--help"],
        &env(&[
            ("DB_PASSWORD", PASSWORD),
            ("DATABASE_URL", "postgres://u:topsecret@h/d"),
        ]),
    );
    assert_eq!(code, 0);
    // clap puts help on the next line once any is long: compare words.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "[env: PORT=] [default: 3000]",
        "[env: DB_POOL_SIZE=] [default: 10]",
        "[env: MAX_BODY_BYTES=] [default: 262144]",
        "[env: DATABASE_URL]",
        "[env: DB_PASSWORD]",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
    assert!(!help.contains(PASSWORD) && !help.contains("topsecret"));
}

#[test]
fn flag_and_non_utf8_errors_name_the_variable_too() {
    use std::os::unix::ffi::OsStrExt;
    let e = env(&[("DATABASE_URL", "postgres://u:p@h/d")]);
    let (code, _, stderr) = run(&["serve", "--port", "x"], &e);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.starts_with("snippetd: configuration error: PORT: "),
        "{stderr}"
    );
    let out = common::snippetd(&e)
        .env("PORT", std::ffi::OsStr::from_bytes(b"30\xff"))
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert_eq!(
        stderr,
        "snippetd: configuration error: PORT: is not valid UTF-8\n"
    );
    let (code, _, stderr) = run(
        &["migrate"],
        &env(&[
            ("DATABASE_URL", "postgres://u:p@h/d"),
            ("APP_DB_USERNAME", "app"),
        ]),
    );
    assert_eq!(code, 78);
    assert!(stderr.contains("APP_DB_PASSWORD"), "{stderr}");
}
