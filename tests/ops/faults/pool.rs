//! The pool running dry: fast 503s, cancelled lookups, slow searches.

use super::*;

/// Issue item 2. More concurrent requests than pooled connections: the
/// extra ones wait at most DB_POOL_TIMEOUT_MS and get 503 + Retry-After; the
/// ones stuck in the database are cut by the statement timeout (503 too);
/// /health stays instant; nothing hangs; afterwards all is well again.
#[test]
fn pool_exhaustion_fails_fast_with_503() {
    let (db, env) = migrated_db(
        common::cluster(),
        &[
            ("DB_POOL_SIZE", "2"),
            ("DB_POOL_TIMEOUT_MS", "300"),
            ("DB_STATEMENT_TIMEOUT_MS", "2500"),
        ],
    );
    let server = Server::start(&["serve"], &env).with_token(common::tester(&db));
    let c = server.client();
    // The pool opens its connections lazily, and with a 300 ms checkout
    // timeout the first one (SCRAM, debug build, busy machine) may not make
    // it in time: retry until the pool is warm.
    let body = json!({"title": "t", "language": "c", "code": "x"});
    let deadline = Instant::now() + Duration::from_secs(15);
    let id = loop {
        let r = c.json("POST", "/snippets", &body);
        if r.status == 201 {
            break r.json()["id"].as_str().unwrap().to_string();
        }
        assert!(
            r.status == 503 && Instant::now() < deadline,
            "warming the pool: {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    // A transaction holds the table locked for 6 s: every query on it waits.
    let locker = db.lock_snippets(6);

    let timeout = Duration::from_secs(6);
    let started = Instant::now();
    let workers: Vec<_> = (0..10)
        .map(|i| {
            let addr = server.addr;
            let path = if i % 2 == 0 {
                format!("/snippets/{id}")
            } else {
                "/snippets".to_string()
            };
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let r = request(addr, "GET", &path, &[], None, timeout);
                (path, r, t0.elapsed())
            })
        })
        .collect();
    // While the pool is dry, liveness needs no connection.
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    let h = short(timeout)(&server, "/health").expect("/health while the pool is exhausted");
    assert_eq!(h.status, 200);
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "/health took {:?}",
        t0.elapsed()
    );

    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let total = started.elapsed();
    let mut latencies: Vec<Duration> = Vec::new();
    for (path, r, took) in &results {
        let r = r
            .as_ref()
            .unwrap_or_else(|e| panic!("GET {path} failed after {took:?}: {e}"));
        let p = r.problem(503);
        assert!(r.header("retry-after").is_some(), "503 without Retry-After");
        assert!(
            leaks(&r.text()).is_empty(),
            "503 leaks {:?}: {p}",
            leaks(&r.text())
        );
        latencies.push(*took);
    }
    latencies.sort();
    eprintln!("pool exhaustion: 10 requests, all 503, latencies {latencies:?}, total {total:?}");
    // At most 2 connections are held, until the 2.5 s statement timeout
    // cuts their query: a list each, or one query shared by the id lookups
    // queued with it (lookups are coalesced). Every other request gives up
    // after the 300 ms checkout timeout.
    let slow = |lookups: bool| {
        results
            .iter()
            .filter(|(path, _, took)| {
                (path != "/snippets") == lookups && *took >= Duration::from_millis(1500)
            })
            .count()
    };
    let held = slow(false) + slow(true).min(1);
    assert!(
        held <= 2,
        "{} lists and {} lookups waited past the checkout timeout: {latencies:?}",
        slow(false),
        slow(true)
    );
    assert!(
        latencies.iter().all(|l| *l < Duration::from_millis(4500)),
        "a request waited past the statement timeout: {latencies:?}"
    );

    let _ = locker.join();
    // The lock is gone: requests succeed again through the same pool.
    for _ in 0..4 {
        assert_eq!(c.get(&format!("/snippets/{id}")).status, 200);
        assert_eq!(c.get("/snippets").status, 200);
    }
}

