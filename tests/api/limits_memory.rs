//! The rate limiter's memory under a flood of distinct clients (issue 15):
//! 100,000 addresses, each taking from both budgets, then as many again
//! past the cap, then the sweep. Bounded by what the limiter tracks
//! (`Limits::len`), not by this process's RSS: the process is shared with
//! every other test of the binary. The RSS of the same flood, and the cost
//! of one check, are measured by bench/limits.rs (`make bench-limits`).

use std::net::IpAddr;
use std::time::Duration;

use snippetd::config::RateConfig;
use snippetd::http::ratelimit::{Budget, Limits};

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
    let limits = Limits::new(&RateConfig {
        reads_per_minute: 600,
        writes_per_minute: 60,
        max_keys: 100_000,
    });
    flood(&limits, 0, 100_000);
    let tracked = limits.len();
    assert!(tracked >= 100_000, "every client is tracked: {tracked}");
    assert!(tracked <= 100_000 + 256, "{tracked}");
    // As many again: newcomers past the cap share one bucket.
    flood(&limits, 100_000, 100_000);
    let tracked_past_cap = limits.len();
    assert!(tracked_past_cap <= 100_000 + 256, "{tracked_past_cap}");
    // governor keeps a key until its state is one emission interval past
    // "fresh" (2 × 1 s for writes at 60 a minute); then the sweep drops it.
    std::thread::sleep(Duration::from_millis(2100));
    limits.sweep();
    // The overflow bucket, drained by the second flood, may still be there.
    assert!(limits.len() <= 1, "every bucket was full again");
}
