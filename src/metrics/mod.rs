//! Metrics: every layer records through the `metrics` crate facade; nothing
//! in the request path reads them. Two exporters read them, each optional:
//!
//! - Prometheus text on a separate listener (`METRICS_ADDR`, [`listener`]),
//!   rendered by `metrics-exporter-prometheus` (no HTTP feature of its own:
//!   the listener is ours, on the hyper 1 this crate already has);
//! - CloudWatch Embedded Metric Format lines on stdout ([`emf`]), one
//!   aggregation per `METRICS_EMF_INTERVAL_SECONDS`.
//!
//! Both sit behind one `metrics-util` fanout recorder. Labels are bounded
//! by construction: the request metrics are registered up front, one series
//! per route template (plus `unmatched`) and status class, and the request
//! path only increments pre-registered handles ([`HttpMetrics`]): no label
//! is formatted and nothing is allocated per request. docs/metrics.md lists
//! every metric.

pub mod emf;
pub mod listener;
pub mod process;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::FanoutBuilder;

use crate::config::MetricsConfig;

pub const HTTP_REQUESTS: &str = "snippetd_http_requests_total";
pub const HTTP_DURATION: &str = "snippetd_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "snippetd_http_requests_in_flight";
pub const HTTP_REJECTED: &str = "snippetd_http_rejected_total";
pub const RATE_LIMITED: &str = "snippetd_rate_limited_total";
pub const AUTH_FAILURES: &str = "snippetd_auth_failures_total";
/// The `reason` labels of [`AUTH_FAILURES`] (src/http/problem.rs,
/// `ApiError::auth_failure`).
pub const AUTH_FAILURE_REASONS: [&str; 4] = [
    "missing_token",
    "invalid_token",
    "insufficient_scope",
    "forbidden",
];
pub const POOL_CONNECTIONS: &str = "snippetd_db_pool_connections";
pub const POOL_IDLE: &str = "snippetd_db_pool_idle_connections";
pub const POOL_MAX: &str = "snippetd_db_pool_max_connections";
pub const POOL_WAITING: &str = "snippetd_db_pool_waiting";
pub const POOL_WAITED: &str = "snippetd_db_pool_checkouts_waited_total";
pub const POOL_TIMEOUTS: &str = "snippetd_db_pool_checkout_timeouts_total";
pub const DB_CONNECTION_ERRORS: &str = "snippetd_db_connection_errors_total";
pub const LOOKUP_BATCH: &str = "snippetd_lookup_batch_size";
pub const CREATE_BATCH: &str = "snippetd_create_batch_size";
pub const SEARCH_QUEUED: &str = "snippetd_search_queued_total";
pub const SEARCH_REJECTED: &str = "snippetd_search_rejected_total";
pub const SEARCH_REFUSED: &str = "snippetd_search_refused_total";
pub const SEARCH_TIMEOUTS: &str = "snippetd_search_timeouts_total";
pub const RSS: &str = "process_resident_memory_bytes";
pub const OPEN_FDS: &str = "process_open_fds";
pub const UPTIME: &str = "snippetd_uptime_seconds";
pub const BUILD_INFO: &str = "snippetd_build_info";

/// Every metric this process exports, in docs/metrics.md's order. A test
/// (tests/ops/metrics/coverage.rs) checks that a server exports exactly
/// these and that each one moves: nothing is exported that nothing
/// updates.
pub const ALL: [&str; 23] = [
    HTTP_REQUESTS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_REJECTED,
    RATE_LIMITED,
    AUTH_FAILURES,
    POOL_CONNECTIONS,
    POOL_IDLE,
    POOL_MAX,
    POOL_WAITING,
    POOL_WAITED,
    POOL_TIMEOUTS,
    DB_CONNECTION_ERRORS,
    SEARCH_QUEUED,
    SEARCH_REJECTED,
    SEARCH_REFUSED,
    SEARCH_TIMEOUTS,
    LOOKUP_BATCH,
    CREATE_BATCH,
    RSS,
    OPEN_FDS,
    UPTIME,
    BUILD_INFO,
];

/// The route label of a path that matches no route template.
pub const UNMATCHED: &str = "unmatched";
/// The status class label values, indexed by `status / 100 - 1`.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Latency buckets, seconds: sub-millisecond cache-warm lookups up to the
/// request timeout's range (`REQUEST_TIMEOUT_SECONDS`, default 15).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];
/// Lookups or creates per coalesced statement: 1 to `BATCH_MAX` (32).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

