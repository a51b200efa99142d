//! Rate limits per owner and per client address, trusted proxies.

use super::*;

#[test]
fn reads_and_writes_have_budgets_per_client_with_headers() {
    let app = InProcApp::with_env(&[
        ("RATE_LIMIT_READS_PER_MINUTE", "5"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "2"),
    ]);
    let anon = app.anon();
    for left in (0..5).rev() {
        let r = anon.get("/snippets");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("ratelimit-policy"), Some("\"reads\";q=5;w=60"));
        let rl = r.header("ratelimit").unwrap();
        assert!(rl.starts_with(&format!("\"reads\";r={left};t=")), "{rl}");
    }
    let r = anon.get("/snippets");
    let p = r.problem(429);
    assert_eq!(p["type"], "tag:snippetd,2026:problem:rate-limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "Retry-After {retry}");
    assert_eq!(
        r.header("ratelimit"),
        Some(format!("\"reads\";r=0;t={retry}").as_str())
    );
    // Unknown paths count too: a scanner is a client like any other.
    anon.get("/nothing-here").problem(429);
    // Probes, the contract and the docs page are never limited, and say
    // nothing of limits.
    let asset = format!("/docs/{}/init.js", snippetd::http::docs_ui::ASSET_DIR);
    for path in ["/health", "/ready", "/openapi.json", "/docs", &asset] {
        for _ in 0..10 {
            let r = anon.get(path);
            assert_eq!(r.status, 200, "{path}");
            assert!(r.header("ratelimit").is_none(), "{path}");
        }
    }
    // Another address, its own bucket.
    assert_eq!(
        anon.with_peer(peer("192.0.2.1:1")).get("/snippets").status,
        200
    );
    // An owner has a bucket per budget, apart from its address's.
    let owner = app.client();
    assert_eq!(owner.get("/snippets").status, 200);
    for _ in 0..2 {
        assert_eq!(owner.create_status(&snippet("x")), 201);
    }
    let r = owner.json("POST", "/snippets", &snippet("x"));
    r.problem(429);
    assert_eq!(r.header("ratelimit-policy"), Some("\"writes\";q=2;w=60"));
    // Another owner from the same address is not limited by the first.
    let other = anon.with_token(&mint(&app.db, "other", common::TESTER_SCOPES));
    assert_eq!(other.create_status(&snippet("y")), 201);
}

#[test]
fn rate_limits_off_sends_no_headers() {
    let app = InProcApp::with_env(&[("RATE_LIMITS", "off"), ("RATE_LIMIT_READS_PER_MINUTE", "1")]);
    for _ in 0..5 {
        let r = app.anon().get("/snippets");
        assert_eq!(r.status, 200);
        assert!(r.header("ratelimit").is_none());
    }
}

/// 1,000 requests from one untrusted peer, each with its own forged
/// X-Forwarded-For and CloudFront-Viewer-Address: one client, one bucket.
#[test]
fn forged_forwarding_headers_do_not_escape_the_bucket() {
    for trusted in ["", "10.0.0.0/8"] {
        let app = InProcApp::with_env(&[
            ("RATE_LIMIT_READS_PER_MINUTE", "100"),
            ("TRUSTED_PROXIES", trusted),
        ]);
        let c = app.anon().with_peer(peer("203.0.113.7:5555"));
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let started = std::time::Instant::now();
        let counts = tally(1000, |_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let [a, b, cc, d, ..] = seed.to_le_bytes();
            let forged = format!("{a}.{b}.{cc}.{d}");
            c.send(
                "GET",
                "/snippets?limit=1",
                &[
                    ("X-Forwarded-For", &forged),
                    ("CloudFront-Viewer-Address", &format!("{forged}:443")),
                ],
                None,
            )
            .status
        });
        // The burst of 100, and what refilled meanwhile (one per 0.6 s).
        let refilled = (started.elapsed().as_secs_f64() / 0.6) as usize;
        let ok = counts.get(&200).copied().unwrap_or(0);
        assert!(
            (100..=101 + refilled).contains(&ok),
            "TRUSTED_PROXIES={trusted:?}: {counts:?} in {:?}",
            started.elapsed()
        );
        assert_eq!(
            ok + counts.get(&429).copied().unwrap_or(0),
            1000,
            "{counts:?}"
        );
    }
}

