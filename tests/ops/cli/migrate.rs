//! Migrations, the owner and application roles, supervise.

use super::*;

/// The migrations the binary embeds: one directory each.
fn migrations() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations/")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count()
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
    let applied = format!("applied {} migration", migrations());
    assert!(stderr.contains(&applied), "{stderr}");
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
            .filter(|(_, _, err)| err.contains(&format!("applied {} migration", migrations())))
            .count();
        assert_eq!(applied, 1, "exactly one process applies the migrations");
        assert_eq!(
            db.psql("SELECT count(*) FROM __diesel_schema_migrations"),
            format!("{}\n", migrations())
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM pg_indexes WHERE tablename = 'snippets'"),
            // pkey, page order, language + page order, owner + page order,
            // expiry, the GIN over (owner, language, tags, search), and of
            // public rows a GIN and two page orders (2026-12-06-000030)
            "9\n"
        );
    }
}

const OWNER_PASSWORD: &str = "owner-pw";

/// A database owned by a role with CREATEROLE (as the RDS master user is),
/// the owner's environment, and an application role name for this test
/// alone (roles are cluster-wide).
fn owned_db() -> (common::TestDb, HashMap<String, String>, String) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let c = cluster();
    let name = format!(
        "r_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let owner = format!("{name}_owner");
    c.psql(
        "postgres",
        &format!("CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{OWNER_PASSWORD}'"),
    );
    c.psql("postgres", &format!("CREATE DATABASE {name} OWNER {owner}"));
    let db = common::TestDb {
        cluster: c,
        name: name.clone(),
    };
    let mut e = db.env();
    e.insert("DB_USERNAME".into(), owner);
    e.insert("DB_PASSWORD".into(), OWNER_PASSWORD.into());
    (db, e, format!("{name}_app"))
}

/// psql over TCP as `user`; Err is the error with its SQLSTATE.
fn psql_as(db: &common::TestDb, user: &str, password: &str, sql: &str) -> Result<String, String> {
    let conn = format!(
        "host={} port={} user={user} dbname={} sslmode=disable",
        db.cluster.host, db.cluster.port, db.name
    );
    let out = std::process::Command::new("psql")
        .env("PGPASSWORD", password)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
        .args(["-v", "VERBOSITY=verbose", "-d", &conn, "-c", sql])
        .output()
        .expect("run psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn migrate_creates_a_least_privilege_app_role_and_rotates_its_password() {
    let (db, mut e, app) = owned_db();
    e.insert("APP_DB_USERNAME".into(), app.clone());
    e.insert("APP_DB_PASSWORD".into(), "app-pw-1".into());
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("application role"), "{stderr}");
    assert!(!stderr.contains("app-pw-1"));

    let dml = "INSERT INTO snippets (id, title, language, code) \
               VALUES (gen_random_uuid(), 't', 'l', 'c'); \
               UPDATE snippets SET title = 'u'; \
               SELECT count(*) FROM snippets WHERE title = 'u'; \
               DELETE FROM snippets;";
    assert_eq!(psql_as(&db, &app, "app-pw-1", dml), Ok("1\n".into()));
    for sql in [
        "DROP TABLE snippets",
        "TRUNCATE snippets",
        "CREATE TABLE x()",
        "ALTER TABLE snippets ADD COLUMN x int",
        "CREATE SCHEMA x",
        "DELETE FROM __diesel_schema_migrations",
    ] {
        let err = psql_as(&db, &app, "app-pw-1", sql).expect_err(sql);
        assert!(
            err.contains("42501"),
            "{sql}: insufficient_privilege, got {err}"
        );
    }
    let owner = &e["DB_USERNAME"];
    assert_eq!(
        db.psql(&format!(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role('{app}', '{owner}', 'MEMBER') \
             FROM pg_roles WHERE rolname = '{app}'"
        )),
        "f|f|f|f\n"
    );
    // serve's own check works as the role (it reads the applied versions).
    let mut as_app = e.clone();
    as_app.insert("DB_USERNAME".into(), app.clone());
    as_app.insert("DB_PASSWORD".into(), "app-pw-1".into());
    as_app.remove("APP_DB_USERNAME");
    as_app.remove("APP_DB_PASSWORD");
    assert_eq!(run(&["migrate", "--check"], &as_app).0, 0);

    // Again, with a new password: nothing to migrate, the password rotated.
    e.insert("APP_DB_PASSWORD".into(), "app-pw-2".into());
    let (code, _, stderr) = run(&["migrate"], &e);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no migration to apply"), "{stderr}");
    let err = psql_as(&db, &app, "app-pw-1", "SELECT 1").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    assert_eq!(
        psql_as(&db, &app, "app-pw-2", "SELECT count(*) FROM snippets"),
        Ok("0\n".into())
    );
}

