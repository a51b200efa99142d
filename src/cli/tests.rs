//! Unit tests of the configuration as the command line declares it
//! (src/cli.rs over src/config/): the README's table against the
//! declaration, flags, defaults, errors and `snippetd config`.

use super::*;
use crate::config::*;
use clap::{Args, CommandFactory};
use std::net::IpAddr;
use std::time::Duration;

/// Every environment-backed argument of the whole command line, once.
fn declared() -> Vec<clap::Arg> {
    let cmd = Cli::command();
    let mut seen = std::collections::BTreeMap::new();
    for sub in cmd.get_subcommands() {
        for a in sub.get_arguments() {
            if let Some(var) = a.get_env().and_then(|v| v.to_str()) {
                seen.entry(var.to_string()).or_insert_with(|| a.clone());
            }
        }
    }
    seen.into_values().collect()
}

/// (variable, default) pairs of README.md's configuration table: the
/// first cell lists variables, the second their defaults in order.
fn readme_table() -> Vec<(String, String)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("README has a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let clean = |s: &str| s.trim().trim_matches('`').to_string();
        let vars: Vec<String> = cells[1].split(',').map(clean).collect();
        let defaults: Vec<String> = cells[2].split(',').map(clean).collect();
        assert_eq!(vars.len(), defaults.len(), "README row: {line}");
        rows.extend(vars.into_iter().zip(defaults));
    }
    rows
}

#[test]
fn readme_lists_every_variable_with_its_declared_default() {
    let readme = readme_table();
    let declared: Vec<(String, String)> = declared()
        .iter()
        .map(|a| {
            let default = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",");
            let var = a.get_env().unwrap().to_string_lossy().into_owned();
            (
                var,
                if default.is_empty() {
                    "–".into()
                } else {
                    default
                },
            )
        })
        .collect();
    let mut readme_sorted = readme.clone();
    readme_sorted.sort();
    assert_eq!(
        readme_sorted, declared,
        "README.md's configuration table (left) differs from the declaration (right)"
    );
}

#[test]
fn every_flag_is_its_variable_in_lower_case() {
    for a in declared() {
        let var = a.get_env().unwrap().to_string_lossy().to_lowercase();
        let long = a.get_long().unwrap();
        assert!(
            long.replace('-', "_") == var
                || (var.as_str(), long) == ("healthcheck_timeout_seconds", "timeout"),
            "--{long} vs {var}"
        );
    }
}

fn settings(flags: &[&str]) -> Result<Settings, clap::Error> {
    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        s: Settings,
    }
    let cmd = T::command().mut_args(|a| a.env(clap::builder::Resettable::Reset));
    let m = cmd.try_get_matches_from(std::iter::once("t").chain(flags.iter().copied()))?;
    Ok(<T as clap::FromArgMatches>::from_arg_matches(&m)?.s)
}

#[test]
fn http_defaults_and_errors() {
    let s = settings(&["--db-host=h", "--db-username=u", "--db-password=p"]).unwrap();
    let h = Config::from_settings(&s).unwrap().http;
    assert_eq!(h.port, 3000);
    assert_eq!(h.max_body_bytes, 262_144);
    assert!(!h.expose_errors);
    assert_eq!(h.cors, CorsOrigins::None);
    assert!(settings(&["--port=http"]).is_err());
    assert!(settings(&["--port=0"]).is_err());
    assert!(settings(&["--cors-allowed-origins=https://a.b/"]).is_err());
    let s = settings(&[
        "--cors-allowed-origins=https://a.b, http://c.d:8080",
        "--expose-errors=yes",
        "--request-timeout-seconds=5",
    ])
    .unwrap();
    let h = HttpConfig::from(&s.http);
    assert_eq!(
        h.cors,
        CorsOrigins::List(vec!["https://a.b".into(), "http://c.d:8080".into()])
    );
    assert!(h.expose_errors);
    assert_eq!(h.body_read_timeout, Duration::from_secs(4));
}

