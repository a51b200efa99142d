//! Conditional requests, prepared updates, concurrent writers and the
//! coalesced lookups, merge-patch.

use super::*;

#[test]
fn etags_and_conditional_requests() {
    let app = InProcApp::new();
    let c = app.client();
    let r = c.json("POST", "/snippets", &snippet("t", "c", "int main;", &[]));
    let etag = r.header("etag").unwrap().to_string();
    let id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/snippets/{id}");

    let r = c.get(&path);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = c.send("GET", &path, &[("If-None-Match", &etag)], None);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let list = format!("\"nope\", {etag}");
    let r = c.send("GET", &path, &[("If-None-Match", &list)], None);
    assert_eq!(r.status, 304);
    let r = c.send("GET", &path, &[("If-None-Match", "*")], None);
    assert_eq!(r.status, 304);
    let r = c.send("GET", &path, &[("If-None-Match", "\"999\"")], None);
    assert_eq!(r.status, 200);

    let body = snippet("t2", "c", "int main;", &[]).to_string();
    let put = |if_match: &str| {
        c.send(
            "PUT",
            &path,
            &[("Content-Type", "application/json"), ("If-Match", if_match)],
            Some(body.as_bytes()),
        )
    };
    put("\"999\"").problem(412);
    put("W/\"1\"").problem(412);
    let r = put(&etag);
    assert_eq!(r.status, 200, "{}", r.text());
    let new_etag = r.header("etag").unwrap().to_string();
    assert_ne!(new_etag, etag);
    put(&etag).problem(412);
    assert_eq!(put("*").status, 200);

    let patch = |if_match: &str| {
        c.send(
            "PATCH",
            &path,
            &[
                ("Content-Type", "application/merge-patch+json"),
                ("If-Match", if_match),
            ],
            Some(b"{\"title\":\"p\"}"),
        )
    };
    patch(&new_etag).problem(412);
    let current = c.get(&path).header("etag").unwrap().to_string();
    assert_eq!(patch(&current).status, 200);

    c.send("DELETE", &path, &[("If-Match", &current)], None)
        .problem(412);
    let current = c.get(&path).header("etag").unwrap().to_string();
    assert_eq!(
        c.send("DELETE", &path, &[("If-Match", &current)], None)
            .status,
        204
    );
    // If-Match on a snippet that does not exist is a 404.
    put("*").problem(404);
}

