//! Unit tests of metrics/emf.rs.

use super::*;
use metrics::{CounterFn, GaugeFn, HistogramFn};

#[test]
fn buckets_are_contiguous_and_ordered() {
    for i in 0..BUCKETS - 1 {
        assert!(lower(i) < lower(i + 1), "{i}");
        assert_eq!(bucket(lower(i)), i, "{i}");
        assert_eq!(bucket(lower(i + 1) - 1), i, "{i}");
    }
}

#[test]
fn percentiles_within_a_sixteenth() {
    let h = EmfHistogram::default();
    // 1..=1000 ms.
    for ms in 1..=1000 {
        h.record(ms as f64 / 1000.0);
    }
    let s = h.take();
    assert_eq!(s.count(), 1000);
    for (q, want) in [(0.5, 0.5), (0.9, 0.9), (0.99, 0.99)] {
        let got = s.quantile(q);
        assert!(
            (got - want).abs() / want < 1.0 / 16.0,
            "p{q}: {got} vs {want}"
        );
    }
    assert!((s.mean() - 0.5005).abs() < 1e-9);
    assert_eq!(h.take().count(), 0, "a flush drains");
}

#[test]
fn gauge_peak_is_the_interval_maximum() {
    let g = EmfGauge::default();
    for _ in 0..5 {
        g.increment(1.0);
    }
    for _ in 0..4 {
        g.decrement(1.0);
    }
    assert_eq!(g.take_peak(), 5.0);
    assert_eq!(g.take_peak(), 1.0, "the next interval starts at the value");
}

#[test]
fn counters_report_deltas() {
    let c = EmfCounter::default();
    c.increment(3);
    assert_eq!(c.take_delta(), 3);
    c.increment(2);
    assert_eq!(c.take_delta(), 2);
    assert_eq!(c.take_delta(), 0);
}

#[test]
fn flush_writes_per_route_lines_only_for_routes_with_traffic() {
    let rec = EmfRecorder::new();
    let reg = rec.registry();
    metrics::with_local_recorder(&rec, || {
        let m = HttpMetrics::new(["/health", "/snippets/{id}"]);
        m.record(Some(1), 404, Duration::from_millis(3));
        m.record(Some(1), 500, Duration::from_millis(30));
        m.record(None, 404, Duration::from_millis(1));
        metrics::counter!(POOL_TIMEOUTS).increment(2);
    });
    let lines = reg.flush("svc", 1_700_000_000_000);
    let docs: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{lines:?}");
    assert_eq!(docs[0]["Service"], "svc");
    assert_eq!(docs[0]["PoolCheckoutTimeouts"], 2);
    let by_id = docs
        .iter()
        .find(|d| d["Route"] == "/snippets/{id}")
        .unwrap();
    assert_eq!(by_id["Requests"], 2);
    assert_eq!(by_id["Http4xx"], 1);
    assert_eq!(by_id["Http5xx"], 1);
    assert!(by_id["LatencyP99"].as_f64().unwrap() > 28.0);
    assert!(docs.iter().any(|d| d["Route"] == UNMATCHED));
    // Nothing happened since: only the service line.
    assert_eq!(reg.flush("svc", 1_700_000_060_000).len(), 1);
}