#[test]
fn limits_and_trusted_proxies() {
    let s = settings(&["--db-host=h", "--db-username=u", "--db-password=p"]).unwrap();
    let l = Config::from_settings(&s).unwrap().http.limits;
    let r = l.rate.expect("on by default");
    assert_eq!((r.reads_per_minute, r.writes_per_minute), (600, 60));
    assert!(l.trusted_proxies.is_empty());
    assert_eq!(l.quota.max_bytes, 100 << 20);
    let s = settings(&[
        "--rate-limits=off",
        "--trusted-proxies=10.0.0.0/16, 2001:db8::/32,192.0.2.7",
    ])
    .unwrap();
    let l = LimitsConfig::from(&s.http.limits);
    assert!(l.rate.is_none());
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let has = |s: &str| l.trusted_proxies.iter().any(|c| c.contains(ip(s)));
    assert!(has("10.0.255.1") && has("::ffff:10.0.0.1") && has("2001:db8::9") && has("192.0.2.7"));
    assert!(!has("10.1.0.0") && !has("192.0.2.8") && !has("2001:db9::1"));
    let all = parse_cidrs("0.0.0.0/0").unwrap();
    assert!(all.0[0].contains(ip("8.8.8.8")) && !all.0[0].contains(ip("::1")));
    for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::/129"] {
        assert!(parse_cidrs(bad).is_err(), "{bad}");
    }
    let env: std::collections::HashMap<String, String> = [
        ("DATABASE_URL", "postgres://u:p@h/d"),
        ("TRUSTED_PROXIES", "10.0.0.0/40"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        Config::from_env_map(&env).unwrap_err().var,
        "TRUSTED_PROXIES"
    );
}

#[test]
fn from_env_map_reads_the_same_declaration() {
    let env = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let url = ("DATABASE_URL", "postgres://u:p@h/d");
    let c = Config::from_env_map(&env(&[url, ("PORT", "8080"), ("MAX_CONNECTIONS", "")])).unwrap();
    assert_eq!((c.http.port, c.http.max_connections), (8080, 10_000));
    assert_eq!(c.http.max_connections_per_address, 256);
    let c = Config::from_env_map(&env(&[url, ("MAX_CONNECTIONS", "100")])).unwrap();
    assert_eq!(c.http.max_connections_per_address, 25);
    let e = Config::from_env_map(&env(&[url, ("PORT", "x")])).unwrap_err();
    assert_eq!(e.var, "PORT");
    let e = Config::from_env_map(&env(&[])).unwrap_err();
    assert_eq!(e.var, "DB_HOST");
}

#[test]
fn render_redacts_secrets_and_shows_the_merged_connection() {
    let flags = [
        "t",
        "--database-url=postgres://u:topsecret@db:6543/x?sslmode=require",
        "--app-db-username=app",
        "--app-db-password=alsosecret",
        "--port=8080",
    ];
    let full = SuperviseSettings::augment_args(clap::Command::new("t"));
    let m = full
        .clone()
        .mut_args(|a| a.env(clap::builder::Resettable::Reset))
        .try_get_matches_from(flags)
        .unwrap();
    let s = <SuperviseSettings as clap::FromArgMatches>::from_arg_matches(&m).unwrap();
    let db = DbConfig::from_args(&s.settings.db).unwrap();
    let out = render(&full, &m, &db);
    for line in [
        "DATABASE_URL=<redacted>\n",
        "DB_HOST=db\n",
        "DB_PORT=6543\n",
        "DB_SSLMODE=require\n",
        "DB_PASSWORD=\n",
        "PORT=8080\n",
        "LOG_FORMAT=json\n",
        "APP_DB_USERNAME=app\n",
        "APP_DB_PASSWORD=<redacted>\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    assert!(!out.contains("secret"), "{out}");
    assert_eq!(
        out.lines().count(),
        declared().len() - 1,
        "all but HEALTHCHECK_TIMEOUT_SECONDS"
    );
}
