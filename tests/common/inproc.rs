//! The app in-process: the same tower stack `serve` runs (src/http/stack.rs),
//! called with `tower::ServiceExt::oneshot`, with no socket and no child
//! process, against a real PostgreSQL database of the test cluster. Most
//! contract tests use this; process-level concerns (signals, supervise,
//! TLS, faults, raw bytes on the wire) keep using [`super::TestApp`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use super::client::Response as TestResponse;
use super::TestDb;
use snippetd::http::client_ip::Peer;
use snippetd::http::stack::{self, RespBody};

type Svc = BoxCloneSyncService<Request<Full<Bytes>>, Response<RespBody>, Infallible>;

/// A runtime and the service, shared by every client of one app.
pub struct Handle {
    rt: tokio::runtime::Runtime,
    svc: Svc,
    /// What runs beside the app (the expiry sweeper), as long as the app.
    _built: snippetd::serve::Built,
}

impl Handle {
    pub fn call(&self, mut req: Request<Full<Bytes>>) -> TestResponse {
        // What the server does for every connection: the TCP peer travels
        // with the request. A test may set its own (forged clients, proxies).
        if req.extensions().get::<Peer>().is_none() {
            req.extensions_mut()
                .insert(Peer(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
        }
        let head = req.method() == hyper::Method::HEAD;
        self.rt.block_on(async {
            let resp = self.svc.clone().oneshot(req).await.expect("infallible");
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).to_string(),
                    )
                })
                .collect();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes().to_vec())
                .unwrap_or_default();
            // hyper sends no body for HEAD; neither does this.
            let body = if head { Vec::new() } else { body };
            TestResponse {
                status,
                headers,
                body,
            }
        })
    }
}

/// A fresh migrated database and the app on it, in this process.
pub struct InProcApp {
    pub db: TestDb,
    pub handle: Arc<Handle>,
    /// The default client's token: owner `tester`, snippets:read and write.
    pub token: String,
}

impl InProcApp {
    pub fn new() -> InProcApp {
        InProcApp::with_env(&[])
    }

    pub fn with_env(extra: &[(&str, &str)]) -> InProcApp {
        let (db, mut env) = super::migrated_db(extra);
        // As the harness's servers: no metrics port unless a test asks.
        env.entry("METRICS_ADDR".into())
            .or_insert_with(|| "off".into());
        let cfg = snippetd::config::Config::from_env_map(&env).expect("valid test config");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (svc, built) = rt.block_on(async {
            // Assembled as `serve` assembles it (src/serve.rs): metrics,
            // the bootstrap admin, the expiry sweeper, the app.
            let connector = snippetd::db::Connector::new(&cfg.db).expect("connector");
            let built = snippetd::serve::Built::build(&cfg, &connector)
                .await
                .expect("the app builds");
            let svc = BoxCloneSyncService::new(stack::service(built.app.clone()));
            (svc, built)
        });
        let token = super::mint(&db, super::TESTER, super::TESTER_SCOPES);
        InProcApp {
            db,
            handle: Arc::new(Handle {
                rt,
                svc,
                _built: built,
            }),
            token,
        }
    }

    /// A client that sends the tester's token.
    pub fn client(&self) -> super::Client {
        self.anon().with_token(&self.token)
    }

    /// A client without a token.
    pub fn anon(&self) -> super::Client {
        super::Client::in_process(self.handle.clone())
    }
}
