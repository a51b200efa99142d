//! Export and import (issue 16): NDJSON out, streamed in keyset pages;
//! NDJSON in, batch by batch, with a per-line report.

use crate::common;

use common::{mint, Client, InProcApp};
use serde_json::{json, Value};

mod export;
mod import;

fn snippet(title: &str) -> Value {
    json!({"title": title, "language": "rust", "code": format!("// {title}\nfn main() {{}}")})
}

fn export(c: &Client, query: &str) -> (u16, String) {
    let r = c.get(&format!("/snippets/export{query}"));
    if r.status == 200 {
        assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    }
    (r.status, r.text())
}

fn import(c: &Client, ndjson: &str) -> common::Response {
    c.send(
        "POST",
        "/snippets/import",
        &[("Content-Type", "application/x-ndjson")],
        Some(ndjson.as_bytes()),
    )
}

/// The status of each line of an import report.
fn statuses(report: &Value) -> Vec<u64> {
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_u64().unwrap())
        .collect()
}

fn lines(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `v` with the fields of `extra` set.
fn with(mut v: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}
