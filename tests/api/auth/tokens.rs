//! The token endpoints: SHA-256 at rest, child tokens, revocation,
//! deleted owners, admins, `last_used_at` off the request path.

use super::*;

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
