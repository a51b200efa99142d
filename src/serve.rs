//! The one place the server is assembled: metrics, the pool, the
//! bootstrap admin, the expiry sweeper and the app with its domain. Both
//! `snippetd serve` (src/commands.rs, which adds the socket and the
//! signals) and the in-process test harness (tests/common/inproc.rs)
//! build it here, so tests run the wiring production runs.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Connector;
use crate::http::App;
use crate::metrics;

/// A served app and what runs beside it until [`Built::stop`].
pub struct Built {
    pub app: Arc<App>,
    installed: &'static metrics::Installed,
    sample: metrics::Sampler,
    service: String,
    stop_sweeper: tokio::sync::watch::Sender<bool>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Built {
    /// Everything but the listening socket. Fails (with a line to log)
    /// when the metrics address is taken or the bootstrap admin cannot be
    /// made sure of.
    pub async fn build(cfg: &Config, c: &Connector) -> Result<Built, String> {
        // Before the pool and the app: they register their metrics with
        // the recorder installed here.
        let installed = metrics::install(&cfg.metrics);
        let pool = c.pool();
        let sample: metrics::Sampler = {
            let pool = pool.clone();
            Arc::new(move || {
                pool.record_state();
                metrics::sample_process(installed);
            })
        };
        if let (Some(maddr), Some(handle)) = (cfg.metrics.addr, installed.prometheus.clone()) {
            let l = metrics::listener::bind(maddr).await.map_err(|e| {
                format!("cannot listen on {maddr} (METRICS_ADDR): {e}; set another address or off")
            })?;
            let at = l.local_addr().unwrap_or(maddr);
            log::info!("metrics on http://{at}/metrics");
            metrics::listener::spawn(l, handle, sample.clone());
        }
        metrics::spawn_background(installed, &cfg.metrics, sample.clone());
        // The bootstrap admin exists before the first connection is taken.
        crate::auth::cli::prepare_serve(&cfg.auth, &pool)
            .await
            .map_err(|e| e.to_string())?;
        match &cfg.http.limits.rate {
            None => log::warn!(
                "RATE_LIMITS=off: no rate limits at all; for load tests and local experiments only"
            ),
            Some(r) => log::info!(
                "rate limits per client: {} reads and {} writes a minute",
                r.reads_per_minute,
                r.writes_per_minute
            ),
        }
        // Deletes expired snippets while serving, over its own connection;
        // stopped between batches once the server has drained.
        let (stop_sweeper, stopped) = tokio::sync::watch::channel(false);
        let sweeper = tokio::spawn(crate::snippets::expiry::sweeper(c.clone(), stopped));
        let app = Arc::new(App::new(cfg.http.clone(), &cfg.auth, pool));
        Ok(Built {
            app,
            installed,
            sample,
            service: cfg.metrics.service.clone(),
            stop_sweeper,
            sweeper,
        })
    }

    /// Stops the sweeper and writes the last, partial interval of EMF
    /// metrics (its 5xx are often the interesting ones).
    pub async fn stop(self) {
        let _ = self.stop_sweeper.send(true);
        let _ = self.sweeper.await;
        if let Some(registry) = &self.installed.emf {
            (self.sample)();
            metrics::emf::write_stdout(&registry.flush(&self.service, metrics::emf::now_ms()));
        }
    }
}
