//! The complete contract: keyset pagination and filters, tags and
//! descriptions, conditional requests, PATCH, CORS, the OpenAPI document.

use crate::common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use common::{Client, InProcApp};
use serde_json::{json, Value};

mod docs;
mod paging;
mod search;
mod search_bounds;
mod writes;

fn snippet(title: &str, language: &str, code: &str, tags: &[&str]) -> Value {
    json!({"title": title, "language": language, "code": code, "tags": tags})
}

/// Follows `Link: <…>; rel="next"` from `path`; returns every page.
fn pages(c: &Client, path: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(p) = next.take() {
        let r = c.get(&p);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        out.push(r.json().as_array().unwrap().clone());
        if let Some(link) = r.header("link") {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
        assert!(out.len() < 100, "pagination does not end");
    }
    out
}

fn ids(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}
