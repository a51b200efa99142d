//! A thousand idle connections, a burst, one address holding many.

use super::*;

/// The test process's open-file soft limit raised to the hard limit (the
/// server child inherits it); returns the new soft limit.
fn raise_fd_limit() -> u64 {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        let soft = lim.rlim_cur as u64;
        soft
    }
}

/// Opens `n` connections to `addr`, half of them with an unfinished head.
fn open_idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            if i % 2 == 1 {
                s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            s
        })
        .collect()
}

/// 1,000 connections held open (half silent, half with an unfinished
/// head) while a normal client's GET /health and GET /snippets/{id} each
/// answer within 500 ms; the server keeps them all (none is closed).
#[test]
fn a_thousand_idle_connections_do_not_starve_a_normal_client() {
    const IDLE: usize = 1000;
    let limit = raise_fd_limit();
    assert!(
        limit >= (IDLE as u64) + 200,
        "the open-file limit ({limit}) is too low for {IDLE} connections"
    );
    // Many clients, as behind a proxy: the per-address cap has its own test.
    let (mut app, id) = app(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "30"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "2000"),
    ]);
    let addr = app.server.addr;
    let t0 = Instant::now();
    let mut idle = open_idle(addr, IDLE);
    eprintln!("{IDLE} idle connections opened in {:?}", t0.elapsed());
    // Let the server accept whatever is still in its backlog.
    std::thread::sleep(Duration::from_millis(500));
    let prober = Prober::start(addr, probe_paths(&id));
    std::thread::sleep(Duration::from_secs(2));
    let n = prober.finish();
    // Every idle connection is still open (accepted, not reset).
    let mut buf = [0u8; 64];
    let mut closed = 0;
    for s in &mut idle {
        s.set_nonblocking(true).unwrap();
        match s.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            _ => closed += 1,
        }
    }
    assert_eq!(closed, 0, "{closed} of the idle connections were closed");
    drop(idle);
    eprintln!("{IDLE} idle connections held, {n} normal requests all prompt");
    assert_alive(&mut app);
}

/// The listening socket's backlog (`ss` shows it as Send-Q), or None
/// without `ss`.
fn listen_backlog(port: u16) -> Option<u32> {
    let out = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(2)?.parse().ok()
}

/// While 1,000 connections arrive in a burst (4 clients at once), a normal
/// client still connects and is served within 500 ms. The accept queue must
/// hold such a burst: with mio's default backlog of 128 the kernel dropped
/// SYNs while the accept loop caught up, and the normal client's connect was
/// retried after 1 s (seen with the suite running on 2 cores); the server
/// now listens with a backlog of 4096 (capped by net.core.somaxconn).
#[test]
fn a_connection_burst_does_not_delay_a_normal_client() {
    const IDLE: usize = 1000;
    raise_fd_limit();
    let (app, id) = app(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "30"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "2000"),
    ]);
    let addr = app.server.addr;
    if let Some(backlog) = listen_backlog(addr.port()) {
        eprintln!("listen backlog: {backlog}");
        assert!(
            backlog >= 1024,
            "listen backlog {backlog}: a burst of connections overflows it"
        );
    }
    let prober = Prober::start(addr, probe_paths(&id));
    let burst: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || open_idle(addr, IDLE / 4)))
        .collect();
    let idle: Vec<Vec<TcpStream>> = burst.into_iter().map(|b| b.join().unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    prober.finish();
    drop(idle);
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.0/8
/// is all loopback on Linux: a second client address on this machine).
fn connect_from(from: std::net::Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 server expected")
    };
    let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, owned by the TcpStream from here on; the
    // addresses are valid sockaddr_in values of the length given.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sin(from, 0);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sin(*to.ip(), to.port());
        if libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Issue 30, finding 3: connections that never finish their head held
/// every MAX_CONNECTIONS slot for the head timeout. One address now holds
/// at most MAX_CONNECTIONS_PER_ADDRESS (by default a quarter of
/// MAX_CONNECTIONS): past it, its new connections are closed at once,
/// while another address is served.
#[test]
fn one_address_cannot_hold_every_connection() {
    // The cap set outright (its default, a quarter of MAX_CONNECTIONS, is
    // a unit test of the configuration), with room to spare in
    // MAX_CONNECTIONS so that no other connection can keep the server
    // from accepting.
    let (mut app, id) = app(&[
        ("MAX_CONNECTIONS", "64"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "4"),
        ("HEADER_READ_TIMEOUT_SECONDS", "60"),
    ]);
    let addr = app.server.addr;
    let attacker = std::net::Ipv4Addr::new(127, 0, 0, 1);
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| connect_from(attacker, addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // The fifth from the same address: closed without an answer.
    let mut fifth = connect_from(attacker, addr).unwrap();
    write_lenient(&mut fifth, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let (closed, got) = wait_closed(&mut fifth, Duration::from_secs(5));
    assert!(
        closed.is_some_and(|t| t < Duration::from_secs(2)),
        "{closed:?}, answered {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Another address is served at once.
    let other = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let mut s = connect_from(other, addr).unwrap();
    let req = format!("GET /snippets/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let (_, got) = wait_closed(&mut s, Duration::from_secs(5));
    assert_eq!(
        status_of(&got),
        Some(200),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // A slot given back is the address's again, once the server has seen
    // the idle connections close (retried: that takes a moment under load).
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut s = connect_from(attacker, addr).unwrap();
        write_lenient(
            &mut s,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let (_, got) = wait_closed(&mut s, Duration::from_secs(5));
        if status_of(&got) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the address never got a slot back"
        );
    }
    assert_alive(&mut app);
}
