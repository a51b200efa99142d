//! The HTTP API on hyper 1: server, router, handlers, problem+json errors,
//! CORS, request ids, access log and the OpenAPI document.

pub mod cors;
pub mod handlers;
pub mod problem;
pub mod request;
pub mod router;
pub mod server;

use bytes::Bytes;
use serde_json::Value;

use crate::config::HttpConfig;
use crate::db::DbPool;
use crate::snippets::validate;

/// Shared by every request.
pub struct App {
    pub cfg: HttpConfig,
    pub pool: DbPool,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
}

impl App {
    pub fn new(cfg: HttpConfig, pool: DbPool) -> App {
        validate::warm_up();
        let openapi = serde_json::to_vec(&openapi()).expect("JSON serializes");
        App {
            cfg,
            pool,
            openapi: Bytes::from(openapi),
        }
    }
}

const OPENAPI_TEMPLATE: &str = include_str!("openapi.json");

/// The OpenAPI 3.1 document, with the validator's own schema files as the
/// request schemas (one source for the check and the contract).
pub fn openapi() -> Value {
    let mut doc: Value = serde_json::from_str(OPENAPI_TEMPLATE).expect("template is JSON");
    let schemas = &mut doc["components"]["schemas"];
    schemas["SnippetInput"] = serde_json::from_str(validate::INPUT_SCHEMA).expect("schema is JSON");
    schemas["SnippetPatch"] = serde_json::from_str(validate::PATCH_SCHEMA).expect("schema is JSON");
    doc
}
