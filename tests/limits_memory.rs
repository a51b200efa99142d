//! The rate limiter's memory under a flood of distinct clients (issue 15):
//! 100,000 addresses, each taking from both budgets, then as many again
//! past the cap; RSS measured in this process (its own test binary, one
//! test, so nothing else allocates meanwhile). The numbers are in
//! docs/performance.md ("Rate limiter memory").

use std::net::IpAddr;
use std::time::Duration;

use snippetd::config::RateConfig;
use snippetd::http::ratelimit::{Budget, Limits};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

fn flood(limits: &Limits, from: u32, n: u32) {
    for i in from..from + n {
        let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        // Past the cap, the flood shares one bucket and soon runs dry.
        let read = limits.check(Budget::Reads, &limits.anonymous(Budget::Reads, ip));
        assert!(read.allowed || i >= 100_000, "{i}");
        let _ = limits.check(Budget::Writes, &limits.anonymous(Budget::Writes, ip));
    }
}

#[test]
fn a_flood_of_distinct_clients_is_bounded_and_swept() {
    let mib = |b: u64| b as f64 / 1048576.0;
    let limits = Limits::new(&RateConfig {
        reads_per_minute: 600,
        writes_per_minute: 60,
        max_keys: 100_000,
    });
    let before = rss_bytes();
    flood(&limits, 0, 100_000);
    let full = rss_bytes();
    let tracked = limits.len();
    // As many again: newcomers past the cap share one bucket.
    flood(&limits, 100_000, 100_000);
    let past_cap = rss_bytes();
    let tracked_past_cap = limits.len();
    // governor keeps a key until its state is one emission interval past
    // "fresh" (2 × 1 s for writes at 60 a minute); then the sweep drops it.
    std::thread::sleep(Duration::from_millis(2100));
    limits.sweep();
    let swept = rss_bytes();
    println!(
        "rate limiter, 100,000 distinct clients: RSS {:.1} MiB before, {:.1} MiB with them \
         (+{:.1} MiB, {tracked} tracked), {:.1} MiB after 100,000 more past the cap \
         ({tracked_past_cap} tracked), {:.1} MiB after the sweep ({} tracked)",
        mib(before),
        mib(full),
        mib(full - before),
        mib(past_cap),
        mib(swept),
        limits.len()
    );
    assert!(tracked <= 100_000 + 256, "{tracked}");
    assert!(tracked_past_cap <= 100_000 + 256, "{tracked_past_cap}");
    assert!(full - before < 64 << 20, "{} MiB", mib(full - before));
    assert!(
        past_cap.saturating_sub(full) < 8 << 20,
        "the cap holds memory too"
    );
    // The overflow bucket, drained by the second flood, may still be there.
    assert!(limits.len() <= 1, "every bucket was full again");
}

/// What one limited request adds: a check and its two headers. Prints the
/// time per request; `LIMITS_COST_N=0` vs the default under callgrind
/// gives instructions per request (docs/performance.md).
#[test]
fn the_cost_of_one_check() {
    let n: u32 = std::env::var("LIMITS_COST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let limits = Limits::new(&RateConfig {
        reads_per_minute: u32::MAX / 2,
        writes_per_minute: 60,
        max_keys: 100_000,
    });
    let owner = snippetd::http::ratelimit::Key::Owner("bench".into());
    let started = std::time::Instant::now();
    for _ in 0..n {
        let mut h = hyper::HeaderMap::new();
        limits.check(Budget::Reads, &owner).apply(&mut h);
        assert!(h.len() == 2);
    }
    let per = started.elapsed().as_nanos() as f64 / f64::from(n.max(1));
    println!("one check + headers: {per:.0} ns ({n} checks)");
}