/// The exporters installed for this process.
pub struct Installed {
    pub prometheus: Option<PrometheusHandle>,
    pub emf: Option<emf::EmfRegistry>,
    pub started: Instant,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs the process-wide recorder for the exporters `cfg` turns on (none:
/// the facade stays a no-op). Once per process: a later call returns what
/// the first one installed, whatever its `cfg`.
pub fn install(cfg: &MetricsConfig) -> &'static Installed {
    // Nothing to export: nothing is installed, so that a later call that
    // does export (a test's own recorder, in a process where an app ran
    // with METRICS_ADDR=off) still installs its recorder.
    if cfg.addr.is_none() && cfg.emf_interval.is_none() {
        static NONE: OnceLock<Installed> = OnceLock::new();
        return NONE.get_or_init(|| Installed {
            prometheus: None,
            emf: None,
            started: Instant::now(),
        });
    }
    INSTALLED.get_or_init(|| {
        let prometheus = cfg.addr.map(|_| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(LOOKUP_BATCH.into()), BATCH_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CREATE_BATCH.into()), BATCH_BUCKETS)
                })
                .expect("bucket lists are not empty")
                .build_recorder()
        });
        let emf = cfg.emf_interval.map(|_| emf::EmfRecorder::new());
        let installed = Installed {
            prometheus: prometheus.as_ref().map(|p| p.handle()),
            emf: emf.as_ref().map(|e| e.registry()),
            started: Instant::now(),
        };
        let mut fanout = FanoutBuilder::default();
        let mut any = false;
        if let Some(p) = prometheus {
            fanout = fanout.add_recorder(p);
            any = true;
        }
        if let Some(e) = emf {
            fanout = fanout.add_recorder(e);
            any = true;
        }
        if any && metrics::set_global_recorder(fanout.build()).is_err() {
            log::warn!("a metrics recorder was already installed: metrics go there");
        }
        describe();
        installed
    })
}

/// HELP lines, and the series that must exist before anything happens.
/// A list, not logic (99 lines): one `describe_*!` per metric, in the
/// order docs/metrics.md lists them.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "Requests answered, by route template and status class."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from the request head to the response head, by route template and status class."
    );
    describe_gauge!(HTTP_IN_FLIGHT, Unit::Count, "Requests being served now.");
    describe_counter!(
        HTTP_REJECTED,
        Unit::Count,
        "Requests hyper rejected before routing (malformed framing, oversized heads), by status."
    );
    describe_counter!(
        RATE_LIMITED,
        Unit::Count,
        "Requests refused with 429 by the rate limits (src/http/ratelimit.rs)."
    );
    describe_counter!(
        AUTH_FAILURES,
        Unit::Count,
        "Requests refused with 401 or 403 by authentication or authorization, by reason (missing_token, invalid_token, insufficient_scope, forbidden)."
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        Unit::Count,
        "Open database connections in the pool."
    );
    describe_gauge!(
        POOL_IDLE,
        Unit::Count,
        "Idle database connections in the pool."
    );
    describe_gauge!(POOL_MAX, Unit::Count, "DB_POOL_SIZE.");
    describe_gauge!(
        POOL_WAITING,
        Unit::Count,
        "Checkouts waiting for a connection now."
    );
    describe_counter!(
        POOL_WAITED,
        Unit::Count,
        "Pool checkouts that had to wait for a connection."
    );
    describe_counter!(
        POOL_TIMEOUTS,
        Unit::Count,
        "Pool checkouts that got no connection within DB_POOL_TIMEOUT_MS (503)."
    );
    describe_counter!(DB_CONNECTION_ERRORS, Unit::Count, "Database connections that could not be opened (kind=connect) or broke in use (kind=broken).");
    describe_counter!(
        SEARCH_QUEUED,
        Unit::Count,
        "Filtered lists that waited for a SEARCH_CONCURRENCY slot."
    );
    describe_counter!(
        SEARCH_REJECTED,
        Unit::Count,
        "Filtered lists that got no search slot within DB_POOL_TIMEOUT_MS (503)."
    );
    describe_counter!(
        SEARCH_REFUSED,
        Unit::Count,
        "Searches refused because their client already held SEARCH_PER_CLIENT slots (429)."
    );
    describe_counter!(
        SEARCH_TIMEOUTS,
        Unit::Count,
        "Searches stopped by SEARCH_TIMEOUT_MS (503 search-timeout)."
    );
    describe_histogram!(
        LOOKUP_BATCH,
        Unit::Count,
        "Id lookups answered by one coalesced query."
    );
    describe_histogram!(
        CREATE_BATCH,
        Unit::Count,
        "Creates inserted by one coalesced statement."
    );
    describe_gauge!(RSS, Unit::Bytes, "Resident set size.");
    describe_gauge!(OPEN_FDS, Unit::Count, "Open file descriptors.");
    describe_gauge!(
        UPTIME,
        Unit::Seconds,
        "Seconds since the process started serving."
    );
    describe_gauge!(
        BUILD_INFO,
        Unit::Count,
        "1, labelled with the version and the commit built."
    );
    // Counters that may stay at 0 for long: the series exist from the
    // start, so alarms and dashboards see 0, not "no data".
    metrics::counter!(RATE_LIMITED).absolute(0);
    for reason in AUTH_FAILURE_REASONS {
        metrics::counter!(AUTH_FAILURES, "reason" => reason).absolute(0);
    }
    for kind in ["connect", "broken"] {
        metrics::counter!(DB_CONNECTION_ERRORS, "kind" => kind).absolute(0);
    }
    metrics::counter!(POOL_TIMEOUTS).absolute(0);
    metrics::gauge!(BUILD_INFO, "version" => VERSION, "commit" => COMMIT).set(1.0);
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// `GIT_SHA` at build time (the Makefile and the image build pass it).
pub const COMMIT: &str = match option_env!("GIT_SHA") {
    Some(sha) if !sha.is_empty() => sha,
    _ => "unknown",
};