/// diesel never caches an UPDATE; store.rs keeps PUT's and PATCH's
/// prepared (`Prepared`), so PostgreSQL plans each variant a few times
/// (five custom plans, then a generic one) and then only executes it.
#[test]
fn updates_run_as_prepared_statements_without_a_plan_each() {
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "1")]);
    let c = app.client();
    let id = c.create(&snippet("t", "c", "x", &[]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/snippets/{id}");
    let updates = "UPDATE \"snippets\" SET%";
    let (Some(calls0), Some(plans0)) = (app.db.calls(updates), app.db.plans(updates)) else {
        return; // an external server: no pg_stat_statements
    };
    for n in 0..20 {
        let body = snippet(&format!("t{n}"), "c", &format!("code {n}"), &[]);
        let r = c.json("PUT", &path, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("etag"),
            Some(format!("\"{}\"", 2 + 2 * n).as_str())
        );
        let r = c.send(
            "PATCH",
            &path,
            &[("Content-Type", "application/merge-patch+json")],
            Some(format!("{{\"description\":\"d{n}\"}}").as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["description"], format!("d{n}"));
        assert_eq!(r.json()["title"], format!("t{n}"));
    }
    let (calls, plans) = (
        app.db.calls(updates).unwrap() - calls0,
        app.db.plans(updates).unwrap() - plans0,
    );
    assert_eq!(calls, 40);
    // Two statements (PUT leaves visibility as it is, PATCH writes the
    // merged row's), each planned at most six times on the one connection.
    assert!(plans <= 12, "{plans} plans for {calls} updates");
}

#[test]
fn sixteen_concurrent_puts_with_one_etag_one_wins() {
    // A connection each, and patience: this is about atomicity, not the pool.
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "16"), ("DB_POOL_TIMEOUT_MS", "20000")]);
    let c = app.client();
    let r = c.json("POST", "/snippets", &snippet("race", "c", "x", &[]));
    let etag = r.header("etag").unwrap().to_string();
    let id = r.json()["id"].as_str().unwrap().to_string();
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (barrier, etag, id, c) = (barrier.clone(), etag.clone(), id.clone(), c.clone());
            std::thread::spawn(move || {
                let body = snippet(&format!("writer {i}"), "c", "x", &[]).to_string();
                barrier.wait();
                c.send(
                    "PUT",
                    &format!("/snippets/{id}"),
                    &[("Content-Type", "application/json"), ("If-Match", &etag)],
                    Some(body.as_bytes()),
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        15,
        "{statuses:?}"
    );
}

#[test]
fn concurrent_lookups_each_get_their_own_snippet_and_see_their_writes() {
    // Few connections and many clients, so lookups queue and share queries.
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "2"), ("DB_POOL_TIMEOUT_MS", "20000")]);
    let c = app.client();
    let (threads, rounds) = (16, 25);
    let ids: Vec<String> = (0..threads)
        .map(|i| {
            let s = c.create(&snippet(&format!("owner {i}"), "c", "x", &[]));
            s["id"].as_str().unwrap().to_string()
        })
        .collect();
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (barrier, ids, c) = (barrier.clone(), ids.clone(), c.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let own = format!("/snippets/{}", ids[i]);
                for n in 0..rounds {
                    // A write, then at once a read that may share a query
                    // with other clients' reads: it must see the write.
                    let title = format!("owner {i} round {n}");
                    let r = c.json("PUT", &own, &snippet(&title, "c", "x", &[]));
                    assert_eq!(r.status, 200, "{}", r.text());
                    let etag = r.header("etag").unwrap().to_string();
                    let r = c.get(&own);
                    assert_eq!(r.status, 200, "{}", r.text());
                    assert_eq!(r.json()["title"], title.as_str());
                    assert_eq!(r.header("etag"), Some(etag.as_str()));
                    // Someone else's snippet, and one that does not exist.
                    let other = &ids[(i + n + 1) % ids.len()];
                    let r = c.get(&format!("/snippets/{other}"));
                    assert_eq!(r.status, 200, "{}", r.text());
                    assert_eq!(r.json()["id"], other.as_str());
                    let missing = format!("/snippets/00000000-0000-4000-8000-{:012}", i * 100 + n);
                    c.get(&missing).problem(404);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn lookups_queued_behind_a_busy_connection_share_one_query() {
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "1"), ("DB_POOL_TIMEOUT_MS", "20000")]);
    let c = app.client();
    let ids: Vec<String> = (0..20)
        .map(|i| {
            c.create(&snippet(&format!("s{i}"), "c", "x", &[]))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .chain((0..4).map(|i| format!("00000000-0000-4000-8000-{i:012}")))
        .collect();
    // The first lookup's query waits for the lock with the only connection;
    // the others queue meanwhile.
    let locker = app.db.lock_snippets(2);
    let handles: Vec<_> = ids
        .iter()
        .map(|id| {
            let (id, c) = (id.clone(), c.clone());
            std::thread::spawn(move || (c.get(&format!("/snippets/{id}")), id))
        })
        .collect();
    for h in handles {
        let (r, id) = h.join().unwrap();
        if id.starts_with("00000000-") {
            r.problem(404);
        } else {
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["id"], id.as_str());
        }
    }
    locker.join().unwrap();
    // store::OneId's and ManyIds's statements.
    if let Some(queries) = app.db.calls("SELECT % FROM snippets WHERE id = %") {
        assert!(
            (1..=6).contains(&queries),
            "{} lookups took {queries} queries: expected the queued ones to share one",
            ids.len()
        );
    }
}

#[test]
fn patch_is_a_merge_patch_validated_like_a_put() {
    let app = InProcApp::new();
    let c = app.client();
    let mut s = snippet("title", "rust", "code", &["a", "b"]);
    s["description"] = json!("desc");
    let created = c.create(&s);
    let path = format!("/snippets/{}", created["id"].as_str().unwrap());
    let send = |ct: &str, body: &str| {
        c.send(
            "PATCH",
            &path,
            &[("Content-Type", ct)],
            Some(body.as_bytes()),
        )
    };
    let r = send("application/merge-patch+json", r#"{"code":"new code"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "new code");
    assert_eq!(v["title"], "title");
    assert_eq!(v["tags"], json!(["a", "b"]));
    assert_eq!(v["description"], "desc");
    assert_ne!(v["updatedAt"], created["updatedAt"]);
    assert_eq!(v["createdAt"], created["createdAt"]);

    let r = send("application/json", r#"{"description":null,"tags":null}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["description"], Value::Null);
    assert_eq!(v["tags"], json!([]));

    send("application/merge-patch+json", r#"{"title":null}"#).problem(422);
    send("application/merge-patch+json", r#"{"title":"   "}"#).problem(422);
    send("application/merge-patch+json", r#"{"nope":1}"#).problem(422);
    send("application/merge-patch+json", r#"[]"#).problem(422);
    send("application/merge-patch+json", r#"{"#).problem(400);
    send("text/plain", r#"{}"#).problem(415);
    // Server-owned fields are ignored in a patch too.
    let r = send("application/json", r#"{"id":"x","createdAt":"y"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], created["id"]);
    c.send(
        "PATCH",
        "/snippets/00000000-0000-0000-0000-000000000000",
        &[("Content-Type", "application/json")],
        Some(b"{}"),
    )
    .problem(404);
}
