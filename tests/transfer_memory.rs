//! The export's memory (issue 16): 100,000 snippets of ~1 KiB streamed by
//! a real `snippetd serve` process, read by a client that discards them;
//! the server's peak RSS (VmHWM) before and after. The numbers are in
//! docs/performance.md ("Export memory").

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestApp;

/// Resident set of `pid` (VmRSS) and its peak so far (VmHWM), in bytes.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("field in /proc/<pid>/status")
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn exporting_100k_snippets_keeps_the_server_small() {
    const N: usize = 100_000;
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let app = TestApp::new();
    // In transactions of 1,000 rows: the usage trigger updates the owner's
    // usage row once per row, and within one transaction every update
    // walks the chain of that row's earlier versions (quadratic: 100,000
    // rows in one statement took 9.5 minutes, in 1,000-row commits seconds).
    app.db.psql(&format!(
        "DO $$ BEGIN FOR b IN 0..{} LOOP \
           INSERT INTO snippets (id, title, language, code, owner, tags, created_at) \
           SELECT gen_random_uuid(), 'snippet ' || i, 'rust', repeat('let x = ' || i || ';\n', 64), \
                  'tester', ARRAY['bulk'], now() - i * interval '1 millisecond' \
           FROM generate_series(b * 1000 + 1, b * 1000 + 1000) i; \
           COMMIT; \
         END LOOP; END $$",
        N / 1000 - 1
    ));
    app.db.psql("ANALYZE snippets");
    let pid = app.server.child.id();
    // Warm: one small request through every layer.
    assert_eq!(app.client().get("/snippets?limit=1").status, 200);
    let (before, _) = rss(pid);
    let started = Instant::now();
    let mut s = TcpStream::connect(app.server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET /snippets/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.token
    )
    .unwrap();
    // Read and discard, counting snippets (`"createdAt"` once per line;
    // a short tail carried over so a match split between reads counts).
    let needle = b"\"createdAt\"";
    let (mut total, mut count, mut carry) = (0usize, 0usize, Vec::new());
    let mut buf = vec![0u8; 64 * 1024];
    let mut peak_during = 0;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        let mut window = std::mem::take(&mut carry);
        window.extend_from_slice(&buf[..n]);
        count += window.windows(needle.len()).filter(|w| w == needle).count();
        carry = window[window.len().saturating_sub(needle.len() - 1)..].to_vec();
        if total % (8 << 20) < n {
            peak_during = peak_during.max(rss(pid).0);
        }
    }
    let elapsed = started.elapsed();
    let (after, hwm) = rss(pid);
    println!(
        "export of {N} snippets: {:.1} MiB in {:.1} s; server RSS {:.1} MiB before, \
         {:.1} MiB at most while streaming (sampled), {:.1} MiB after; peak RSS (VmHWM) {:.1} MiB",
        mib(total as u64),
        elapsed.as_secs_f64(),
        mib(before),
        mib(peak_during),
        mib(after),
        mib(hwm)
    );
    assert_eq!(count, N, "every snippet once");
    assert!(total > 100 << 20, "~1 KiB each: {total} bytes");
    // Generous: a page is 500 snippets (~0.5 MiB of JSON); the whole export
    // is over 100 MiB.
    assert!(hwm < before + (48 << 20), "peak {:.1} MiB", mib(hwm));
}
