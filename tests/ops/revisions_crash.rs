//! Issue 16, item 1: no update without its revision. PostgreSQL is killed
//! (immediate shutdown: a crash, recovered from the WAL on restart) while
//! PUTs and PATCHes run; afterwards every snippet has exactly one kept
//! revision per earlier version, and every acknowledged write is there.
//!
//! It kills its own cluster, never the shared `common::cluster()`.

use crate::common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::load::{crash_under_load, request};
use common::{Cluster, Server};
use serde_json::json;

#[test]
fn killing_postgres_mid_load_leaves_no_update_without_its_revision() {
    let _load = common::load_turn();
    let cluster: &'static Cluster = Box::leak(Box::new(Cluster::start(None)));
    let db = cluster.create_db();
    let mut env = db.env();
    env.insert("DB_POOL_SIZE".into(), "4".into());
    // Every version kept, so that a gap can only be a lost revision: at
    // ~200 writes a second, 8 snippets pass the default cap of 100.
    env.insert("REVISIONS_KEPT".into(), "10000".into());
    // The harness' clusters commit asynchronously (fast, and fine until a
    // crash); this database commits as production does, so that an
    // acknowledged write must survive the kill.
    db.psql(&format!(
        "ALTER DATABASE {} SET synchronous_commit = on",
        db.name
    ));
    let (code, _, err) = common::run(&["migrate"], &env);
    assert_eq!(code, 0, "migrate failed: {err}");
    let mut server = Server::start(&["serve"], &env).with_token(common::tester(&db));
    let c = server.client();
    let ids: Vec<String> = (0..8)
        .map(|i| {
            c.create(&json!({"title": format!("s{i} v1"), "language": "c", "code": "int x;"}))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    // Writers: PUT and PATCH in turn on every snippet; each acknowledged
    // write is remembered as (id, version from its ETag, title it wrote).
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(String, i64, String)>::new()));
    let failed = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let bearer = format!("Bearer {}", server.token.as_deref().unwrap());
    let started = Instant::now();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (stop, acked, failed, ids, bearer) = (
                stop.clone(),
                acked.clone(),
                failed.clone(),
                ids.clone(),
                bearer.clone(),
            );
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    let id = &ids[n % ids.len()];
                    let title = format!("w{t} n{n}");
                    let (method, body) = if n % 2 == 0 {
                        ("PUT", json!({"title": title, "language": "c", "code": format!("int x = {n};")}))
                    } else {
                        ("PATCH", json!({"title": title}))
                    };
                    let path = format!("/snippets/{id}");
                    let body = body.to_string();
                    let auth = [("Authorization", bearer.as_str())];
                    let r = request(addr, method, &path, &auth, Some(body.as_bytes()), Duration::from_secs(5));
                    match r {
                        Ok(r) if r.status == 200 => {
                            let v = r.header("etag").unwrap().trim_matches('"').parse().unwrap();
                            acked.lock().unwrap().push((id.clone(), v, title));
                        }
                        Ok(r) => *failed.lock().unwrap().entry(r.status).or_default() += 1,
                        Err(_) => *failed.lock().unwrap().entry(0).or_default() += 1,
                    }
                    n += 4;
                }
            })
        })
        .collect();

    let acked = crash_under_load(cluster, "writes", &acked, &failed, &stop, writers, started);

    // Every snippet: versions 1..version-1 are its revisions, each once.
    let mismatched = db.psql(
        "SELECT s.id, s.version, count(r.version), min(r.version), max(r.version) \
           FROM snippets s LEFT JOIN snippet_revisions r ON r.snippet_id = s.id \
          GROUP BY s.id, s.version \
         HAVING count(r.version) <> s.version - 1 \
             OR coalesce(min(r.version), 1) <> 1 \
             OR coalesce(max(r.version), 0) <> s.version - 1",
    );
    assert_eq!(mismatched.trim(), "", "snippets whose history has gaps");
    let total = db.psql("SELECT sum(version) FROM snippets");
    eprintln!("versions written in all: {}", total.trim());

    // Every acknowledged write is the current version or a kept revision,
    // with the title it wrote.
    let stored: HashSet<String> = db
        .psql(
            "SELECT id || ' ' || version || ' ' || title FROM snippets \
             UNION ALL \
             SELECT snippet_id || ' ' || version || ' ' || title FROM snippet_revisions",
        )
        .lines()
        .map(str::to_string)
        .collect();
    for (id, v, title) in &acked {
        assert!(
            stored.contains(&format!("{id} {v} {title}")),
            "acknowledged write lost: {id} version {v} {title:?}"
        );
    }
    assert_eq!(server.stop(), Some(0));
}