#[test]
fn behind_trusted_proxies_the_forwarded_client_is_limited() {
    let app = InProcApp::with_env(&[
        ("RATE_LIMIT_READS_PER_MINUTE", "3"),
        ("TRUSTED_PROXIES", "10.0.0.0/16"),
    ]);
    let alb = app.anon().with_peer(peer("10.0.4.2:31000"));
    let get = |headers: &[(&str, &str)]| alb.send("GET", "/snippets?limit=1", headers, None).status;
    // The right-most untrusted entry is the client; what it forged on the
    // left changes nothing.
    for forged in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let xff = format!("{forged}, 198.51.100.1, 10.0.0.9");
        assert_eq!(get(&[("X-Forwarded-For", &xff)]), 200);
    }
    assert_eq!(get(&[("X-Forwarded-For", "4.4.4.4, 198.51.100.1")]), 429);
    // Another client behind the same proxy.
    assert_eq!(get(&[("X-Forwarded-For", "198.51.100.2")]), 200);
    // CloudFront's own header wins over X-Forwarded-For.
    for _ in 0..3 {
        let h = [
            ("CloudFront-Viewer-Address", "198.51.100.1:443"),
            ("X-Forwarded-For", "198.51.100.50"),
        ];
        assert_eq!(get(&h), 429, "198.51.100.1 is out of reads");
    }
    assert_eq!(
        get(&[("CloudFront-Viewer-Address", "198.51.100.3:443")]),
        200
    );
    // No header: the proxy itself is the client.
    assert_eq!(get(&[]), 200);
}

/// Issue 30, finding 2: a well-formed token the cache does not know costs
/// a database lookup, so its address pays before the lookup: a flood of
/// forged tokens from one address gets 429 without database work, and a
/// forged token is remembered as unknown. Routes that need no identity
/// never read `Authorization`.
#[test]
fn forged_tokens_pay_their_address_before_any_lookup() {
    let app = InProcApp::with_env(&[("RATE_LIMIT_READS_PER_MINUTE", "20")]);
    let lookups = || app.db.calls("%FROM \"tokens\"%\"sha256\" = $1%");
    let Some(before) = lookups() else {
        return; // an external server: no pg_stat_statements
    };
    let forger = app.anon().with_peer(peer("203.0.113.9:4000"));
    let forged: Vec<String> = (0..100)
        .map(|_| {
            snippetd::auth::token::generate()
                .unwrap()
                .expose()
                .to_string()
        })
        .collect();
    let counts = tally(100, |i| {
        forger.with_token(&forged[i]).get("/snippets").status
    });
    assert_eq!(counts.get(&401), Some(&20), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&80), "{counts:?}");
    assert_eq!(
        lookups().unwrap() - before,
        20,
        "one lookup per 401, none per 429"
    );
    // Remembered: the same forged token again costs no lookup (and, from
    // another address, that address's budget only).
    let other = app.anon().with_peer(peer("198.51.100.4:4000"));
    for _ in 0..3 {
        other.with_token(&forged[0]).get("/snippets").problem(401);
    }
    assert_eq!(lookups().unwrap() - before, 20);
    // The owner of a valid token keeps its own bucket.
    let alice = mint(&app.db, "alice", &["snippets:read"]);
    let c = app
        .anon()
        .with_peer(peer("198.51.100.5:4000"))
        .with_token(&alice);
    assert_eq!(c.get("/snippets").status, 200);
    // No identity needed, none read: not even a malformed token is a 401,
    // and no lookup is made.
    let probe = app
        .anon()
        .with_peer(peer("203.0.113.9:4000"))
        .with_token(&forged[99]);
    for path in ["/health", "/ready", "/openapi.json", "/docs"] {
        assert_eq!(probe.get(path).status, 200, "{path}");
    }
    let garbage = app.anon().with_token("garbage");
    assert_eq!(garbage.get("/ready").status, 200);
    assert_eq!(lookups().unwrap() - before, 21, "alice's lookup only");
}

