//! A deliberately small HTTP/1.1 client over `std::net::TcpStream`, so the
//! tests control every byte on the wire (hostile clients included); or,
//! for an in-process app, the same calls made on the tower service.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    inproc: Option<std::sync::Arc<super::inproc::Handle>>,
    /// Sent as `Authorization: Bearer …` unless a request sets its own.
    token: Option<String>,
    /// In process: the TCP peer the request claims to come from (the
    /// server sets the real one); none: 127.0.0.1.
    peer: Option<SocketAddr>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-case names, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// Asserts an RFC 9457 problem with this status and returns its body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        for k in ["type", "title", "detail", "requestId"] {
            assert!(p[k].is_string(), "problem lacks {k}: {p}");
        }
        assert_eq!(
            p["requestId"].as_str(),
            self.header("x-request-id"),
            "problem and header carry the same request id"
        );
        p
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            inproc: None,
            token: None,
            peer: None,
        }
    }

    /// The same client, sending `token` with every request.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// The same client without a token.
    pub fn anon(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    pub fn in_process(handle: std::sync::Arc<super::inproc::Handle>) -> Client {
        Client {
            addr: "127.0.0.1:9".parse().unwrap(),
            inproc: Some(handle),
            token: None,
            peer: None,
        }
    }

    /// The same in-process client, as if connected from `peer`.
    pub fn with_peer(&self, peer: SocketAddr) -> Client {
        assert!(self.inproc.is_some(), "a socket's peer is the socket's");
        Client {
            peer: Some(peer),
            ..self.clone()
        }
    }

    /// Sends raw bytes on a new connection and parses the answer. A client
    /// with a token (`with_token`) adds its `Authorization` line right after
    /// the request line, unless the bytes carry one: every other byte is the
    /// test's (use `anon()` for bytes exactly as given).
    pub fn raw(&self, bytes: &[u8]) -> std::io::Result<Response> {
        assert!(
            self.inproc.is_none(),
            "raw bytes need a socket: use TestApp"
        );
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let bytes = self.authorized(bytes);
        s.write_all(&bytes)?;
        let head_only = bytes.starts_with(b"HEAD ");
        read_response(&mut s, head_only)
    }

    /// `bytes` with this client's `Authorization` line after the request
    /// line (see [`Client::raw`]).
    pub fn authorized(&self, bytes: &[u8]) -> Vec<u8> {
        let Some(token) = &self.token else {
            return bytes.to_vec();
        };
        let lower = bytes.to_ascii_lowercase();
        let has_auth = lower.windows(15).any(|w| w == b"\nauthorization:");
        match find(bytes, b"\r\n") {
            Some(i) if !has_auth => {
                let mut out = bytes[..i + 2].to_vec();
                out.extend_from_slice(format!("Authorization: Bearer {token}\r\n").as_bytes());
                out.extend_from_slice(&bytes[i + 2..]);
                out
            }
            _ => bytes.to_vec(),
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = headers.to_vec();
        if let Some(b) = &bearer {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            {
                headers.push(("Authorization", b));
            }
        }
        let headers = &headers[..];
        if let Some(h) = &self.inproc {
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "snippetd.test");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(peer) = self.peer {
                req = req.extension(snippetd::http::client_ip::Peer(peer));
            }
            let body = body.map(bytes::Bytes::copy_from_slice).unwrap_or_default();
            return h.call(
                req.body(http_body_util::Full::new(body))
                    .expect("valid request"),
            );
        }
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.raw(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, &[], None)
    }

    pub fn json(&self, method: &str, path: &str, body: &Value) -> Response {
        self.send(
            method,
            path,
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    /// POSTs a snippet; returns the status.
    pub fn create_status(&self, body: &Value) -> u16 {
        self.json("POST", "/snippets", body).status
    }

    /// POSTs a valid snippet; returns the created JSON.
    pub fn create(&self, body: &Value) -> Value {
        let r = self.json("POST", "/snippets", body);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }
}

/// Reads one response: head, then `Content-Length` bytes (or to EOF).
pub fn read_response(s: &mut TcpStream, head_only: bool) -> std::io::Result<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed after {} bytes", buf.len()),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[head_end..].to_vec();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if !head_only && status != 204 && status != 304 {
        match len {
            Some(len) => {
                while body.len() < len {
                    let n = s.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                body.truncate(len);
            }
            None => {
                s.read_to_end(&mut body)?;
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
