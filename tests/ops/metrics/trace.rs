//! Trace context propagated and trace ids logged.

use super::*;

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
