//! The authorization matrix: every route × every kind of caller × every
//! visibility, and lists that never show another owner's hidden snippets.

use super::*;

/// Every snippet route × every caller × every kind of snippet.
#[test]
fn authorization_matrix_for_snippets() {
    let w = world();
    let never = w.owner.get(NEVER).problem(404);
    let mut checked = 0;
    for method in ["GET", "PUT", "PATCH", "DELETE"] {
        for t in TARGETS {
            for (who, c) in &w.clients {
                let path = w.target(t);
                let r = send(c, method, &path);
                let want = expected(*who, method, t);
                assert_eq!(r.status, want, "{who:?} {method} {t:?}: {}", r.text());
                checked += 1;
                if r.status >= 400 {
                    let p = r.problem(want);
                    let text = r.text();
                    for private in [SECRET, "alice", "fn secret", &path[10..]] {
                        assert!(!text.contains(private), "{who:?} {method} {t:?}: {text}");
                    }
                    if want == 404 {
                        // Identical to an id that never existed.
                        for k in ["type", "title", "status", "detail"] {
                            assert_eq!(p[k], never[k], "{who:?} {method} {t:?}");
                        }
                    }
                }
                match (want, *who) {
                    (401, Who::Anonymous) => {
                        assert_eq!(
                            r.header("www-authenticate"),
                            Some("Bearer realm=\"snippetd\"")
                        );
                        assert!(r.problem(401)["type"]
                            .as_str()
                            .unwrap()
                            .ends_with(":unauthorized"));
                    }
                    (401, _) => {
                        assert_eq!(
                            r.header("www-authenticate"),
                            Some("Bearer realm=\"snippetd\", error=\"invalid_token\"")
                        );
                        assert!(r.problem(401)["type"]
                            .as_str()
                            .unwrap()
                            .ends_with(":invalid-token"));
                    }
                    (403, Who::WrongScope) => {
                        assert_eq!(
                            r.header("www-authenticate"),
                            Some("Bearer realm=\"snippetd\", error=\"insufficient_scope\", scope=\"snippets:write\"")
                        );
                    }
                    (403, _) => {
                        assert!(r.problem(403)["type"]
                            .as_str()
                            .unwrap()
                            .ends_with(":forbidden"));
                    }
                    _ => {}
                }
                if r.status < 300 {
                    // Writes did happen; what was denied did not.
                    let after = w.clients[3].1.get(&path);
                    match method {
                        "DELETE" => assert_eq!(after.status, 404),
                        "PUT" => assert_eq!(after.json()["title"], "replaced"),
                        "PATCH" => assert_eq!(after.json()["title"], "patched"),
                        _ => {}
                    }
                } else if method != "GET" {
                    let after = w.clients[3].1.get(&path);
                    assert_eq!(after.status, 200, "{who:?} {method} {t:?} changed it");
                    assert_eq!(after.json()["title"], SECRET);
                }
            }
        }
    }
    assert_eq!(checked, 4 * 4 * 9);
}