/// Request metrics, registered once: one counter and one histogram per
/// route template × status class, so recording is an index and a few
/// atomic operations.
pub struct HttpMetrics {
    /// `[route][class]`; the last route is [`UNMATCHED`].
    cells: Vec<[(Counter, Histogram); 5]>,
    in_flight: Gauge,
}

impl HttpMetrics {
    /// `templates`: every route template of the API, in the router's order.
    pub fn new(templates: impl IntoIterator<Item = &'static str>) -> HttpMetrics {
        let cells = templates
            .into_iter()
            .chain([UNMATCHED])
            .map(|route| {
                STATUS_CLASSES.map(|class| {
                    let labels = [("route", route), ("status_class", class)];
                    (
                        metrics::counter!(HTTP_REQUESTS, &labels),
                        metrics::histogram!(HTTP_DURATION, &labels),
                    )
                })
            })
            .collect();
        HttpMetrics {
            cells,
            in_flight: metrics::gauge!(HTTP_IN_FLIGHT),
        }
    }

    /// Counts a request in flight until the guard is dropped (answered or
    /// cancelled).
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.increment(1.0);
        InFlight(self.in_flight.clone())
    }

    /// One answered request. `route`: the index of its template, or `None`
    /// for a path no template matches.
    pub fn record(&self, route: Option<usize>, status: u16, elapsed: Duration) {
        let last = self.cells.len() - 1;
        let row = &self.cells[route.unwrap_or(last).min(last)];
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        let (count, latency) = &row[class];
        count.increment(1);
        latency.record(elapsed.as_secs_f64());
    }
}

/// Owns its gauge (an `Arc`): framing's future holds it next to the
/// `Arc<App>` it came from, which a borrow could not.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Something that refreshes sampled gauges (pool state, process) right
/// before an exporter reads them.
pub type Sampler = Arc<dyn Fn() + Send + Sync>;

/// Prometheus' histogram upkeep interval: until it runs, every request's
/// latency sample is held (8 bytes, in blocks), so at 120,000 requests/s a
/// 5 s interval held up to ~7 MiB, which glibc then kept; 250 ms saved only
/// 0.4 MiB more (docs/performance.md, "The metrics upkeep interval").
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Periodic work of the exporters: Prometheus' histogram upkeep (without a
/// scrape, recorded samples would pile up until the next one) and the EMF
/// lines. Runs until the process ends.
pub fn spawn_background(installed: &'static Installed, cfg: &MetricsConfig, sample: Sampler) {
    if let Some(handle) = installed.prometheus.clone() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    }
    if let (Some(registry), Some(every)) = (installed.emf.clone(), cfg.emf_interval) {
        let service = cfg.service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                sample();
                emf::write_stdout(&registry.flush(&service, emf::now_ms()));
            }
        });
    }
}

/// The sampled process gauges: RSS, open descriptors, uptime.
pub fn sample_process(installed: &Installed) {
    if let Some(rss) = process::rss_bytes() {
        metrics::gauge!(RSS).set(rss as f64);
    }
    if let Some(fds) = process::open_fds() {
        metrics::gauge!(OPEN_FDS).set(fds as f64);
    }
    metrics::gauge!(UPTIME).set(installed.started.elapsed().as_secs_f64());
}
