//! Issue 16, items 1, 2 and 4: revisions, the raw view and forks, with the
//! visibility rules of GET /snippets/{id} on every new route.

mod common;

use common::{mint, Client, InProcApp};
use serde_json::{json, Value};

fn body(title: &str, code: &str) -> Value {
    json!({"title": title, "language": "rust", "code": code, "tags": ["t"]})
}

/// Follows `Link: <…>; rel="next"` from `path`; returns every page.
fn pages(c: &Client, path: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(p) = next.take() {
        let r = c.get(&p);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        out.push(r.json().as_array().unwrap().clone());
        if let Some(link) = r.header("link") {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
        assert!(out.len() < 100, "pagination does not end");
    }
    out
}

fn versions(pages: &[Vec<Value>]) -> Vec<Vec<i64>> {
    pages
        .iter()
        .map(|p| p.iter().map(|r| r["version"].as_i64().unwrap()).collect())
        .collect()
}

/// The rows `snippet_revisions` holds for `id`, shown or not.
fn stored_revisions(app: &InProcApp, id: &str) -> i64 {
    app.db
        .psql(&format!(
            "SELECT count(*) FROM snippet_revisions WHERE snippet_id = '{id}'"
        ))
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("a count")
}

/// A snippet written `writes` times after its creation; its path.
fn written(c: &Client, writes: usize) -> String {
    let id = c.create(&body("v1", "code 1"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/snippets/{id}");
    for v in 2..=writes + 1 {
        let r = if v % 2 == 0 {
            c.json("PUT", &path, &body(&format!("v{v}"), &format!("code {v}")))
        } else {
            c.json(
                "PATCH",
                &path,
                &json!({"title": format!("v{v}"), "code": format!("code {v}")}),
            )
        };
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("etag"), Some(format!("\"{v}\"").as_str()));
    }
    path
}

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

#[test]
fn raw_is_the_code_as_inert_text() {
    let app = InProcApp::new();
    let c = app.client();
    let code = "<script>alert(1)</script>\nfn main() {}\n";
    let s = c.create(
        &json!({"title": "Hello \"world\"\r\nX-Evil: 1", "language": "Rust", "code": code}),
    );
    let path = format!("/snippets/{}", s["id"].as_str().unwrap());
    for (url, etag, cache) in [
        (format!("{path}/raw"), "\"1\"", "no-cache"),
        (
            format!("{path}/revisions/1/raw"),
            "\"1\"",
            "public, max-age=31536000, immutable",
        ),
    ] {
        let r = c.get(&url);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text(), code);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; sandbox")
        );
        assert_eq!(
            r.header("content-disposition"),
            Some("inline; filename=\"Hello-world-X-Evil-1.rs\"")
        );
        assert!(r.header("x-evil").is_none());
        assert_eq!(r.header("etag"), Some(etag));
        assert_eq!(r.header("cache-control"), Some(cache));
        let r = c.send("GET", &url, &[("If-None-Match", etag)], None);
        assert_eq!(r.status, 304);
        assert!(r.body.is_empty());
        let r = c.send("HEAD", &url, &[], None);
        assert_eq!(r.status, 200);
    }
    // After a write the current raw moves on; the old version's does not.
    c.json("PATCH", &path, &json!({"code": "new", "language": "cobol"}));
    let r = c.send(
        "GET",
        &format!("{path}/raw"),
        &[("If-None-Match", "\"1\"")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "new");
    assert_eq!(
        r.header("content-disposition"),
        Some("inline; filename=\"Hello-world-X-Evil-1.txt\"")
    );
    assert_eq!(c.get(&format!("{path}/revisions/1/raw")).text(), code);
    c.get(&format!("{path}/revisions/3/raw")).problem(404);
}

#[test]
fn forks_copy_a_readable_snippet_into_the_callers_own() {
    let app = InProcApp::with_env(&[("QUOTA_MAX_SNIPPETS", "3")]);
    let alice = app.anon().with_token(&mint(
        &app.db,
        "alice",
        &["snippets:read", "snippets:write"],
    ));
    let bob = app.client();
    let src = alice.create(
        &json!({"title": "orig", "language": "go", "code": "package x",
        "description": "d", "tags": ["a", "b"], "visibility": "unlisted"}),
    );
    assert_eq!(src["forkedFrom"], Value::Null);
    let src_path = format!("/snippets/{}", src["id"].as_str().unwrap());
    alice.json("PATCH", &src_path, &json!({"title": "orig v2"}));

    let r = bob.send("POST", &format!("{src_path}/forks"), &[], None);
    assert_eq!(r.status, 201, "{}", r.text());
    let fork = r.json();
    let fork_path = format!("/snippets/{}", fork["id"].as_str().unwrap());
    assert_eq!(r.header("location"), Some(fork_path.as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(fork["owner"], common::TESTER);
    // The source is alice's unlisted snippet: its id is not shown to bob
    // (issue 30, finding 13), only the version copied.
    assert_eq!(fork["forkedFrom"], json!({"id": null, "version": 2}));
    assert_eq!(
        alice.get(&fork_path).json()["forkedFrom"],
        json!({"id": src["id"], "version": 2})
    );
    assert_eq!(fork["visibility"], "unlisted");
    for k in ["language", "code", "description", "tags"] {
        assert_eq!(fork[k], src[k], "{k}");
    }
    assert_eq!(fork["title"], "orig v2");
    assert_eq!(bob.get(&fork_path).json(), fork);
    // The fork is the forker's to write; the source is untouched.
    assert_eq!(
        bob.json("PATCH", &fork_path, &json!({"code": "mine"}))
            .status,
        200
    );
    assert_eq!(alice.get(&src_path).json()["code"], "package x");
    // A client that PUTs back what it GETs: forkedFrom is ignored.
    let mut back = bob.get(&fork_path).json();
    back["title"] = json!("put back");
    assert_eq!(bob.json("PUT", &fork_path, &back).status, 200);
    assert_eq!(bob.get(&fork_path).json()["forkedFrom"], fork["forkedFrom"]);

    // Someone else's private snippet: 404 as on GET, and nothing created.
    let private = alice
        .create(&json!({"title": "p", "language": "go", "code": "x", "visibility": "private"}));
    let private_path = format!("/snippets/{}", private["id"].as_str().unwrap());
    bob.send("POST", &format!("{private_path}/forks"), &[], None)
        .problem(404);
    // Its owner may fork it: the fork stays private.
    let r = alice.send("POST", &format!("{private_path}/forks"), &[], None);
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["visibility"], "private");
    // Quotas apply like a create: alice holds 3 snippets, her limit.
    let p = alice
        .send("POST", &format!("{src_path}/forks"), &[], None)
        .problem(403);
    assert!(
        p["type"].as_str().unwrap().ends_with(":quota-exceeded"),
        "{p}"
    );
    // No token, the wrong scope, unknown and malformed ids.
    app.anon()
        .send("POST", &format!("{src_path}/forks"), &[], None)
        .problem(401);
    let read_only = app
        .anon()
        .with_token(&mint(&app.db, "carol", &["snippets:read"]));
    read_only
        .send("POST", &format!("{src_path}/forks"), &[], None)
        .problem(403);
    bob.send(
        "POST",
        "/snippets/00000000-0000-4000-8000-000000000000/forks",
        &[],
        None,
    )
    .problem(404);
    bob.send("POST", "/snippets/x/forks", &[], None)
        .problem(404);
    let r = bob.get(&format!("{src_path}/forks"));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
}

/// Issue 30, finding 13: `forkedFrom.id` is shown only to callers who
/// may be shown the source (public, or theirs, or an admin); others get
/// `{"id": null, "version": N}`. Every route that shows a snippet follows
/// it, and a list page pays one batched lookup, not one per fork.
#[test]
fn forked_from_names_only_sources_the_reader_may_read() {
    let app = InProcApp::new();
    let full = ["snippets:read", "snippets:write"];
    let alice = app.anon().with_token(&mint(&app.db, "alice", &full));
    let bob = app.anon().with_token(&mint(&app.db, "bob", &full));
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let src = alice.create(&body("source", "src"));
    let src_id = src["id"].as_str().unwrap().to_string();
    let src_path = format!("/snippets/{src_id}");
    let forks: Vec<String> = (0..3)
        .map(|_| {
            let r = bob.send("POST", &format!("{src_path}/forks"), &[], None);
            assert_eq!(r.json()["forkedFrom"]["id"], src_id.as_str());
            format!("/snippets/{}", r.json()["id"].as_str().unwrap())
        })
        .collect();
    let named = json!({"id": src_id, "version": 1});
    let hidden = json!({"id": null, "version": 1});
    // Every way bob's forks are shown, to one reader.
    let seen = |c: &common::Client| -> Vec<Value> {
        let mut out: Vec<Value> = forks
            .iter()
            .map(|f| c.get(f).json()["forkedFrom"].clone())
            .collect();
        let page = c.get("/snippets?owner=bob&limit=10").json();
        out.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|s| s["forkedFrom"].clone()),
        );
        out
    };
    for c in [app.anon(), bob.clone(), alice.clone(), admin.clone()] {
        assert!(seen(&c).iter().all(|f| *f == named));
    }
    // The source made unlisted: its id is a secret now.
    alice.json("PATCH", &src_path, &json!({"visibility": "unlisted"}));
    for c in [app.anon(), bob.clone()] {
        let all = seen(&c);
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|f| *f == hidden), "{all:?}");
    }
    for c in [alice.clone(), admin.clone()] {
        assert!(seen(&c).iter().all(|f| *f == named));
    }
    // Writes and the export answer the same.
    let r = bob.json("PATCH", &forks[0], &json!({"code": "mine"}));
    assert_eq!(r.json()["forkedFrom"], hidden);
    let r = bob.json("PUT", &forks[1], &body("put", "mine"));
    assert_eq!(r.json()["forkedFrom"], hidden);
    let r = bob.get("/snippets/export");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains(&src_id), "{}", r.text());
    assert_eq!(
        r.text()
            .matches(r#""forkedFrom":{"id":null,"version":1}"#)
            .count(),
        3
    );
    // One batched lookup per list page, whatever the number of forks.
    let sql = r#"SELECT "snippets"."id", "snippets"."owner", "snippets"."visibility" FROM %"#;
    if let Some(before) = app.db.calls(sql) {
        bob.get("/snippets?owner=bob&limit=10");
        assert_eq!(app.db.calls(sql).unwrap() - before, 1);
    }
    // Public again: named again; deleted: nobody may read it.
    alice.json("PATCH", &src_path, &json!({"visibility": "public"}));
    assert!(seen(&bob).iter().all(|f| *f == named));
    assert_eq!(alice.send("DELETE", &src_path, &[], None).status, 204);
    assert!(seen(&alice).iter().all(|f| *f == hidden));
}

