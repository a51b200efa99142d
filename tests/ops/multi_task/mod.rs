//! Issue 33, point 12: the service as several tasks on one PostgreSQL, as
//! ECS runs it behind the ALB, here three processes of the real binary
//! behind a round-robin TCP balancer on loopback ([`balancer`]):
//!
//! - three `supervise` started at once on a fresh database apply each
//!   migration once (one of them applies, two find the schema current) and
//!   all three serve;
//! - a token revoked through one task is refused by the other two within
//!   the documented 10 s (docs/api.md: the token cache's lifetime);
//! - a rolling replacement under load (deregister one, SIGTERM, start a
//!   new one, three times) costs the clients no error and no 5xx, and a
//!   request in flight on the draining task is answered ([`rolling`]):
//!   this binary by itself, and the previous release by this one, whose
//!   first task applies the new migrations while the old two serve;
//! - the rate limits are per task and add up as documented (docs/api.md,
//!   "Rate limits"; docs/deploy.md, "Abuse controls"): up to 3× one
//!   task's allowance through the balancer.
//!
//! Ignored by `make test` (about 45 s for the three); `make multi-test`,
//! in `make test-all`, runs them, with `SNIPPETD_PREVIOUS_BIN` (`make
//! previous-bin`) for the deploy from the previous release.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::load::request;
use common::{Client, Server};

mod balancer;
mod rolling;

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
    bin: &str,
    command: &'static str,
    env: &HashMap<String, String>,
    ports: &[u16],
) -> Vec<Server> {
    let starting: Vec<_> = ports
        .iter()
        .map(|port| {
            let mut env = env.clone();
            env.insert("PORT".into(), port.to_string());
            let bin = bin.to_string();
            std::thread::spawn(move || Server::start_binary(&bin, &[], &[command], &env))
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
    let mut tasks = start_together(common::BIN, "supervise", &env, &ports);

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
    rolling::rolling_replacement(&common::tester(&db), &env, &ports, &mut tasks, &lb);
    for t in tasks.iter_mut() {
        assert!(t.logs.text().contains(CURRENT), "{}", t.logs.text());
        assert_eq!(t.stop(), Some(0), "{}", t.logs.text());
    }
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
    let mut tasks = start_together(common::BIN, "serve", &env, &ports);
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
