//! EMF lines: valid Embedded Metric Format, exactly terraform's catalog.

use super::*;

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