/// Issue 30, finding 4: behind trusted proxies an IPv6 client is its /64:
/// other addresses of the same /64 share its bucket; IPv4-mapped
/// addresses are their IPv4 address.
#[test]
fn ipv6_clients_share_a_bucket_per_64() {
    let app = InProcApp::with_env(&[
        ("RATE_LIMIT_READS_PER_MINUTE", "3"),
        ("TRUSTED_PROXIES", "10.0.0.0/16"),
    ]);
    let alb = app.anon().with_peer(peer("10.0.4.2:31000"));
    let get = |viewer: &str| {
        alb.send(
            "GET",
            "/snippets?limit=1",
            &[("CloudFront-Viewer-Address", viewer)],
            None,
        )
        .status
    };
    for _ in 0..3 {
        assert_eq!(get("[2001:db8:1:1::1]:443"), 200);
    }
    assert_eq!(get("[2001:db8:1:1::2]:443"), 429);
    assert_eq!(get("2001:db8:1:1:ffff:ffff:ffff:fffe:443"), 429);
    assert_eq!(get("[2001:db8:1:2::1]:443"), 200, "another /64");
    for _ in 0..3 {
        assert_eq!(get("192.0.2.1:443"), 200);
    }
    assert_eq!(
        get("[::ffff:192.0.2.1]:443"),
        429,
        "mapped: its IPv4 address"
    );
}

/// Over a real socket: the server hands the peer to the stack, and the
/// access log names the resolved client.
#[test]
fn the_access_log_names_the_resolved_client() {
    // (TRUSTED_PROXIES, the client logged for a request from 127.0.0.1
    // that says it forwards 198.51.100.77)
    for (trusted, logged) in [("127.0.0.0/8", "198.51.100.77"), ("", "127.0.0.1")] {
        let app = TestApp::with_env(&[("TRUSTED_PROXIES", trusted)]);
        let xff = [("X-Forwarded-For", "198.51.100.77")];
        assert_eq!(app.anon().send("GET", "/snippets", &xff, None).status, 200);
        let line = app.server.logs.wait_for(Duration::from_secs(5), |l| {
            l.contains("\"target\":\"access\"") && l.contains("\"path\":\"/snippets\"")
        });
        let line: Value = serde_json::from_str(&line.expect("an access line")).unwrap();
        assert_eq!(line["client_ip"], logged, "{line}");
    }
}

/// Issue 30, finding 6: a token-shaped value anywhere in the query is a
/// 400 (`+` is a space), and a token a client put in the path is never
/// written to the access log.
#[test]
fn tokens_in_urls_are_refused_or_redacted() {
    let app = TestApp::new();
    let token = mint(&app.db, "alice", &["snippets:read"]);
    for q in [
        format!("+{token}"),
        format!("find+{token}"),
        format!("%20{token}"),
    ] {
        app.anon().get(&format!("/snippets?q={q}")).problem(400);
    }
    app.anon().get(&format!("/snippets/{token}")).problem(404);
    app.anon()
        .get(&format!("/snippets/{token}/raw"))
        .problem(404);
    let line = app.server.logs.wait_for(Duration::from_secs(5), |l| {
        l.contains("\"target\":\"access\"") && l.contains("/raw")
    });
    let line: Value = serde_json::from_str(&line.expect("an access line")).unwrap();
    assert_eq!(line["path"], "/snippets/[redacted]/raw", "{line}");
    assert!(
        !app.server.logs.text().contains(&token[4..]),
        "the token was logged"
    );
}

#[test]
fn rate_limits_off_warns_at_startup() {
    let app = TestApp::with_env(&[("RATE_LIMITS", "off")]);
    let warned = app.server.logs.wait_for(Duration::from_secs(5), |l| {
        l.contains("RATE_LIMITS=off") && l.contains("WARN")
    });
    assert!(warned.is_some(), "{}", app.server.logs.text());
}
