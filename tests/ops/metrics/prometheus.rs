//! The Prometheus text on its own port: values move, series stay bounded.

use super::*;

#[test]
fn metrics_port_serves_prometheus_and_the_api_port_does_not() {
    let (app, maddr) = with_metrics(&[]);
    let api = app.client();

    // Not on the API port, under any method or spelling.
    for path in ["/metrics", "/metrics/", "/METRICS"] {
        api.get(path).problem(404);
    }
    assert_eq!(Client::new(maddr).get("/").status, 404);
    assert_eq!(
        Client::new(maddr)
            .send("POST", "/metrics", &[], None)
            .status,
        405
    );

    let before = scrape(maddr);
    for _ in 0..3 {
        assert_eq!(api.get("/health").status, 200);
    }
    api.get("/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab")
        .problem(404);
    let after = scrape(maddr);
    assert_eq!(value(&after, HEALTH_2XX) - value(&before, HEALTH_2XX), 3.0);
    let by_id_4xx = r#"snippetd_http_requests_total{route="/snippets/{id}",status_class="4xx"}"#;
    assert_eq!(value(&after, by_id_4xx) - value(&before, by_id_4xx), 1.0);
    let count =
        r#"snippetd_http_request_duration_seconds_count{route="/health",status_class="2xx"}"#;
    assert_eq!(value(&after, count) - value(&before, count), 3.0);
    // An id lookup ran one (coalesced) query, so the pool holds a connection.
    assert!(value(&after, "snippetd_lookup_batch_size_count") >= 1.0);
    assert!(value(&after, "snippetd_db_pool_connections") >= 1.0);
    assert!(value(&after, "snippetd_db_pool_max_connections") >= 1.0);
    assert_eq!(
        value(&after, "snippetd_db_pool_checkout_timeouts_total"),
        0.0
    );
    assert!(value(&after, "process_resident_memory_bytes") > 1e6);
    assert!(value(&after, "process_open_fds") >= 3.0);
    assert!(value(&after, "snippetd_uptime_seconds") > 0.0);
    // Nothing was limited (metrics::prometheus counts a 429 below).
    assert_eq!(value(&after, "snippetd_rate_limited_total"), 0.0);
    for reason in [
        "missing_token",
        "invalid_token",
        "insufficient_scope",
        "forbidden",
    ] {
        let key = format!("snippetd_auth_failures_total{{reason=\"{reason}\"}}");
        assert_eq!(value(&after, &key), 0.0);
    }
    let build = after
        .keys()
        .find(|k| k.starts_with("snippetd_build_info{"))
        .expect("build info");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    assert!(build.contains("commit=\""), "{build}");
    // The scrape itself is not an API request.
    assert_eq!(value(&after, "snippetd_http_requests_in_flight"), 0.0);

    // A request hyper rejects before routing is counted too.
    let r = api
        .raw(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        .unwrap();
    assert_eq!(r.status, 400);
    // Counted as the connection's task ends, maybe just after the reply.
    let key = r#"snippetd_http_rejected_total{status="400"}"#;
    let deadline = Instant::now() + Duration::from_secs(5);
    while scrape(maddr).get(key) != Some(&1.0) {
        assert!(Instant::now() < deadline, "{key} did not reach 1");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rate_limit_rejections_are_counted() {
    let (app, maddr) = with_metrics(&[("RATE_LIMIT_WRITES_PER_MINUTE", "1")]);
    let c = app.client();
    let body = serde_json::json!({"title": "t", "language": "c", "code": "x"});
    assert_eq!(c.create_status(&body), 201);
    for _ in 0..2 {
        c.json("POST", "/snippets", &body).problem(429);
    }
    assert_eq!(value(&scrape(maddr), "snippetd_rate_limited_total"), 2.0);
}

/// Issue 30, finding 10: every 401 and 403 of authentication or
/// authorization is counted by its reason (the counter stayed at 0).
#[test]
fn auth_failures_are_counted_by_reason() {
    let (app, maddr) = with_metrics(&[]);
    let body = serde_json::json!({"title": "t", "language": "c", "code": "x"});
    let id = app.client().create(&body)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.anon().json("POST", "/snippets", &body).problem(401);
    for _ in 0..2 {
        app.anon()
            .with_token("snp_000000000000000000000000000000000000aaaaaa")
            .get("/snippets")
            .problem(401);
    }
    let reader = app
        .anon()
        .with_token(&mint(&app.db, "reader", &["snippets:read"]));
    reader.json("POST", "/snippets", &body).problem(403);
    let other = app.anon().with_token(&mint(
        &app.db,
        "other",
        &["snippets:read", "snippets:write"],
    ));
    other
        .json(
            "PATCH",
            &format!("/snippets/{id}"),
            &serde_json::json!({"title": "x"}),
        )
        .problem(403);
    // The quota's 403 is not an authorization failure.
    let s = scrape(maddr);
    let count = |reason: &str| {
        value(
            &s,
            &format!("snippetd_auth_failures_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(
        [
            count("missing_token"),
            count("invalid_token"),
            count("insufficient_scope"),
            count("forbidden")
        ],
        [1.0, 2.0, 1.0, 1.0]
    );
}

#[test]
fn metrics_addr_off_and_a_taken_port() {
    // `off`: no listener (the harness default); the API still serves.
    let app = TestApp::with_env(&[("METRICS_ADDR", "off")]);
    assert!(!app.server.logs.text().contains("metrics on"));
    assert_eq!(app.client().get("/health").status, 200);
    // A port already taken is a startup error that names the variable.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut env = app.db.env();
    env.insert(
        "METRICS_ADDR".into(),
        taken.local_addr().unwrap().to_string(),
    );
    env.insert("PORT".into(), free_port().to_string());
    let (code, _, stderr) = run(&["serve"], &env);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("METRICS_ADDR"), "{stderr}");
}

/// The route label is the template: 10,000 distinct ids (and as many
/// malformed ids and unknown paths) add no series.
#[test]
fn ten_thousand_distinct_ids_add_no_series() {
    // No other in-process app of this binary serves while this counts.
    let _turn = common::metrics_recorder_turn();
    let installed = snippetd::metrics::install(&snippetd::config::MetricsConfig {
        addr: Some("127.0.0.1:0".parse().unwrap()),
        emf_interval: Some(Duration::from_secs(60)),
        service: "snippetd".into(),
    });
    let prom = installed.prometheus.clone().expect("prometheus recorder");
    let app = InProcApp::new();
    let c = app.client();
    // One of each kind first: a histogram series may render only once it
    // has a sample; what matters is that more ids add nothing.
    assert_eq!(c.get("/health").status, 200);
    assert_eq!(
        c.get(&format!("/snippets/{}", uuid::Uuid::new_v4())).status,
        404
    );
    assert_eq!(c.get("/nope").status, 404);
    let before = series(&prom.render());
    for i in 0..10_000u32 {
        let id = uuid::Uuid::new_v4();
        assert_eq!(c.get(&format!("/snippets/{id}")).status, 404);
        if i % 10 == 0 {
            assert_eq!(c.get(&format!("/snippets/not-an-id-{i}")).status, 404);
            assert_eq!(c.get(&format!("/nope/{i}")).status, 404);
        }
    }
    let after = series(&prom.render());
    let names = |s: &BTreeMap<String, f64>| s.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(names(&before), names(&after), "new series appeared");
    let by_id = r#"snippetd_http_requests_total{route="/snippets/{id}",status_class="4xx"}"#;
    assert_eq!(value(&after, by_id) - value(&before, by_id), 11_000.0);
    let unmatched = r#"snippetd_http_requests_total{route="unmatched",status_class="4xx"}"#;
    assert_eq!(
        value(&after, unmatched) - value(&before, unmatched),
        1_000.0
    );
    // Bounded: one label per route template, plus `unmatched`, × 5
    // classes, whatever was requested.
    let routes: BTreeSet<_> = after
        .keys()
        .filter(|k| k.starts_with("snippetd_http_requests_total{"))
        .collect();
    let templates = snippetd::http::router::ROUTES.len() + 1;
    assert_eq!(routes.len(), templates * 5, "{routes:#?}");
}
