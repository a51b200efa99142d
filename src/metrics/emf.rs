//! CloudWatch Embedded Metric Format: a recorder that aggregates what the
//! facade records, and, once per `METRICS_EMF_INTERVAL_SECONDS`, the lines
//! that CloudWatch Logs turns into the metrics of terraform/app_metrics.json
//! (the catalog [`CATALOG`] must equal; tests/metrics.rs checks both).
//!
//! Per interval: one line with the service-level metrics (dimension set
//! `[Service]`), and one line per route template that answered requests in
//! the interval with the per-route metrics (dimension set `[Service, Route]`):
//! an EMF line carries one value per dimension, so each route needs its own.
//! Counts are the interval's deltas; latency percentiles come from an
//! in-process log-linear histogram (8 buckets per power of two: at most
//! 1/16 relative error after interpolation) that each flush drains.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{Registry, Storage};
use serde_json::{json, Map, Value};

use super::*;

mod instruments;
pub use instruments::*;

pub const NAMESPACE: &str = "snippetd";
pub const SERVICE_DIMENSION: &str = "Service";
pub const ROUTE_DIMENSION: &str = "Route";

/// (name, CloudWatch unit, by route): terraform/app_metrics.json's list.
pub const CATALOG: &[(&str, &str, bool)] = &[
    ("Requests", "Count", true),
    ("Http4xx", "Count", true),
    ("Http5xx", "Count", true),
    ("LatencyP50", "Milliseconds", true),
    ("LatencyP90", "Milliseconds", true),
    ("LatencyP99", "Milliseconds", true),
    ("InFlight", "Count", false),
    ("PoolSize", "Count", false),
    ("PoolIdle", "Count", false),
    ("PoolCheckoutTimeouts", "Count", false),
    ("DbConnectionErrors", "Count", false),
    ("LookupBatchSize", "Count", false),
    ("CreateBatchSize", "Count", false),
    ("RateLimited", "Count", false),
    ("AuthFailures", "Count", false),
    ("MemoryRss", "Bytes", false),
    ("OpenFds", "Count", false),
];

#[derive(Clone, Copy, Debug, Default)]
pub struct EmfStorage;

impl Storage<Key> for EmfStorage {
    type Counter = Arc<EmfCounter>;
    type Gauge = Arc<EmfGauge>;
    type Histogram = Arc<EmfHistogram>;

    fn counter(&self, _: &Key) -> Self::Counter {
        Arc::default()
    }

    fn gauge(&self, _: &Key) -> Self::Gauge {
        Arc::default()
    }

    fn histogram(&self, _: &Key) -> Self::Histogram {
        Arc::default()
    }
}

/// The recorder half, installed behind the fanout.
pub struct EmfRecorder(EmfRegistry);

impl EmfRecorder {
    pub fn new() -> EmfRecorder {
        EmfRecorder(EmfRegistry(Arc::new(Registry::new(EmfStorage))))
    }

    pub fn registry(&self) -> EmfRegistry {
        self.0.clone()
    }
}

impl Default for EmfRecorder {
    fn default() -> Self {
        EmfRecorder::new()
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        (self.0)
            .0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        (self.0)
            .0
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        (self.0)
            .0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

/// The reader half: what the EMF writer flushes.
#[derive(Clone)]
pub struct EmfRegistry(Arc<Registry<Key, EmfStorage>>);

#[derive(Default)]
struct RouteInterval {
    requests: u64,
    http4xx: u64,
    http5xx: u64,
    latency: Snapshot,
}

fn label<'k>(key: &'k Key, name: &str) -> &'k str {
    key.labels()
        .find(|l| l.key() == name)
        .map(|l| l.value())
        .unwrap_or("")
}

