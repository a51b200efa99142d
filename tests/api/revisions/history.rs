//! Every write keeps the version it replaced; the cap; history pages.

use super::*;

#[test]
fn every_write_keeps_the_previous_version_newest_first() {
    let app = InProcApp::new();
    let c = app.client();
    let path = written(&c, 4);
    // The snippet's ETag is still its version.
    assert_eq!(c.get(&path).header("etag"), Some("\"5\""));

    let got = pages(&c, &format!("{path}/revisions?limit=2"));
    assert_eq!(versions(&got), vec![vec![5, 4], vec![3, 2], vec![1]]);
    let all: Vec<&Value> = got.iter().flatten().collect();
    for r in &all {
        let v = r["version"].as_i64().unwrap();
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "code",
                "description",
                "language",
                "tags",
                "title",
                "updatedAt",
                "version"
            ]
        );
        assert_eq!(r["title"], format!("v{v}"));
        assert_eq!(r["code"], format!("code {v}"));
        assert_eq!(r["tags"], json!(["t"]));
    }
    // Each version's updatedAt is when it was written: never increasing.
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["updatedAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // Exactly `limit` left: no empty last page; the default limit is 20.
    assert_eq!(
        versions(&pages(&c, &format!("{path}/revisions?limit=5"))).len(),
        1
    );
    assert_eq!(
        versions(&pages(&c, &format!("{path}/revisions"))),
        vec![vec![5, 4, 3, 2, 1]]
    );

    // One version: immutable, its own strong ETag, 304 on revalidation.
    let r = c.get(&format!("{path}/revisions/3"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["title"], "v3");
    assert_eq!(r.header("etag"), Some("\"3\""));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let r = c.send(
        "GET",
        &format!("{path}/revisions/3"),
        &[("If-None-Match", "\"3\"")],
        None,
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some("\"3\""));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // The current version is a revision too.
    assert_eq!(c.get(&format!("{path}/revisions/5")).json()["title"], "v5");
    for bad in ["6", "0", "01", "-1", "x", "99999999999999999999"] {
        c.get(&format!("{path}/revisions/{bad}")).problem(404);
    }
    // Bad parameters: 400, never 500.
    for q in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=nope",
        "cursor=AAAAAAAAAAA",
        "tag=a",
        "limit=1&limit=2",
    ] {
        c.get(&format!("{path}/revisions?{q}")).problem(400);
    }
    // Unknown or malformed snippet ids: 404 like GET.
    c.get("/snippets/00000000-0000-4000-8000-000000000000/revisions")
        .problem(404);
    c.get("/snippets/nope/revisions/1").problem(404);
}

#[test]
fn a_write_that_fails_keeps_no_revision_and_delete_removes_the_history() {
    let app = InProcApp::new();
    let c = app.client();
    let path = written(&c, 2);
    let id = &path[10..];
    // 412 and 422: no new version, no new revision.
    let r = c.send(
        "PUT",
        &path,
        &[("Content-Type", "application/json"), ("If-Match", "\"1\"")],
        Some(body("no", "no").to_string().as_bytes()),
    );
    assert_eq!(r.status, 412);
    c.json("PATCH", &path, &json!({"title": ""})).problem(422);
    assert_eq!(stored_revisions(&app, id), 2);
    assert_eq!(c.send("DELETE", &path, &[], None).status, 204);
    assert_eq!(stored_revisions(&app, id), 0);
    c.get(&format!("{path}/revisions")).problem(404);
    c.get(&format!("{path}/revisions/1")).problem(404);
}

#[test]
fn the_cap_prunes_the_oldest() {
    let app = InProcApp::with_env(&[("REVISIONS_KEPT", "2")]);
    let c = app.client();
    let path = written(&c, 5);
    assert_eq!(
        versions(&pages(&c, &format!("{path}/revisions?limit=2"))),
        vec![vec![6, 5], vec![4]]
    );
    for v in 1..=3 {
        c.get(&format!("{path}/revisions/{v}")).problem(404);
    }
    assert_eq!(c.get(&format!("{path}/revisions/4")).json()["title"], "v4");

    let none = InProcApp::with_env(&[("REVISIONS_KEPT", "0")]);
    let c = none.client();
    let path = written(&c, 2);
    assert_eq!(
        versions(&pages(&c, &format!("{path}/revisions"))),
        vec![vec![3]]
    );
}