/// The other routes × every caller.
#[test]
fn authorization_matrix_for_the_other_routes() {
    let w = world();
    let body = json!({"title": "t", "language": "rust", "code": "x"});
    for (who, c) in &w.clients {
        let invalid = matches!(
            who,
            Who::Expired | Who::Revoked | Who::Malformed | Who::BadChecksum
        );
        let status = |want: u16| if invalid { 401 } else { want };
        let create = c.json("POST", "/snippets", &body).status;
        let want = match who {
            Who::Anonymous => 401,
            Who::WrongScope => 403,
            _ => 201,
        };
        assert_eq!(create, status(want), "{who:?} POST /snippets");
        assert_eq!(
            c.get("/snippets").status,
            status(200),
            "{who:?} GET /snippets"
        );
        let mine = c.get("/snippets?owner=me").status;
        let want = match who {
            Who::Anonymous => 401,
            Who::WrongScope => 403,
            _ => 200,
        };
        assert_eq!(mine, status(want), "{who:?} GET /snippets?owner=me");
        // Issue 30, finding 2: routes that need no identity never read
        // Authorization, so even an invalid token gets their answer.
        assert_eq!(c.get("/health").status, 200, "{who:?} GET /health");
        let me = c.get("/me").status;
        let want = if *who == Who::Anonymous { 401 } else { 200 };
        assert_eq!(me, status(want), "{who:?} GET /me");
        let tokens = c.get("/tokens").status;
        let want = match who {
            Who::Anonymous => 401,
            _ => 200,
        };
        assert_eq!(tokens, status(want), "{who:?} GET /tokens");
        // Another owner's tokens: admin only (bob's own are his).
        let bobs = c.get("/tokens?owner=bob").status;
        let want_bobs = match who {
            Who::Anonymous => 401,
            Who::Admin | Who::OtherOwner => 200,
            _ => 403,
        };
        assert_eq!(bobs, status(want_bobs), "{who:?} GET /tokens?owner=bob");
        let new = c
            .json(
                "POST",
                "/tokens",
                &json!({"name": "n", "scopes": ["tokens:write"]}),
            )
            .status;
        assert_eq!(new, status(want.max(201)), "{who:?} POST /tokens");
        let owner = c
            .json(
                "POST",
                "/owners",
                &json!({"handle": format!("h{}", *who as u8)}),
            )
            .status;
        let want = match who {
            Who::Anonymous => 401,
            Who::Admin => 201,
            _ => 403,
        };
        assert_eq!(owner, status(want), "{who:?} POST /owners");
        // The admin deletes the owner it just created; anyone else is
        // refused before the owner (bob, who has a token here) is touched.
        let handle = if *who == Who::Admin {
            format!("h{}", *who as u8)
        } else {
            "bob".into()
        };
        let delete = c
            .send("DELETE", &format!("/owners/{handle}"), &[], None)
            .status;
        let want = match who {
            Who::Anonymous => 401,
            Who::Admin => 204,
            _ => 403,
        };
        assert_eq!(delete, status(want), "{who:?} DELETE /owners/{{handle}}");
        let revoke = c
            .send("DELETE", &format!("/tokens/{}", &NEVER[10..]), &[], None)
            .status;
        let want = match who {
            Who::Anonymous => 401,
            _ => 404,
        };
        assert_eq!(revoke, status(want), "{who:?} DELETE /tokens/{{id}}");
    }
}

/// Follows `Link` from `path`; every row of every page.
/// Issue 30, finding 12: a token with `snippets:write` but not
/// `snippets:read` gets 404 on GET of its owner's private snippet, so no
/// write may answer it with the content either: POST, PUT, PATCH and fork
/// answer `{"id", "version"}` and the ETag only. And an empty merge patch
/// writes nothing: no new version, no revision.
#[test]
fn a_write_only_token_never_receives_content() {
    let w = world();
    let db = &w.app.db;
    let writer = w
        .app
        .anon()
        .with_token(&mint(db, "alice", &["snippets:write"]));
    let path = w.target(Target::Private);
    let id = path["/snippets/".len()..].to_string();
    writer.get(&path).problem(404);
    let receipt = |r: &Response, status: u16, version: i64| {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.json(), json!({"id": r.json()["id"], "version": version}));
        assert_eq!(r.header("etag"), Some(format!("\"{version}\"").as_str()));
        for secret in [SECRET, "fn secret", "alice", "private"] {
            assert!(!r.text().contains(secret), "{}", r.text());
        }
    };
    let revisions = || {
        db.psql(&format!(
            "SELECT count(*) FROM snippet_revisions WHERE snippet_id = '{id}'"
        ))
        .lines()
        .find_map(|l| l.trim().parse::<i64>().ok())
        .expect("a count")
    };
    for (ct, body) in [
        ("application/merge-patch+json", "{}"),
        ("application/json", "{}"),
        (
            "application/merge-patch+json",
            r#"{"visibility":"private"}"#,
        ),
    ] {
        let r = writer.send(
            "PATCH",
            &path,
            &[("Content-Type", ct)],
            Some(body.as_bytes()),
        );
        receipt(&r, 200, 1);
        assert_eq!(r.json()["id"], id.as_str());
    }
    // Nothing was written: the owner still sees version 1, no history.
    let r = w.owner.get(&path);
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.json()["title"], SECRET);
    assert_eq!(revisions(), 0);
    // A full token's empty patch answers the snippet, unchanged too.
    let r = w.owner.json("PATCH", &path, &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json()["title"].clone(), r.header("etag")),
        (json!(SECRET), Some("\"1\""))
    );
    assert_eq!(revisions(), 0);
    // Writes that change something: receipts, and they did happen.
    let r = writer.json("PATCH", &path, &json!({"code": "fn secret2() {}"}));
    receipt(&r, 200, 2);
    let r = writer.json(
        "PUT",
        &path,
        &json!({"title": "t", "language": "rust", "code": "fn secret3() {}"}),
    );
    receipt(&r, 200, 3);
    assert_eq!(w.owner.get(&path).json()["code"], "fn secret3() {}");
    let r = writer.json("POST", "/snippets", &json!({"title": SECRET, "language": "rust", "code": "fn secret() {}", "visibility": "private"}));
    receipt(&r, 201, 1);
    let new = format!("/snippets/{}", r.json()["id"].as_str().unwrap());
    assert_eq!(r.header("location"), Some(new.as_str()));
    let public = w.target(Target::Public);
    let r = writer.send("POST", &format!("{public}/forks"), &[], None);
    receipt(&r, 201, 1);
}

