//! The issue-17 reference's `/health`, as a strong Rust engineer writes it
//! today: axum 0.8 on tokio's multi-threaded runtime, a static JSON body,
//! no per-request log. Used only to put its rate beside snippetd's on the
//! same machine in the same run (bench/reference.sh).
use axum::{routing::get, Json, Router};

#[tokio::main]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "38392".into());
    let app = Router::new().route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
