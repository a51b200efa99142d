//! The raw view and forks.

use super::*;

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
