//! The rolling replacement: three tasks replaced one at a time under load
//! through the balancer, by this binary or (from the previous release)
//! to it.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use super::balancer::Balancer;
use super::{common, loopback, migrations, start_together, TASKS};
use common::load::{status_counts, Load};
use common::{Client, Response, Server};

/// How long a task gets no new connection before its SIGTERM.
const DEREGISTRATION_DELAY: Duration = Duration::from_millis(500);

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
/// connection, with `token`) while each task in turn is replaced as ECS
/// does it: deregistered from the balancer, then, after a deregistration
/// delay, SIGTERM with a request in flight; it drains and exits 0, and a
/// new one (`env`) starts on its port, registered before it listens (the
/// balancer skips it while it refuses). The clients see no connection
/// error and no 5xx.
pub(super) fn rolling_replacement(
    token: &str,
    env: &HashMap<String, String>,
    ports: &[u16],
    tasks: &mut [Server],
    lb: &Balancer,
) {
    let c = Client::new(lb.addr).with_token(token);
    let ids: Vec<String> = (0..TASKS)
        .map(|i| {
            let s = c.create(&json!({"title": format!("seed {i}"), "language": "l", "code": "c"}));
            s["id"].as_str().unwrap().to_string()
        })
        .collect();
    let refused_before: usize = lb.refused().iter().sum();
    let load = Load::start(
        lb.addr,
        token,
        4,
        Duration::from_secs(10),
        Duration::from_millis(5),
        ids,
    );
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    for i in 0..TASKS {
        let in_flight = SlowPost::start(tasks[i].addr, token);
        lb.register(i, false);
        // The ALB's is 10 s (docs/deploy.md); the load's requests take
        // milliseconds.
        std::thread::sleep(DEREGISTRATION_DELAY);
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
        lb.register(i, true);
        let mut env = env.clone();
        env.insert("PORT".into(), ports[i].to_string());
        tasks[i] = Server::start(&["supervise"], &env);
        // It migrated (or found nothing to apply) before serving.
        let said = tasks[i].logs.wait_for(Duration::from_secs(5), |l| {
            l.contains(super::CURRENT) || l.contains("applied ")
        });
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
}

/// A deploy from the previous release (`make previous-bin`, PREVIOUS_REV
/// in the Makefile): three of its `supervise` on a fresh database, then
/// replaced one at a time by this binary's under load; the first new one
/// applies this release's migrations while the two old tasks serve. The
/// previous release has no tokens: the new tasks run `AUTH_MODE=open`,
/// its behaviour, so that every request of the load is valid on both.
#[test]
#[ignore = "needs the previous release's binary: make multi-test (in make test-all)"]
fn the_previous_release_rolls_to_this_one_under_load() {
    let previous = std::env::var("SNIPPETD_PREVIOUS_BIN")
        .expect("SNIPPETD_PREVIOUS_BIN is not set: run `make multi-test`");
    let _turn = common::load_turn();
    let db = common::cluster().create_db();
    let mut env = db.env();
    env.insert("SHUTDOWN_GRACE_SECONDS".into(), "10".into());
    let ports: Vec<u16> = (0..TASKS).map(|_| common::free_port()).collect();
    let mut tasks = start_together(&previous, "supervise", &env, &ports);
    let lb = Balancer::start(loopback(&ports));
    env.insert("AUTH_MODE".into(), "open".into());
    rolling_replacement("snp_unused", &env, &ports, &mut tasks, &lb);
    // This release's migrations applied once, by the first new task.
    let n = migrations();
    assert_eq!(
        db.psql("SELECT count(*), count(DISTINCT version) FROM __diesel_schema_migrations"),
        format!("{n}|{n}\n")
    );
    let applied = tasks
        .iter()
        .map(|t| t.logs.text().contains("applied "))
        .collect::<Vec<_>>();
    assert_eq!(applied, [true, false, false]);
    let logs = tasks[0].logs.all();
    let line = logs.iter().find(|l| l.contains("applied ")).unwrap();
    let applied = &line[line.find("applied ").unwrap()..];
    let applied = applied.split(':').next().unwrap();
    eprintln!("the first new task applied, under load: {applied}");
    for t in tasks.iter_mut() {
        assert_eq!(t.stop(), Some(0), "{}", t.logs.text());
    }
}
