//! Full-text search: paging, every match once, rare words.

use super::*;

/// Searches with more matches than the probe's limit (5,000:
/// SEARCH_SORT_LIMIT in src/snippets/list.rs) walk the page-order index
/// instead of sorting the matches: both plans give the same pages.
#[test]
fn searches_with_many_matches_page_like_searches_with_few() {
    let app = InProcApp::new();
    let c = app.client();
    // 5,200 matching rows and 5 of another tag, with distinct times.
    app.db.psql(
        "INSERT INTO snippets (id, title, language, code, tags, created_at, updated_at) \
         SELECT gen_random_uuid(), 'many ' || n, 'rust', 'needle ' || n, \
                CASE WHEN n <= 5200 THEN ARRAY['many'] ELSE ARRAY['few'] END, \
                now() - n * interval '1 second', now() \
         FROM generate_series(1, 5205) n",
    );
    for (filter, total) in [("tag=many", 5200), ("tag=few", 5), ("q=needle", 5205)] {
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

/// A text search whose words the statistics of public rows call rare
/// (fewer than 5,000 matches, an OR's sides summed) runs as one cached
/// statement that sorts the GIN index's matches for its first page, with
/// no probe (src/snippets/words.rs); its pages past a cursor, a word the
/// statistics cannot bound, or a table never analyzed read the matches'
/// positions first (the probe), then sort them when they are few. Every path lists exactly the
/// matching rows, newest first, across cursors.
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
        let probes = || {
            app.db
                .calls("SELECT \"snippets\".\"created_at\", \"snippets\".\"id\" FROM%websearch%")
        };
        for (query, filter, rare) in [
            ("q=needle&limit=2", "code LIKE 'needle%'", true),
            (
                "q=NEEDLE%20hay&language=go&limit=1",
                "code LIKE 'needle%' AND language = 'go'",
                true,
            ),
            ("q=hay&limit=100", "true", true),
            (
                "q=needle%20or%20nothing&limit=3",
                "code LIKE 'needle%'",
                true,
            ),
            // A side of no plain word bounds nothing: counted first.
            (
                "q=n%C3%A9edle%20or%20needle&limit=3",
                "code LIKE 'needle%'",
                false,
            ),
        ] {
            let (n0, p0) = (sorted(), probes());
            let want = app.db.psql(&format!(
                "SELECT coalesce(string_agg(id::text, ',' ORDER BY created_at DESC, id DESC), '') \
                 FROM snippets WHERE {filter}"
            ));
            let all = pages(&c, &format!("/snippets?{query}"));
            let got: Vec<String> = all.iter().flat_map(|p| ids(p)).collect();
            assert_eq!(got.join(","), want.trim(), "{query}");
            if let (Some(n0), Some(n1), Some(p0), Some(p1)) = (n0, sorted(), p0, probes()) {
                let pages = all.len() as i64;
                // The first page sorted, the pages past a cursor probed.
                let (sorts, reads) = if rare && analyzed {
                    (1, pages - 1)
                } else {
                    (0, pages)
                };
                assert_eq!(n1 - n0, sorts, "{query} (analyzed: {analyzed}): sorted");
                assert_eq!(p1 - p0, reads, "{query} (analyzed: {analyzed}): probes");
            }
        }
    }
}
