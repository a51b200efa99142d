//! The database connection: `DATABASE_URL`, or `DB_HOST`/`DB_PORT`/
//! `DB_USERNAME`/`DB_PASSWORD`/`DB_NAME`, merged with `DB_SSLMODE`/
//! `DB_SSLROOTCERT` and the URL's own `sslmode`/`sslrootcert` into one
//! [`DbConfig`] that `migrate`, `serve` and `supervise` share. No URL is ever
//! assembled, so a password may hold any character.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::value_parser;
use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;

mod url;
use url::*;

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.into(),
        reason: reason.into(),
    }
}

/// The connection settings as declared; [`DbConfig::from_args`] merges them.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Database")]
pub struct DbArgs {
    /// postgres://user:pass@host:port/db?sslmode=…&sslrootcert=… (percent-encode special characters); when set, DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD and DB_NAME are not read
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// Database host, used when DATABASE_URL is unset (ECS passes DB_* from Secrets Manager)
    #[arg(long, env = "DB_HOST")]
    pub db_host: Option<String>,
    #[arg(long, env = "DB_PORT", default_value_t = 5432, value_parser = value_parser!(u16).range(1..))]
    pub db_port: u16,
    #[arg(long, env = "DB_USERNAME")]
    pub db_username: Option<String>,
    /// Any character works (no URL is built from it)
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<SecretString>,
    #[arg(long, env = "DB_NAME", default_value = "snippets")]
    pub db_name: String,
    /// libpq's sslmode; when unset: the URL's sslmode, else prefer
    #[arg(long, env = "DB_SSLMODE", value_parser = sslmode_values())]
    pub db_sslmode: Option<String>,
    /// PEM bundle of the CAs to trust (required for verify-ca and verify-full)
    #[arg(long, env = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<PathBuf>,
    /// Connections in the pool; id lookups use at most a quarter of them (at least 2) at once
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10, value_parser = value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,
    /// Searches (lists with tag or q; language alone takes no slot) running at once; 0 = half the pool (at least 1), so that id lookups and writes always keep connections. More wait up to DB_POOL_TIMEOUT_MS, then 503
    #[arg(long, env = "SEARCH_CONCURRENCY", default_value_t = 0, value_parser = value_parser!(u32).range(0..=1000))]
    pub search_concurrency: u32,
    /// Wait for a pooled connection before answering 503
    #[arg(long, env = "DB_POOL_TIMEOUT_MS", default_value_t = 2000, value_parser = value_parser!(u64).range(10..=60_000))]
    pub db_pool_timeout_ms: u64,
    /// TCP + TLS + authentication for one connection
    #[arg(long, env = "DB_CONNECT_TIMEOUT_SECONDS", default_value_t = 5, value_parser = value_parser!(u64).range(1..=300))]
    pub db_connect_timeout_seconds: u64,
    /// Server-side statement timeout for requests (0 = none)
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = 10_000, value_parser = value_parser!(u64).range(0..=3_600_000))]
    pub db_statement_timeout_ms: u64,
    /// Earlier versions kept per snippet (older ones hidden at once, deleted in batches of 16 writes; 0 = no history); sent to PostgreSQL with each connection, where a trigger writes revisions
    #[arg(long, env = "REVISIONS_KEPT", default_value_t = 100, value_parser = value_parser!(u64).range(0..=10_000))]
    pub revisions_kept: u64,
    /// How long `supervise` waits for the database
    #[arg(long, env = "DB_WAIT_SECONDS", default_value_t = 60, value_parser = value_parser!(u64).range(0..=3600))]
    pub db_wait_seconds: u64,
}

/// libpq's names, plus node-postgres' `no-verify` (hidden: read as require,
/// with a warning), which the system snippetd replaces used; see
/// https://github.com/brianc/node-postgres/tree/master/packages/pg-connection-string#tcp-connections
fn sslmode_values() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new("disable"),
        PossibleValue::new("prefer"),
        PossibleValue::new("require"),
        PossibleValue::new("verify-ca"),
        PossibleValue::new("verify-full"),
        PossibleValue::new("no-verify").hide(true),
    ])
}

