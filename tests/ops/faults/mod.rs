//! Faults below the API: the database going away under load, the pool
//! running dry, and what clients see of server-side errors.
//!
//! The outage test stops and restarts PostgreSQL, so it runs on a cluster of
//! its own (`outage_cluster`), never on the shared `common::cluster()`.

use crate::common;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::load::{leaks, request, status_counts, Load, Sample};
use common::{Cluster, Server, TestDb};
use serde_json::json;

mod errors;
mod outage;
mod pool;

/// The cluster that `database_outage_under_load` stops and starts again.
fn outage_cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| Cluster::start(None))
}

/// The tests that stop `outage_cluster` take turns.
fn outage_turn() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, migrated database on `cluster` and its environment plus `extra`.
fn migrated_db(
    cluster: &'static Cluster,
    extra: &[(&str, &str)],
) -> (TestDb, HashMap<String, String>) {
    let db = cluster.create_db();
    let mut env = db.env();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let (code, _, err) = common::run(&["migrate"], &env);
    assert_eq!(code, 0, "migrate failed: {err}");
    (db, env)
}

fn short(timeout: Duration) -> impl Fn(&Server, &str) -> std::io::Result<common::Response> {
    move |s: &Server, path: &str| request(s.addr, "GET", path, &[], None, timeout)
}

fn summary(samples: &[Sample]) -> String {
    let slowest = samples.iter().map(|s| s.latency).max().unwrap_or_default();
    format!(
        "{} requests, statuses {:?}, slowest {:?}",
        samples.len(),
        status_counts(samples),
        slowest
    )
}
