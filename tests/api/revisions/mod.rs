//! Issue 16, items 1, 2 and 4: revisions, the raw view and forks, with the
//! visibility rules of GET /snippets/{id} on every new route.

use crate::common;

use common::{mint, Client, InProcApp};
use serde_json::{json, Value};

mod forks;
mod history;
mod visibility;

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
