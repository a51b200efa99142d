//! The complete contract: keyset pagination and filters, tags and
//! descriptions, conditional requests, PATCH, CORS, the OpenAPI document.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use common::{Client, InProcApp};
use serde_json::{json, Value};

fn snippet(title: &str, language: &str, code: &str, tags: &[&str]) -> Value {
    json!({"title": title, "language": language, "code": code, "tags": tags})
}

/// Follows `Link: <…>; rel="next"` from `path`; returns every page.
fn pages(c: &Client, path: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(p) = next.take() {
        let r = c.get(&p);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        out.push(r.json().as_array().unwrap().clone());
        if let Some(link) = r.header("link") {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            next = Some(link[1..link.find('>').unwrap()].to_string());
        }
        assert!(out.len() < 100, "pagination does not end");
    }
    out
}

fn ids(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn keyset_pagination_walks_everything_once_newest_first() {
    let app = InProcApp::new();
    let c = app.client();
    let created: Vec<String> = (0..7)
        .map(|i| {
            c.create(&snippet(&format!("s{i}"), "rust", "fn x() {}", &[]))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let got = pages(&c, "/snippets?limit=3");
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    let all: Vec<String> = got.iter().flat_map(|p| ids(p)).collect();
    let mut expected = created.clone();
    expected.reverse();
    assert_eq!(all, expected);
    // Exactly `limit` rows left: no empty last page.
    let got = pages(&c, "/snippets?limit=7");
    assert_eq!(got.len(), 1);

    // Rows added while paging do not shift later pages.
    let first = c.get("/snippets?limit=2");
    let link = first.header("link").unwrap().to_string();
    c.create(&snippet("late", "rust", "x", &[]));
    let next = &link[1..link.find('>').unwrap()];
    let second = ids(c.get(next).json().as_array().unwrap());
    assert_eq!(second, expected[2..4].to_vec());
}

/// A plain page is read with a LIMIT of one of five sizes written into the
/// SQL (store::LimitLiteral), the rows past the page dropped: every limit
/// around a size's edges pages exactly, and the statement runs on a
/// generic plan instead of being planned on every request.
#[test]
fn plain_pages_of_any_limit_are_exact_and_planned_once() {
    let app = InProcApp::with_env(&[("DB_POOL_SIZE", "1")]);
    let c = app.client();
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at)
         SELECT md5('p' || g)::uuid, 't' || g, CASE WHEN g % 3 = 0 THEN 'go' ELSE 'c' END, 'x', '{}',
                now() - make_interval(secs => g), now() - make_interval(secs => g)
           FROM generate_series(1, 120) AS g",
    );
    let want = |filter: &str| -> Vec<String> {
        app.db
            .psql(&format!(
                "SELECT string_agg(id::text, ',' ORDER BY created_at DESC, id DESC) \
                 FROM snippets WHERE {filter}"
            ))
            .trim()
            .split(',')
            .map(str::to_string)
            .collect()
    };
    let (all, go) = (want("true"), want("language = 'go'"));
    // (limit=1 over 120 rows would be more pages than `pages` follows.)
    let one = c.get("/snippets?limit=1");
    assert_eq!(ids(one.json().as_array().unwrap()), all[..1].to_vec());
    assert!(one.header("link").is_some());
    for limit in [2, 5, 6, 7, 10, 11, 12, 20, 21, 22, 50, 51, 52, 99, 100] {
        for (query, want) in [("", &all), ("&language=go", &go)] {
            let got = pages(&c, &format!("/snippets?limit={limit}{query}"));
            let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
            let full = want.len() / limit;
            let mut expected = vec![limit; full];
            if want.len() % limit != 0 {
                expected.push(want.len() % limit);
            }
            assert_eq!(sizes, expected, "limit {limit}{query}");
            let flat: Vec<String> = got.iter().flat_map(|p| ids(p)).collect();
            assert_eq!(&flat, want, "limit {limit}{query}");
        }
    }
    // With `LIMIT $n` on a table this size, PostgreSQL's generic plan
    // reads a tenth of it, and it plans every execution instead.
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at)
         SELECT md5('q' || g)::uuid, 't' || g, 'c', 'x', '{}',
                now() - interval '1 day' - make_interval(secs => g), now()
           FROM generate_series(1, 10000) AS g;
         ANALYZE snippets",
    );
    // (pg_stat_statements shows the literal as a parameter too.)
    let lists = "SELECT % FROM \"snippets\" WHERE % ORDER BY % LIMIT $%";
    let (Some(calls0), Some(plans0)) = (app.db.calls(lists), app.db.plans(lists)) else {
        return; // an external server: no pg_stat_statements
    };
    for _ in 0..30 {
        assert_eq!(c.get("/snippets").status, 200);
    }
    let calls = app.db.calls(lists).unwrap() - calls0;
    let plans = app.db.plans(lists).unwrap() - plans0;
    assert_eq!(calls, 30);
    // Five custom plans, then the generic one, at most.
    assert!(plans <= 6, "{plans} plans for {calls} pages");
}

