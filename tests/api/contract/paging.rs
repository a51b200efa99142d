//! Keyset pagination, plain pages, filters, descriptions and tags.

use super::*;

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
