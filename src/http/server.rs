//! The accept loop and graceful shutdown: each connection is served by
//! hyper's HTTP/1.1 server with the service of `stack.rs` (hyper's own
//! `Service`, implemented by `stack::Api`), within `MAX_CONNECTIONS` and
//! `MAX_CONNECTIONS_PER_ADDRESS`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::problem::MAX_HEAD_BYTES;
use super::rejections::{self, Watched};
use super::{stack, App};

/// Binds the server's address without listening yet: a taken port fails
/// at once, before any startup work, while connections are accepted only
/// from [`listen`] on, once the work requests depend on is done.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Starts listening, with a deep accept queue: with the usual 128, a burst
/// of connections overflows it and other clients' SYNs are dropped and
/// retried a second later. The kernel caps it at `net.core.somaxconn`.
pub fn listen(socket: tokio::net::TcpSocket) -> std::io::Result<TcpListener> {
    socket.listen(4096)
}

/// Open connections per peer address (an IPv6 /64), so that one address
/// cannot hold every `MAX_CONNECTIONS` slot with sockets that never finish
/// their head (each would keep its slot for `HEADER_READ_TIMEOUT_SECONDS`).
/// Peers in `TRUSTED_PROXIES` are not counted: behind the ALB every
/// connection comes from a few load balancer addresses, and the client
/// behind them is only known once a head has been read.
#[derive(Clone)]
struct PerAddress {
    open: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
    trusted: Arc<[crate::config::Cidr]>,
}

/// One counted connection; uncounted when dropped.
struct Counted(PerAddress, IpAddr);

impl PerAddress {
    fn new(app: &App) -> PerAddress {
        PerAddress {
            open: Arc::default(),
            max: app.cfg.max_connections_per_address,
            trusted: app.cfg.limits.trusted_proxies.clone().into(),
        }
    }

    /// `None` when `peer`'s address already has `max` connections open.
    fn admit(&self, peer: IpAddr) -> Option<Option<Counted>> {
        let peer = peer.to_canonical();
        if self.trusted.iter().any(|c| c.contains(peer)) {
            return Some(None);
        }
        let key = match super::ratelimit::Key::address(peer) {
            super::ratelimit::Key::Ip(ip) => ip,
            _ => peer,
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Some(Counted(self.clone(), key)))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish within the grace period and returns.
pub async fn run(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(app.cfg.max_connections));
    let per_address = PerAddress::new(&app);
    let mut builder = http1::Builder::new();
    // Without a timer the header timeout silently does nothing. The read
    // buffer is a little larger than the documented head limit, which
    // guard.rs enforces exactly however the head arrives; hyper's own 431
    // covers heads that overflow the buffer.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.cfg.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES + 8 * 1024);
    let service = stack::service(app.clone());
    let serve = |stream: TcpStream, peer: SocketAddr, permit| {
        let Some(counted) = per_address.admit(peer.ip()) else {
            // Closed at once: this address holds its share already.
            log::debug!("connection from {peer} closed: MAX_CONNECTIONS_PER_ADDRESS reached");
            return;
        };
        let _ = stream.set_nodelay(true);
        let watched = Watched::new(stream);
        let rejected = watched.rejected.clone();
        // The peer travels with the connection's service: the client
        // address is resolved from it (src/http/client_ip.rs).
        let conn =
            graceful.watch(builder.serve_connection(TokioIo::new(watched), service.for_peer(peer)));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                let status = rejected.load(Ordering::Relaxed);
                if status != 0 {
                    rejections::count(status);
                    rejections::log(peer, &e, status);
                } else {
                    log::debug!("connection from {peer} closed with an error: {e}");
                }
            }
            drop((permit, counted));
        });
    };
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => serve(stream, peer, Some(permit)),
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // Connections the kernel has already accepted were promised an answer:
    // take them from the backlog before closing the socket.
    while let Some(Ok((stream, peer))) = listener.accept().now_or_never() {
        serve(stream, peer, None);
    }
    drop(listener);
    let grace = app.cfg.shutdown_grace;
    log::info!("shutting down: no new connections, {grace:?} for requests in flight");
    // hyper closes a connection that is idle when told to shut down, and a
    // fresh one counts as idle until its request head is parsed: give fresh
    // connections a moment to get their request in first.
    let settle = grace.min(Duration::from_millis(500));
    tokio::time::sleep(settle).await;
    tokio::select! {
        () = graceful.shutdown() => log::info!("all connections closed"),
        () = tokio::time::sleep(grace - settle) => log::warn!("grace period over, closing connections still open"),
    }
}