#[test]
fn filters_combine_with_and_and_survive_paging() {
    let app = InProcApp::new();
    let c = app.client();
    c.create(&snippet(
        "Parse JSON",
        "rust",
        "serde_json::from_str(input)",
        &["json", "parsing"],
    ));
    c.create(&snippet(
        "Parse YAML",
        "rust",
        "serde_yaml::from_str(input)",
        &["yaml", "parsing"],
    ));
    c.create(&snippet(
        "Fetch JSON",
        "javascript",
        "await fetch(url).then(r => r.json())",
        &["json", "http"],
    ));
    let mut d = snippet("Sort", "python", "sorted(xs)", &[]);
    d["description"] = json!("Sorts a list, stable");
    c.create(&d);

    let titles = |path: &str| -> Vec<String> {
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        titles("/snippets?language=rust"),
        vec!["Parse YAML", "Parse JSON"]
    );
    assert_eq!(
        titles("/snippets?tag=json"),
        vec!["Fetch JSON", "Parse JSON"]
    );
    assert_eq!(titles("/snippets?tag=json&tag=parsing"), vec!["Parse JSON"]);
    assert_eq!(
        titles("/snippets?language=rust&tag=json"),
        vec!["Parse JSON"]
    );
    assert_eq!(titles("/snippets?q=json"), vec!["Fetch JSON", "Parse JSON"]);
    assert_eq!(titles("/snippets?q=serde_yaml"), vec!["Parse YAML"]);
    assert_eq!(
        titles("/snippets?q=stable"),
        vec!["Sort"],
        "description is searched"
    );
    assert_eq!(titles("/snippets?q=json+-fetch"), vec!["Parse JSON"]);
    assert_eq!(
        titles("/snippets?q=json&language=javascript"),
        vec!["Fetch JSON"]
    );
    assert!(titles("/snippets?q=nothing-like-this").is_empty());
    assert!(titles("/snippets?language=cobol").is_empty());
    // Odd search text is not an error.
    assert!(titles("/snippets?q=%27%29%3B+DROP+TABLE+snippets%3B--+%26%7C%21").is_empty());

    let got = pages(&c, "/snippets?tag=parsing&limit=1");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1][0]["title"], "Parse JSON");

    for bad in [
        "tag=Upper",
        "tag=-x",
        "tag=",
        "language=",
        "q=",
        "q=%20%20",
        "limit=1&limit=2",
        "cursor=AAAA",
        "unknown=1",
        "q=%FF",
    ] {
        c.get(&format!("/snippets?{bad}")).problem(400);
    }
}

#[test]
fn descriptions_and_tags_are_stored_and_returned() {
    let app = InProcApp::new();
    let c = app.client();
    let mut s = snippet("t", "go", "fmt.Println()", &["go", "hello-world", "x1"]);
    s["description"] = json!("Prints a line.");
    let created = c.create(&s);
    assert_eq!(created["description"], "Prints a line.");
    assert_eq!(created["tags"], json!(["go", "hello-world", "x1"]));
    let id = created["id"].as_str().unwrap();
    let got = c.get(&format!("/snippets/{id}")).json();
    assert_eq!(got["tags"], created["tags"]);
    // Duplicate tags are a violation, not silently merged.
    let dup = snippet("t", "go", "x", &["a", "a"]);
    c.json("POST", "/snippets", &dup).problem(422);
}

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

