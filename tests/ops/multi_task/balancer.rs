//! A round-robin TCP balancer on 127.0.0.1 for the multi-task tests, in
//! the test process (tokio, no crate of its own): each client connection
//! goes to the next backend in turn, and bytes are copied both ways until
//! either side is done. A deregistered backend gets no new connection
//! (ECS deregisters a task from the ALB's target group before it stops
//! it; connections already open go on), and one that refuses the
//! connection (a task that is not listening yet, or stopped) is skipped
//! for the next: the client's bytes are only read once a backend has
//! accepted, so a retry never sends a request twice. A connection no
//! backend takes is closed, and counted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

struct Stats {
    /// The backend the next connection tries first.
    next: AtomicUsize,
    /// Whether each backend gets new connections.
    registered: Vec<AtomicBool>,
    /// Connections handed to each backend.
    forwarded: Vec<AtomicUsize>,
    /// Connections each backend refused (then tried on the next).
    refused: Vec<AtomicUsize>,
    /// Client connections closed because every backend refused.
    unserved: AtomicUsize,
}

pub struct Balancer {
    pub addr: SocketAddr,
    stats: Arc<Stats>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Balancer {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards to `backends`.
    pub fn start(backends: Vec<SocketAddr>) -> Balancer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("balancer")
            .enable_all()
            .build()
            .expect("the balancer's runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the balancer");
        let addr = listener.local_addr().unwrap();
        let counters = || backends.iter().map(|_| AtomicUsize::new(0)).collect();
        let stats = Arc::new(Stats {
            next: AtomicUsize::new(0),
            registered: backends.iter().map(|_| AtomicBool::new(true)).collect(),
            forwarded: counters(),
            refused: counters(),
            unserved: AtomicUsize::new(0),
        });
        runtime.spawn(accept(listener, backends.into(), stats.clone()));
        Balancer {
            addr,
            stats,
            runtime: Some(runtime),
        }
    }

    /// Backend `i` gets new connections (`true`) or none (`false`).
    pub fn register(&self, i: usize, registered: bool) {
        self.stats.registered[i].store(registered, Relaxed);
    }

    /// Connections handed to each backend so far.
    pub fn forwarded(&self) -> Vec<usize> {
        self.stats
            .forwarded
            .iter()
            .map(|c| c.load(Relaxed))
            .collect()
    }

    /// Connections each backend refused so far.
    pub fn refused(&self) -> Vec<usize> {
        self.stats.refused.iter().map(|c| c.load(Relaxed)).collect()
    }

    /// Client connections no backend took.
    pub fn unserved(&self) -> usize {
        self.stats.unserved.load(Relaxed)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept(listener: TcpListener, backends: Arc<[SocketAddr]>, stats: Arc<Stats>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(forward(client, backends.clone(), stats.clone()));
            }
            // Out of file descriptors and the like: back off.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn forward(mut client: TcpStream, backends: Arc<[SocketAddr]>, stats: Arc<Stats>) {
    let first = stats.next.fetch_add(1, Relaxed);
    for k in 0..backends.len() {
        let i = (first + k) % backends.len();
        if !stats.registered[i].load(Relaxed) {
            continue;
        }
        let connect = TcpStream::connect(backends[i]);
        match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(mut backend)) => {
                stats.forwarded[i].fetch_add(1, Relaxed);
                let _ = client.set_nodelay(true);
                let _ = backend.set_nodelay(true);
                // An error here (a reset on either side) reaches the
                // client as the reset or a short answer: the test counts it.
                let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                return;
            }
            _ => {
                stats.refused[i].fetch_add(1, Relaxed);
            }
        }
    }
    stats.unserved.fetch_add(1, Relaxed);
}
