//! Everything snippetd reads from its command line and environment,
//! declared once: each setting is one clap field with its flag, its
//! variable, its default and its range ([`HttpArgs`], [`LogArgs`],
//! [`db::DbArgs`], [`db::AppRoleArgs`]). `snippetd serve --help`,
//! `snippetd config` ([`render`]) and the README check (the tests below)
//! read that one declaration, and [`Config`] is built from it once.
//!
//! The `DATABASE_URL` / `DB_*` / `sslmode` merging is in [`db`], the one
//! place that knows about connection variables, for `migrate` and `serve`
//! alike.

pub mod db;
mod limits;
mod metrics;
mod parse;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::{value_parser, ArgAction};

pub use db::{AppRole, AppRoleArgs, DbArgs, DbConfig, SslMode, TlsConfig};
pub use limits::*;
pub use metrics::*;
pub use parse::{parse, render};

use crate::exit;

/// A missing or invalid variable. Display is one line naming the variable;
/// it never contains a password or a whole `DATABASE_URL`.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

/// Prints a config error as one line naming the variable.
pub fn failed(e: &ConfigError) -> ExitCode {
    eprintln!("snippetd: configuration error: {e}");
    ExitCode::from(exit::CONFIG)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// json (one object per line) or text
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// env_logger filter
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub rust_log: String,
    /// milliseconds info lines may wait to be written together (warnings and errors never wait); 0 writes each line at once
    #[arg(long, env = "LOG_FLUSH_MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub log_flush_ms: u64,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub format: LogFormat,
    /// env_logger filter, from `RUST_LOG`.
    pub filter: String,
    /// `LOG_FLUSH_MS` (src/logging/sink.rs).
    pub flush_every: std::time::Duration,
}

impl From<&LogArgs> for LogConfig {
    fn from(a: &LogArgs) -> LogConfig {
        LogConfig {
            format: a.log_format,
            filter: a.rust_log.clone(),
            flush_every: std::time::Duration::from_millis(a.log_flush_ms),
        }
    }
}

/// Allowed CORS origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    None,
    Any,
    List(Vec<String>),
}

fn parse_cors(raw: &str) -> Result<CorsOrigins, String> {
    if raw.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let mut list = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.trim_end_matches('/').ends_with("://")
            && !origin.ends_with('/');
        if !ok {
            return Err(format!(
                "{origin:?} is not an origin like https://app.example.com (no path, no trailing slash)"
            ));
        }
        list.push(origin.to_string());
    }
    Ok(CorsOrigins::List(list))
}