/// The new read routes answer as GET /snippets/{id} does, for every kind
/// of caller and snippet: private of someone else is the 404 of an id that
/// never existed; unlisted is readable by id; immutable versions of
/// non-public snippets are `private` to caches.
#[test]
fn new_routes_follow_the_visibility_of_get() {
    let app = InProcApp::new();
    let full = ["snippets:read", "snippets:write"];
    let alice = app.anon().with_token(&mint(&app.db, "alice", &full));
    let bob = app.anon().with_token(&mint(&app.db, "bob", &full));
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let never = app
        .anon()
        .get("/snippets/00000000-0000-4000-8000-000000000000/raw")
        .problem(404);
    for vis in ["public", "unlisted", "private"] {
        let s = alice.create(&json!({"title": "SECRET-7f3a", "language": "rust", "code": "secret code", "visibility": vis}));
        let path = format!("/snippets/{}", s["id"].as_str().unwrap());
        alice.json("PATCH", &path, &json!({"code": "secret code 2"}));
        for sub in [
            "",
            "/raw",
            "/revisions",
            "/revisions/1",
            "/revisions/1/raw",
            "/revisions/2/raw",
        ] {
            let url = format!("{path}{sub}");
            for (who, c) in [
                ("anon", app.anon()),
                ("alice", alice.clone()),
                ("bob", bob.clone()),
                ("admin", admin.clone()),
            ] {
                let r = c.get(&url);
                let hidden = vis == "private" && (who == "anon" || who == "bob");
                if hidden {
                    let p = r.problem(404);
                    for k in ["type", "title", "status", "detail"] {
                        assert_eq!(p[k], never[k], "{who} {url}");
                    }
                    for secret in ["SECRET", "secret code", "alice"] {
                        assert!(!r.text().contains(secret), "{who} {url}: {}", r.text());
                    }
                } else {
                    assert_eq!(r.status, 200, "{who} {vis} {url}: {}", r.text());
                    if sub.starts_with("/revisions/") {
                        let want = if vis == "public" { "public" } else { "private" };
                        assert_eq!(
                            r.header("cache-control"),
                            Some(format!("{want}, max-age=31536000, immutable").as_str()),
                            "{vis}"
                        );
                    }
                }
            }
        }
        let r = bob.send("POST", &format!("{path}/forks"), &[], None);
        assert_eq!(r.status, if vis == "private" { 404 } else { 201 }, "{vis}");
    }
    // Invalid tokens are 401 on the new routes too, never anonymous.
    let s = alice.create(&body("x", "y"));
    let path = format!("/snippets/{}", s["id"].as_str().unwrap());
    let bad = app.anon().with_token("snp_not-a-token");
    for sub in ["/raw", "/revisions", "/revisions/1", "/revisions/1/raw"] {
        bad.get(&format!("{path}{sub}")).problem(401);
    }
    bad.send("POST", &format!("{path}/forks"), &[], None)
        .problem(401);
}

