//! `snippetd healthcheck`: the container health check in an image with no
//! shell and no curl.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// GET http://127.0.0.1:{port}/health; true on a 200 within `timeout`.
pub async fn probe(port: u16, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        let req = hyper::Request::get("/health")
            .header("host", format!("127.0.0.1:{port}"))
            .header("user-agent", "snippetd-healthcheck")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        if resp.status() == hyper::StatusCode::OK {
            Ok(())
        } else {
            Err(format!("/health answered {}", resp.status()))
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