#[test]
fn cors_for_listed_origins_only() {
    let app = InProcApp::with_env(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com, http://localhost:5173",
    )]);
    let c = app.client();
    let pre = |origin: &str| {
        c.send(
            "OPTIONS",
            "/snippets",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type, if-match"),
            ],
            None,
        )
    };
    let r = pre("https://app.example.com");
    // tower-http's CorsLayer answers a preflight with 200 (any 2xx will do).
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PUT"));
    let allowed = r
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("if-match") && allowed.contains("content-type"));
    assert!(allowed.contains("authorization"), "{allowed}");
    let r = pre("https://evil.example.com");
    // No Access-Control-Allow-Origin: the browser refuses. (tower-http
    // lists the allowed methods on every preflight; they grant nothing
    // without the origin.)
    assert_eq!(r.header("access-control-allow-origin"), None);

    let r = c.send(
        "GET",
        "/snippets",
        &[("Origin", "http://localhost:5173")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    // Header names are case-insensitive; tower-http writes them lower-case.
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("www-authenticate"),
        "{exposed}"
    );
    assert!(r.header("vary").unwrap().to_lowercase().contains("origin"));
    let r = c.send(
        "GET",
        "/nope",
        &[("Origin", "https://evil.example.com")],
        None,
    );
    assert_eq!(r.header("access-control-allow-origin"), None);

    let any = InProcApp::with_env(&[("CORS_ALLOWED_ORIGINS", "*")]);
    let r = any
        .client()
        .send("GET", "/health", &[("Origin", "https://x.example")], None);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

/// `GET /docs` (src/http/docs_ui/): the page with its CSP, the assets with
/// their types, year-long caching and gzip only for clients that take it.
/// The browser test (make browser-test) renders it.
#[test]
fn docs_page_and_assets() {
    use snippetd::http::docs_ui::ASSET_DIR;
    let app = InProcApp::new();
    let c = app.client();
    let page = c.get("/docs");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains(&format!("/docs/{ASSET_DIR}/init.js")));

    let bundle = format!("/docs/{ASSET_DIR}/swagger-ui-bundle.js");
    let gz = c.send("GET", &bundle, &[("Accept-Encoding", "gzip, br")], None);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b], "a gzip stream");
    assert_eq!(
        gz.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(gz.header("vary").unwrap().contains("accept-encoding"));
    let plain = c.send("GET", &bundle, &[("Accept-Encoding", "identity")], None);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.len() > 3 * gz.body.len(), "the plain bytes");
    for (file, ctype) in [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("init.js", "text/javascript; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
        ("LICENSE", "text/plain; charset=utf-8"),
    ] {
        let r = c.get(&format!("/docs/{ASSET_DIR}/{file}"));
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), Some(ctype), "{file}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let head = c.send("HEAD", "/docs", &[], None);
    assert_eq!((head.status, head.body.len()), (200, 0));
    // Another release's directory, or a file we do not ship: 404.
    for path in ["/docs/0.0.0-1/init.js", &format!("/docs/{ASSET_DIR}/x.js")] {
        c.get(path).problem(404);
    }
    c.send("POST", "/docs", &[], None).problem(405);
}

#[test]
fn openapi_document_is_served_and_valid() {
    let app = InProcApp::new();
    let r = app.client().get("/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");

    // Validate against the OpenAPI 3.1 schema (openapi-spec-validator from
    // PyPI, installed by `make tools`).
    let validator =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/openapi-spec-validator");
    if !validator.exists() {
        assert!(
            std::env::var_os("SNIPPETD_REQUIRE_TOOLS").is_none(),
            "openapi-spec-validator missing: run `make tools`"
        );
        eprintln!("skipping the OpenAPI 3.1 schema check: run `make tools`");
        return;
    }
    let file = std::env::temp_dir().join(format!("snippetd-openapi-{}.json", std::process::id()));
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new(validator)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ops: HashSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    assert!(ops.contains("PATCH /snippets/{id}"), "{ops:?}");
}

/// Searches with more matches than the probe's limit walk the page-order
/// index instead of sorting the matches: both plans give the same pages.
#[test]
fn searches_with_many_matches_page_like_searches_with_few() {
    let app = InProcApp::new();
    let c = app.client();
    // 1,200 matching rows (over the 1,000 of SEARCH_SORT_LIMIT in store.rs)
    // and 5 of another tag, with distinct times.
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at) \
         SELECT gen_random_uuid(), 'many ' || n, 'rust', 'needle ' || n, \
                CASE WHEN n <= 1200 THEN ARRAY['many'] ELSE ARRAY['few'] END, \
                now() - n * interval '1 second', now() \
         FROM generate_series(1, 1205) n",
    );
    for (filter, total) in [("tag=many", 1200), ("tag=few", 5), ("q=needle", 1205)] {
        let all: Vec<Value> = pages(&c, &format!("/snippets?limit=100&{filter}"))
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(all.len(), total, "{filter}");
        let times: Vec<&str> = all
            .iter()
            .map(|s| s["createdAt"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "{filter}: newest first");
    }
}

