//! Issue 34: the pages for people (src/web/). Status, headers and bytes
//! here; what a browser does with them is tests/browser/web.test.mjs.

use crate::common;

use common::{Client, InProcApp, Response};
use serde_json::{json, Value};

mod hostile;

/// The headers every page carries (CSP strict, nosniff, referrer).
fn assert_page_headers(r: &Response) {
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
}

fn create(c: &Client, extra: Value) -> String {
    let mut body = json!({
        "title": "Hello page",
        "language": "rust",
        "code": "fn main() {\n    println!(\"hi\");\n}\n",
        "description": "Says hi.",
        "tags": ["demo"],
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c.create(&body)["id"].as_str().unwrap().to_string()
}

/// The headers of a response that say something about the resource
/// (not the request id, the date or the rate limit's count).
fn stable_headers(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "x-request-id" | "date" | "ratelimit"))
        .cloned()
        .collect()
}

#[test]
fn snippet_page_has_its_parts_and_headers() {
    let app = InProcApp::new();
    let c = app.client();
    let id = create(&c, json!({}));
    let r = app.anon().get(&format!("/s/{id}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_page_headers(&r);
    assert!(
        r.header("x-robots-tag").is_none(),
        "public pages are indexed"
    );
    let html = r.text();
    for part in [
        "<h1>Hello page</h1>",
        r#"<meta property="og:title" content="Hello page">"#,
        r#"<meta name="twitter:card" content="summary">"#,
        r##"<a class="n" href="#L2">2</a>"##,
        r#"data-lang="rust""#,
        &format!(r#"href="/snippets/{id}/raw""#),
        &format!(r#"href="/s/{id}/revisions""#),
        r#"href="/s?tag=demo""#,
        "println!(&quot;hi&quot;);",
    ] {
        assert!(html.contains(part), "{part} not in {html}");
    }
    assert!(html.len() < 64 * 1024);
    // Cached by version: the same ETag answers 304, a write changes it.
    let tag = r.header("etag").expect("an ETag").to_string();
    let again = app
        .anon()
        .send("GET", &format!("/s/{id}"), &[("If-None-Match", &tag)], None);
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    assert!(again.body.is_empty());
    let w = c.json(
        "PATCH",
        &format!("/snippets/{id}"),
        &json!({"title": "Hello again"}),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let after = app
        .anon()
        .send("GET", &format!("/s/{id}"), &[("If-None-Match", &tag)], None);
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag"), Some(tag.as_str()));
}

#[test]
fn history_and_version_pages_show_the_diff() {
    let app = InProcApp::new();
    let c = app.client();
    let id = create(&c, json!({}));
    let w = c.json(
        "PATCH",
        &format!("/snippets/{id}"),
        &json!({"code": "fn main() {\n    println!(\"bye\");\n}\n"}),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let h = app.anon().get(&format!("/s/{id}/revisions"));
    assert_eq!(h.status, 200);
    assert_page_headers(&h);
    let text = h.text();
    let (v2, v1) = (
        text.find(&format!("/s/{id}/revisions/2"))
            .expect("version 2 listed"),
        text.find(&format!("/s/{id}/revisions/1"))
            .expect("version 1 listed"),
    );
    assert!(v2 < v1, "newest first");
    let v = app.anon().get(&format!("/s/{id}/revisions/2"));
    assert_eq!(v.status, 200);
    assert_page_headers(&v);
    let text = v.text();
    assert!(text.contains("1 lines added, 1 removed"), "{text}");
    assert!(text.contains(r#"<span class="line del">"#));
    assert!(text.contains(r#"<span class="line add">"#));
    assert_eq!(app.anon().get(&format!("/s/{id}/revisions/3")).status, 404);
}

#[test]
fn private_and_unknown_ids_get_the_same_404() {
    let app = InProcApp::new();
    let c = app.client();
    let private = create(&c, json!({"visibility": "private"}));
    let unknown = uuid::Uuid::now_v7().to_string();
    for path in ["", "/revisions", "/revisions/1"] {
        let a = app.anon().get(&format!("/s/{private}{path}"));
        let b = app.anon().get(&format!("/s/{unknown}{path}"));
        // The owner's own token changes nothing: pages never read it.
        let own = c.get(&format!("/s/{private}{path}"));
        for r in [&a, &b, &own] {
            assert_eq!(r.status, 404, "{path}");
            assert_page_headers(r);
            assert_eq!(r.header("x-robots-tag"), Some("noindex"));
        }
        assert_eq!(a.body, b.body, "{path}");
        assert_eq!(own.body, b.body, "{path}");
        assert_eq!(stable_headers(&a), stable_headers(&b), "{path}");
    }
    assert!(!app.anon().get("/s").text().contains(&private));
}

#[test]
fn unlisted_pages_are_noindex_unlisted_and_without_cards() {
    let app = InProcApp::new();
    let c = app.client();
    let id = create(&c, json!({"visibility": "unlisted", "title": "Quiet one"}));
    let public = create(&c, json!({"title": "Loud one"}));
    for path in [
        format!("/s/{id}"),
        format!("/s/{id}/revisions"),
        format!("/s/{id}/revisions/1"),
    ] {
        let r = app.anon().get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("x-robots-tag"), Some("noindex"), "{path}");
        let html = r.text();
        assert!(html.contains(r#"<meta name="robots" content="noindex">"#));
        assert!(
            !html.contains("og:") && !html.contains("twitter:"),
            "{path}"
        );
    }
    let list = app.anon().get("/s");
    assert_eq!(list.status, 200);
    assert_page_headers(&list);
    let html = list.text();
    assert!(html.contains(&public) && html.contains("Loud one"));
    assert!(!html.contains(&id) && !html.contains("Quiet one"));
    // The form's filters work without a script: a GET with the fields.
    let found = app.anon().get("/s?q=Loud&language=rust&tag=demo&owner=");
    assert_eq!(found.status, 200);
    assert!(found.text().contains(&public));
    let none = app.anon().get("/s?language=nothing-has-this");
    assert!(none.text().contains("No snippets match."));
    let bad = app.anon().get("/s?owner=NOT%20A%20HANDLE");
    assert_eq!(bad.status, 400);
    assert_page_headers(&bad);
    assert!(bad.text().contains("An owner is a handle"));
}

#[test]
fn browse_pages_by_keyset_with_a_next_link() {
    let app = InProcApp::new();
    let c = app.client();
    let ids: Vec<String> = (0..25)
        .map(|i| {
            create(
                &c,
                json!({"title": format!("Entry {i}"), "tags": ["paged"]}),
            )
        })
        .collect();
    let first = app.anon().get("/s?tag=paged").text();
    let next = first
        .split(r#"<a rel="next" href=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    assert!(next.starts_with("/s?tag=paged&cursor="), "{next}");
    let second = app.anon().get(&next).text();
    assert!(!second.contains(r#"rel="next""#));
    for id in &ids {
        let n = first.matches(id.as_str()).count() + second.matches(id.as_str()).count();
        assert!(n >= 1, "{id} on neither page");
        assert!(!(first.contains(id.as_str()) && second.contains(id.as_str())));
    }
}

#[test]
fn browsers_opening_the_api_url_are_sent_to_the_page() {
    let app = InProcApp::new();
    let c = app.client();
    let id = create(&c, json!({}));
    let path = format!("/snippets/{id}");
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = app.anon().send("GET", &path, &[("Accept", browser)], None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some(format!("/s/{id}").as_str()));
    assert!(r.header("vary").unwrap().contains("accept"));
    for accept in [Some("application/json"), Some("*/*"), None] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = c.send("GET", &path, &headers, None);
        assert_eq!(r.status, 200, "{accept:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json()["id"], id.as_str());
        assert!(r.header("vary").unwrap().contains("accept"), "{accept:?}");
    }
}

#[test]
fn static_files_are_hashed_cached_and_gzipped() {
    let app = InProcApp::new();
    let html = app.anon().get("/s").text();
    let mut seen = 0;
    for href in html.split(r#"="/static/"#).skip(1) {
        let name = href.split('"').next().unwrap();
        let r = app.anon().send(
            "GET",
            &format!("/static/{name}"),
            &[("Accept-Encoding", "gzip")],
            None,
        );
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{name}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        seen += 1;
    }
    assert_eq!(seen, 5, "icon, CSS, highlight.js, app.js, licence");
    assert_eq!(app.anon().get("/static/app.css").status, 404);
}

#[test]
fn forked_from_links_only_a_source_anyone_may_read() {
    let app = InProcApp::new();
    let alice = app.anon().with_token(&common::mint(
        &app.db,
        "alice",
        &["snippets:read", "snippets:write"],
    ));
    let src = create(&alice, json!({"title": "Source"}));
    let r = app
        .client()
        .send("POST", &format!("/snippets/{src}/forks"), &[], None);
    assert_eq!(r.status, 201, "{}", r.text());
    let fork = r.json()["id"].as_str().unwrap().to_string();
    let page = app.anon().get(&format!("/s/{fork}")).text();
    assert!(
        page.contains(&format!(r#"<a href="/s/{src}">a snippet, version 1</a>"#)),
        "{page}"
    );
    // The source made private: the fork's page no longer names it.
    let w = alice.json(
        "PATCH",
        &format!("/snippets/{src}"),
        &json!({"visibility": "private"}),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let page = app.anon().get(&format!("/s/{fork}")).text();
    assert!(!page.contains(&src), "{page}");
    assert!(page.contains("a snippet you cannot see, version 1"));
}

#[test]
fn expired_snippets_get_the_404_page() {
    let app = InProcApp::new();
    let c = app.client();
    let id = create(&c, json!({"expiresIn": 3600}));
    assert_eq!(app.anon().get(&format!("/s/{id}")).status, 200);
    app.db.psql(&format!(
        "UPDATE snippets SET expires_at = now() - interval '1 second' WHERE id = '{id}'"
    ));
    let expired = app.anon().get(&format!("/s/{id}"));
    let unknown = app.anon().get(&format!("/s/{}", uuid::Uuid::now_v7()));
    assert_eq!(expired.status, 404);
    assert_eq!(expired.body, unknown.body);
    assert!(!app.anon().get("/s").text().contains(&id));
}
