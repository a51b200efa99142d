//! Issue 32: nothing is exported that nothing updates. One server is
//! driven through every event a metric counts (requests, a rejected head,
//! a 429, each auth failure, searches refused, queued, rejected and timed
//! out, pool waits and timeouts, broken and refused connections); it must
//! export exactly `snippetd::metrics::ALL`, and each one must move.

use std::collections::{BTreeMap, BTreeSet};
use std::thread::{spawn, JoinHandle};

use super::*;

/// Each metric's highest value seen in any of `scrapes` (a histogram's by
/// its `_count`), keyed by its name.
fn highest(scrapes: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for s in scrapes {
        for (key, v) in s {
            let name = key.split('{').next().unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|b| snippetd::metrics::ALL.contains(b))
                })
                .unwrap_or(name);
            if base != name && !name.ends_with("_count") {
                out.entry(base.to_string()).or_insert(0.0);
                continue;
            }
            let e = out.entry(base.to_string()).or_insert(0.0);
            *e = e.max(*v);
        }
    }
    out
}

/// Waits until `cond` holds, for up to 10 s.
fn until(what: &str, cond: impl FnMut() -> bool) {
    assert!(wait_until(Duration::from_secs(10), cond), "never: {what}");
}

fn status(c: &Client, path: &str) -> JoinHandle<u16> {
    let (c, path) = (c.clone(), path.to_string());
    spawn(move || c.get(&path).status)
}

#[test]
fn every_exported_metric_moves() {
    // Three connections, one search at a time and one per client; a search
    // outlives a pool checkout's wait, so that a queued search is rejected
    // while the running one still waits for the lock.
    let (app, maddr) = with_metrics(&[
        ("DB_POOL_SIZE", "3"),
        ("DB_POOL_TIMEOUT_MS", "1500"),
        ("SEARCH_CONCURRENCY", "1"),
        ("SEARCH_PER_CLIENT", "1"),
        ("SEARCH_TIMEOUT_MS", "2500"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "12"),
    ]);
    let (tester, anon) = (app.client(), app.anon());
    let mut scrapes = vec![scrape(maddr)];

    // Writes and reads: a create, a lookup; then writes up to a 429.
    let body = serde_json::json!({"title": "t", "language": "c", "code": "x"});
    let id = tester.create(&body)["id"].as_str().unwrap().to_string();
    assert_eq!(tester.get(&format!("/snippets/{id}")).status, 200);
    // Each authentication and authorization failure (before the write
    // budget runs out: a 403 spends it too).
    anon.json("POST", "/snippets", &body).problem(401);
    anon.with_token("snp_000000000000000000000000000000000000aaaaaa")
        .get("/snippets")
        .problem(401);
    let reader = anon.with_token(&mint(&app.db, "reader", &["snippets:read"]));
    reader.json("POST", "/snippets", &body).problem(403);
    let other = anon.with_token(&mint(
        &app.db,
        "other",
        &["snippets:read", "snippets:write"],
    ));
    let patch = serde_json::json!({"title": "x"});
    other
        .json("PATCH", &format!("/snippets/{id}"), &patch)
        .problem(403);
    let mut limited = false;
    for _ in 0..20 {
        if tester.json("POST", "/snippets", &body).status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "no write was limited");
    // A head hyper refuses before routing.
    assert_eq!(
        anon.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
            .unwrap()
            .status,
        400
    );

    // The table locked: a lookup, a list and a search each hold one of the
    // three connections, waiting.
    let lock = app.db.hold_snippets();
    let held = [
        status(&tester, &format!("/snippets/{id}")),
        status(&anon, "/snippets?limit=1"),
    ];
    let search = status(&tester, "/snippets?q=anything");
    until("three queries wait for the lock", || {
        app.db.lock_waiters() == 3
    });
    // The same client's second search: 429 at once. Another client's:
    // queued for the one search slot, then 503 after DB_POOL_TIMEOUT_MS.
    tester.get("/snippets?q=else").problem(429);
    let queued = status(&anon, "/snippets?q=else");
    // A list: no connection within DB_POOL_TIMEOUT_MS, 503.
    let starved = status(&anon, "/snippets?limit=2");
    until("a checkout waits", || {
        let s = scrape(maddr);
        let waiting = value(&s, "snippetd_db_pool_waiting") >= 1.0;
        scrapes.push(s);
        waiting
    });
    assert_eq!(queued.join().unwrap(), 503, "the queued search");
    assert_eq!(starved.join().unwrap(), 503, "the starved checkout");
    // The running search: stopped by SEARCH_TIMEOUT_MS, 503.
    assert_eq!(search.join().unwrap(), 503, "the search past its timeout");

    // A checkout that waits, then gets a connection: the search's
    // connection taken again by a list, one more list waiting, the lock
    // released.
    let again = status(&anon, "/snippets?limit=3");
    until("three queries wait again", || app.db.lock_waiters() == 3);
    let waiter = status(&anon, "/snippets?limit=4");
    until("a checkout waits again", || {
        value(&scrape(maddr), "snippetd_db_pool_waiting") >= 1.0
    });
    lock.release();
    for h in held.into_iter().chain([again, waiter]) {
        assert_eq!(h.join().unwrap(), 200);
    }

    // Connections broken under the pool (their backends ended), and none
    // allowed in their place: each kind of connection error.
    let db = &app.db.name;
    app.db.cluster.psql(
        "postgres",
        &format!(
            "ALTER DATABASE \"{db}\" CONNECTION LIMIT 0; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid();"
        ),
    );
    until("the pool's connections are found broken", || {
        anon.get("/snippets?limit=1").status == 503
    });
    app.db.cluster.psql(
        "postgres",
        &format!("ALTER DATABASE \"{db}\" CONNECTION LIMIT -1"),
    );
    until("the pool connects again", || {
        anon.get("/snippets?limit=1").status == 200
    });
    scrapes.push(scrape(maddr));

    let seen = highest(&scrapes);
    let exported: BTreeSet<&str> = seen.keys().map(String::as_str).collect();
    let declared: BTreeSet<&str> = snippetd::metrics::ALL.into_iter().collect();
    assert_eq!(exported, declared, "exported metrics vs metrics::ALL");
    let still: Vec<_> = seen.iter().filter(|(_, v)| **v <= 0.0).collect();
    assert!(still.is_empty(), "metrics that never moved: {still:?}");
    let last = scrapes.last().unwrap();
    for reason in snippetd::metrics::AUTH_FAILURE_REASONS {
        let key = format!("snippetd_auth_failures_total{{reason=\"{reason}\"}}");
        assert!(value(last, &key) >= 1.0, "{key}");
    }
    for kind in ["connect", "broken"] {
        let key = format!("snippetd_db_connection_errors_total{{kind=\"{kind}\"}}");
        assert!(value(last, &key) >= 1.0, "{key}");
    }
}