#[test]
fn supervise_migrates_as_the_owner_and_serves_as_the_app_role() {
    let (db, e, app) = owned_db();
    // The owner through DATABASE_URL: the child gets DB_* and no URL.
    let url = format!(
        "postgres://{}:{OWNER_PASSWORD}@{}:{}/{}?sslmode=disable",
        e["DB_USERNAME"], db.cluster.host, db.cluster.port, db.name
    );
    let mut server = Server::start(
        &["supervise"],
        &env(&[
            ("DATABASE_URL", &url),
            ("APP_DB_USERNAME", &app),
            ("APP_DB_PASSWORD", "app-pw"),
            // Roles, not tokens, are under test here.
            ("AUTH_MODE", "open"),
        ]),
    );
    let r = server.client().json(
        "POST",
        "/snippets",
        &json!({"title": "t", "language": "l", "code": "c"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let users = format!(
        "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity \
         WHERE datname = '{}' AND application_name = 'snippetd'",
        db.name
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // supervise's own (owner) session ends with the migration.
        let seen = db.cluster.psql("postgres", &users);
        if seen == format!("{app}\n") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "sessions as {seen}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let sup = server.child.id();
    let children = std::fs::read_to_string(format!("/proc/{sup}/task/{sup}/children")).unwrap();
    let child = children.split_whitespace().next().expect("a serve child");
    let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap();
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(vars.contains(&format!("DB_USERNAME={app}")), "{vars:?}");
    assert!(vars.contains(&"DB_PASSWORD=app-pw".to_string()));
    assert!(vars.contains(&format!("DB_NAME={}", db.name)));
    for gone in ["DATABASE_URL=", "APP_DB_PASSWORD=", "APP_DB_USERNAME="] {
        assert!(
            !vars.iter().any(|v| v.starts_with(gone)),
            "{gone} in {vars:?}"
        );
    }
    assert!(!vars.iter().any(|v| v.contains(OWNER_PASSWORD)));
    assert_eq!(server.stop(), Some(0));
}

/// Issue 30, finding 8: `snippetd owner delete` removes the owner, its
/// snippets and its tokens; a running server that cached one of them
/// answers 401 to its writes at once (the foreign key) and to everything
/// within its 10-second cache, never a 500.
#[test]
fn owner_delete_reaches_a_running_server_within_ten_seconds() {
    let db = cluster().create_db();
    let e = db.env();
    assert_eq!(run(&["migrate"], &e).0, 0);
    let token = common::mint(&db, "gone", &["snippets:read", "snippets:write"]);
    let server = Server::start(&["serve"], &e);
    let c = server.client().with_token(&token);
    let body = json!({"title": "t", "language": "l", "code": "c"});
    let created = c.json("POST", "/snippets", &body);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(c.get("/me").status, 200);

    let (code, out, err) = run(&["owner", "delete", "gone"], &e);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("1 snippet(s), 1 token(s)"), "{err}");
    let deleted = std::time::Instant::now();
    assert_eq!(c.json("POST", "/snippets", &body).status, 401);
    loop {
        let status = c.get("/me").status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            deleted.elapsed() < std::time::Duration::from_secs(11),
            "the server still accepts a deleted owner's token"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.client().get(&format!("/snippets/{id}")).status, 404);
    let (code, _, err) = run(&["owner", "delete", "gone"], &e);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such owner"), "{err}");
}
