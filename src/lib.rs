//! snippetd as a library: the binary's layers, importable by tests.
//!
//! Data flows one way: `http` → `snippets`/`auth` → `db`, with `config` and
//! `logging` below all of them. `supervisor`, `healthcheck` and `signals`
//! are process-level; `commands` wires the layers into subcommands.

pub mod auth;
pub mod commands;
pub mod config;
pub mod db;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod signals;
pub mod snippets;
pub mod supervisor;