fn walk(c: &Client, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(p) = next.take() {
        let r = c.get(&p);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        out.extend(r.json().as_array().unwrap().iter().cloned());
        if let Some(link) = r.header("link") {
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
        pages += 1;
        assert!(pages < 100);
    }
    out
}

#[test]
fn lists_never_show_another_owners_private_or_unlisted_snippets() {
    let w = world();
    let bob = w.clients[2].1.clone();
    let admin = w.clients[3].1.clone();
    let mut hidden = HashSet::new();
    let mut alices = HashSet::new();
    for i in 0..9 {
        let vis = ["public", "unlisted", "private"][i % 3];
        let r = w.owner.json(
            "POST",
            "/snippets",
            &json!({"title": format!("needle {i}"), "language": "rust", "code": "fn x() {}",
                    "tags": ["t"], "visibility": vis}),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        alices.insert(id.clone());
        if vis != "public" {
            hidden.insert(id);
        }
        bob.json(
            "POST",
            "/snippets",
            &json!({"title": format!("needle bob {i}"), "language": "rust", "code": "x", "tags": ["t"]}),
        );
    }
    let ids = |rows: &[Value]| -> HashSet<String> {
        rows.iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    for query in [
        "/snippets?limit=2",
        "/snippets?limit=2&tag=t",
        "/snippets?limit=2&language=rust",
        "/snippets?limit=2&q=needle",
        "/snippets?limit=2&q=needle&tag=t&language=rust",
        "/snippets?limit=2&owner=alice",
        "/snippets?limit=2&owner=alice&q=needle",
        "/snippets?limit=3&owner=bob&tag=t",
    ] {
        for (who, c) in [
            ("anon", &w.app.anon()),
            ("bob", &bob),
            ("alice", &w.owner),
            ("admin", &admin),
        ] {
            let rows = walk(c, query);
            let seen = ids(&rows);
            assert_eq!(seen.len(), rows.len(), "{who} {query}: a row twice");
            let shows_all = query.contains("owner=alice") && (who == "alice" || who == "admin");
            if !shows_all {
                assert!(
                    seen.is_disjoint(&hidden),
                    "{who} {query} shows a hidden snippet"
                );
                for r in &rows {
                    assert_eq!(r["visibility"], "public", "{who} {query}");
                }
            } else {
                assert_eq!(seen, alices, "{who} {query}: all of alice's");
            }
        }
    }
    let mine = ids(&walk(&w.owner, "/snippets?limit=2&owner=me&tag=t"));
    assert_eq!(mine, alices);
    let bobs = ids(&walk(&bob, "/snippets?owner=me"));
    assert!(bobs.is_disjoint(&alices) && bobs.len() == 9);
    w.app.anon().get("/snippets?owner=Bad_Handle").problem(400);
}
