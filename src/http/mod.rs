//! The HTTP API on hyper 1: the accept loop (`server`), the tower stack
//! every request goes through (`stack`, `guard`), router, handlers,
//! problem+json errors and the OpenAPI document.

pub mod auth;
pub mod body;
pub mod client_ip;
pub mod dispatch;
pub mod docs_ui;
pub mod forks;
pub mod guard;
pub mod identity;
pub mod import;
pub mod layers;
pub mod negotiate;
pub mod probes;
pub mod problem;
pub mod ratelimit;
pub mod raw;
pub mod rejections;
pub mod request;
pub mod respond;
pub mod revisions;
pub mod router;
pub mod server;
pub mod snippet;
pub mod stack;
pub mod trace;
pub mod transfer;

use bytes::Bytes;
use serde_json::Value;

use crate::auth::Auth;
use crate::config::{AuthConfig, AuthMode, HttpConfig};
use crate::db::DbPool;
use crate::metrics::HttpMetrics;
use crate::snippets::{validate, Rules, Snippets};

/// Shared by every request.
pub struct App {
    pub cfg: HttpConfig,
    /// The domain's one face (src/snippets/service.rs).
    pub snippets: Snippets,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
    /// Its strong validator: a number from its SHA-256, so the version
    /// ETags' parsing (src/http/request.rs) serves it too.
    pub openapi_tag: i64,
    /// Request counts and latencies, registered per route template.
    pub metrics: HttpMetrics,
    /// Token verification and its cache.
    pub auth: Auth,
    pub auth_mode: AuthMode,
    /// `None`: `RATE_LIMITS=off`.
    pub limits: Option<std::sync::Arc<ratelimit::Limits>>,
}

impl App {
    pub fn new(cfg: HttpConfig, auth: &AuthConfig, pool: DbPool) -> App {
        let rules = Rules {
            quota: cfg.limits.quota,
            max_expiry: cfg.max_expiry,
            search: cfg.limits.search,
        };
        let openapi = serde_json::to_vec(&openapi()).expect("JSON serializes");
        let limits = cfg.limits.rate.as_ref().map(ratelimit::Limits::new);
        if let Some(l) = &limits {
            ratelimit::Limits::spawn_sweeper(l);
        }
        App {
            limits,
            cfg,
            snippets: Snippets::new(pool.clone(), rules),
            auth: Auth::new(pool),
            auth_mode: auth.mode,
            openapi_tag: content_tag(&openapi),
            openapi: Bytes::from(openapi),
            metrics: HttpMetrics::new(router::ROUTES.iter().map(|r| r.0)),
        }
    }
}

/// A positive number that changes with `bytes` (56 bits of SHA-256).
fn content_tag(bytes: &[u8]) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    let mut n = [0u8; 8];
    n[1..].copy_from_slice(&d[..7]);
    i64::from_be_bytes(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_method_is_documented() {
        let doc = openapi();
        let listed = router::ROUTES
            .iter()
            .filter(|r| !router::NOT_IN_OPENAPI.contains(&r.0));
        for (path, _, allow) in listed.clone() {
            let item = &doc["paths"][path];
            assert!(item.is_object(), "{path} is not in the OpenAPI document");
            for method in allow.split(", ").filter(|m| *m != "HEAD") {
                assert!(
                    item[method.to_lowercase()].is_object(),
                    "{method} {path} is not documented"
                );
            }
        }
        let documented = doc["paths"].as_object().unwrap().len();
        assert_eq!(documented, listed.count(), "no undocumented extras");
        for path in router::NOT_IN_OPENAPI {
            assert!(doc["paths"][path].is_null(), "{path} is listed as left out");
            assert!(router::ROUTES.iter().any(|r| r.0 == *path), "{path}");
        }
    }

    #[test]
    fn request_schemas_are_the_validators_files() {
        let doc = openapi();
        let input: Value = serde_json::from_str(validate::INPUT_SCHEMA).unwrap();
        let patch: Value = serde_json::from_str(validate::PATCH_SCHEMA).unwrap();
        assert_eq!(doc["components"]["schemas"]["SnippetInput"], input);
        assert_eq!(doc["components"]["schemas"]["SnippetPatch"], patch);
    }
}
