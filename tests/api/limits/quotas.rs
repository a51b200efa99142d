//! Per-owner quotas that hold under concurrent writes.

use super::*;

/// The usage row the triggers keep equals what the tables hold: the
/// owner's snippets, and the bytes of their stored revisions (issue 30,
/// finding 14: history counts).
fn assert_usage_matches(app_db: &common::TestDb, owner: &str) -> (i64, i64) {
    let kept = app_db.psql(&format!(
        "SELECT coalesce(sum(snippets), 0) || ' ' || coalesce(sum(bytes), 0) FROM owner_usage WHERE owner = '{owner}'"
    ));
    let real = app_db.psql(&format!(
        "SELECT count(*) || ' ' || coalesce(sum(snippet_bytes(title, description, code)), 0) \
              + (SELECT coalesce(sum(snippet_bytes(r.title, r.description, r.code)), 0) \
                   FROM snippet_revisions r JOIN snippets s ON s.id = r.snippet_id \
                  WHERE s.owner = '{owner}') \
         FROM snippets WHERE owner = '{owner}'"
    ));
    assert_eq!(kept.trim(), real.trim(), "owner_usage vs snippets");
    let mut it = real.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn quotas_refuse_growth_with_the_usage() {
    let app = InProcApp::with_env(&[("QUOTA_MAX_SNIPPETS", "3"), ("QUOTA_MAX_BYTES", "1000")]);
    let c = app.client();
    let mut ids = Vec::new();
    for code in ["a", "b", "c"] {
        ids.push(c.create(&snippet(code))["id"].as_str().unwrap().to_string());
    }
    let r = c.json("POST", "/snippets", &snippet("d"));
    let p = r.problem(403);
    assert_eq!(p["type"], "tag:snippetd,2026:problem:quota-exceeded");
    assert_eq!(p["usage"], json!({"snippets": 3, "bytes": 6}));
    assert_eq!(p["limits"], json!({"snippets": 3, "bytes": 1000}));
    assert_eq!(assert_usage_matches(&app.db, "tester"), (3, 6));
    // Deleting makes room.
    assert_eq!(
        c.send("DELETE", &format!("/snippets/{}", ids[0]), &[], None)
            .status,
        204
    );
    assert_eq!(c.create_status(&snippet("d")), 201);
    // Bytes: a PUT that grows past the limit is refused and changes nothing.
    let big = "x".repeat(996);
    let r = c.json("PUT", &format!("/snippets/{}", ids[1]), &snippet(&big));
    assert_eq!(r.problem(403)["usage"]["bytes"], 6);
    let r = c.json(
        "PUT",
        &format!("/snippets/{}", ids[1]),
        &snippet(&"x".repeat(900)),
    );
    // 2 + 2 + 901, and the 2 bytes it replaced, kept as a revision.
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.send(
        "PATCH",
        &format!("/snippets/{}", ids[2]),
        &[("Content-Type", "application/merge-patch+json")],
        Some(json!({"code": "y".repeat(200)}).to_string().as_bytes()),
    );
    assert_eq!(r.problem(403)["usage"]["bytes"], 907);
    assert_eq!(assert_usage_matches(&app.db, "tester"), (3, 907));
    // Shrinking works while its revision fits: 907 + 6.
    let r = c.send(
        "PATCH",
        &format!("/snippets/{}", ids[1]),
        &[("Content-Type", "application/merge-patch+json")],
        Some(br#"{"code": "short"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(assert_usage_matches(&app.db, "tester"), (3, 913));
    // Admins are exempt (operators' imports and repairs).
    let admin = app
        .anon()
        .with_token(&mint(&app.db, "ops", &["admin", "snippets:write"]));
    for _ in 0..5 {
        assert_eq!(admin.create_status(&snippet("z")), 201);
    }
}

/// Issue 30, finding 14: history counts against the bytes quota. With
/// `QUOTA_MAX_BYTES=300000`, 30 PATCHes of 95,000 new characters kept
/// 2.9 MB of history; now the fourth is refused and the owner's stored
/// bytes, revisions included, stay within the quota. Deleting the snippet
/// frees its history; with `REVISIONS_KEPT=0` nothing is kept or counted.
#[test]
fn history_counts_against_the_bytes_quota() {
    let app = InProcApp::with_env(&[("QUOTA_MAX_BYTES", "300000")]);
    let c = app.client();
    let id = c.create(&snippet("a"))["id"].as_str().unwrap().to_string();
    let path = format!("/snippets/{id}");
    let statuses: Vec<u16> = (0..30)
        .map(|i| {
            let code = format!("{i:02}{}", "x".repeat(94_998));
            c.json("PATCH", &path, &json!({ "code": code })).status
        })
        .collect();
    // 2 + 3 × 95,001 = 285,005 (the first 2 bytes now a revision); a
    // fourth would make 380,006.
    assert_eq!(&statuses[..3], [200, 200, 200]);
    assert!(statuses[3..].iter().all(|s| *s == 403), "{statuses:?}");
    let (_, stored) = assert_usage_matches(&app.db, "tester");
    assert_eq!(stored, 285_005);
    let r = c.json("PATCH", &path, &json!({"code": "b".repeat(95_000)}));
    let p = r.problem(403);
    assert!(
        p["type"].as_str().unwrap().ends_with(":quota-exceeded"),
        "{p}"
    );
    assert_eq!(p["usage"]["bytes"], 285_005);
    // A delete frees the snippet and its history.
    assert_eq!(c.send("DELETE", &path, &[], None).status, 204);
    assert_eq!(assert_usage_matches(&app.db, "tester"), (0, 0));

    let none = InProcApp::with_env(&[("QUOTA_MAX_BYTES", "300000"), ("REVISIONS_KEPT", "0")]);
    let c = none.client();
    let path = format!(
        "/snippets/{}",
        c.create(&snippet("a"))["id"].as_str().unwrap()
    );
    for i in 0..10 {
        let code = char::from(b'a' + i as u8).to_string().repeat(95_000);
        let r = c.json("PATCH", &path, &json!({ "code": code }));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(assert_usage_matches(&none.db, "tester"), (1, 95_001));
}

/// Every way revisions are written or deleted keeps the usage exact: the
/// revision trigger's keep and batched prune, an admin's import of
/// history, a manual DELETE, and the cascade of a snippet's delete.
#[test]
fn usage_follows_every_revision_write() {
    let app = InProcApp::with_env(&[("REVISIONS_KEPT", "3")]);
    let c = app.client();
    let path = format!(
        "/snippets/{}",
        c.create(&snippet("a"))["id"].as_str().unwrap()
    );
    for i in 0..40 {
        let r = c.json("PATCH", &path, &json!({ "code": "x".repeat(i + 1) }));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Pruned at versions 16 and 32: 3 kept, and those past the cap.
    let stored = app.db.psql("SELECT count(*) FROM snippet_revisions");
    assert!(stored.trim().parse::<i64>().unwrap() > 3, "{stored}");
    let (_, bytes) = assert_usage_matches(&app.db, "tester");
    assert!(bytes > 41, "{bytes}");
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let rev = |v: i64| json!({"version": v, "title": "t", "language": "rust", "code": "old".repeat(10), "description": null, "tags": [], "updatedAt": "2020-01-01T00:00:00.000Z"});
    let line = json!({"title": "t", "language": "rust", "code": "now", "owner": "tester", "revisions": [rev(1), rev(2)]});
    let r = admin.send(
        "POST",
        "/snippets/import",
        &[("Content-Type", "application/x-ndjson")],
        Some(format!("{line}\n").as_bytes()),
    );
    assert_eq!(r.json()["imported"], 1, "{}", r.text());
    assert_usage_matches(&app.db, "tester");
    app.db
        .psql("DELETE FROM snippet_revisions WHERE version = 1");
    assert_usage_matches(&app.db, "tester");
    assert_eq!(c.send("DELETE", &path, &[], None).status, 204);
    assert_usage_matches(&app.db, "tester");
}

/// A server over real sockets with one quota set and a pool for a dozen
/// concurrent writers.
fn quota_app(quota: (&str, &str)) -> TestApp {
    TestApp::with_env(&[
        quota,
        ("DB_POOL_SIZE", "12"),
        // Opening a dozen connections at once on a loaded machine may take
        // longer than the default 2 s; these tests are about the quota.
        ("DB_POOL_TIMEOUT_MS", "15000"),
    ])
}

/// `f(0) … f(n - 1)`, each on its own thread, all at once.
fn at_once(n: usize, f: impl Fn(usize) -> u16 + Sync) -> Vec<u16> {
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || f(i))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Many concurrent creates at the limit over real sockets: exactly the
/// allowed number pass, and the count is right afterwards.
#[test]
fn concurrent_creates_cannot_overshoot_the_quota() {
    let app = quota_app(("QUOTA_MAX_SNIPPETS", "5"));
    let c = app.client();
    c.create(&snippet("first"));
    let statuses = at_once(24, |i| c.create_status(&snippet(&format!("n{i}"))));
    let ok = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((ok, refused), (4, 20), "{statuses:?}");
    assert_eq!(assert_usage_matches(&app.db, "tester").0, 5);
}

/// Concurrent PUTs and PATCHes of one owner, each growing its own snippet
/// by 100 bytes at the bytes limit: each checks inside its UPDATE, under
/// the owner's quota lock (migration 2026-12-05-000001), so exactly as
/// many as fit pass, and the count is right afterwards.
#[test]
fn concurrent_growing_updates_cannot_overshoot_the_bytes_quota() {
    let app = quota_app(("QUOTA_MAX_BYTES", "1000"));
    let c = app.client();
    // 12 snippets of 2 bytes each ("t" + "a"): 24 bytes.
    let ids: Vec<String> = (0..12)
        .map(|_| c.create(&snippet("a"))["id"].as_str().unwrap().to_string())
        .collect();
    let grown = "b".repeat(101);
    let statuses = at_once(ids.len(), |i| {
        let path = format!("/snippets/{}", ids[i]);
        if i % 2 == 0 {
            c.json("PUT", &path, &snippet(&grown)).status
        } else {
            let body = json!({ "code": grown }).to_string();
            let ct = ("Content-Type", "application/merge-patch+json");
            c.send("PATCH", &path, &[ct], Some(body.as_bytes())).status
        }
    });
    // Each grows the owner by its 102 new bytes (its 2 old ones stay as a
    // revision): 24 + 9 × 102 = 942 fits in 1,000; a tenth would make 1,044.
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((ok, refused), (9, 3), "{statuses:?}");
    assert_eq!(assert_usage_matches(&app.db, "tester"), (12, 942));
    // Shrinking passes while its revision fits: 942 + 2.
    let r = c.json("PUT", &format!("/snippets/{}", ids[0]), &snippet("c"));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// One connection, so one create leader: a create of `c`'s owner is sent
/// while that owner's quota lock is held from psql for 1.5 s, so that the
/// leader waits, and `n` more creates `f(i)` queue behind it. Returns the
/// first create's status and theirs.
fn behind_the_quota_lock(
    app: &TestApp,
    c: &common::Client,
    n: usize,
    f: impl Fn(usize) -> u16 + Sync,
) -> (u16, Vec<u16>) {
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            app.db
                .psql("SELECT pg_advisory_xact_lock(1364545364, hashtext('tester')), pg_sleep(1.5)")
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        let blocked = s.spawn(|| c.create_status(&snippet("blocked")));
        std::thread::sleep(std::time::Duration::from_millis(200));
        let rest = at_once(n, f);
        holder.join().unwrap();
        (blocked.join().unwrap(), rest)
    })
}

/// Rows of `owner` and the statements (transactions) that wrote them: rows
/// of one statement share its `xmin`.
fn rows_and_statements(app: &TestApp, owner: &str) -> (i64, i64) {
    let counts = app.db.psql(&format!(
        "SELECT count(*) || ' ' || count(DISTINCT xmin::text) FROM snippets WHERE owner = '{owner}'"
    ));
    let mut it = counts.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn one_connection(max_snippets: &str) -> TestApp {
    TestApp::with_env(&[
        ("QUOTA_MAX_SNIPPETS", max_snippets),
        ("DB_POOL_SIZE", "1"),
        ("DB_POOL_TIMEOUT_MS", "15000"),
    ])
}

/// Creates that arrive together share one INSERT (src/snippets/creates.rs):
/// a row refused by its owner's quota fails alone, its neighbours in the
/// statement are created once each.
#[test]
fn a_refused_create_does_not_fail_its_batch() {
    let app = one_connection("1");
    let c = app.client();
    let admin = app
        .anon()
        .with_token(&mint(&app.db, "ops", &["admin", "snippets:write"]));
    // Also puts both tokens in the verified-token cache.
    assert_eq!(c.create_status(&snippet("first")), 201);
    assert_eq!(admin.create_status(&snippet("first")), 201);
    let (blocked, rest) = behind_the_quota_lock(&app, &c, 32, |i| {
        let s = snippet(&format!("n{i}"));
        if i % 4 == 0 {
            c.create_status(&s)
        } else {
            admin.create_status(&s)
        }
    });
    assert_eq!(blocked, 403);
    for (i, s) in rest.iter().enumerate() {
        assert_eq!(*s, if i % 4 == 0 { 403 } else { 201 }, "{rest:?}");
    }
    // The 24 queued admin creates went in far fewer statements, each once.
    let (rows, statements) = rows_and_statements(&app, "ops");
    assert_eq!(rows, 25);
    assert!(statements <= 10, "{statements} statements for 25 rows");
    assert_eq!(assert_usage_matches(&app.db, "tester"), (1, 6));
}

/// One owner's queued creates share a statement too, each checked against
/// the quota with the rows ahead of it in the statement counted.
#[test]
fn one_owners_creates_share_a_statement_within_the_quota() {
    let app = one_connection("34");
    let c = app.client();
    assert_eq!(c.create_status(&snippet("first")), 201);
    let (blocked, rest) = behind_the_quota_lock(&app, &c, 32, |i| {
        c.create_status(&snippet(&format!("n{i}")))
    });
    assert_eq!(blocked, 201);
    assert!(rest.iter().all(|s| *s == 201), "{rest:?}");
    let (rows, statements) = rows_and_statements(&app, "tester");
    assert_eq!(rows, 34);
    assert!(statements <= 12, "{statements} statements for 34 rows");
    assert_eq!(assert_usage_matches(&app.db, "tester").0, 34);
    // At the limit now: the next create is refused, with the usage.
    let r = c.json("POST", "/snippets", &snippet("over"));
    assert_eq!(r.problem(403)["usage"]["snippets"], 34);
}