/// Every path a search takes lists exactly the matching rows, newest first,
/// each once: the bounded walk of the newest 1,000 rows (a common tag), the
/// GIN probe and the page by primary key when the walk finds no page (a
/// rare tag, a rare word with a language), across cursors.
#[test]
fn searches_list_every_match_once_whichever_plan() {
    let app = InProcApp::new();
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at)
         SELECT md5('s' || g)::uuid, 't' || g, CASE WHEN g % 2 = 0 THEN 'go' ELSE 'c' END,
                CASE WHEN g % 350 = 0 THEN 'needle' ELSE 'hay' END,
                CASE WHEN g % 500 = 0 THEN ARRAY['rare', 'common'] WHEN g % 3 = 0 THEN ARRAY['common'] ELSE '{}' END,
                now() - make_interval(secs => g), now() - make_interval(secs => g)
           FROM generate_series(1, 2500) AS g",
    );
    let c = app.anon();
    for (query, filter) in [
        ("tag=common&limit=100", "tags @> '{common}'"),
        ("tag=rare&limit=2", "tags @> '{rare}'"),
        (
            "q=needle&language=go&limit=1",
            "code = 'needle' AND language = 'go'",
        ),
        (
            "tag=rare&q=hay&limit=3",
            "tags @> '{rare}' AND code = 'hay'",
        ),
    ] {
        let want = app.db.psql(&format!(
            "SELECT coalesce(string_agg(id::text, ',' ORDER BY created_at DESC, id DESC), '') FROM snippets WHERE {filter}"
        ));
        let got: Vec<String> = pages(&c, &format!("/snippets?{query}"))
            .iter()
            .flat_map(|p| ids(p))
            .collect();
        assert_eq!(got.join(","), want.trim(), "{query}");
    }
}

/// A text search of a word PostgreSQL's statistics call rare runs as one
/// cached statement that sorts the GIN index's matches
/// (src/snippets/words.rs); a common word, an OR or a table never analyzed
/// is planned for its values. Both list exactly the matching rows, newest
/// first, across cursors.
#[test]
fn rare_words_are_searched_by_a_cached_statement_with_the_same_pages() {
    for analyzed in [true, false] {
        let app = InProcApp::new();
        app.db.psql(
            "ALTER TABLE snippets SET (autovacuum_enabled = false);
             INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at)
             SELECT md5('w' || g)::uuid, 't' || g, CASE WHEN g % 2 = 0 THEN 'go' ELSE 'c' END,
                    CASE WHEN g % 350 = 0 THEN 'needle hay' ELSE 'hay' END, '{}',
                    now() - make_interval(secs => g), now() - make_interval(secs => g)
               FROM generate_series(1, 2500) AS g",
        );
        if analyzed {
            app.db.psql("ANALYZE snippets");
        }
        let c = app.anon();
        let sorted = || app.db.calls("%created_at + interval%");
        for (query, filter, rare) in [
            ("q=needle&limit=2", "code LIKE 'needle%'", true),
            (
                "q=NEEDLE%20hay&language=go&limit=1",
                "code LIKE 'needle%' AND language = 'go'",
                true,
            ),
            ("q=hay&limit=100", "true", false),
            (
                "q=needle%20or%20nothing&limit=3",
                "code LIKE 'needle%'",
                false,
            ),
        ] {
            let n0 = sorted();
            let want = app.db.psql(&format!(
                "SELECT coalesce(string_agg(id::text, ',' ORDER BY created_at DESC, id DESC), '') \
                 FROM snippets WHERE {filter}"
            ));
            let all = pages(&c, &format!("/snippets?{query}"));
            let got: Vec<String> = all.iter().flat_map(|p| ids(p)).collect();
            assert_eq!(got.join(","), want.trim(), "{query}");
            if let (Some(n0), Some(n1)) = (n0, sorted()) {
                let want = if rare && analyzed {
                    all.len() as i64
                } else {
                    0
                };
                assert_eq!(
                    n1 - n0,
                    want,
                    "{query} (analyzed: {analyzed}): sorted statements"
                );
            }
        }
    }
}
