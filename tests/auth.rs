//! Owners, tokens and visibility (issue 14) against a real PostgreSQL with
//! real tokens: the authorization matrix, lists across pages and filters,
//! the token endpoints, SHA-256 at rest, revocation across processes, the
//! CLI and the open mode.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{mint, mint_with, Client, InProcApp, Response};
use serde_json::{json, Value};

const NEVER: &str = "/snippets/00000000-0000-4000-8000-000000000000";

/// Every kind of caller of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Owner,
    OtherOwner,
    Admin,
    WrongScope,
    Expired,
    Revoked,
    Malformed,
    BadChecksum,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Owner,
    Who::OtherOwner,
    Who::Admin,
    Who::WrongScope,
    Who::Expired,
    Who::Revoked,
    Who::Malformed,
    Who::BadChecksum,
];

/// Every kind of target snippet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Public,
    Unlisted,
    Private,
    /// owner NULL: written before owners existed.
    Unowned,
}

const TARGETS: [Target; 4] = [
    Target::Public,
    Target::Unlisted,
    Target::Private,
    Target::Unowned,
];

struct World {
    app: InProcApp,
    /// alice, with snippets:read, snippets:write, tokens:write.
    owner: Client,
    clients: Vec<(Who, Client)>,
}

fn bad_checksum(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    let i = 10;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).unwrap()
}

fn world() -> World {
    let app = InProcApp::new();
    let db = &app.db;
    let full = ["snippets:read", "snippets:write", "tokens:write"];
    let anon = app.anon();
    let owner = anon.with_token(&mint(db, "alice", &full));
    let clients = EVERYONE
        .iter()
        .map(|w| {
            let c = match w {
                Who::Anonymous => anon.clone(),
                Who::Owner => owner.clone(),
                Who::OtherOwner => anon.with_token(&mint(db, "bob", &full)),
                Who::Admin => anon.with_token(&mint(db, "root", &["admin"])),
                Who::WrongScope => anon.with_token(&mint(db, "alice", &["tokens:write"])),
                Who::Expired => anon.with_token(&mint_with(
                    db,
                    "alice",
                    &full,
                    &[("expires_at", "now() - interval '1 minute'")],
                )),
                Who::Revoked => {
                    anon.with_token(&mint_with(db, "alice", &full, &[("revoked_at", "now()")]))
                }
                Who::Malformed => anon.with_token("snp_not-a-token"),
                Who::BadChecksum => anon.with_token(&bad_checksum(&mint(db, "alice", &full))),
            };
            (*w, c)
        })
        .collect();
    World {
        app,
        owner,
        clients,
    }
}

const SECRET: &str = "SECRET-TITLE-7f3a";

impl World {
    /// A fresh target snippet; its path.
    fn target(&self, t: Target) -> String {
        let id = match t {
            Target::Unowned => {
                let out = self.app.db.psql(&format!(
                    "INSERT INTO snippets (id, title, language, code) \
                     VALUES (gen_random_uuid(), '{SECRET}', 'sql', 'select 1') RETURNING id"
                ));
                out.lines()
                    .map(str::trim)
                    .find(|l| l.len() == 36)
                    .unwrap_or_else(|| panic!("no id in {out:?}"))
                    .to_string()
            }
            _ => {
                let vis = match t {
                    Target::Public => "public",
                    Target::Unlisted => "unlisted",
                    _ => "private",
                };
                let r = self.owner.json(
                    "POST",
                    "/snippets",
                    &json!({"title": SECRET, "language": "rust", "code": "fn secret() {}", "visibility": vis}),
                );
                assert_eq!(r.status, 201, "{}", r.text());
                assert_eq!(r.json()["owner"], "alice");
                assert_eq!(r.json()["visibility"], vis);
                r.json()["id"].as_str().unwrap().to_string()
            }
        };
        format!("/snippets/{id}")
    }
}