/// Coalesced lookups (src/snippets/lookups.rs) cancelled by the request
/// timeout, while one leads a query stuck on a lock and the others wait in
/// its queue, give their places back: once the lock is gone lookups are
/// served again. With a pool of one there is one place, so a leaked place
/// would leave every later lookup waiting until its timeout.
#[test]
fn cancelled_lookups_give_their_place_back() {
    let (db, env) = migrated_db(
        common::cluster(),
        &[
            ("DB_POOL_SIZE", "1"),
            ("DB_POOL_TIMEOUT_MS", "10000"),
            ("REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    );
    let server = Server::start(&["serve"], &env).with_token(common::tester(&db));
    let c = server.client();
    let body = json!({"title": "t", "language": "c", "code": "x"});
    let id = c.create(&body)["id"].as_str().unwrap().to_string();
    assert_eq!(c.get(&format!("/snippets/{id}")).status, 200);

    let locker = db.lock_snippets(4);
    let started = Instant::now();
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (addr, path) = (server.addr, format!("/snippets/{id}"));
            std::thread::spawn(move || {
                request(addr, "GET", &path, &[], None, Duration::from_secs(10))
            })
        })
        .collect();
    for w in waiting {
        let r = w.join().unwrap().expect("an answer within 10 s");
        assert_eq!(r.status, 503, "{}", r.text());
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the request timeout (2 s) did not cut the lookups: {:?}",
        started.elapsed()
    );
    let _ = locker.join();
    for _ in 0..5 {
        let t0 = Instant::now();
        let r = request(
            server.addr,
            "GET",
            &format!("/snippets/{id}"),
            &[],
            None,
            Duration::from_secs(10),
        )
        .expect("a lookup after the lock");
        assert_eq!(r.status, 200, "after {:?}: {}", t0.elapsed(), r.text());
    }
}

/// Slow searches queue in their own budget (SEARCH_CONCURRENCY) and never
/// take the connections id lookups and writes need: with 8 searches of
/// about a second each in flight on a pool of 4, lookups and creates still
/// answer at once, and the searches that found no slot within
/// DB_POOL_TIMEOUT_MS get 503 with Retry-After. Without the budget the
/// searches held all 4 connections and the lookups got 503 after 500 ms.
#[test]
fn slow_searches_do_not_starve_lookups_and_writes() {
    // Its answers are timed in milliseconds: not beside a load generator.
    let _load = common::load_turn();
    // In-process: it would count into metrics::prometheus's recorder.
    let _turn = common::metrics_recorder_turn();
    let app = common::InProcApp::with_env(&[
        ("DB_POOL_SIZE", "4"),
        ("SEARCH_CONCURRENCY", "2"),
        ("DB_POOL_TIMEOUT_MS", "500"),
        // Each of these searches is its own client (below), and its
        // statements may take their 0.4 s twice.
        ("SEARCH_TIMEOUT_MS", "5000"),
    ]);
    // Test-only: a text search sleeps 0.4 s in the database per statement.
    // The app's sessions find public.websearch_to_tsquery before
    // pg_catalog's; lookups and writes never call it. Before the first
    // request, so every pooled connection has the setting.
    app.db.psql(&format!(
        "CREATE FUNCTION public.websearch_to_tsquery(regconfig, text) RETURNS tsquery \
         LANGUAGE sql VOLATILE AS \
         'SELECT pg_catalog.websearch_to_tsquery($1, $2) FROM pg_sleep(0.4)'; \
         ALTER DATABASE {} SET search_path = public, pg_catalog",
        app.db.name
    ));
    let client = app.client();
    let id = client.create(&json!({"title": "t", "language": "rust", "code": "fn main() {}"}))
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let searches: Vec<_> = (0..8)
        .map(|i| {
            let peer = format!("198.51.100.{}:1000", i + 1).parse().unwrap();
            let c = app.anon().with_peer(peer);
            std::thread::spawn(move || c.get("/snippets?q=main"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(client.get(&format!("/snippets/{id}")).status, 200);
        let created = client.create_status(&json!({"title": "t", "language": "go", "code": "x"}));
        assert_eq!(created, 201);
        // One language alone is a btree walk in page order: no search slot.
        assert_eq!(client.get("/snippets?language=rust").status, 200);
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
    }
    let answers: Vec<_> = searches.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = answers.iter().filter(|r| r.status == 503).collect();
    assert!(ok >= 2, "two searches run at once: {ok} succeeded");
    assert_eq!(ok + busy.len(), 8, "only 200 or 503");
    assert!(
        !busy.is_empty(),
        "8 searches of ~0.8 s cannot all fit 2 slots in 0.5 s"
    );
    for r in busy {
        assert!(r.header("retry-after").is_some());
        assert_eq!(
            r.problem(503)["type"],
            "tag:snippetd,2026:problem:service-unavailable"
        );
    }
}
