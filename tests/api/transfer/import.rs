//! NDJSON in, batch by batch, with a per-line report.

use super::*;

#[test]
fn import_reports_every_line_and_bad_lines_fail_alone() {
    let app = InProcApp::new();
    let c = app.client();
    let body = [
        snippet("one").to_string(),
        "{not json".to_string(),
        String::new(),
        json!({"title": "", "language": "x", "code": "y"}).to_string(),
        with(snippet("two"), json!({"id": "0192f3c8-7a4e-7b1e-9c1a-0123456789ab", "owner": "someone", "createdAt": "2020-01-01T00:00:00.000Z", "revisions": []})).to_string(),
        with(snippet("three"), json!({"expiresIn": 59})).to_string(),
        with(snippet("four"), json!({"expiresIn": 3600, "visibility": "private"})).to_string(),
    ]
    .join("\n");
    let r = import(&c, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(
        (report["imported"].as_u64(), report["failed"].as_u64()),
        (Some(3), Some(3)),
        "{report}"
    );
    let by_line: Vec<(u64, u64)> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["line"].as_u64().unwrap(), o["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        by_line,
        [(1, 201), (2, 400), (4, 422), (5, 201), (6, 422), (7, 201)]
    );
    let lines_ = report["lines"].as_array().unwrap();
    assert_eq!(lines_[2]["errors"][0]["pointer"], "/title");
    assert_eq!(lines_[4]["errors"][0]["pointer"], "/expiresIn");
    // Not an admin: new ids, the caller as owner, now().
    let two = c
        .get(&format!("/snippets/{}", lines_[3]["id"].as_str().unwrap()))
        .json();
    assert_ne!(two["id"], "0192f3c8-7a4e-7b1e-9c1a-0123456789ab");
    assert_eq!(two["owner"], "tester");
    assert!(two["createdAt"].as_str().unwrap() > "2026");
    let four = c
        .get(&format!("/snippets/{}", lines_[5]["id"].as_str().unwrap()))
        .json();
    assert_eq!(four["visibility"], "private");
    assert!(four["expiresAt"].is_string());
    assert_eq!(
        app.db
            .psql("SELECT sum(snippets) FROM owner_usage WHERE owner = 'tester'")
            .trim(),
        "3"
    );
}

#[test]
fn import_needs_a_writer_ndjson_and_stays_under_its_own_limit() {
    let app = InProcApp::with_env(&[("MAX_BODY_BYTES", "2048"), ("IMPORT_MAX_BYTES", "65536")]);
    let c = app.client();
    import(&app.anon(), "{}").problem(401);
    let reader = app
        .anon()
        .with_token(&mint(&app.db, "tester", &["snippets:read"]));
    import(&reader, "{}").problem(403);
    c.send(
        "POST",
        "/snippets/import",
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    )
    .problem(415);
    assert_eq!(c.get("/snippets/import").status, 405);
    // 40 KiB: over MAX_BODY_BYTES, under IMPORT_MAX_BYTES.
    let big: String = (0..40)
        .map(|i| {
            format!(
                "{}\n",
                with(snippet(&format!("s{i}")), json!({"code": "x".repeat(1000)}))
            )
        })
        .collect();
    assert!(big.len() > 40_000);
    let r = import(&c, &big);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 40);
    // Every other route keeps MAX_BODY_BYTES.
    c.json(
        "POST",
        "/snippets",
        &with(snippet("big"), json!({"code": "x".repeat(3000)})),
    )
    .problem(413);
    // And the import route its own.
    let huge = big.repeat(2);
    import(&c, &huge).problem(413);
}

#[test]
fn quotas_apply_to_imports_but_not_to_admins() {
    let app = InProcApp::with_env(&[("QUOTA_MAX_SNIPPETS", "3")]);
    let c = app.client();
    c.create(&snippet("existing"));
    let body: String = (0..4)
        .map(|i| format!("{}\n", snippet(&format!("s{i}"))))
        .collect();
    let report = import(&c, &body).json();
    let statuses = statuses(&report);
    assert_eq!(statuses, [201, 201, 403, 403], "{report}");
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let report = import(&admin, &body).json();
    assert_eq!(report["imported"], 4, "{report}");
}

