//! The API test binary: everything that talks to the service, in-process
//! through the tower stack (`common::InProcApp`) or over a socket to the
//! real binary (`common::TestApp`), against a real PostgreSQL. One binary
//! of modules (one link of the crate instead of one per file); a test's
//! name is its module path, e.g. `auth::matrix::authorization_matrix_for_snippets`.
//!
//! The PostgreSQL cluster (`common::cluster()`) is started once for the
//! whole binary and stopped at exit (`atexit`, tests/common/pg.rs).
//! Process-level tests (crashes, faults, supervise, the CLI, TLS, the
//! memory of a served process) are in tests/ops/.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod auth;
mod contract;
mod expiry;
mod hostile;
mod limits;
mod limits_memory;
mod revisions;
mod transfer;
mod web;
