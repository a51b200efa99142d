//! Metrics: where Prometheus text is served, the EMF interval and the
//! service's dimension (docs/metrics.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::value_parser;

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// Where Prometheus text is served (GET /metrics, never the API port): IP:PORT, or off
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9464", value_parser = parse_metrics_addr)]
    pub metrics_addr: MetricsAddr,
    /// Seconds between CloudWatch Embedded Metric Format lines on stdout (0 = none)
    #[arg(long, env = "METRICS_EMF_INTERVAL_SECONDS", default_value_t = 0, value_parser = value_parser!(u64).range(0..=3600))]
    pub metrics_emf_interval_seconds: u64,
    /// The Service dimension of the EMF metrics
    #[arg(long, env = "METRICS_SERVICE", default_value = "snippetd", value_parser = parse_metrics_service)]
    pub metrics_service: String,
}

/// `METRICS_ADDR`: a socket address, or `off`.
#[derive(Clone, Copy, Debug)]
pub struct MetricsAddr(pub Option<SocketAddr>);

fn parse_metrics_addr(raw: &str) -> Result<MetricsAddr, String> {
    match raw.trim() {
        "off" => Ok(MetricsAddr(None)),
        other => other
            .parse()
            .map(|a| MetricsAddr(Some(a)))
            .map_err(|_| format!("must be IP:PORT (e.g. 127.0.0.1:9464) or off (got {raw:?})")),
    }
}

/// A CloudWatch dimension value: 1–1024 characters, no control ones.
fn parse_metrics_service(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.chars().count() > 1024 || raw.chars().any(char::is_control) {
        return Err("must be 1 to 1024 characters, none of them control characters".into());
    }
    Ok(raw.to_string())
}

/// Metrics, validated.
#[derive(Clone, Debug)]
pub struct MetricsConfig {
    /// The Prometheus listener (`None`: off).
    pub addr: Option<SocketAddr>,
    /// How often an EMF line is written to stdout (`None`: never).
    pub emf_interval: Option<Duration>,
    /// The `Service` dimension of the EMF metrics.
    pub service: String,
}

impl From<&MetricsArgs> for MetricsConfig {
    fn from(a: &MetricsArgs) -> MetricsConfig {
        let secs = a.metrics_emf_interval_seconds;
        MetricsConfig {
            addr: a.metrics_addr.0,
            emf_interval: (secs > 0).then(|| Duration::from_secs(secs)),
            service: a.metrics_service.clone(),
        }
    }
}