/// A history page's LIMIT is written into its SQL (store::LimitLiteral):
/// bound as `$3`, PostgreSQL planned the kept statement again for every
/// page, as it did the plain list's (contract::paging,
/// `plain_pages_of_any_limit_are_exact_and_planned_once`).
#[test]
fn history_pages_are_planned_once_not_per_page() {
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "1")]);
    let c = app.client();
    let path = written(&c, 12);
    // A table of some size (the plain list's case needed one): another
    // snippet with 10,000 kept versions.
    let other = written(&c, 1);
    let other_id = other.trim_start_matches("/snippets/");
    app.db.psql(&format!(
        "INSERT INTO snippet_revisions (snippet_id, version, title, language, code, tags, updated_at)
         SELECT '{other_id}', -g, 't', 'c', 'x', '{{}}', now() FROM generate_series(1, 10000) AS g;
         ANALYZE snippet_revisions"
    ));
    // Every limit still gives exactly its page (the SQL's may be larger).
    for limit in [1, 2, 3, 5, 6, 7, 11, 12, 13, 14, 20, 21, 22, 50, 100] {
        let got = versions(&pages(&c, &format!("{path}/revisions?limit={limit}")));
        let want: Vec<Vec<i64>> = (1..=13)
            .rev()
            .collect::<Vec<i64>>()
            .chunks(limit)
            .map(<[i64]>::to_vec)
            .collect();
        assert_eq!(got, want, "limit {limit}");
    }
    // (pg_stat_statements shows the literal as a parameter too.)
    let pages_sql = "SELECT % FROM \"snippet_revisions\" WHERE % ORDER BY % LIMIT $%";
    let (Some(calls0), Some(plans0)) = (app.db.calls(pages_sql), app.db.plans(pages_sql)) else {
        return; // an external server: no pg_stat_statements
    };
    for _ in 0..30 {
        let r = c.get(&format!("{path}/revisions"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json().as_array().unwrap().len(), 13);
    }
    let calls = app.db.calls(pages_sql).unwrap() - calls0;
    let plans = app.db.plans(pages_sql).unwrap() - plans0;
    assert_eq!(calls, 30);
    // Five custom plans, then the generic one, at most.
    assert!(plans <= 6, "{plans} plans for {calls} pages");
}

/// The database prunes in batches of 16
/// (migrations/2026-12-05-000003_batched_revision_pruning): between two
/// batches a few revisions past the cap are still stored, and no read
/// shows them: list, get and export show exactly `REVISIONS_KEPT`.
#[test]
fn revisions_past_the_cap_are_never_shown_while_awaiting_their_batch() {
    let app = InProcApp::with_env(&[("REVISIONS_KEPT", "3")]);
    let c = app.client();
    let path = written(&c, 2);
    let id = path[10..].to_string();
    let mut most = 0;
    for writes in 3..=40 {
        let r = c.json(
            "PATCH",
            &path,
            &json!({"title": format!("v{}", writes + 1)}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let current = writes as i64 + 1;
        let listed: Vec<i64> = versions(&pages(&c, &format!("{path}/revisions"))).concat();
        assert_eq!(listed, (current - 3..=current).rev().collect::<Vec<_>>());
        c.get(&format!("{path}/revisions/{}", current - 4))
            .problem(404);
        assert_eq!(
            c.get(&format!("{path}/revisions/{}", current - 3)).status,
            200
        );
        let n = stored_revisions(&app, &id);
        assert!(n <= 3 + 16, "{n} revisions stored for a cap of 3");
        most = most.max(n);
    }
    assert!(most > 3, "pruning is batched: {most} at most");
    let r = c.get("/snippets/export?revisions=true");
    assert_eq!(r.status, 200);
    let line: Value = serde_json::from_str(
        r.text()
            .lines()
            .find(|l| l.contains(&id))
            .expect("the snippet is exported"),
    )
    .unwrap();
    let exported: Vec<i64> = line["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(exported, vec![38, 39, 40]);
}
