//! Issue 33, point 12: the service as several tasks on one PostgreSQL, as
//! ECS runs it behind the ALB, here three processes of the real binary
//! behind a round-robin TCP balancer on loopback ([`balancer`]):
//!
//! - three `supervise` started at once on a fresh database apply each
//!   migration once (one of them applies, two find the schema current) and
//!   all three serve;
//! - a token revoked through one task is refused by the other two within
//!   the documented 10 s (docs/api.md: the token cache's lifetime);
//! - a rolling replacement under load (stop one with SIGTERM, start a new
//!   one, three times) costs the clients no error and no 5xx, and a
//!   request in flight on the draining task is answered;
//! - the rate limits are per task and add up as documented (docs/api.md,
//!   "Rate limits"; docs/deploy.md, "Abuse controls"): up to 3× one
//!   task's allowance through the balancer.
//!
//! Ignored by `make test` (about a minute for both); `make multi-test`, in
//! `make test-all`, runs them. The replacement runs the same binary: the
//! previous release against this one is `make previous-test`'s.

use crate::common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::load::{request, status_counts, Load};
use common::{Client, Response, Server};
use serde_json::json;

mod balancer;

use balancer::Balancer;

const TASKS: usize = 3;
/// docs/api.md: a revoked token is refused "by every other [server] within
/// 10 seconds (its cache's lifetime)", `ttl` in src/auth/cache.rs.
const REVOCATION_BOUND: Duration = Duration::from_secs(10);
/// What `migrate` (and `supervise`) logs when there is nothing to apply.
const CURRENT: &str = "no migration to apply";
/// How often the other tasks are asked while they still accept it.
const POLL: Duration = Duration::from_millis(100);

/// The migrations the binary embeds: one directory each.
fn migrations() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations/")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count()
}

/// `snippetd <command>` on each of `ports`, all started at once; returns
/// when every one listens.
fn start_together(
    command: &'static str,
    env: &HashMap<String, String>,
    ports: &[u16],
) -> Vec<Server> {
    let starting: Vec<_> = ports
        .iter()
        .map(|port| {
            let mut env = env.clone();
            env.insert("PORT".into(), port.to_string());
            std::thread::spawn(move || Server::start(&[command], &env))
        })
        .collect();
    starting
        .into_iter()
        .map(|s| s.join().expect("a task started"))
        .collect()
}

fn loopback(ports: &[u16]) -> Vec<SocketAddr> {
    ports
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect()
}

#[test]
#[ignore = "three tasks behind a balancer, ~40 s: make multi-test (in make test-all)"]
fn three_tasks_migrate_once_share_revocations_and_roll_without_errors() {
    let _turn = common::load_turn();
    let db = common::cluster().create_db();
    let mut env = db.env();
    env.insert("SHUTDOWN_GRACE_SECONDS".into(), "10".into());
    let ports: Vec<u16> = (0..TASKS).map(|_| common::free_port()).collect();
    let mut tasks = start_together("supervise", &env, &ports);

    // Each migration once, applied by exactly one of the three.
    let n = migrations();
    assert_eq!(
        db.psql("SELECT count(*), count(DISTINCT version) FROM __diesel_schema_migrations"),
        format!("{n}|{n}\n")
    );
    let applied_line = format!("applied {n} migration");
    for t in &tasks {
        let said = t.logs.wait_for(Duration::from_secs(5), |l| {
            l.contains(&applied_line) || l.contains(CURRENT)
        });
        assert!(said.is_some(), "{}", t.logs.text());
    }
    let said = |what: &str| {
        tasks
            .iter()
            .filter(|t| t.logs.text().contains(what))
            .count()
    };
    let (applied, current) = (said(&applied_line), said(CURRENT));
    assert_eq!(
        (applied, current),
        (1, TASKS - 1),
        "one task applies, the others find the schema current"
    );

    // All three serve, in turn, through the balancer.
    let lb = Balancer::start(loopback(&ports));
    let anon = Client::new(lb.addr);
    for _ in 0..2 * TASKS {
        assert_eq!(anon.get("/ready").status, 200);
    }
    assert_eq!(lb.forwarded(), vec![2; TASKS]);

    let delays = revocation_reaches_the_other_tasks(&db, &tasks);
    eprintln!("revocation: refused by the other tasks {delays:?} after it was answered");
    rolling_replacement(&db, &env, &ports, &mut tasks, &lb);
}