/// The least-privilege role that `serve` connects as, when set. `migrate`
/// (run as the schema owner) creates or updates it and its grants;
/// `supervise` hands it to its `serve` child instead of the owner's.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Application role")]
pub struct AppRoleArgs {
    /// Role `serve` connects as under `supervise`; `migrate` creates it with DML rights only. Unset: one role for everything
    #[arg(long, env = "APP_DB_USERNAME")]
    pub app_db_username: Option<String>,
    /// That role's password (required with APP_DB_USERNAME)
    #[arg(long, env = "APP_DB_PASSWORD", hide_env_values = true)]
    pub app_db_password: Option<SecretString>,
}

/// The application role's credentials; Debug never shows the password.
#[derive(Clone, Debug)]
pub struct AppRole {
    pub user: String,
    pub password: SecretString,
}

impl AppRoleArgs {
    /// Both variables or neither; the role must not be the owner itself.
    pub fn resolve(&self, owner: &DbConfig) -> Result<Option<AppRole>, ConfigError> {
        match (&self.app_db_username, &self.app_db_password) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(err(
                "APP_DB_USERNAME",
                "is not set, but APP_DB_PASSWORD is: set both or neither",
            )),
            (Some(_), None) => Err(err("APP_DB_PASSWORD", "is required with APP_DB_USERNAME")),
            // PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
            (Some(user), Some(_)) if user.len() > 63 => {
                Err(err("APP_DB_USERNAME", "is longer than 63 bytes"))
            }
            (Some(user), Some(_)) if Some(user.as_str()) == owner.pg.get_user() => Err(err(
                "APP_DB_USERNAME",
                "must differ from the migrating (owner) role: DB_USERNAME or the DATABASE_URL user",
            )),
            (Some(user), Some(password)) => Ok(Some(AppRole {
                user: user.clone(),
                password: password.clone(),
            })),
        }
    }
}