fn send(c: &Client, method: &str, path: &str) -> Response {
    match method {
        "GET" | "DELETE" => c.send(method, path, &[], None),
        "PUT" => c.json(
            "PUT",
            path,
            &json!({"title": "replaced", "language": "rust", "code": "x"}),
        ),
        "PATCH" => c.send(
            "PATCH",
            path,
            &[("Content-Type", "application/merge-patch+json")],
            Some(br#"{"title":"patched"}"#),
        ),
        _ => unreachable!(),
    }
}

/// The statuses of issue 14, for one snippet route.
fn expected(who: Who, method: &str, t: Target) -> u16 {
    let read = method == "GET";
    let ok = if method == "DELETE" { 204 } else { 200 };
    match who {
        Who::Expired | Who::Revoked | Who::Malformed | Who::BadChecksum => 401,
        Who::Admin => ok,
        Who::Anonymous => match (read, t) {
            (true, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 401,
        },
        // alice's token without snippets:read/write: private is hidden
        // from it, and writes lack the scope before any row is read.
        Who::WrongScope => match (read, t) {
            (true, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 403,
        },
        Who::Owner => match (read, t) {
            (true, _) => 200,
            (false, Target::Unowned) => 403,
            (false, _) => ok,
        },
        Who::OtherOwner => match (read, t) {
            (_, Target::Private) => 404,
            (true, _) => 200,
            (false, _) => 403,
        },
    }
}

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

#[test]
fn token_endpoints_and_sha256_at_rest() {
    let w = world();
    let admin = w.clients[3].1.clone();
    let me = w.owner.get("/me");
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["handle"], "alice");
    assert_eq!(
        me.json()["scopes"],
        json!(["snippets:read", "snippets:write", "tokens:write"])
    );

    // Scopes must be a subset of the caller's; expiry at most 365 days.
    let r = w.owner.json(
        "POST",
        "/tokens",
        &json!({"name": "x", "scopes": ["admin"]}),
    );
    r.problem(403);
    let r = w.owner.json(
        "POST",
        "/tokens",
        &json!({"name": "x", "scopes": ["snippets:read"], "expiresInDays": 366}),
    );
    assert_eq!(r.problem(422)["errors"][0]["pointer"], "/expiresInDays");
    w.owner
        .json("POST", "/tokens", &json!({"name": "x", "scopes": ["nope"]}))
        .problem(422);
    w.owner
        .json(
            "POST",
            "/tokens",
            &json!({"name": "x", "scopes": ["snippets:read"], "owner": "bob"}),
        )
        .problem(403);

    let r = w.owner.json(
        "POST",
        "/tokens",
        &json!({"name": "laptop", "scopes": ["snippets:read"], "expiresInDays": 30}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_string();
    common::record_token(&token);
    let id = created["id"].as_str().unwrap().to_string();
    assert!(token.starts_with("snp_") && token.len() == 42);
    assert_eq!(created["owner"], "alice");
    assert!(created["expiresAt"].is_string());

    // Only SHA-256 of the token is in the database.
    let all = w.app.db.psql("SELECT * FROM tokens");
    assert!(!all.contains(&token), "the token is stored in clear");
    assert!(
        !all.contains(&token[4..]),
        "the token's secret part is stored"
    );
    let stored = w.app.db.psql(&format!(
        "SELECT encode(sha256, 'hex') = encode(sha256('{token}'::bytea), 'hex') FROM tokens WHERE id = '{id}'"
    ));
    assert_eq!(stored.trim(), "t", "{stored}");

    // The new token works, with its scopes only.
    let laptop = w.app.anon().with_token(&token);
    assert_eq!(laptop.get("/me").json()["scopes"], json!(["snippets:read"]));
    assert_eq!(laptop.get("/snippets?owner=me").status, 200);
    laptop
        .json(
            "POST",
            "/snippets",
            &json!({"title": "t", "language": "l", "code": "c"}),
        )
        .problem(403);
    // Listed without secrets; revoked by its owner, refused at once here.
    let list = w.owner.get("/tokens").json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id.as_str()));
    assert!(!w.owner.get("/tokens").text().contains(&token));
    // Another owner cannot revoke it (as if it did not exist).
    w.clients[2]
        .1
        .send("DELETE", &format!("/tokens/{id}"), &[], None)
        .problem(404);
    let r = w.owner.send("DELETE", &format!("/tokens/{id}"), &[], None);
    assert_eq!(r.status, 204);
    laptop.get("/me").problem(401);
    laptop.get("/snippets").problem(401);

    // Admin: owners and other owners' tokens.
    let r = admin.json("POST", "/owners", &json!({"handle": "carol"}));
    assert_eq!(r.status, 201, "{}", r.text());
    admin
        .json("POST", "/owners", &json!({"handle": "carol"}))
        .problem(409);
    admin
        .json("POST", "/owners", &json!({"handle": "Carol"}))
        .problem(422);
    admin
        .json("POST", "/owners", &json!({"handle": "me"}))
        .problem(422);
    let r = admin.json(
        "POST",
        "/tokens",
        &json!({"name": "c", "scopes": ["snippets:write"], "owner": "carol"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    common::record_token(r.json()["token"].as_str().unwrap());
    let carol = w.app.anon().with_token(r.json()["token"].as_str().unwrap());
    assert_eq!(carol.get("/me").json()["handle"], "carol");

    // A token in the URL is a 400 on any route.
    for path in [
        format!("/snippets?access_token={token}"),
        format!("/health?token={token}"),
        format!("{NEVER}?x={token}"),
    ] {
        w.app.anon().get(&path).problem(400);
    }
}

/// `POST /tokens` as `caller`; the new token's JSON (201 asserted).
fn create_token(caller: &Client, body: Value) -> Value {
    let r = caller.json("POST", "/tokens", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    common::record_token(r.json()["token"].as_str().unwrap());
    r.json()
}

/// Issue 30, finding 7: a token created through the API expires no later
/// than its creator, and revoking a token revokes what it created,
/// transitively, at once in this process.
#[test]
fn child_tokens_expire_with_and_are_revoked_with_their_parent() {
    let app = InProcApp::new();
    let db = &app.db;
    let scopes = ["snippets:read", "tokens:write"];
    let parent = app.anon().with_token(&mint_with(
        db,
        "alice",
        &scopes,
        &[("expires_at", "now() + interval '1 day'")],
    ));
    let me = parent.get("/me").json();
    let (parent_id, parent_expires) = (me["tokenId"].clone(), me["expiresAt"].clone());
    assert!(parent_expires.is_string(), "{me}");

    // No expiry asked: the parent's. A later one: 422 pointing at it.
    let child = create_token(&parent, json!({"name": "child", "scopes": scopes}));
    assert_eq!(child["expiresAt"], parent_expires, "{child}");
    let r = parent.json(
        "POST",
        "/tokens",
        &json!({"name": "late", "scopes": ["snippets:read"], "expiresInDays": 2}),
    );
    assert_eq!(r.problem(422)["errors"][0]["pointer"], "/expiresInDays");
    let child_c = app.anon().with_token(child["token"].as_str().unwrap());
    let grandchild = create_token(&child_c, json!({"name": "gc", "scopes": ["snippets:read"]}));
    assert_eq!(grandchild["expiresAt"], parent_expires);
    let gc_c = app.anon().with_token(grandchild["token"].as_str().unwrap());
    let sibling = create_token(&parent, json!({"name": "sib", "scopes": ["snippets:read"]}));
    let sib_c = app.anon().with_token(sibling["token"].as_str().unwrap());

    // Revoking the child (all cached here) takes the grandchild along,
    // not the parent or the sibling.
    for c in [&parent, &child_c, &gc_c, &sib_c] {
        assert_eq!(c.get("/me").status, 200);
    }
    let child_path = format!("/tokens/{}", child["id"].as_str().unwrap());
    assert_eq!(parent.send("DELETE", &child_path, &[], None).status, 204);
    child_c.get("/me").problem(401);
    gc_c.get("/me").problem(401);
    assert_eq!(sib_c.get("/me").status, 200);
    assert_eq!(parent.get("/me").status, 200);
    // Revoking the parent takes the sibling.
    let parent_path = format!("/tokens/{}", parent_id.as_str().unwrap());
    assert_eq!(parent.send("DELETE", &parent_path, &[], None).status, 204);
    sib_c.get("/me").problem(401);
    parent.get("/me").problem(401);
    let live = db.psql("SELECT count(*) FROM tokens WHERE owner = 'alice' AND revoked_at IS NULL");
    assert_eq!(live.trim(), "0", "every token of the lineage is revoked");

    // A token revoked behind this process's cache (in SQL) mints nothing:
    // the insert checks its parent row, and the caller gets a 401.
    let other = app.anon().with_token(&mint(db, "bob", &scopes));
    let id = other.get("/me").json()["tokenId"]
        .as_str()
        .unwrap()
        .to_string();
    db.psql(&format!(
        "UPDATE tokens SET revoked_at = now() WHERE id = '{id}'"
    ));
    other
        .json(
            "POST",
            "/tokens",
            &json!({"name": "n", "scopes": ["snippets:read"]}),
        )
        .problem(401);
    let minted = db.psql("SELECT count(*) FROM tokens WHERE owner = 'bob'");
    assert_eq!(minted.trim(), "1");
}

/// Finding 7's race (src/auth/lineage.rs, "Races"): children minted while
/// their parent is being revoked are either refused or revoked with it;
/// none is left valid.
#[test]
fn no_child_survives_a_revocation_it_raced() {
    let app = InProcApp::new();
    let parent = app
        .anon()
        .with_token(&mint(&app.db, "alice", &["snippets:read", "tokens:write"]));
    let id = parent.get("/me").json()["tokenId"]
        .as_str()
        .unwrap()
        .to_string();
    let minted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let r = parent.json(
                    "POST",
                    "/tokens",
                    &json!({"name": "race", "scopes": ["snippets:read"]}),
                );
                match r.status {
                    201 => {
                        common::record_token(r.json()["token"].as_str().unwrap());
                        minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    401 => return,
                    other => panic!("{other}: {}", r.text()),
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let r = parent.send("DELETE", &format!("/tokens/{id}"), &[], None);
        assert_eq!(r.status, 204, "{}", r.text());
    });
    assert!(
        minted.into_inner() > 0,
        "no child was minted before the revocation"
    );
    let live = app
        .db
        .psql("SELECT count(*) FROM tokens WHERE owner = 'alice' AND revoked_at IS NULL");
    assert_eq!(live.trim(), "0");
}

/// Issue 30, finding 8: an owner deleted behind this process's token cache
/// (in SQL) gets 401 on a write, not the foreign key's 500; deleting one
/// through `DELETE /owners/{handle}` refuses its tokens, and the tokens
/// they created for other owners, at once, and takes its snippets along.
#[test]
fn a_deleted_owners_token_is_a_401_never_a_500() {
    let app = InProcApp::new();
    let db = &app.db;
    let full = ["snippets:read", "snippets:write", "tokens:write"];
    let body = json!({"title": "t", "language": "rust", "code": "x"});
    let alice = app.anon().with_token(&mint(db, "alice", &full));
    let public = alice.create(&body);
    let fork_path = format!("/snippets/{}/forks", public["id"].as_str().unwrap());

    // The race: carol's token is cached, then her row vanishes in SQL.
    let carol = app.anon().with_token(&mint(db, "carol", &full));
    assert_eq!(carol.get("/me").status, 200);
    db.psql("DELETE FROM owners WHERE handle = 'carol'");
    let r = carol.json("POST", "/snippets", &body);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="snippetd", error="invalid_token""#)
    );
    assert_eq!(
        r.problem(401)["type"],
        "tag:snippetd,2026:problem:invalid-token"
    );
    carol.send("POST", &fork_path, &[], None).problem(401);

    // The admin route: alice's tokens (cached) and the child of one.
    let admin = app.anon().with_token(&mint(db, "root", &["admin"]));
    let child = create_token(&alice, json!({"name": "c", "scopes": ["snippets:read"]}));
    let alice_child = app.anon().with_token(child["token"].as_str().unwrap());
    let private =
        alice.create(&json!({"title": "p", "language": "l", "code": "c", "visibility": "private"}));
    let private_path = format!("/snippets/{}", private["id"].as_str().unwrap());
    let r = alice.send(
        "PATCH",
        &private_path,
        &[("Content-Type", "application/merge-patch+json")],
        Some(br#"{"code":"v2"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An admin's child made for another owner goes with the admin.
    let root2 = app.anon().with_token(&mint(db, "root2", &["admin"]));
    assert_eq!(
        root2
            .json("POST", "/owners", &json!({"handle": "dave"}))
            .status,
        201
    );
    let dave = create_token(
        &root2,
        json!({"name": "d", "scopes": ["snippets:read"], "owner": "dave"}),
    );
    let dave = app.anon().with_token(dave["token"].as_str().unwrap());
    for c in [&alice, &alice_child, &dave] {
        assert_eq!(c.get("/me").status, 200);
    }
    assert_eq!(admin.send("DELETE", "/owners/alice", &[], None).status, 204);
    alice.get("/me").problem(401);
    alice_child.get("/me").problem(401);
    alice.json("POST", "/snippets", &body).problem(401);
    for path in [
        format!("/snippets/{}", public["id"].as_str().unwrap()),
        private_path,
    ] {
        admin.get(&path).problem(404);
    }
    let left = db.psql(
        "SELECT (SELECT count(*) FROM snippets WHERE owner = 'alice') \
              + (SELECT count(*) FROM snippet_revisions r WHERE NOT EXISTS \
                 (SELECT 1 FROM snippets s WHERE s.id = r.snippet_id)) \
              + (SELECT count(*) FROM tokens WHERE owner = 'alice') \
              + (SELECT count(*) FROM owner_usage WHERE owner = 'alice')",
    );
    assert_eq!(left.trim(), "0", "alice's rows are all gone");
    admin
        .send("DELETE", "/owners/alice", &[], None)
        .problem(404);
    admin
        .send("DELETE", "/owners/Alice", &[], None)
        .problem(404);
    assert_eq!(admin.send("DELETE", "/owners/root2", &[], None).status, 204);
    dave.get("/me").problem(401);
    root2.get("/me").problem(401);
}

/// Issue 30, finding 9: `GET /tokens?owner=HANDLE` lists that owner's
/// tokens to an admin (docs/api.md: admin covers "every owner's snippets
/// and tokens"), is a 403 for anyone else naming another owner, and an
/// empty list for a handle that is no owner.
#[test]
fn admins_list_any_owners_tokens() {
    let w = world();
    let admin = &w.clients[3].1;
    let ids = |r: Response| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("cache-control"), Some("no-store"));
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}/{}",
                    t["owner"].as_str().unwrap(),
                    t["id"].as_str().unwrap()
                )
            })
            .collect()
    };
    let stored = |owner: &str| -> Vec<String> {
        w.app
            .db
            .psql(&format!(
                "SELECT owner || '/' || id FROM tokens WHERE owner = '{owner}' \
                 ORDER BY created_at DESC, id DESC"
            ))
            .lines()
            .map(str::to_string)
            .collect()
    };
    // alice has five tokens in the world (owner, wrong scope, expired,
    // revoked, bad checksum's), revoked and expired ones listed too.
    let alices = ids(admin.get("/tokens?owner=alice"));
    assert_eq!(alices.len(), 5, "{alices:?}");
    assert_eq!(alices, stored("alice"));
    assert_eq!(ids(admin.get("/tokens?owner=bob")), stored("bob"));
    assert_eq!(ids(admin.get("/tokens")), stored("root"), "unchanged");
    assert_eq!(ids(admin.get("/tokens?owner=me")), stored("root"));
    assert!(ids(admin.get("/tokens?owner=nobody")).is_empty());
    assert!(ids(admin.get("/tokens?owner=Not%20A%20Handle")).is_empty());
    // Anyone else: their own only.
    assert_eq!(ids(w.owner.get("/tokens?owner=alice")), stored("alice"));
    assert_eq!(ids(w.owner.get("/tokens?owner=me")), stored("alice"));
    w.owner.get("/tokens?owner=bob").problem(403);
    w.owner.get("/tokens?owner=nobody").problem(403);
    admin.get("/tokens?owner=alice&owner=bob").problem(400);
}

#[test]
fn last_used_at_is_recorded_off_the_request_path() {
    let w = world();
    assert_eq!(w.owner.get("/me").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = w
            .app
            .db
            .psql("SELECT count(*) FROM tokens WHERE owner = 'alice' AND last_used_at IS NOT NULL");
        if n.trim() != "0" {
            break;
        }
        assert!(Instant::now() < deadline, "last_used_at never written");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A revocation through one `serve` reaches another on the same database
/// within 10 seconds (its cache re-verifies).
#[test]
fn revocation_reaches_a_second_server_within_ten_seconds() {
    let db = common::cluster().create_db();
    let env = db.env();
    let (code, _, err) = common::run(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");
    let token = mint(&db, "alice", &["snippets:read", "tokens:write"]);
    let a = common::Server::start(&["serve"], &env);
    let b = common::Server::start(&["serve"], &env);
    let ca = a.client().with_token(&token);
    let cb = b.client().with_token(&token);
    // Both verified (and cached) it.
    let me = ca.get("/me");
    assert_eq!(me.status, 200);
    assert_eq!(cb.get("/me").status, 200);
    let id = me.json()["tokenId"].as_str().unwrap().to_string();
    assert_eq!(
        ca.send("DELETE", &format!("/tokens/{id}"), &[], None)
            .status,
        204
    );
    let revoked = Instant::now();
    assert_eq!(
        ca.get("/me").status,
        401,
        "the revoking server refuses at once"
    );
    loop {
        if cb.get("/me").status == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(11),
            "the second server still accepts a revoked token"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The token never reached a log line.
    for s in [&a, &b] {
        assert!(!s.logs.text().contains(&token[4..]));
    }
}

#[test]
fn cli_owner_and_tokens_and_the_bootstrap() {
    let db = common::cluster().create_db();
    let mut env = db.env();
    let (code, _, err) = common::run(&["migrate"], &env);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = common::run(&["owner", "add", "dave"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    let (code, _, _) = common::run(&["owner", "add", "dave"], &env);
    assert_eq!(code, 1, "an existing owner");
    let (code, out, err) = common::run(
        &[
            "token",
            "create",
            "--owner",
            "dave",
            "--name",
            "ci",
            "--scopes",
            "snippets:read,snippets:write",
            "--expires-days",
            "7",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let token = out.trim().to_string();
    common::record_token(&token);
    assert_eq!(out, format!("{token}\n"), "only the token on stdout");
    assert!(token.starts_with("snp_") && token.len() == 42);
    assert!(!err.contains(&token));
    let (code, _, _) = common::run(&["token", "create", "--owner", "nobody"], &env);
    assert_eq!(code, 1);
    let (code, list, _) = common::run(&["token", "list", "--owner", "dave"], &env);
    assert_eq!(code, 0);
    assert!(
        list.contains("dave\tci\tsnippets:read,snippets:write"),
        "{list}"
    );
    assert!(!list.contains(&token));
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();

    // `token new` prints a token and its SHA-256; serve bootstraps it.
    let (code, out, _) = common::run(&["token", "new"], &std::collections::HashMap::new());
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    let (admin_token, hash) = (lines[0].to_string(), lines[1].to_string());
    common::record_token(&admin_token);
    assert_eq!(hash.len(), 64);
    env.insert("BOOTSTRAP_ADMIN_TOKEN_SHA256".into(), hash.clone());
    let server = common::Server::start(&["serve"], &env);
    // Issue 30, finding 17: connections are taken (and "listening" is
    // logged) only once the bootstrap admin exists.
    let logs = server.logs.all();
    let at = |needle: &str| {
        logs.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {logs:#?}"))
    };
    assert!(at("bootstrap: created") < at("listening on"), "{logs:#?}");
    let admin = server.client().with_token(&admin_token);
    assert_eq!(admin.get("/me").json()["handle"], "admin");
    assert_eq!(
        admin
            .json("POST", "/owners", &json!({"handle": "erin"}))
            .status,
        201
    );
    let dave = server.client().with_token(&token);
    assert_eq!(dave.get("/me").status, 200);
    let (code, _, err) = common::run(&["token", "revoke", &id], &env);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = common::run(&["token", "revoke", &NEVER[10..]], &env);
    assert_eq!(code, 1);
    // Not in any log line; the hash only where it was configured.
    assert!(!server.logs.text().contains(&admin_token[4..]));
    drop(server);
    // A second start with the same hash is fine (idempotent).
    let server = common::Server::start(&["serve"], &env);
    assert_eq!(
        server.client().with_token(&admin_token).get("/me").status,
        200
    );
}

#[test]
fn open_mode_is_the_guides_behaviour() {
    let app = InProcApp::with_env(&[("AUTH_MODE", "open")]);
    let c = app.anon();
    let r = c.json(
        "POST",
        "/snippets",
        &json!({"title": "t", "language": "l", "code": "c", "visibility": "private"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    assert_eq!(s["owner"], Value::Null);
    assert_eq!(s["visibility"], "public");
    let path = format!("/snippets/{}", s["id"].as_str().unwrap());
    assert_eq!(
        c.json(
            "PUT",
            &path,
            &json!({"title": "u", "language": "l", "code": "c"})
        )
        .status,
        200
    );
    assert_eq!(c.get("/snippets").json().as_array().unwrap().len(), 1);
    assert_eq!(c.send("DELETE", &path, &[], None).status, 204);
    c.get("/me").problem(403);
}

/// Expand-only: the statements of the previous version (its column lists,
/// no owner or visibility) still work on the migrated schema, and what they
/// write is an unowned public snippet to this version. (The previous
/// binary itself is not built here; its statements are quoted from its
/// store.rs.)
#[test]
fn the_previous_versions_statements_work_on_the_new_schema() {
    let app = InProcApp::new();
    let db = &app.db;
    let cols = "id, title, language, code, description, tags, created_at, updated_at, version";
    let out = db.psql(&format!(
        "INSERT INTO snippets (id, title, language, code, description, tags) \
         VALUES (gen_random_uuid(), 'old', 'c', 'x', NULL, '{{}}') RETURNING {cols}"
    ));
    let id = out.split('|').next().unwrap().trim().to_string();
    assert_eq!(id.len(), 36, "{out}");
    let out = db.psql(&format!(
        "UPDATE snippets SET title = 'old 2', updated_at = now(), version = version + 1 \
         WHERE id = '{id}' RETURNING {cols}"
    ));
    assert!(out.contains("old 2"), "{out}");
    let out = db.psql(&format!(
        "SELECT {cols} FROM snippets WHERE id = ANY(ARRAY['{id}']::uuid[])"
    ));
    assert!(out.contains("old 2"), "{out}");
    let s = app.anon().get(&format!("/snippets/{id}")).json();
    assert_eq!(s["owner"], Value::Null);
    assert_eq!(s["visibility"], "public");
    // Only an admin may modify it now.
    app.client()
        .json(
            "PUT",
            &format!("/snippets/{id}"),
            &json!({"title": "t", "language": "l", "code": "c"}),
        )
        .problem(403);
    let out = db.psql(&format!(
        "DELETE FROM snippets WHERE id = '{id}' RETURNING id"
    ));
    assert!(out.contains(&id), "{out}");
}

/// A rolling deploy: the previous release's own binary (built by `make
/// previous-bin`, PREVIOUS_REV in the Makefile) serves the schema this
/// version migrated, reads and writes through its whole API, and what it
/// wrote is an unowned public snippet here.
#[test]
fn the_previous_binary_serves_the_migrated_schema() {
    let Some(previous) = std::env::var_os("SNIPPETD_PREVIOUS_BIN") else {
        assert!(
            std::env::var_os("SNIPPETD_REQUIRE_TOOLS").is_none(),
            "SNIPPETD_PREVIOUS_BIN is not set: run `make previous-bin` (make test does)"
        );
        eprintln!("skipping: SNIPPETD_PREVIOUS_BIN is not set (make previous-bin)");
        return;
    };
    let previous = previous.to_string_lossy().to_string();
    let app = InProcApp::new();
    let env = app.db.env();
    let old = common::Server::start_binary(&previous, &[], &["serve"], &env);
    let c = old.client();
    let created = c.create(&json!({"title": "old", "language": "c", "code": "x"}));
    let path = format!("/snippets/{}", created["id"].as_str().unwrap());
    assert_eq!(c.get(&path).status, 200);
    let r = c.json(
        "PUT",
        &path,
        &json!({"title": "old 2", "language": "c", "code": "y"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.send(
        "PATCH",
        &path,
        &[("Content-Type", "application/merge-patch+json")],
        Some(br#"{"description":"d"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let list = c.get("/snippets?limit=5");
    assert_eq!(list.status, 200);
    // This version reads it as an unowned public snippet.
    let s = app.anon().get(&path).json();
    assert_eq!(s["owner"], Value::Null);
    assert_eq!(s["visibility"], "public");
    assert_eq!(s["description"], "d");
    assert_eq!(c.send("DELETE", &path, &[], None).status, 204);
    assert_eq!(app.anon().get(&path).status, 404);
}