impl EmfRegistry {
    /// The interval's EMF lines (no trailing newline), and a new interval.
    /// One pass over the registry (88 lines): every instrument is read
    /// and reset once per interval, in one place.
    pub fn flush(&self, service: &str, timestamp_ms: u64) -> Vec<String> {
        let mut svc: BTreeMap<&'static str, Value> = CATALOG
            .iter()
            .filter(|m| !m.2)
            .map(|m| (m.0, json!(0)))
            .collect();
        let mut routes: BTreeMap<String, RouteInterval> = BTreeMap::new();
        let add = |svc: &mut BTreeMap<&'static str, Value>, name: &'static str, d: u64| {
            let v = svc.get(name).and_then(Value::as_u64).unwrap_or(0);
            svc.insert(name, json!(v + d));
        };
        self.0.visit_counters(|key, c| {
            let d = c.take_delta();
            match key.name() {
                HTTP_REQUESTS => {
                    let r = routes.entry(label(key, "route").to_owned()).or_default();
                    r.requests += d;
                    match label(key, "status_class") {
                        "4xx" => r.http4xx += d,
                        "5xx" => r.http5xx += d,
                        _ => {}
                    }
                }
                POOL_TIMEOUTS => add(&mut svc, "PoolCheckoutTimeouts", d),
                DB_CONNECTION_ERRORS => add(&mut svc, "DbConnectionErrors", d),
                RATE_LIMITED => add(&mut svc, "RateLimited", d),
                AUTH_FAILURES => add(&mut svc, "AuthFailures", d),
                _ => {}
            }
        });
        self.0.visit_gauges(|key, g| {
            let peak = g.take_peak();
            let name = match key.name() {
                HTTP_IN_FLIGHT => {
                    svc.insert("InFlight", json!(peak));
                    return;
                }
                POOL_CONNECTIONS => "PoolSize",
                POOL_IDLE => "PoolIdle",
                RSS => "MemoryRss",
                OPEN_FDS => "OpenFds",
                _ => return,
            };
            svc.insert(name, json!(g.value()));
        });
        self.0.visit_histograms(|key, h| {
            let snap = h.take();
            match key.name() {
                HTTP_DURATION => routes
                    .entry(label(key, "route").to_owned())
                    .or_default()
                    .latency
                    .merge(&snap),
                LOOKUP_BATCH => {
                    svc.insert("LookupBatchSize", json!(snap.mean()));
                }
                CREATE_BATCH => {
                    svc.insert("CreateBatchSize", json!(snap.mean()));
                }
                _ => {}
            }
        });

        let mut lines = vec![document(
            timestamp_ms,
            &[SERVICE_DIMENSION],
            &[(SERVICE_DIMENSION, service)],
            svc.into_iter().collect(),
        )];
        for (route, r) in routes.iter().filter(|(_, r)| r.requests > 0) {
            let ms = |q| (r.latency.quantile(q) * 1e6).round() / 1e3;
            let values = vec![
                ("Requests", json!(r.requests)),
                ("Http4xx", json!(r.http4xx)),
                ("Http5xx", json!(r.http5xx)),
                ("LatencyP50", json!(ms(0.50))),
                ("LatencyP90", json!(ms(0.90))),
                ("LatencyP99", json!(ms(0.99))),
            ];
            lines.push(document(
                timestamp_ms,
                &[SERVICE_DIMENSION, ROUTE_DIMENSION],
                &[(SERVICE_DIMENSION, service), (ROUTE_DIMENSION, route)],
                values,
            ));
        }
        lines
    }
}

/// One EMF document: the `_aws` metadata, the dimension values and the
/// metric values as top-level members.
fn document(
    timestamp_ms: u64,
    dimensions: &[&str],
    dimension_values: &[(&str, &str)],
    values: Vec<(&str, Value)>,
) -> String {
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, _)| {
            let unit = CATALOG
                .iter()
                .find(|m| m.0 == *name)
                .map_or("None", |m| m.1);
            json!({ "Name": name, "Unit": unit })
        })
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }],
        }),
    );
    for (k, v) in dimension_values {
        doc.insert((*k).into(), json!(v));
    }
    for (k, v) in values {
        doc.insert(k.into(), v);
    }
    Value::Object(doc).to_string()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes the lines to stdout (the log stream CloudWatch reads; the log
/// lines go to stderr), one write per line.
pub fn write_stdout(lines: &[String]) {
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = out.write_all(format!("{line}\n").as_bytes());
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests;
