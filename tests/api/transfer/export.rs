//! NDJSON out, streamed in keyset pages; an export imported back.

use super::*;

#[test]
fn export_is_the_callers_own_every_visibility_newest_first() {
    let app = InProcApp::new();
    let c = app.client();
    let a = c.create(&snippet("a"));
    let b = c.create(&with(
        snippet("b"),
        json!({"visibility": "private", "tags": ["x"], "description": "d"}),
    ));
    let gone = c.create(&with(snippet("gone"), json!({"expiresIn": 600})));
    let other = app.anon().with_token(&mint(
        &app.db,
        "other",
        &["snippets:read", "snippets:write"],
    ));
    other.create(&snippet("not mine"));
    app.db.psql(&format!(
        "UPDATE snippets SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        gone["id"].as_str().unwrap()
    ));
    let (status, body) = export(&c, "");
    assert_eq!(status, 200);
    assert!(body.ends_with('\n'));
    let got = lines(&body);
    assert_eq!(
        got,
        vec![b.clone(), a.clone()],
        "as GET shows them, newest first"
    );
    // Byte for byte what GET /snippets/{id} answers.
    let first = body.lines().next().unwrap();
    assert_eq!(
        first,
        c.get(&format!("/snippets/{}", b["id"].as_str().unwrap()))
            .text()
    );
    // With the history flag each line carries `revisions`: the earlier
    // versions, oldest first, as GET …/revisions/{version} shows them.
    let a_id = a["id"].as_str().unwrap();
    for t in ["a2", "a3"] {
        let r = c.send(
            "PATCH",
            &format!("/snippets/{a_id}"),
            &[("Content-Type", "application/merge-patch+json")],
            Some(json!({ "title": t }).to_string().as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let (status, body) = export(&c, "?revisions=true");
    assert_eq!(status, 200);
    let got = lines(&body);
    assert!(got.iter().all(|l| l["revisions"].is_array()), "{body}");
    let a_line = got.iter().find(|l| l["id"] == a["id"]).unwrap();
    let history = a_line["revisions"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{body}");
    for (rev, (version, title)) in history.iter().zip([(1, "a"), (2, "a2")]) {
        assert_eq!(rev["version"], version);
        assert_eq!(rev["title"], title, "{rev}");
        assert_eq!(
            rev,
            &c.get(&format!("/snippets/{a_id}/revisions/{version}"))
                .json()
        );
    }
    assert_eq!(export(&c, "?revisions=false").1, export(&c, "").1);
    // Bad parameters, no token, no scope.
    for q in [
        "?revisions=yes",
        "?revisions=true&revisions=false",
        "?owner=me",
        "?limit=1",
    ] {
        c.get(&format!("/snippets/export{q}")).problem(400);
    }
    app.anon().get("/snippets/export").problem(401);
    let writer = app
        .anon()
        .with_token(&mint(&app.db, "tester", &["snippets:write"]));
    writer.get("/snippets/export").problem(403);
    // `export` is a route, not an id; POST is not allowed on it.
    let r = c.send("POST", "/snippets/export", &[], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(c.send("HEAD", "/snippets/export", &[], None).status, 200);
    // Someone without snippets streams an empty body.
    let (status, body) = export(
        &other.with_token(&mint(&app.db, "empty", &["snippets:read"])),
        "",
    );
    assert_eq!((status, body.as_str()), (200, ""));
}

/// More than two pages (500 a page): every snippet once, in keyset order.
#[test]
fn export_walks_every_page() {
    let app = InProcApp::new();
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, owner, created_at) \
         SELECT gen_random_uuid(), 't' || i, 'sql', 'select ' || i, 'tester', \
                now() - i * interval '1 second' \
         FROM generate_series(1, 1203) i",
    );
    let (status, body) = export(&app.client(), "");
    assert_eq!(status, 200);
    let got = lines(&body);
    assert_eq!(got.len(), 1203);
    let titles: Vec<String> = got
        .iter()
        .map(|l| l["title"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=1203).map(|i| format!("t{i}")).collect();
    assert_eq!(titles, expected);
}

/// Export with history, import into an empty database as admin, export
/// again: the same bytes, snippet for snippet, history included.
#[test]
fn an_export_imported_into_an_empty_database_is_the_same() {
    let src = InProcApp::new();
    let c = src.client();
    c.create(&snippet("plain"));
    c.create(&with(snippet("full"), json!({"description": "with \"quotes\" and ü 😀", "tags": ["a", "b-c"], "visibility": "private"})));
    c.create(&with(
        snippet("expiring"),
        json!({"expiresIn": 7200, "visibility": "unlisted"}),
    ));
    let s = c.create(&snippet("edited"));
    c.json(
        "PATCH",
        &format!("/snippets/{}", s["id"].as_str().unwrap()),
        &json!({"title": "edited twice"}),
    );
    src.db.psql(
        "INSERT INTO snippets (id, title, language, code, owner) \
         SELECT gen_random_uuid(), 'bulk ' || i, 'sql', 'select ' || i, 'tester' FROM generate_series(1, 1100) i",
    );
    let (_, before) = export(&c, "?revisions=true");
    assert_eq!(before.lines().count(), 1104);

    let dst = InProcApp::new(); // an empty database; `tester` exists (its token)
    let admin = dst.anon().with_token(&mint(&dst.db, "root", &["admin"]));
    let report = import(&admin, &before).json();
    assert_eq!(
        report["imported"],
        1104,
        "{}",
        report["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] != 201)
            .take(3)
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (_, after) = export(&dst.client(), "?revisions=true");
    // The history came along: the edited snippet is at version 2 again
    // (its ETag) and its version 1 answers as before.
    let edited = format!("/snippets/{}", s["id"].as_str().unwrap());
    assert_eq!(dst.client().get(&edited).header("etag"), Some("\"2\""));
    assert_eq!(
        dst.client().get(&format!("{edited}/revisions/1")).json(),
        c.get(&format!("{edited}/revisions/1")).json()
    );
    // Compared as sets of lines: rows created within one millisecond may
    // swap places (createdAt is shown, and so kept, to the millisecond).
    let mut a: Vec<&str> = before.lines().collect();
    let mut b: Vec<&str> = after.lines().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert!(a == b, "the export differs after the round trip");
    assert_eq!(
        dst.db
            .psql("SELECT sum(snippets) FROM owner_usage WHERE owner = 'tester'")
            .trim(),
        "1104"
    );
}
