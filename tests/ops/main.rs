//! The operations test binary: the served process as an operator and the
//! infrastructure meet it: database faults and crashes (clusters of their
//! own), hostile clients over raw sockets, supervise and signals, the CLI,
//! TLS to PostgreSQL, metrics ports and the memory of a served process.
//! API behaviour is in tests/api/. A test's name is its module path, e.g.
//! `faults::outage::database_outage_under_load`.
//!
//! Process-wide state shared by the tests of this binary: the shared
//! PostgreSQL cluster (started once, stopped at exit by `atexit`, with
//! the clusters of their own that faults and crash tests start), the
//! open-file limit `abuse::connections` raises (only ever raised), and the
//! global metrics recorder `metrics::prometheus` installs (see
//! `common::metrics_recorder_turn`), and the machine: tests that load it
//! and the one that times answers in milliseconds take
//! `common::load_turn()`.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod cli;
mod faults;
mod metrics;
mod multi_task;
mod post_crash;
mod process;
mod revisions_crash;
mod tls;
mod transfer_memory;
