//! Metrics (issue 19): values move as requests are served, cardinality is
//! bounded by route templates, the Prometheus text is on its own port and
//! never on the API's, the EMF lines are valid Embedded Metric Format and
//! name exactly terraform/app_metrics.json's metrics, and trace context is
//! propagated and logged.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `name{labels}` → value, from Prometheus text.
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                k.to_string(),
                v.parse().unwrap_or_else(|_| panic!("bad value {l:?}")),
            )
        })
        .collect()
}

fn scrape(addr: std::net::SocketAddr) -> BTreeMap<String, f64> {
    let r = Client::new(addr).get("/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    series(&r.text())
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no series {key} in {:#?}", s.keys().collect::<Vec<_>>()))
}

const HEALTH_2XX: &str = r#"snippetd_http_requests_total{route="/health",status_class="2xx"}"#;

#[test]
fn metrics_port_serves_prometheus_and_the_api_port_does_not() {
    let port = free_port();
    let maddr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::with_env(&[("METRICS_ADDR", &maddr.to_string())]);
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
    // Nothing was limited (tests/limits.rs counts a 429 below).
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
    let maddr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let app = TestApp::with_env(&[
        ("METRICS_ADDR", &maddr.to_string()),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "1"),
    ]);
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
    let maddr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let app = TestApp::with_env(&[("METRICS_ADDR", &maddr.to_string())]);
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

/// The CloudWatch units an EMF metric may declare.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the Embedded Metric Format specification;
/// returns (dimension sets, metric name → unit).
fn validate_emf(line: &str) -> (Vec<Vec<String>>, BTreeMap<String, String>) {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = doc.as_object().expect("an object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let ts = aws["Timestamp"]
        .as_u64()
        .expect("Timestamp is a whole number");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Milliseconds, not seconds: within a minute of now.
    assert!(
        ts.abs_diff(now_ms) < 60_000,
        "Timestamp {ts} is not now in ms"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    let mut dims_out = Vec::new();
    let mut metrics = BTreeMap::new();
    for d in directives {
        let ns = d["Namespace"].as_str().expect("Namespace");
        assert!(
            !ns.is_empty() && ns.len() <= 255 && !ns.starts_with(':'),
            "{ns}"
        );
        for set in d["Dimensions"].as_array().expect("Dimensions array") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions");
            let names: Vec<String> = set
                .iter()
                .map(|n| n.as_str().expect("dimension names are strings").to_string())
                .collect();
            for n in &names {
                let v = root
                    .get(n)
                    .unwrap_or_else(|| panic!("dimension {n} has no member"));
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {n} is not a string"));
                assert!(!v.is_empty() && v.len() <= 1024, "{n}={v:?}");
            }
            dims_out.push(names);
        }
        let ms = d["Metrics"].as_array().expect("Metrics array");
        assert!(ms.len() <= 100, "at most 100 metrics per directive");
        for m in ms {
            let name = m["Name"].as_str().expect("Name");
            assert!(!name.is_empty() && name.len() <= 1024);
            let unit = m.get("Unit").and_then(Value::as_str).unwrap_or("None");
            assert!(UNITS.contains(&unit), "{name}: unit {unit}");
            match root
                .get(name)
                .unwrap_or_else(|| panic!("metric {name} has no member"))
            {
                Value::Number(_) => {}
                Value::Array(a) => {
                    assert!(a.len() <= 100 && a.iter().all(Value::is_number), "{name}")
                }
                other => panic!("{name} is {other}"),
            }
            metrics.insert(name.to_string(), unit.to_string());
        }
    }
    (dims_out, metrics)
}

fn catalog() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/terraform/app_metrics.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn emf_lines_are_valid_and_emit_exactly_the_catalog() {
    let cat = catalog();
    let app = TestApp::with_env(&[
        ("METRICS_EMF_INTERVAL_SECONDS", "1"),
        ("METRICS_SERVICE", "snippetd-test"),
    ]);
    let c = app.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut routes = BTreeSet::new();
    let mut lines_seen = 0;
    while Instant::now() < deadline {
        assert_eq!(c.get("/health").status, 200);
        assert_eq!(
            c.get("/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab")
                .status,
            404
        );
        std::thread::sleep(Duration::from_millis(200));
        let lines: Vec<String> = app
            .server
            .logs
            .all()
            .into_iter()
            .filter(|l| l.contains("\"_aws\""))
            .collect();
        for line in &lines[lines_seen..] {
            let (dims, metrics) = validate_emf(line);
            let doc: Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                cat["namespace"]
            );
            assert_eq!(
                doc[cat["service_dimension"].as_str().unwrap()],
                "snippetd-test"
            );
            if let Some(r) = doc.get(cat["route_dimension"].as_str().unwrap()) {
                routes.insert(r.as_str().unwrap().to_string());
            }
            for (name, unit) in metrics {
                seen.insert(name, (unit, dims[0].clone()));
            }
        }
        lines_seen = lines.len();
        if routes.contains("/snippets/{id}")
            && seen.len() >= cat["metrics"].as_array().unwrap().len()
        {
            break;
        }
    }
    let (svc, route) = (
        cat["service_dimension"].as_str().unwrap().to_string(),
        cat["route_dimension"].as_str().unwrap().to_string(),
    );
    let want: BTreeMap<String, (String, Vec<String>)> = cat["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let dims = if m["by_route"].as_bool().unwrap() {
                vec![svc.clone(), route.clone()]
            } else {
                vec![svc.clone()]
            };
            (
                m["name"].as_str().unwrap().to_string(),
                (m["unit"].as_str().unwrap().to_string(), dims),
            )
        })
        .collect();
    assert_eq!(
        seen, want,
        "emitted (name → unit, dimensions) differ from the catalog"
    );
    assert!(routes.is_subset(
        &[
            "/health",
            "/ready",
            "/openapi.json",
            "/snippets",
            "/snippets/{id}",
            "unmatched"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    ));
}

/// The catalog the code carries is the one Terraform reads.
#[test]
fn the_code_catalog_is_terraforms() {
    use snippetd::metrics::emf;
    let cat = catalog();
    assert_eq!(cat["namespace"], emf::NAMESPACE);
    assert_eq!(cat["service_dimension"], emf::SERVICE_DIMENSION);
    assert_eq!(cat["route_dimension"], emf::ROUTE_DIMENSION);
    assert_eq!(cat["service_env"], "METRICS_SERVICE");
    assert_eq!(cat["interval_env"], "METRICS_EMF_INTERVAL_SECONDS");
    let want: Vec<(String, String, bool)> = cat["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["unit"].as_str().unwrap().into(),
                m["by_route"].as_bool().unwrap(),
            )
        })
        .collect();
    let have: Vec<(String, String, bool)> = emf::CATALOG
        .iter()
        .map(|(n, u, r)| (n.to_string(), u.to_string(), *r))
        .collect();
    assert_eq!(have, want);
}

