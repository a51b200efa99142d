//! Memory of the bulk routes, measured on a real `snippetd serve` process
//! as its peak RSS (VmHWM) before and after: an export of 100,000
//! snippets of ~1 KiB read by a client that discards them (issue 16), and
//! imports built to amplify memory (issue 30, finding 1). The numbers are
//! in docs/performance.md.

use crate::common;

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
    let _load = common::load_turn();
    const N: usize = 100_000;
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let app = TestApp::new();
    // Four sessions of 25,000 rows each: PostgreSQL spends ~0.19 ms of CPU
    // per row here (the generated tsvector, nine indexes), so one session
    // took 19 s and four take 10 s on 2 cores. The usage trigger is
    // statement-level (migration 2026-12-03-000002): one upsert each.
    std::thread::scope(|s| {
        for part in 0..4 {
            let db = &app.db;
            s.spawn(move || {
                db.psql(&format!(
                    "INSERT INTO snippets (id, title, language, code, owner, tags, created_at) \
                     SELECT gen_random_uuid(), 'snippet ' || i, 'rust', repeat('let x = ' || i || ';\n', 64), \
                            'tester', ARRAY['bulk'], now() - i * interval '1 millisecond' \
                     FROM generate_series({} + 1, {}) i",
                    part * N / 4,
                    (part + 1) * N / 4
                ))
            });
        }
    });
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

/// Issue 30, finding 1: 4 MiB of `1\n` (2,097,152 bad lines) once grew the
/// server by ~800 MiB and answered a 188 MB report. Now: tiny bad lines,
/// big good lines and one line over the 8 MiB line limit, each within the
/// documented 64 MiB of growth per request, each report under 1 MiB.
#[test]
fn imports_cannot_amplify_memory() {
    let mib = |b: u64| b as f64 / 1_048_576.0;
    let app = TestApp::with_env(&[("REQUEST_TIMEOUT_SECONDS", "120")]);
    let pid = app.server.child.id();
    let post = |body: &[u8]| {
        let started = Instant::now();
        let r = app.client().send(
            "POST",
            "/snippets/import",
            &[("Content-Type", "application/x-ndjson")],
            Some(body),
        );
        assert_eq!(r.status, 200, "{}", &r.text()[..r.text().len().min(500)]);
        (r, started.elapsed())
    };
    // Warm: the validator, the statements, the allocator's first arenas.
    post(b"{\"title\":\"warm\",\"language\":\"l\",\"code\":\"c\"}\n1\n");
    let (_, before) = rss(pid);
    let mut peaks = Vec::new();

    let tiny = "1\n".repeat(2_097_152);
    let (r, took) = post(tiny.as_bytes());
    let report = r.json();
    assert_eq!(report["failed"], 2_097_152);
    assert_eq!(report["lines"].as_array().unwrap().len(), 1_000);
    peaks.push(("4 MiB of 1\\n", r.body.len(), took, rss(pid).1));

    // 16 MiB of 160 snippets of 100,000 characters of code each.
    let code = "x".repeat(100_000);
    let big: String = (0..160)
        .map(|i| format!("{{\"title\":\"big {i}\",\"language\":\"l\",\"code\":\"{code}\"}}\n"))
        .collect();
    let (r, took) = post(big.as_bytes());
    assert_eq!(r.json()["imported"], 160);
    peaks.push(("16 MiB of 100 KB lines", r.body.len(), took, rss(pid).1));

    let long = format!("{{\"code\":\"{}\"}}\n1\n", "x".repeat(12 << 20));
    let (r, took) = post(long.as_bytes());
    assert_eq!(r.json()["lines"][0]["status"], 413);
    peaks.push(("one 12 MiB line", r.body.len(), took, rss(pid).1));

    for (what, size, took, hwm) in &peaks {
        println!(
            "import of {what}: {:.2} s, report {size} bytes; server peak RSS {:.1} MiB \
             (+{:.1} MiB over {:.1} MiB before)",
            took.as_secs_f64(),
            mib(*hwm),
            mib(hwm.saturating_sub(before)),
            mib(before)
        );
        assert!(*size < 1 << 20, "{what}: report of {size} bytes");
        assert!(
            *hwm < before + (64 << 20),
            "{what}: peak {:.1} MiB, before {:.1} MiB",
            mib(*hwm),
            mib(before)
        );
    }
}
