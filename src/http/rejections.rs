//! Requests hyper rejects by itself (bad framing, obs-fold, oversized heads
//! and targets, bad versions, smuggling probes) never reach the service:
//! hyper writes a bare `400`-style head and closes. [`Watched`] wraps the
//! socket so that such a response gets a problem+json body and a request
//! id like every other error, and the rejection is logged (peer, reason,
//! status) at info, at most [`LOG_PER_SECOND`] lines a second.
//!
//! Hand-written because hyper 1 has no hook for its own error responses
//! (hyper's src/proto/h1/role.rs, `on_error`, writes them directly).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::problem::ApiError;

/// Rejections logged per second at most; the rest are counted.
pub const LOG_PER_SECOND: u32 = 10;

/// A client connection whose hyper-made error responses are replaced.
pub struct Watched {
    io: TcpStream,
    /// The first bytes the client sent: its first request line, to tell an
    /// unsupported major version (505) from other malformed requests.
    first: Vec<u8>,
    /// The replacement response and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
    /// The status of the rejection, 0 while there is none.
    pub rejected: Arc<AtomicU16>,
}

impl Watched {
    pub fn new(io: TcpStream) -> Watched {
        Watched {
            io,
            first: Vec::new(),
            pending: None,
            rejected: Arc::default(),
        }
    }

    /// hyper's own error response: a short bare head with `content-length:
    /// 0` and no `x-request-id` (which every response of the service has),
    /// written whole in one buffer. Returns its status.
    fn hyper_error(buf: &[u8]) -> Option<StatusCode> {
        if buf.len() > 256 || !buf.ends_with(b"\r\n\r\n") {
            return None;
        }
        let head = std::str::from_utf8(buf).ok()?.to_ascii_lowercase();
        let status = head
            .strip_prefix("http/1.1 ")
            .or_else(|| head.strip_prefix("http/1.0 "))?
            .get(..3)?
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| s.is_client_error() || s.is_server_error())?;
        (head.contains("\r\ncontent-length: 0\r\n") && !head.contains("x-request-id"))
            .then_some(status)
    }

    fn replacement(&self, status: StatusCode) -> (StatusCode, Vec<u8>) {
        let line = self.first.split(|b| *b == b'\r').next().unwrap_or_default();
        let major = line
            .rsplit(|b| *b == b' ')
            .next()
            .and_then(|v| v.strip_prefix(b"HTTP/"))
            .and_then(|v| v.first().copied());
        let e = match (status, major) {
            // RFC 9110 15.6.6: a major version we do not speak.
            (_, Some(b'2'..=b'9')) => {
                ApiError::HttpVersionNotSupported("this server speaks HTTP/1.0 and HTTP/1.1".into())
            }
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, _) => {
                ApiError::HeadersTooLarge(super::problem::MAX_HEAD_BYTES)
            }
            (StatusCode::URI_TOO_LONG, _) => ApiError::UriTooLong,
            _ => ApiError::BadRequest(
                "the request is malformed (framing, header syntax or HTTP version)".into(),
            ),
        };
        let rid = uuid::Uuid::new_v4().to_string();
        let resp = e.into_response(&rid, false);
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .now_or_never()
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
             x-request-id: {rid}\r\nconnection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        (status, out)
    }

    /// Writes the replacement (if one is pending) before anything else;
    /// claims `claimed` bytes of hyper's as written once it is out.
    fn poll_pending(&mut self, cx: &mut Context<'_>, claimed: usize) -> Poll<io::Result<usize>> {
        let Some((bytes, off)) = &mut self.pending else {
            return Poll::Ready(Ok(0));
        };
        while *off < bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*off..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *off += n,
                other => return other,
            }
        }
        Poll::Ready(Ok(claimed))
    }

    fn intercept(&mut self, first_chunk: &[u8]) {
        if self.pending.is_none() {
            if let Some(status) = Self::hyper_error(first_chunk) {
                let (status, bytes) = self.replacement(status);
                self.rejected.store(status.as_u16(), Ordering::Relaxed);
                self.pending = Some((bytes, 0));
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.first.len() < 64 {
            let new = &buf.filled()[before..];
            let take = new.len().min(64 - this.first.len());
            this.first.extend_from_slice(&new[..take]);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.intercept(buf);
        if this.pending.is_some() {
            return this.poll_pending(cx, buf.len());
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if bufs.iter().filter(|b| !b.is_empty()).count() == 1 {
                this.intercept(first);
            }
        }
        if this.pending.is_some() {
            let total = bufs.iter().map(|b| b.len()).sum();
            return this.poll_pending(cx, total);
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx, 0))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx, 0))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Counts one rejection (`snippetd_http_rejected_total{status}`). The
/// statuses are the few [`Watched::replacement`] answers with.
pub fn count(status: u16) {
    let status = match status {
        400 => "400",
        414 => "414",
        431 => "431",
        505 => "505",
        _ => "other",
    };
    ::metrics::counter!(crate::metrics::HTTP_REJECTED, "status" => status).increment(1);
}

/// Logs one rejection, unless more than [`LOG_PER_SECOND`] were logged in
/// the current second (then the next logged line says how many were not).
pub fn log(peer: SocketAddr, reason: &hyper::Error, status: u16) {
    static WINDOW: Mutex<Option<(Instant, u32, u64)>> = Mutex::new(None);
    let Ok(mut w) = WINDOW.lock() else { return };
    let now = Instant::now();
    let (start, logged, suppressed) = w.get_or_insert((now, 0, 0));
    if now.duration_since(*start).as_secs() >= 1 {
        *start = now;
        *logged = 0;
    }
    if *logged >= LOG_PER_SECOND {
        *suppressed += 1;
        return;
    }
    *logged += 1;
    let earlier = std::mem::take(suppressed);
    log::info!(
        target: "rejected",
        peer = peer.to_string().as_str(),
        status = status,
        reason = reason.to_string().as_str(),
        suppressed_before = earlier;
        "request rejected before routing"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_heads_without_request_id_are_hyper_errors() {
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Sun, 29 Nov 2026 07:00:00 GMT\r\n\r\n";
        assert_eq!(
            Watched::hyper_error(hyper_400),
            Some(StatusCode::BAD_REQUEST)
        );
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nx-request-id: a\r\n\r\n";
        assert_eq!(Watched::hyper_error(ours), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(Watched::hyper_error(ok), None);
        let body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(Watched::hyper_error(body), None);
    }
}
