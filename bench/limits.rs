//! The rate limiter measured alone (issue 15), outside the test suite:
//!
//! 1. memory: 100,000 distinct client addresses, each taking from both
//!    budgets, then as many again past the cap, then the sweep; the RSS of
//!    this process at each step (a process of its own, so nothing else
//!    allocates meanwhile: the bounds themselves are asserted by
//!    tests/api/limits_memory.rs through `Limits::len`);
//! 2. the cost of one limited request: a check and its two headers,
//!    `LIMITS_COST_N` times (default 200,000), printed as ns per check.
//!    Under callgrind, `LIMITS_COST_N=100000` minus `LIMITS_COST_N=0` gives
//!    instructions per check (docs/testing.md, "Benchmarks").
//!
//! Run: `make bench-limits` (`cargo bench --bench limits`, release
//! profile). `LIMITS_PART=memory` or `cost` runs one part.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use snippetd::config::RateConfig;
use snippetd::http::ratelimit::{Budget, Key, Limits};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
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
        let _ = limits.check(Budget::Reads, &limits.anonymous(Budget::Reads, ip));
        let _ = limits.check(Budget::Writes, &limits.anonymous(Budget::Writes, ip));
    }
}

fn memory() {
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
         (+{:.1} MiB, {tracked_past_cap} tracked), {:.1} MiB after the sweep ({} tracked)",
        mib(before),
        mib(full),
        mib(full.saturating_sub(before)),
        mib(past_cap),
        mib(past_cap.saturating_sub(full)),
        mib(swept),
        limits.len()
    );
}

fn cost() {
    let n: u32 = std::env::var("LIMITS_COST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let limits = Limits::new(&RateConfig {
        reads_per_minute: u32::MAX / 2,
        writes_per_minute: 60,
        max_keys: 100_000,
    });
    let owner = Key::Owner("bench".into());
    let started = Instant::now();
    for _ in 0..n {
        let mut h = hyper::HeaderMap::new();
        limits.check(Budget::Reads, &owner).apply(&mut h);
        assert_eq!(h.len(), 2);
    }
    let per = started.elapsed().as_nanos() as f64 / f64::from(n.max(1));
    println!("one check + headers: {per:.0} ns ({n} checks)");
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes no arguments.
    match std::env::var("LIMITS_PART").as_deref() {
        Ok("memory") => memory(),
        Ok("cost") => cost(),
        _ => {
            memory();
            cost();
        }
    }
}