/// libpq's `sslmode` values (`allow` is not offered: it only matters for
/// servers that require TLS while the client prefers not to use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(var: &'static str, raw: &str) -> Result<(SslMode, bool), ConfigError> {
        // The bool says "accepted with a warning" (node-postgres' `no-verify`).
        Ok(match raw {
            "disable" => (SslMode::Disable, false),
            "prefer" => (SslMode::Prefer, false),
            "require" => (SslMode::Require, false),
            "verify-ca" => (SslMode::VerifyCa, false),
            "verify-full" => (SslMode::VerifyFull, false),
            "no-verify" => (SslMode::Require, true),
            other => {
                return Err(err(
                    var,
                    format!(
                        "must be one of disable, prefer, require, verify-ca, verify-full (got {other:?})"
                    ),
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    pub mode: SslMode,
    /// PEM bundle; every certificate in it is trusted, and only those.
    pub root_cert: Option<PathBuf>,
}

/// The database connection, built structurally.
#[derive(Clone)]
pub struct DbConfig {
    pub pg: tokio_postgres::Config,
    pub tls: TlsConfig,
    pub pool_size: u32,
    /// `SEARCH_CONCURRENCY`, resolved: searches (`tag` or `q`) running at once.
    pub search_concurrency: u32,
    /// `REVISIONS_KEPT`: what reads of history show (the database prunes
    /// in batches, migrations/2026-12-05-000003_batched_revision_pruning).
    pub revisions_kept: u64,
    /// How long a request waits for a pooled connection before it gets a 503.
    pub pool_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long `supervise` waits for the database to come up.
    pub wait: Duration,
    /// Warnings found while reading (e.g. `sslmode=no-verify`), logged once
    /// the logger is up.
    pub warnings: Vec<String>,
}

impl DbConfig {
    pub fn host(&self) -> String {
        match self.pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        }
    }

    pub fn port(&self) -> u16 {
        self.pg.get_ports().first().copied().unwrap_or(5432)
    }

    /// `host:port/dbname`, for messages. Never includes the password.
    pub fn target(&self) -> String {
        format!(
            "{}:{}/{}",
            self.host(),
            self.port(),
            self.pg.get_dbname().unwrap_or("")
        )
    }

    /// The merged connection as `DB_*` values, password excepted: what
    /// `snippetd config` prints, and what `supervise` passes to its `serve`
    /// child (with the application role's credentials) instead of a URL.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DB_HOST", self.host()),
            ("DB_PORT", self.port().to_string()),
            ("DB_USERNAME", self.pg.get_user().unwrap_or("").to_string()),
            ("DB_NAME", self.pg.get_dbname().unwrap_or("").to_string()),
            ("DB_SSLMODE", self.tls.mode.to_string()),
            (
                "DB_SSLROOTCERT",
                self.tls
                    .root_cert
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        ]
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("target", &self.target())
            .field("user", &self.pg.get_user())
            .field("password", &self.pg.get_password().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl DbConfig {
    /// Each setting from the URL or its own variable, in turn (`one_of`
    /// names both when they disagree): a flat list of steps, a little over
    /// 80 lines, that reads best in order.
    pub fn from_args(a: &DbArgs) -> Result<DbConfig, ConfigError> {
        let mut warnings = Vec::new();
        let (mut pg, url_extras) = match &a.database_url {
            Some(url) => from_url(url.expose_secret(), a, &mut warnings)?,
            None => (from_vars(a)?, UrlExtras::default()),
        };

        let mode = match one_of(
            "DB_SSLMODE",
            a.db_sslmode.clone(),
            "sslmode",
            url_extras.sslmode,
        )? {
            None => SslMode::Prefer,
            Some(raw) => {
                let (mode, warn) = SslMode::parse("DB_SSLMODE", &raw)?;
                if warn {
                    warnings.push(
                        "sslmode=no-verify is read as require: traffic is encrypted but the \
                         server is not authenticated; use verify-full with DB_SSLROOTCERT"
                            .into(),
                    );
                }
                mode
            }
        };
        let root_cert = one_of(
            "DB_SSLROOTCERT",
            a.db_sslrootcert
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            "sslrootcert",
            url_extras.sslrootcert,
        )?
        .map(PathBuf::from);
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
            return Err(err(
                "DB_SSLROOTCERT",
                format!(
                    "is required with sslmode={mode} (a PEM file of the CA certificates to trust)"
                ),
            ));
        }

        let connect_timeout = Duration::from_secs(a.db_connect_timeout_seconds);
        pg.connect_timeout(connect_timeout)
            .application_name("snippetd")
            // Dead peers (an RDS fail-over) are noticed in seconds, not hours.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30))
            // The revision trigger reads the cap from the session
            // (migrations/2026-12-01-000001_revisions_forks): no round trip.
            // No JIT: it compiled a 1 M-row search for 50-100 ms that the
            // query then did not need (docs/performance.md). No parallel
            // workers: starting two cost a search of no rows 10-12 ms
            // (a generic plan that expected 4,000 matches, auto_explain),
            // and a request never needs more than its own backend.
            .options(format!(
                "-c statement_timeout={} -c snippetd.revisions_kept={} -c jit=off \
                 -c max_parallel_workers_per_gather=0",
                a.db_statement_timeout_ms, a.revisions_kept
            ));

        Ok(DbConfig {
            pg,
            tls: TlsConfig { mode, root_cert },
            pool_size: a.db_pool_size,
            search_concurrency: match a.search_concurrency {
                0 => (a.db_pool_size / 2).max(1),
                n => n,
            },
            pool_timeout: Duration::from_millis(a.db_pool_timeout_ms),
            connect_timeout,
            wait: Duration::from_secs(a.db_wait_seconds),
            revisions_kept: a.revisions_kept,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests;
