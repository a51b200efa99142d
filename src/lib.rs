//! snippetd as a library: the binary's layers, importable by tests.
//!
//! Data flows one way: `http` → `snippets` → `auth` → `db`, with `config`,
//! `logging` and `util` below all of them; `metrics` is recorded into from
//! any layer and read only by its own exporters. `supervisor`, `healthcheck` and `signals`
//! are process-level; `commands` wires the layers into subcommands.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod exit;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod serve;
pub mod signals;
pub mod snippets;
pub mod supervisor;
pub mod util;
pub mod web;
