//! The new routes follow the visibility of GET /snippets/{id}.

use super::*;

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
