//! Metrics (issue 19): values move as requests are served, cardinality is
//! bounded by route templates, the Prometheus text is on its own port and
//! never on the API's, the EMF lines are valid Embedded Metric Format and
//! name exactly terraform/app_metrics.json's metrics, and trace context is
//! propagated and logged.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

mod coverage;
mod emf;
mod prometheus;
mod trace;

/// `name{labels}` → value, from Prometheus text.
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                k.to_string(),
                v.parse().unwrap_or_else(|_| panic!("bad value {l:?}")),
            )
        })
        .collect()
}

/// A server with its metrics listener on a free port, and that address.
fn with_metrics(extra: &[(&str, &str)]) -> (TestApp, std::net::SocketAddr) {
    let maddr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let addr = maddr.to_string();
    let mut env = vec![("METRICS_ADDR", addr.as_str())];
    env.extend_from_slice(extra);
    (TestApp::with_env(&env), maddr)
}

fn scrape(addr: std::net::SocketAddr) -> BTreeMap<String, f64> {
    let r = Client::new(addr).get("/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    series(&r.text())
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no series {key} in {:#?}", s.keys().collect::<Vec<_>>()))
}

const HEALTH_2XX: &str = r#"snippetd_http_requests_total{route="/health",status_class="2xx"}"#;
