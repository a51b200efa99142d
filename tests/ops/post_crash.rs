//! Issue 17, goal 1: durable commits. PostgreSQL is killed (immediate
//! shutdown: a crash, recovered from the WAL on restart) while POSTs run;
//! afterwards every id that got a 201 exists, and the quota counters
//! (`owner_usage`, kept by a trigger in the insert's transaction) agree
//! with the rows.
//!
//! It kills its own cluster, never the shared `common::cluster()`.

use crate::common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::load::{crash_under_load, request};
use common::{Cluster, Server};
use serde_json::{json, Value};

#[test]
fn killing_postgres_mid_load_loses_no_acknowledged_post() {
    let _load = common::load_turn();
    let cluster: &'static Cluster = Box::leak(Box::new(Cluster::start(None)));
    let db = cluster.create_db();
    let mut env = db.env();
    env.insert("DB_POOL_SIZE".into(), "4".into());
    // The harness' clusters commit asynchronously; this database commits
    // as production does, so an acknowledged insert must survive the kill.
    db.psql(&format!(
        "ALTER DATABASE {} SET synchronous_commit = on",
        db.name
    ));
    let (code, _, err) = common::run(&["migrate"], &env);
    assert_eq!(code, 0, "migrate failed: {err}");
    // The tester is an ordinary owner: every POST takes the quota path.
    let mut server = Server::start(&["serve"], &env).with_token(common::tester(&db));

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let bearer = format!("Bearer {}", server.token.as_deref().unwrap());
    let started = Instant::now();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (stop, acked, failed, bearer) =
                (stop.clone(), acked.clone(), failed.clone(), bearer.clone());
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"title": format!("w{t} n{n}"), "language": "c", "code": format!("int x = {n};")})
                        .to_string();
                    let auth = [("Authorization", bearer.as_str())];
                    let r = request(addr, "POST", "/snippets", &auth, Some(body.as_bytes()), Duration::from_secs(5));
                    match r {
                        Ok(r) if r.status == 201 => {
                            let v: Value = serde_json::from_slice(&r.body).unwrap();
                            acked.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                        }
                        Ok(r) => *failed.lock().unwrap().entry(r.status).or_default() += 1,
                        Err(_) => *failed.lock().unwrap().entry(0).or_default() += 1,
                    }
                    n += 1;
                }
            })
        })
        .collect();

    let acked = crash_under_load(cluster, "POSTs", &acked, &failed, &stop, writers, started);

    let stored: HashSet<String> = db
        .psql("SELECT id FROM snippets")
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged POSTs lost: {lost:?}");
    let counted = db.psql(
        "SELECT (SELECT count(*) FROM snippets WHERE owner = 'tester') \
              = (SELECT coalesce(sum(snippets), 0) FROM owner_usage WHERE owner = 'tester')",
    );
    assert_eq!(counted.trim(), "t", "owner_usage disagrees with the rows");
    assert_eq!(server.stop(), Some(0));
}