/// Revokes a token through task 0 right after the other tasks verified
/// (and cached) it, the worst case, and polls them directly. No request
/// they accept may have been sent `REVOCATION_BOUND` or more after the
/// revocation was answered; returns when each first refused it.
fn revocation_reaches_the_other_tasks(db: &common::TestDb, tasks: &[Server]) -> Vec<Duration> {
    let token = common::mint(db, "alice", &["snippets:read", "tokens:write"]);
    let clients: Vec<Client> = tasks
        .iter()
        .map(|t| t.client().with_token(&token))
        .collect();
    let me = clients[0].get("/me");
    assert_eq!(me.status, 200, "{}", me.text());
    let id = me.json()["tokenId"].as_str().unwrap().to_string();
    for c in &clients[1..] {
        assert_eq!(c.get("/me").status, 200);
    }
    let r = clients[0].send("DELETE", &format!("/tokens/{id}"), &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    let revoked = Instant::now();
    assert_eq!(
        clients[0].get("/me").status,
        401,
        "the revoking task refuses at once"
    );
    let others = &clients[1..];
    let mut refused: Vec<Option<Duration>> = vec![None; others.len()];
    while refused.iter().any(Option::is_none) {
        for (k, c) in others.iter().enumerate() {
            if refused[k].is_some() {
                continue;
            }
            let sent = revoked.elapsed();
            match c.get("/me").status {
                200 => assert!(
                    sent < REVOCATION_BOUND,
                    "task {} accepted the token {sent:?} after it was revoked",
                    k + 1
                ),
                401 => refused[k] = Some(sent),
                s => panic!("task {}: status {s}", k + 1),
            }
        }
        std::thread::sleep(POLL);
    }
    refused.into_iter().map(Option::unwrap).collect()
}

/// A POST whose head and half its body are on the wire: in flight.
struct SlowPost {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowPost {
    fn start(addr: SocketAddr, token: &str) -> SlowPost {
        let body = json!({"title": "in flight", "language": "l", "code": "c"}).to_string();
        let head = format!(
            "POST /snippets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        let mut stream = TcpStream::connect(addr).expect("connect to the task");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(first).unwrap();
        // The head read and the handler waiting for the rest of the body.
        std::thread::sleep(Duration::from_millis(300));
        SlowPost {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and reads the answer.
    fn finish(mut self) -> std::io::Result<Response> {
        self.stream.write_all(&self.rest)?;
        common::client::read_response(&mut self.stream, false)
    }
}

/// Load through the balancer (reads, lists, writes, each on a new
/// connection); each task in turn gets SIGTERM with a request in flight,
/// drains and exits 0, and a new one starts on its port. The clients see
/// no connection error and no 5xx.
fn rolling_replacement(
    db: &common::TestDb,
    env: &HashMap<String, String>,
    ports: &[u16],
    tasks: &mut [Server],
    lb: &Balancer,
) {
    let token = common::tester(db);
    let c = Client::new(lb.addr).with_token(&token);
    let ids: Vec<String> = (0..TASKS)
        .map(|i| {
            let s = c.create(&json!({"title": format!("seed {i}"), "language": "l", "code": "c"}));
            s["id"].as_str().unwrap().to_string()
        })
        .collect();
    let refused_before: usize = lb.refused().iter().sum();
    let load = Load::start(
        lb.addr,
        &token,
        4,
        Duration::from_secs(10),
        Duration::from_millis(5),
        ids,
    );
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    for i in 0..TASKS {
        let in_flight = SlowPost::start(tasks[i].addr, &token);
        tasks[i].signal(libc::SIGTERM);
        // The task closes its listener at once and tells its connections
        // to finish after a 0.5 s settle: the body ends after that.
        std::thread::sleep(Duration::from_secs(1));
        let answer = in_flight.finish();
        assert!(
            matches!(&answer, Ok(r) if r.status == 201),
            "in flight on draining task {i}: {:?}",
            answer.map(|r| (r.status, r.text()))
        );
        assert_eq!(
            tasks[i].wait(Duration::from_secs(30)),
            Some(0),
            "task {i} drains and exits 0: {}",
            tasks[i].logs.text()
        );
        let before = lb.forwarded()[i];
        let mut env = env.clone();
        env.insert("PORT".into(), ports[i].to_string());
        tasks[i] = Server::start(&["supervise"], &env);
        let said = tasks[i]
            .logs
            .wait_for(Duration::from_secs(5), |l| l.contains(CURRENT));
        assert!(said.is_some(), "{}", tasks[i].logs.text());
        // Back in the rotation before the next one stops.
        let back = Instant::now();
        while lb.forwarded()[i] < before + 20 {
            assert!(
                back.elapsed() < Duration::from_secs(20),
                "new task {i} gets no load"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let rolled = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let samples = load.finish();
    let refused = lb.refused().iter().sum::<usize>() - refused_before;
    let errors: Vec<_> = samples.iter().filter_map(|s| s.error.as_ref()).collect();
    let server_errors: Vec<_> = samples.iter().filter(|s| s.status >= 500).collect();
    eprintln!(
        "rolling replacement: {} requests ({:?}) in {rolled:?} of replacing, {} connection \
         errors, {} 5xx; the balancer skipped {refused} refused connections, \
         forwarded {:?}, left {} unserved",
        samples.len(),
        status_counts(&samples),
        errors.len(),
        server_errors.len(),
        lb.forwarded(),
        lb.unserved()
    );
    assert!(errors.is_empty(), "connection errors: {errors:?}");
    assert!(server_errors.is_empty(), "5xx: {server_errors:?}");
    assert!(
        samples.iter().all(|s| s.ok()),
        "only 2xx: {:?}",
        status_counts(&samples)
    );
    assert_eq!(lb.unserved(), 0);
    assert!(samples.len() > 300, "the load ran: {}", samples.len());
    assert!(
        refused > 0,
        "the balancer met a stopped task and skipped it"
    );
    for t in tasks.iter_mut() {
        assert_eq!(t.stop(), Some(0), "{}", t.logs.text());
    }
}

/// What `sent` requests, one after another on new connections, got.
struct Burst {
    ok: usize,
    limited: usize,
    elapsed: Duration,
}

fn burst(addr: SocketAddr, token: &str, method: &str, path: &str, sent: usize) -> Burst {
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let started = Instant::now();
    let (mut ok, mut limited) = (0, 0);
    for n in 0..sent {
        let body = (method == "POST").then(|| common::load::snippet_body(n));
        let r = request(
            addr,
            method,
            path,
            &auth,
            body.as_deref(),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        match r.status {
            200 | 201 => ok += 1,
            429 => {
                assert!(r.header("retry-after").is_some(), "{r:?}");
                limited += 1;
            }
            s => panic!("{method} {path}: {s} {}", r.text()),
        }
    }
    Burst {
        ok,
        limited,
        elapsed: started.elapsed(),
    }
}

/// docs/api.md: each budget is a bucket of its per-minute limit, also the
/// burst, refilled at limit/60 a second; docs/deploy.md: with N tasks a
/// client may get up to N× that. One owner against one task gets one
/// task's allowance; another owner through the balancer gets three of them.
#[test]
#[ignore = "three tasks behind a balancer, ~10 s: make multi-test (in make test-all)"]
fn per_task_rate_limits_add_up_behind_the_balancer() {
    let _turn = common::load_turn();
    const READS: usize = 30;
    const WRITES: usize = 6;
    let (db, env) = common::migrated_db(&[
        ("RATE_LIMIT_READS_PER_MINUTE", "30"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "6"),
    ]);
    let ports: Vec<u16> = (0..TASKS).map(|_| common::free_port()).collect();
    let mut tasks = start_together("serve", &env, &ports);
    let lb = Balancer::start(loopback(&ports));
    let scopes = ["snippets:read", "snippets:write"];
    for (budget, limit, method, path) in [
        ("reads", READS, "GET", "/me"),
        ("writes", WRITES, "POST", "/snippets"),
    ] {
        // Twice what the three tasks allow together.
        let sent = 2 * TASKS * limit;
        let one_token = common::mint(&db, &format!("one-{budget}"), &scopes);
        let one = burst(tasks[0].addr, &one_token, method, path, sent);
        let all_token = common::mint(&db, &format!("all-{budget}"), &scopes);
        let all = burst(lb.addr, &all_token, method, path, sent);
        // A task's allowance over `t`: the burst, and what refilled.
        let allowance =
            |t: Duration| limit + (limit as f64 * t.as_secs_f64() / 60.0).ceil() as usize;
        eprintln!(
            "{budget}, {limit} a minute per task, {sent} sent: one task {} accepted \
             ({} limited, {:?}), through the balancer {} ({} limited, {:?}): {:.2}×",
            one.ok,
            one.limited,
            one.elapsed,
            all.ok,
            all.limited,
            all.elapsed,
            all.ok as f64 / one.ok as f64
        );
        assert!(
            (limit..=allowance(one.elapsed)).contains(&one.ok),
            "{budget}: one task accepted {} of {sent}",
            one.ok
        );
        assert!(
            (TASKS * limit..=TASKS * allowance(all.elapsed)).contains(&all.ok),
            "{budget}: three tasks accepted {} of {sent}",
            all.ok
        );
    }
    for t in tasks.iter_mut() {
        assert_eq!(t.stop(), Some(0), "{}", t.logs.text());
    }
}