/// `PORT`, shared by `serve` and `healthcheck` (one declaration, one parser).
#[derive(clap::Args, Clone, Debug)]
pub struct PortArg {
    /// TCP port to listen on (serve) or to probe (healthcheck)
    #[arg(long, env = "PORT", default_value_t = 3000, value_parser = value_parser!(u16).range(1..))]
    pub port: u16,
}

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "HTTP")]
pub struct HttpArgs {
    /// IP address to listen on
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    #[command(flatten)]
    pub port: PortArg,
    /// Larger request bodies get 413
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 262_144, value_parser = RangedU64ValueParser::<usize>::new().range(1024..=64 << 20))]
    pub max_body_bytes: usize,
    /// Latest expiry a snippet may be given (expiresAt / expiresIn), in seconds from now
    #[arg(long, env = "MAX_EXPIRY_SECONDS", default_value_t = 31_536_000, value_parser = value_parser!(u64).range(60..=3_153_600_000))]
    pub max_expiry_seconds: u64,
    /// Larger POST /snippets/import bodies get 413 (MAX_BODY_BYTES applies to every other route)
    #[arg(long, env = "IMPORT_MAX_BYTES", default_value_t = 67_108_864, value_parser = RangedU64ValueParser::<usize>::new().range(1024..=1 << 30))]
    pub import_max_bytes: usize,
    /// A request body that takes longer to arrive gets 408 (capped at REQUEST_TIMEOUT_SECONDS - 1)
    #[arg(long, env = "BODY_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = value_parser!(u64).range(1..=600))]
    pub body_read_timeout_seconds: u64,
    /// A request taking longer gets 503
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 15, value_parser = value_parser!(u64).range(2..=600))]
    pub request_timeout_seconds: u64,
    /// A connection that sends no complete request head in this time is closed (idle keep-alive included; above the ALB's 60 s)
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECONDS", default_value_t = 65, value_parser = value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_seconds: u64,
    /// Time for in-flight requests after SIGTERM
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 20, value_parser = value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
    /// Concurrent client connections
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
    /// Concurrent connections from one address (an IPv6 /64); 0 = a quarter of MAX_CONNECTIONS, at most 256
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 0, value_parser = RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    pub max_connections_per_address: usize,
    /// Comma-separated origins, or *
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_parser = parse_cors)]
    pub cors_allowed_origins: Option<CorsOrigins>,
    /// 1 puts internal error details into 5xx responses (never in production)
    #[arg(long, env = "EXPOSE_ERRORS", default_value = "0", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    pub expose_errors: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub max_body_bytes: usize,
    /// `MAX_EXPIRY_SECONDS`.
    pub max_expiry: Duration,
    /// `IMPORT_MAX_BYTES`: the body limit of `POST /snippets/import` alone.
    pub import_max_bytes: usize,
    pub expose_errors: bool,
    pub cors: CorsOrigins,
    /// Closes a connection that has not sent a complete request head within
    /// this time, idle keep-alive connections included. Default 65 s: above
    /// the ALB's 60 s idle timeout, as AWS advises for targets
    /// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout).
    pub header_read_timeout: Duration,
    /// A client that takes longer to send its body gets 408.
    pub body_read_timeout: Duration,
    /// Upper bound for one request's work (database included) → 503.
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_ADDRESS`, resolved: connections from one TCP
    /// peer (an IPv6 /64) at once; trusted proxies are not capped.
    pub max_connections_per_address: usize,
    pub limits: LimitsConfig,
}

impl From<&HttpArgs> for HttpConfig {
    fn from(a: &HttpArgs) -> HttpConfig {
        let request_timeout = Duration::from_secs(a.request_timeout_seconds);
        HttpConfig {
            host: a.host,
            port: a.port.port,
            max_body_bytes: a.max_body_bytes,
            max_expiry: Duration::from_secs(a.max_expiry_seconds),
            import_max_bytes: a.import_max_bytes,
            expose_errors: a.expose_errors,
            cors: a.cors_allowed_origins.clone().unwrap_or(CorsOrigins::None),
            header_read_timeout: Duration::from_secs(a.header_read_timeout_seconds),
            // A slow body is the client's fault (408): let that fire before
            // the request timeout (503) would.
            body_read_timeout: Duration::from_secs(a.body_read_timeout_seconds)
                .min(request_timeout - Duration::from_secs(1)),
            request_timeout,
            shutdown_grace: Duration::from_secs(a.shutdown_grace_seconds),
            max_connections: a.max_connections,
            max_connections_per_address: match a.max_connections_per_address {
                0 => (a.max_connections / 4).clamp(1, 256),
                n => n,
            },
            limits: LimitsConfig::from(&a.limits),
        }
    }
}

/// `RATE_LIMITS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `AUTH_MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Writes need a bearer token; snippets have owners and visibility.
    Tokens,
    /// The guide's behaviour: no token needed, every snippet public and
    /// unowned. For local experiments only; `serve` warns loudly.
    Open,
}

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Identity")]
pub struct AuthArgs {
    /// tokens: writes need a bearer token (docs/api.md, "Tokens"); open: no authentication at all (local experiments only)
    #[arg(long, env = "AUTH_MODE", value_enum, default_value = "tokens")]
    pub auth_mode: AuthMode,
    /// SHA-256 (64 hex digits) of an admin token that serve makes sure exists (the second line of `snippetd token new`)
    #[arg(long, env = "BOOTSTRAP_ADMIN_TOKEN_SHA256", value_parser = parse_sha256)]
    pub bootstrap_admin_token_sha256: Option<Sha256Hex>,
}

/// 32 bytes given as 64 hex digits.
#[derive(Clone, Copy, Debug)]
pub struct Sha256Hex(pub [u8; 32]);

fn parse_sha256(s: &str) -> Result<Sha256Hex, String> {
    let s = s.trim();
    let bad = || "must be 64 hex digits (the second line of `snippetd token new`)".to_string();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(Sha256Hex(out))
}

/// Identity settings, validated.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// `BOOTSTRAP_ADMIN_TOKEN_SHA256`: `serve` makes sure an owner `admin`
    /// with an admin token of this SHA-256 exists. A hash, not a secret.
    pub bootstrap_admin_sha256: Option<[u8; 32]>,
}

impl From<&AuthArgs> for AuthConfig {
    fn from(a: &AuthArgs) -> AuthConfig {
        AuthConfig {
            mode: a.auth_mode,
            bootstrap_admin_sha256: a.bootstrap_admin_token_sha256.map(|h| h.0),
        }
    }
}

/// What the operator commands (`owner`, `token`) read: the connection and
/// logging, as `serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct AdminSettings {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// What `serve` reads.
#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// What `supervise` and `config` read: `serve`'s settings and the
/// application role.
#[derive(clap::Args, Clone, Debug)]
pub struct SuperviseSettings {
    #[command(flatten)]
    pub settings: Settings,
    #[command(flatten)]
    pub app_role: AppRoleArgs,
}

/// What `migrate` reads: the connection, the application role, logging.
#[derive(clap::Args, Clone, Debug)]
pub struct MigrateSettings {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub app_role: AppRoleArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Everything `serve` and `supervise` need, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub db: DbConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub auth: AuthConfig,
}

impl Config {
    pub fn from_settings(s: &Settings) -> Result<Config, ConfigError> {
        Ok(Config {
            log: LogConfig::from(&s.log),
            db: DbConfig::from_args(&s.db)?,
            http: HttpConfig::from(&s.http),
            metrics: MetricsConfig::from(&s.metrics),
            auth: AuthConfig::from(&s.auth),
        })
    }
}
