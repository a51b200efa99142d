//! Abuse controls (issue 15) against a real PostgreSQL: rate limits per
//! owner and per client address with their headers, the client address
//! only from trusted proxies (a forged X-Forwarded-For buys nothing), and
//! per-owner quotas that hold under concurrent writes.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{mint, InProcApp, TestApp};
use serde_json::{json, Value};

mod quotas;
mod rates;

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn snippet(code: &str) -> Value {
    json!({"title": "t", "language": "rust", "code": code})
}

/// Status counts of `n` calls of `f`.
fn tally(n: usize, mut f: impl FnMut(usize) -> u16) -> HashMap<u16, usize> {
    let mut out = HashMap::new();
    for i in 0..n {
        *out.entry(f(i)).or_default() += 1;
    }
    out
}