/// An admin's import keeps ids, owners and timestamps; a line whose id
/// exists fails alone (its batch is retried row by row).
#[test]
fn admin_import_keeps_ids_and_a_conflict_fails_alone() {
    let app = InProcApp::new();
    let c = app.client();
    let s = c.create(&snippet("original"));
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let kept = json!({
        "id": "0192f3c8-7a4e-7b1e-9c1a-0123456789ab",
        "title": "kept", "language": "c", "code": "int x;",
        "owner": "tester", "visibility": "unlisted",
        "createdAt": "2024-02-03T04:05:06.789Z", "updatedAt": "2025-02-03T04:05:06.789Z"
    });
    let body = format!(
        "{}\n{}\n{}\n",
        kept,
        s,
        with(snippet("nobody's"), json!({"owner": "no-such-owner"}))
    );
    let report = import(&admin, &body).json();
    let statuses = statuses(&report);
    assert_eq!(statuses, [201, 409, 409], "{report}");
    let got = c
        .get("/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab")
        .json();
    assert_eq!(got["createdAt"], "2024-02-03T04:05:06.789Z");
    assert_eq!(got["updatedAt"], "2025-02-03T04:05:06.789Z");
    assert_eq!(got["owner"], "tester");
    assert_eq!(got["visibility"], "unlisted");
    assert_eq!(got["expiresAt"], Value::Null);
    // A history that is not one: each line fails alone, with the pointer.
    let rev = json!({"version": 1, "title": "t", "language": "c", "code": "x",
                     "description": null, "tags": [], "updatedAt": "2024-02-03T04:05:06.789Z"});
    let cases = [
        (json!("x"), "/revisions"),
        (
            json!([with(rev.clone(), json!({"version": 0}))]),
            "/revisions/0/version",
        ),
        (
            json!([with(rev.clone(), json!({"version": i64::MAX}))]),
            "/revisions/0/version",
        ),
        (json!([rev.clone(), rev.clone()]), "/revisions/1/version"),
        (
            json!([with(rev.clone(), json!({"tags": "a"}))]),
            "/revisions/0/tags",
        ),
        (
            json!([with(rev.clone(), json!({"updatedAt": "yesterday"}))]),
            "/revisions/0/updatedAt",
        ),
    ];
    let body: String = cases
        .iter()
        .map(|(h, _)| format!("{}\n", with(snippet("h"), json!({ "revisions": h }))))
        .collect();
    let report = import(&admin, &body).json();
    for (i, (_, pointer)) in cases.iter().enumerate() {
        let line = &report["lines"][i];
        assert_eq!(line["status"], 422, "{report}");
        assert_eq!(line["errors"][0]["pointer"], *pointer, "{report}");
    }
}

/// Issue 30, finding 15: an admin's revisions are checked like snippets,
/// and a bad one fails its own line only (a NUL in a revision's code
/// failed the whole batch with 500s; a version near i64::MAX made the next
/// PATCH a 500).
#[test]
fn an_admins_revisions_are_checked_and_fail_their_line_only() {
    let app = InProcApp::new();
    let admin = app.anon().with_token(&mint(&app.db, "root", &["admin"]));
    let rev = |version: i64, extra: Value| {
        with(
            json!({"version": version, "title": "t", "language": "rust", "code": "c",
                   "description": null, "tags": [], "updatedAt": "2026-01-01T00:00:00Z"}),
            extra,
        )
    };
    let line = |title: &str, revisions: Vec<Value>| {
        with(
            snippet(title),
            json!({"owner": "root", "revisions": revisions}),
        )
        .to_string()
    };
    let body = [
        line("good", vec![rev(1, json!({}))]),
        line("nul", vec![rev(1, json!({"code": "a\u{0}b"}))]),
        line(
            "fields",
            vec![rev(
                1,
                json!({"title": " ", "language": "x".repeat(500), "tags": ["NOT A TAG"]}),
            )],
        ),
        line("huge version", vec![rev(i64::MAX - 1, json!({}))]),
        line("also good", vec![rev(3, json!({}))]),
    ]
    .join("\n");
    let r = import(&admin, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(statuses(&report), [201, 422, 422, 422, 201], "{report}");
    let pointers = |i: usize| -> Vec<String> {
        report["lines"][i]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(pointers(1), ["/revisions/0/code"]);
    let fields = pointers(2);
    for p in [
        "/revisions/0/title",
        "/revisions/0/language",
        "/revisions/0/tags/0",
    ] {
        assert!(fields.iter().any(|f| f == p), "{p} in {fields:?}");
    }
    assert_eq!(pointers(3), ["/revisions/0/version"]);
    // The good lines can be written on.
    let id = report["lines"][4]["id"].as_str().unwrap();
    let r = admin.json(
        "PATCH",
        &format!("/snippets/{id}"),
        &json!({"title": "next"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some("\"5\""));
}

/// Issue 30, finding 1: the report is bounded whatever the body: exact
/// counts, the first 1,000 outcomes of each kind, `omitted` for the rest;
/// a line over 8 MiB fails alone (413) without being kept.
#[test]
fn the_import_report_is_bounded() {
    let app = InProcApp::new();
    let c = app.client();
    let mut body = String::new();
    for i in 0..2_500 {
        body.push_str(if i % 5 == 0 {
            "{\"title\":\"ok\",\"language\":\"l\",\"code\":\"c\"}\n"
        } else {
            "1\n"
        });
    }
    let r = import(&c, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(
        (report["imported"].as_u64(), report["failed"].as_u64()),
        (Some(500), Some(2_000))
    );
    let listed = report["lines"].as_array().unwrap();
    assert_eq!(listed.len(), 500 + 1_000);
    assert_eq!(report["omitted"], 1_000);
    let failed: Vec<u64> = listed
        .iter()
        .filter(|o| o["status"] != 201)
        .map(|o| o["line"].as_u64().unwrap())
        .collect();
    assert_eq!(failed.len(), 1_000);
    assert_eq!(failed[..3], [2, 3, 4], "the first failures, in line order");
    assert!(failed.windows(2).all(|w| w[0] < w[1]));

    let long = format!(
        "{{\"title\":\"long\",\"language\":\"l\",\"code\":\"{}\"}}\n{}\n",
        "x".repeat(9 << 20),
        snippet("after the long one")
    );
    let r = import(&c, &long);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(statuses(&report), [413, 201], "{report}");
    assert_eq!(report["omitted"], 0);
}
