//! The binary as an operator meets it: config errors, migrate, the
//! pending-migration refusal, the special-character password.

use crate::common;

use std::collections::HashMap;

use common::{cluster, run, Server, PASSWORD};
use serde_json::json;

mod config;
mod migrate;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
