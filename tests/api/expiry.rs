//! Snippet expiry (issue 16): `expiresAt` / `expiresIn` on writes, 404
//! everywhere at once after it (the database's clock decides, in every
//! query), and the sweeper's bounded batches.

use crate::common;

use common::InProcApp;
use serde_json::{json, Value};

const MAX: &str = "86400";

fn app() -> InProcApp {
    InProcApp::with_env(&[("MAX_EXPIRY_SECONDS", MAX)])
}

fn body(title: &str) -> Value {
    json!({"title": title, "language": "rust", "code": "fn expiring() {}"})
}

fn with(mut v: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn parse(t: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        t.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// Makes a snippet expired now, by the database's clock, as time passing would.
fn expire(app: &InProcApp, id: &str) {
    app.db.psql(&format!(
        "UPDATE snippets SET expires_at = now() - interval '1 second' WHERE id = '{id}'"
    ));
}

#[test]
fn bad_expiries_are_422_with_a_pointer() {
    let app = app();
    let c = app.client();
    let id = c.create(&body("target"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let in_past = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let cases = [
        (json!({"expiresIn": 59}), "/expiresIn"),
        (json!({"expiresIn": 86_401}), "/expiresIn"),
        (json!({"expiresIn": "600"}), "/expiresIn"),
        (json!({"expiresIn": 600, "expiresAt": null}), "/expiresIn"),
        (json!({"expiresAt": in_past}), "/expiresAt"),
        (json!({"expiresAt": "next tuesday"}), "/expiresAt"),
        (json!({"expiresAt": "2099-01-01T00:00:00Z"}), "/expiresAt"),
    ];
    for (extra, pointer) in cases {
        for (method, path) in [
            ("POST", "/snippets".to_string()),
            ("PUT", format!("/snippets/{id}")),
            ("PATCH", format!("/snippets/{id}")),
        ] {
            let b = if method == "PATCH" {
                extra.clone()
            } else {
                with(body("x"), extra.clone())
            };
            let p = c.json(method, &path, &b).problem(422);
            let errors = p["errors"].as_array().unwrap();
            assert!(
                errors.iter().any(|e| e["pointer"] == pointer),
                "{method} {extra}: {p}"
            );
        }
    }
    // Schema violations and an expiry violation come back together.
    let p = c
        .json(
            "POST",
            "/snippets",
            &json!({"title": "", "language": "x", "code": "y", "expiresIn": 1}),
        )
        .problem(422);
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers[0], "/expiresIn", "{p}");
    assert!(pointers[1..].iter().all(|p| *p == "/title"), "{p}");
}

#[test]
fn expiry_is_shown_set_kept_and_cleared() {
    let app = app();
    let c = app.client();
    let before = time::OffsetDateTime::now_utc();
    let s = c.create(&with(body("soon"), json!({"expiresIn": 3600})));
    let id = s["id"].as_str().unwrap().to_string();
    let at = parse(&s["expiresAt"]);
    let ahead = at - before;
    assert!(
        ahead >= time::Duration::seconds(3599) && ahead <= time::Duration::seconds(3610),
        "{ahead}"
    );
    let got = c.get(&format!("/snippets/{id}")).json();
    assert_eq!(got["expiresAt"], s["expiresAt"]);
    let listed = c.get("/snippets?owner=me").json();
    assert_eq!(listed[0]["expiresAt"], s["expiresAt"]);
    // Never-expiring snippets say null.
    assert_eq!(c.create(&body("forever"))["expiresAt"], Value::Null);
    // A PUT without the fields keeps the expiry (as visibility); a PUT of
    // what was read is accepted.
    let put = c
        .json("PUT", &format!("/snippets/{id}"), &body("renamed"))
        .json();
    assert_eq!(put["expiresAt"], s["expiresAt"]);
    // An absolute time, kept to the millisecond.
    let when = (before + time::Duration::hours(2))
        .replace_nanosecond(250_000_000)
        .unwrap();
    let when_s = when
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let patched = c
        .json(
            "PATCH",
            &format!("/snippets/{id}"),
            &json!({"expiresAt": when_s}),
        )
        .json();
    assert_eq!(parse(&patched["expiresAt"]), when);
    // PATCH with null clears it; other fields leave it alone.
    let patched = c
        .json("PATCH", &format!("/snippets/{id}"), &json!({"title": "t2"}))
        .json();
    assert_eq!(parse(&patched["expiresAt"]), when);
    let cleared = c
        .json(
            "PATCH",
            &format!("/snippets/{id}"),
            &json!({"expiresAt": null}),
        )
        .json();
    assert_eq!(cleared["expiresAt"], Value::Null);
    let again = c
        .json(
            "PUT",
            &format!("/snippets/{id}"),
            &with(body("t3"), json!({"expiresIn": 120})),
        )
        .json();
    assert!(again["expiresAt"].is_string());
    let cleared = c
        .json(
            "PUT",
            &format!("/snippets/{id}"),
            &with(body("t4"), json!({"expiresAt": null})),
        )
        .json();
    assert_eq!(cleared["expiresAt"], Value::Null);
}

#[test]
fn an_expired_snippet_is_gone_everywhere_at_once() {
    let app = app();
    let c = app.client();
    let anon = app.anon();
    let gone = c.create(&with(
        body("vanishing needle"),
        json!({"expiresIn": 600, "tags": ["t"]}),
    ));
    let kept = c.create(&with(body("staying needle"), json!({"tags": ["t"]})));
    let gone_id = gone["id"].as_str().unwrap();
    let kept_id = kept["id"].as_str().unwrap();
    assert_eq!(anon.get(&format!("/snippets/{gone_id}")).status, 200);
    expire(&app, gone_id);
    let listed = |path: &str| -> Vec<String> {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    for path in [
        "/snippets",
        "/snippets?owner=me",
        "/snippets?owner=tester",
        "/snippets?q=needle",
        "/snippets?tag=t",
        "/snippets?language=rust",
    ] {
        assert_eq!(listed(path), [kept_id], "{path}");
    }
    let at = format!("/snippets/{gone_id}");
    anon.get(&at).problem(404);
    c.get(&at).problem(404);
    c.json("PUT", &at, &body("revive")).problem(404);
    c.json("PATCH", &at, &json!({"expiresAt": null}))
        .problem(404);
    c.send("DELETE", &at, &[], None).problem(404);
    // Many lookups at once (the coalesced `id = ANY($1)` query) agree.
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let c = c.clone();
            let path = if i % 2 == 0 {
                at.clone()
            } else {
                format!("/snippets/{kept_id}")
            };
            std::thread::spawn(move || (i, c.get(&path).status))
        })
        .collect();
    for h in handles {
        let (i, status) = h.join().unwrap();
        assert_eq!(status, if i % 2 == 0 { 404 } else { 200 });
    }
}

#[test]
fn the_sweeper_deletes_in_bounded_batches_and_usage_follows() {
    let InProcApp { db, handle, token } = app();
    let c = common::Client::in_process(handle.clone()).with_token(&token);
    for i in 0..7 {
        c.create(&with(body(&format!("e{i}")), json!({"expiresIn": 600})));
    }
    let keep = c.create(&body("keep"));
    let later = c.create(&with(body("later"), json!({"expiresIn": 600})));
    // The app's own sweeper would race the sweeps counted below (its first
    // round may start late on a loaded machine): dropping the app's
    // runtime stops it.
    drop((c, handle));
    let usage = || {
        db.psql("SELECT sum(snippets) FROM owner_usage WHERE owner = 'tester'")
            .trim()
            .to_string()
    };
    assert_eq!(usage(), "9");
    db.psql(&format!(
        "UPDATE snippets SET expires_at = now() - interval '1 second' \
         WHERE expires_at IS NOT NULL AND id <> '{}'",
        later["id"].as_str().unwrap()
    ));
    let env = db.env();
    let cfg = snippetd::config::Config::from_env_map(&env).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches = rt.block_on(async {
        let pool = snippetd::db::Connector::new(&cfg.db).unwrap().pool();
        let mut out = Vec::new();
        loop {
            let mut c = pool.get().await.unwrap();
            let n = snippetd::snippets::expiry::sweep(&mut c, 3).await.unwrap();
            out.push(n);
            if n == 0 {
                break;
            }
        }
        out
    });
    assert_eq!(batches, [3, 3, 1, 0]);
    assert_eq!(usage(), "2");
    assert_eq!(
        db.psql(&format!(
            "SELECT string_agg(title, ',' ORDER BY title) FROM snippets \
             WHERE id IN ('{}', '{}')",
            keep["id"].as_str().unwrap(),
            later["id"].as_str().unwrap()
        ))
        .trim(),
        "keep,later",
        "the live and the not-yet-due snippet stay"
    );
    assert_eq!(db.psql("SELECT count(*) FROM snippets").trim(), "2");
}

/// The sweep reads the partial index, not the table: with 20,000 rows that
/// never expire and 50 that do, the plan is an index scan of
/// `snippets_expires_at_idx` (docs/api.md, "Expiry", shows it).
#[test]
fn the_sweep_is_an_index_scan() {
    let app = app();
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, expires_at) \
         SELECT gen_random_uuid(), 't' || i, 'sql', 'select 1', \
                CASE WHEN i % 400 = 0 THEN now() + interval '1 hour' END \
         FROM generate_series(1, 20000) i; ANALYZE snippets;",
    );
    let plan = app.db.psql(&format!(
        "EXPLAIN (COSTS OFF) {}",
        snippetd::snippets::expiry::SWEEP_SQL.replace("$1", "500")
    ));
    println!("{plan}");
    assert!(
        plan.contains("Index Scan using snippets_expires_at_idx"),
        "{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

/// The sweeper `serve` runs: rows already expired at startup are deleted
/// in its first batch, and SIGTERM still exits 0.
#[test]
fn serve_sweeps_while_serving_and_stops_cleanly() {
    let (db, env) = common::migrated_db(&[]);
    db.psql(
        "INSERT INTO owners (handle) VALUES ('sweepy'); \
         INSERT INTO snippets (id, title, language, code, owner, expires_at) \
         SELECT gen_random_uuid(), 't' || i, 'sql', 'select 1', 'sweepy', now() - interval '1 minute' \
         FROM generate_series(1, 3) i",
    );
    assert_eq!(db.psql("SELECT sum(snippets) FROM owner_usage").trim(), "3");
    let mut server = common::Server::start(&["serve"], &env);
    let line = server
        .logs
        .wait_for(std::time::Duration::from_secs(20), |l| {
            l.contains("deleted 3 expired snippet(s)")
        });
    assert!(line.is_some(), "{}", server.logs.text());
    assert_eq!(db.psql("SELECT count(*) FROM snippets").trim(), "0");
    assert_eq!(db.psql("SELECT sum(snippets) FROM owner_usage").trim(), "0");
    assert_eq!(server.stop(), Some(0));
}