/// Issue 30, finding 11: a version is readable by whoever could read the
/// snippet when it was written and can still read it now. Making a
/// private snippet public publishes its current version only; a version
/// written unlisted is shown to others only while the snippet is
/// unlisted; shared caches get only versions written public.
#[test]
fn publishing_a_snippet_publishes_its_current_version_only() {
    let app = InProcApp::new();
    let full = ["snippets:read", "snippets:write"];
    let alice = app.anon().with_token(&mint(&app.db, "alice", &full));
    let bob = app.anon().with_token(&mint(&app.db, "bob", &full));
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let s = alice.create(&json!({"title": "cfg", "language": "sh", "code": "KEY=TOPSECRET", "visibility": "private"}));
    let path = format!("/snippets/{}", s["id"].as_str().unwrap());
    let patch = |v: Value| assert_eq!(alice.json("PATCH", &path, &v).status, 200);
    // v1 private, v2 unlisted, v3..v4 public, v5 unlisted again.
    patch(json!({"visibility": "unlisted", "code": "KEY=UNLISTED"}));
    patch(json!({"visibility": "public", "code": "KEY=PUBLIC3"}));
    patch(json!({"code": "KEY=PUBLIC4"}));
    let shown = |c: &common::Client| -> Vec<i64> {
        pages(c, &format!("{path}/revisions?limit=2"))
            .concat()
            .iter()
            .map(|r| r["version"].as_i64().unwrap())
            .collect()
    };
    let check = |now: &str, others: &[i64]| {
        for (who, c) in [("anon", app.anon()), ("bob", bob.clone())] {
            assert_eq!(shown(&c), others, "{who}, {now}");
            for v in 1..=4 {
                let rev = c.get(&format!("{path}/revisions/{v}"));
                let raw = c.get(&format!("{path}/revisions/{v}/raw"));
                if others.contains(&v) {
                    assert_eq!((rev.status, raw.status), (200, 200), "{who} v{v} {now}");
                    let public = now == "public" && v >= 3;
                    let cache = if public { "public" } else { "private" };
                    let want = format!("{cache}, max-age=31536000, immutable");
                    assert_eq!(raw.header("cache-control"), Some(want.as_str()), "v{v}");
                } else {
                    rev.problem(404);
                    raw.problem(404);
                    for secret in ["TOPSECRET", "UNLISTED"] {
                        assert!(!raw.text().contains(secret), "{who} v{v} {now}");
                        assert!(!rev.text().contains(secret), "{who} v{v} {now}");
                    }
                }
            }
        }
        // The owner and admins read every version, never shared-cached
        // unless written public.
        for c in [&alice, &admin] {
            let all: Vec<i64> = (1..=others[0]).rev().collect();
            assert_eq!(shown(c), all, "{now}");
            let r = c.get(&format!("{path}/revisions/1/raw"));
            assert_eq!(r.text(), "KEY=TOPSECRET");
            assert_eq!(
                r.header("cache-control"),
                Some("private, max-age=31536000, immutable")
            );
        }
    };
    // Public now: v1 (private) and v2 (unlisted) stay hidden from others.
    check("public", &[4, 3]);
    // Unlisted again: what was written public or unlisted is shown by id.
    patch(json!({"visibility": "unlisted"}));
    check("unlisted", &[5, 4, 3, 2]);
    // Private: nothing, as before.
    patch(json!({"visibility": "private"}));
    for c in [app.anon(), bob.clone()] {
        c.get(&format!("{path}/revisions")).problem(404);
    }
}

/// A history page's LIMIT is written into its SQL (store::LimitLiteral):
/// bound as `$3`, PostgreSQL planned the kept statement again for every
/// page, as it did the plain list's (tests/contract.rs,
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