fn access_line(app: &TestApp, rid: &str) -> Value {
    let line = app
        .server
        .logs
        .wait_for(Duration::from_secs(5), |l| {
            l.contains("\"target\":\"access\"") && l.contains(rid)
        })
        .unwrap_or_else(|| panic!("no access line for {rid}:\n{}", app.server.logs.text()));
    serde_json::from_str(&line).unwrap()
}

#[test]
fn traceparent_is_propagated_and_trace_ids_are_logged() {
    let app = TestApp::new();
    let c = app.client();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let incoming = format!("00-{trace}-00f067aa0ba902b7-01");
    let amzn = "Root=1-67891233-abcdef012345678912345678";
    let r = c.send(
        "GET",
        "/health",
        &[
            ("traceparent", &incoming),
            ("X-Amzn-Trace-Id", amzn),
            ("X-Request-Id", "trace-test-1"),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    let out = r.header("traceparent").expect("a traceparent answers one");
    let parts: Vec<&str> = out.split('-').collect();
    assert_eq!(parts.len(), 4, "{out}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", trace, "01"));
    assert_eq!(parts[2].len(), 16);
    assert_ne!(parts[2], "00f067aa0ba902b7", "a new parent id");
    assert_ne!(parts[2], "0000000000000000");
    let line = access_line(&app, "trace-test-1");
    assert_eq!(line["trace_id"], trace);
    assert_eq!(line["amzn_trace_id"], amzn);
    assert_eq!(line["request_id"], "trace-test-1");

    // Invalid: ignored (no header back, no trace id logged); the ALB's id
    // is still logged.
    for (i, bad) in [
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "garbage",
    ]
    .iter()
    .enumerate()
    {
        let rid = format!("trace-bad-{i}");
        let r = c.send(
            "GET",
            "/health",
            &[
                ("traceparent", bad),
                ("X-Amzn-Trace-Id", amzn),
                ("X-Request-Id", &rid),
            ],
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("traceparent"), None, "{bad}");
        let line = access_line(&app, &rid);
        assert!(line.get("trace_id").is_none(), "{bad}: {line}");
        assert_eq!(line["amzn_trace_id"], amzn);
    }

    // Neither header: neither field.
    let r = c.send("GET", "/health", &[("X-Request-Id", "trace-none")], None);
    assert_eq!(r.status, 200);
    let line = access_line(&app, "trace-none");
    assert!(
        line.get("trace_id").is_none() && line.get("amzn_trace_id").is_none(),
        "{line}"
    );
}
