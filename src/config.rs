//! Everything snippetd reads from the environment, validated once into typed
//! structs. Both `migrate` and `serve` build their database connection from
//! [`DbConfig`], so there is exactly one place that knows about `DATABASE_URL`
//! and `DB_*` (the guide's bugs 4.1–4.3 and 4.11 came from three).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

/// A missing or invalid variable. Display is one line naming the variable;
/// it never contains a password or a whole `DATABASE_URL`.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// Exit code for configuration errors (sysexits EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Where variables come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, var: &'static str) -> Result<Option<String>, ConfigError>;
}

/// The process environment. Empty values count as unset, as in most shells'
/// `${VAR:-default}`; non-UTF-8 values are an error naming the variable.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        match std::env::var(var) {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(err(var, "is not valid UTF-8")),
        }
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn get(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        (**self).get(var)
    }
}

impl Source for std::collections::HashMap<&'static str, String> {
    fn get(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        Ok(self.get(var).filter(|v| !v.is_empty()).cloned())
    }
}

fn parse_num<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
    src: &impl Source,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match src.get(var)? {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(err(
                var,
                format!("must be a whole number from {min} to {max} (got {raw:?})"),
            )),
        },
    }
}

fn parse_bool(src: &impl Source, var: &'static str) -> Result<bool, ConfigError> {
    match src.get(var)?.as_deref().map(str::trim) {
        None => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(err(var, format!("must be 1 or 0 (got {other:?})"))),
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
        // The bool says "accepted with a warning" (the guide's `no-verify`).
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

/// The database connection, built structurally: no URL is ever assembled, so
/// a password may hold any character.
#[derive(Clone)]
pub struct DbConfig {
    pub pg: tokio_postgres::Config,
    pub tls: TlsConfig,
    pub pool_size: u32,
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
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("host", &self.host())
            .field("port", &self.port())
            .field("user", &self.pg.get_user())
            .field("password", &self.pg.get_password().map(|_| "<redacted>"))
            .field("dbname", &self.pg.get_dbname())
            .field("sslmode", &self.tls.mode)
            .field("sslrootcert", &self.tls.root_cert)
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Query parameters of `DATABASE_URL` that snippetd handles itself, because
/// tokio-postgres rejects or ignores them.
struct UrlExtras {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Splits `sslmode`, `sslrootcert` and Prisma's `schema` off the URL's query.
/// Values are percent-decoded; nothing of the URL is echoed in errors.
fn split_url_extras(url: &str) -> Result<(String, UrlExtras), ConfigError> {
    const VAR: &str = "DATABASE_URL";
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(err(VAR, "must be a postgres:// or postgresql:// URL"));
    }
    let mut extras = UrlExtras {
        sslmode: None,
        sslrootcert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), extras));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(v)
            .decode_utf8()
            .map_err(|_| err(VAR, format!("query parameter {k:?} is not valid UTF-8")))?
            .into_owned();
        match k {
            "sslmode" => extras.sslmode = Some(value),
            "sslrootcert" => extras.sslrootcert = Some(value),
            // Prisma's `schema=public` (the guide's URL): public is the default.
            "schema" if value == "public" => {}
            "schema" => {
                return Err(err(
                    VAR,
                    format!("schema={value:?} is not supported (snippetd uses the public schema)"),
                ))
            }
            _ => kept.push(pair),
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rebuilt, extras))
}

/// Picks one value from two places; both set and different is an error that
/// names both (the guide's 4.12: a URL's sslmode silently won).
fn one_of(
    env_var: &'static str,
    env: Option<String>,
    url_key: &str,
    url: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match (env, url) {
        (Some(a), Some(b)) if a != b => Err(err(
            env_var,
            format!("is {a:?} but DATABASE_URL has {url_key}={b:?}: set one of them"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

impl DbConfig {
    pub fn from_source(src: &impl Source) -> Result<DbConfig, ConfigError> {
        let mut warnings = Vec::new();
        let (mut pg, url_extras) = match src.get("DATABASE_URL")? {
            Some(url) => {
                let (stripped, extras) = split_url_extras(&url)?;
                let pg: tokio_postgres::Config = stripped.parse().map_err(|e| {
                    // tokio-postgres' message names the bad part, not the value.
                    err(
                        "DATABASE_URL",
                        format!("is not a valid connection URL: {e}"),
                    )
                })?;
                if pg.get_hosts().is_empty() {
                    return Err(err("DATABASE_URL", "has no host"));
                }
                if pg.get_user().is_none() {
                    return Err(err("DATABASE_URL", "has no user name"));
                }
                for var in ["DB_HOST", "DB_USERNAME", "DB_PASSWORD"] {
                    if src.get(var)?.is_some() {
                        warnings.push(format!("DATABASE_URL is set, so {var} is ignored"));
                    }
                }
                (pg, extras)
            }
            None => {
                let need = |var: &'static str| {
                    src.get(var)?.ok_or_else(|| {
                        err(var, "is not set (set DATABASE_URL, or DB_HOST, DB_USERNAME and DB_PASSWORD)")
                    })
                };
                let host = need("DB_HOST")?;
                let user = need("DB_USERNAME")?;
                let password = need("DB_PASSWORD")?;
                let port = parse_num(src, "DB_PORT", 5432u16, 1, u16::MAX)?;
                let dbname = src.get("DB_NAME")?.unwrap_or_else(|| "snippets".into());
                let mut pg = tokio_postgres::Config::new();
                pg.host(&host)
                    .port(port)
                    .user(&user)
                    .password(password)
                    .dbname(&dbname);
                (
                    pg,
                    UrlExtras {
                        sslmode: None,
                        sslrootcert: None,
                    },
                )
            }
        };

        let mode_raw = one_of(
            "DB_SSLMODE",
            src.get("DB_SSLMODE")?,
            "sslmode",
            url_extras.sslmode,
        )?;
        let mode = match mode_raw {
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
            src.get("DB_SSLROOTCERT")?,
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

        let connect_timeout =
            Duration::from_secs(parse_num(src, "DB_CONNECT_TIMEOUT_SECONDS", 5u64, 1, 300)?);
        let statement_timeout_ms =
            parse_num(src, "DB_STATEMENT_TIMEOUT_MS", 10_000u64, 0, 3_600_000)?;
        pg.connect_timeout(connect_timeout)
            .application_name("snippetd")
            // Dead peers (an RDS fail-over) are noticed in seconds, not hours.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30))
            .options(format!("-c statement_timeout={statement_timeout_ms}"));

        Ok(DbConfig {
            pg,
            tls: TlsConfig { mode, root_cert },
            pool_size: parse_num(src, "DB_POOL_SIZE", 10u32, 1, 1000)?,
            pool_timeout: Duration::from_millis(parse_num(
                src,
                "DB_POOL_TIMEOUT_MS",
                2_000u64,
                10,
                60_000,
            )?),
            connect_timeout,
            wait: Duration::from_secs(parse_num(src, "DB_WAIT_SECONDS", 60u64, 0, 3600)?),
            warnings,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub format: LogFormat,
    /// env_logger filter, from `RUST_LOG`.
    pub filter: String,
}

impl LogConfig {
    pub fn from_source(src: &impl Source) -> Result<LogConfig, ConfigError> {
        let format = match src.get("LOG_FORMAT")?.as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(err(
                    "LOG_FORMAT",
                    format!("must be json or text (got {other:?})"),
                ))
            }
        };
        let filter = src.get("RUST_LOG")?.unwrap_or_else(|| "info".into());
        Ok(LogConfig { format, filter })
    }
}

/// Allowed CORS origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    None,
    Any,
    List(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub max_body_bytes: usize,
    pub expose_errors: bool,
    pub cors: CorsOrigins,
    /// Closes a connection that has not sent a complete request head within
    /// this time, idle keep-alive connections included. Default 65 s: above
    /// the ALB's 60 s idle timeout, as AWS advises for targets.
    pub header_read_timeout: Duration,
    /// A client that takes longer to send its body gets 408.
    pub body_read_timeout: Duration,
    /// Upper bound for one request's work (database included) → 503.
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
}

impl HttpConfig {
    pub fn from_source(src: &impl Source) -> Result<HttpConfig, ConfigError> {
        let host = match src.get("HOST")? {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(raw) => raw.trim().parse().map_err(|_| {
                err(
                    "HOST",
                    format!("must be an IP address to listen on (got {raw:?})"),
                )
            })?,
        };
        let cors = match src.get("CORS_ALLOWED_ORIGINS")? {
            None => CorsOrigins::None,
            Some(raw) if raw.trim() == "*" => CorsOrigins::Any,
            Some(raw) => {
                let mut list = Vec::new();
                for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                    let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                        && !origin.trim_end_matches('/').ends_with("://")
                        && !origin.ends_with('/');
                    if !ok {
                        return Err(err(
                            "CORS_ALLOWED_ORIGINS",
                            format!("{origin:?} is not an origin like https://app.example.com (no path, no trailing slash)"),
                        ));
                    }
                    list.push(origin.to_string());
                }
                CorsOrigins::List(list)
            }
        };
        let request_timeout =
            Duration::from_secs(parse_num(src, "REQUEST_TIMEOUT_SECONDS", 15u64, 2, 600)?);
        // A slow body is the client's fault (408): let that fire before the
        // request timeout (503) would.
        let body_read_timeout =
            Duration::from_secs(parse_num(src, "BODY_READ_TIMEOUT_SECONDS", 10u64, 1, 600)?)
                .min(request_timeout - Duration::from_secs(1));
        Ok(HttpConfig {
            host,
            port: parse_num(src, "PORT", 3000u16, 1, u16::MAX)?,
            max_body_bytes: parse_num(src, "MAX_BODY_BYTES", 256 * 1024usize, 1024, 64 << 20)?,
            expose_errors: parse_bool(src, "EXPOSE_ERRORS")?,
            cors,
            header_read_timeout: Duration::from_secs(parse_num(
                src,
                "HEADER_READ_TIMEOUT_SECONDS",
                65u64,
                1,
                3600,
            )?),
            body_read_timeout,
            request_timeout,
            shutdown_grace: Duration::from_secs(parse_num(
                src,
                "SHUTDOWN_GRACE_SECONDS",
                20u64,
                0,
                3600,
            )?),
            max_connections: parse_num(src, "MAX_CONNECTIONS", 10_000usize, 1, 1_000_000)?,
        })
    }
}

/// `AUTH_MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Writes need a bearer token; snippets have owners and visibility.
    Tokens,
    /// The guide's behaviour: no token needed, every snippet public and
    /// unowned. For local experiments only; `serve` warns loudly.
    Open,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// `BOOTSTRAP_ADMIN_TOKEN_SHA256`: `serve` makes sure an owner `admin`
    /// with an admin token of this SHA-256 exists. A hash, not a secret:
    /// `snippetd token new` prints a token and its hash.
    pub bootstrap_admin_sha256: Option<[u8; 32]>,
}

impl AuthConfig {
    pub fn from_source(src: &impl Source) -> Result<AuthConfig, ConfigError> {
        let mode = match src.get("AUTH_MODE")?.as_deref().map(str::trim) {
            None | Some("tokens") => AuthMode::Tokens,
            Some("open") => AuthMode::Open,
            Some(other) => {
                return Err(err(
                    "AUTH_MODE",
                    format!("must be tokens or open (got {other:?})"),
                ))
            }
        };
        let bootstrap_admin_sha256 = match src.get("BOOTSTRAP_ADMIN_TOKEN_SHA256")? {
            None => None,
            Some(raw) => Some(parse_sha256(raw.trim()).ok_or_else(|| {
                err(
                    "BOOTSTRAP_ADMIN_TOKEN_SHA256",
                    "must be 64 hex digits (the second line of `snippetd token new`)",
                )
            })?),
        };
        Ok(AuthConfig {
            mode,
            bootstrap_admin_sha256,
        })
    }
}

fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Everything `serve` and `supervise` need.
/// Every variable read above.
const VARS: &[&str] = &[
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_USERNAME",
    "DB_PASSWORD",
    "DB_NAME",
    "DB_SSLMODE",
    "DB_SSLROOTCERT",
    "DB_POOL_SIZE",
    "DB_POOL_TIMEOUT_MS",
    "DB_CONNECT_TIMEOUT_SECONDS",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_WAIT_SECONDS",
    "HOST",
    "PORT",
    "MAX_BODY_BYTES",
    "BODY_READ_TIMEOUT_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "HEADER_READ_TIMEOUT_SECONDS",
    "SHUTDOWN_GRACE_SECONDS",
    "MAX_CONNECTIONS",
    "CORS_ALLOWED_ORIGINS",
    "LOG_FORMAT",
    "RUST_LOG",
    "EXPOSE_ERRORS",
    "AUTH_MODE",
    "BOOTSTRAP_ADMIN_TOKEN_SHA256",
];

#[derive(Clone, Debug)]
pub struct Config {
    pub db: DbConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
}

impl Config {
    pub fn from_source(src: &impl Source) -> Result<Config, ConfigError> {
        Ok(Config {
            log: LogConfig::from_source(src)?,
            db: DbConfig::from_source(src)?,
            http: HttpConfig::from_source(src)?,
            auth: AuthConfig::from_source(src)?,
        })
    }

    /// The effective configuration as `KEY=value` lines, password redacted.
    /// The configuration from a map of variables (in-process tests).
    pub fn from_env_map(
        env: &std::collections::HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<&'static str, String> = VARS
            .iter()
            .filter_map(|v| env.get(*v).map(|val| (*v, val.clone())))
            .collect();
        Config::from_source(&map)
    }

    pub fn render(&self) -> String {
        let db = &self.db;
        let cors = match &self.http.cors {
            CorsOrigins::None => String::new(),
            CorsOrigins::Any => "*".into(),
            CorsOrigins::List(l) => l.join(","),
        };
        let lines = [
            ("DB_HOST", db.host()),
            ("DB_PORT", db.port().to_string()),
            ("DB_USERNAME", db.pg.get_user().unwrap_or("").to_string()),
            (
                "DB_PASSWORD",
                if db.pg.get_password().is_some() {
                    "<redacted>".into()
                } else {
                    "<none>".into()
                },
            ),
            ("DB_NAME", db.pg.get_dbname().unwrap_or("").to_string()),
            ("DB_SSLMODE", db.tls.mode.to_string()),
            (
                "DB_SSLROOTCERT",
                db.tls
                    .root_cert
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("DB_POOL_SIZE", db.pool_size.to_string()),
            (
                "DB_POOL_TIMEOUT_MS",
                db.pool_timeout.as_millis().to_string(),
            ),
            (
                "DB_CONNECT_TIMEOUT_SECONDS",
                db.connect_timeout.as_secs().to_string(),
            ),
            ("DB_WAIT_SECONDS", db.wait.as_secs().to_string()),
            ("HOST", self.http.host.to_string()),
            ("PORT", self.http.port.to_string()),
            ("MAX_BODY_BYTES", self.http.max_body_bytes.to_string()),
            (
                "EXPOSE_ERRORS",
                u8::from(self.http.expose_errors).to_string(),
            ),
            ("CORS_ALLOWED_ORIGINS", cors),
            (
                "HEADER_READ_TIMEOUT_SECONDS",
                self.http.header_read_timeout.as_secs().to_string(),
            ),
            (
                "BODY_READ_TIMEOUT_SECONDS",
                self.http.body_read_timeout.as_secs().to_string(),
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                self.http.request_timeout.as_secs().to_string(),
            ),
            (
                "SHUTDOWN_GRACE_SECONDS",
                self.http.shutdown_grace.as_secs().to_string(),
            ),
            ("MAX_CONNECTIONS", self.http.max_connections.to_string()),
            (
                "LOG_FORMAT",
                match self.log.format {
                    LogFormat::Json => "json".into(),
                    LogFormat::Text => "text".into(),
                },
            ),
            ("RUST_LOG", self.log.filter.clone()),
            (
                "AUTH_MODE",
                match self.auth.mode {
                    AuthMode::Tokens => "tokens".into(),
                    AuthMode::Open => "open".into(),
                },
            ),
            (
                "BOOTSTRAP_ADMIN_TOKEN_SHA256",
                self.auth
                    .bootstrap_admin_sha256
                    .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
                    .unwrap_or_default(),
            ),
        ];
        lines
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    const PASSWORD: &str = "p@ss:w/rd#?%&= 1";

    #[test]
    fn db_vars_build_the_connection_structurally() {
        let c = DbConfig::from_source(&env(&[
            ("DB_HOST", "db.internal"),
            ("DB_USERNAME", "app"),
            ("DB_PASSWORD", PASSWORD),
        ]))
        .unwrap();
        assert_eq!(c.pg.get_password(), Some(PASSWORD.as_bytes()));
        assert_eq!(c.pg.get_dbname(), Some("snippets"));
        assert_eq!(c.port(), 5432);
        assert_eq!(c.tls.mode, SslMode::Prefer);
        assert!(!format!("{c:?}").contains(PASSWORD));
    }

    #[test]
    fn percent_encoded_password_in_url() {
        let url = "postgresql://app:p%40ss%3Aw%2Frd%23%3F%25%26%3D%201@db:6543/x?schema=public&sslmode=no-verify";
        let c = DbConfig::from_source(&env(&[("DATABASE_URL", url)])).unwrap();
        assert_eq!(c.pg.get_password(), Some(PASSWORD.as_bytes()));
        assert_eq!(c.port(), 6543);
        assert_eq!(c.tls.mode, SslMode::Require);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn missing_variable_is_named() {
        let e = DbConfig::from_source(&env(&[("DB_HOST", "h"), ("DB_USERNAME", "u")])).unwrap_err();
        assert_eq!(e.var, "DB_PASSWORD");
    }

    #[test]
    fn conflicting_sslmode_names_both() {
        let e = DbConfig::from_source(&env(&[
            ("DATABASE_URL", "postgres://u:p@h/d?sslmode=require"),
            ("DB_SSLMODE", "disable"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "DB_SSLMODE");
        assert!(e.to_string().contains("sslmode=\"require\""), "{e}");
    }

    #[test]
    fn verify_full_needs_a_root_cert() {
        let e = DbConfig::from_source(&env(&[(
            "DATABASE_URL",
            "postgres://u:p@h/d?sslmode=verify-full",
        )]))
        .unwrap_err();
        assert_eq!(e.var, "DB_SSLROOTCERT");
        let ok = DbConfig::from_source(&env(&[(
            "DATABASE_URL",
            "postgres://u:p@h/d?sslmode=verify-full&sslrootcert=%2Fca.pem",
        )]))
        .unwrap();
        assert_eq!(ok.tls.root_cert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn bad_url_does_not_echo_it() {
        let e =
            DbConfig::from_source(&env(&[("DATABASE_URL", "mysql://u:secret@h/d")])).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn auth_defaults_and_errors() {
        let a = AuthConfig::from_source(&env(&[])).unwrap();
        assert_eq!(a.mode, AuthMode::Tokens);
        assert_eq!(a.bootstrap_admin_sha256, None);
        let a = AuthConfig::from_source(&env(&[
            ("AUTH_MODE", "open"),
            ("BOOTSTRAP_ADMIN_TOKEN_SHA256", &"aB".repeat(32)),
        ]))
        .unwrap();
        assert_eq!(a.mode, AuthMode::Open);
        assert_eq!(a.bootstrap_admin_sha256, Some([0xab; 32]));
        let e = AuthConfig::from_source(&env(&[("AUTH_MODE", "none")])).unwrap_err();
        assert_eq!(e.var, "AUTH_MODE");
        let e = AuthConfig::from_source(&env(&[("BOOTSTRAP_ADMIN_TOKEN_SHA256", "snp_x")]))
            .unwrap_err();
        assert_eq!(e.var, "BOOTSTRAP_ADMIN_TOKEN_SHA256");
        assert!(
            !e.to_string().contains("snp_x"),
            "never echo what may be a token"
        );
    }

    #[test]
    fn http_defaults_and_errors() {
        let h = HttpConfig::from_source(&env(&[])).unwrap();
        assert_eq!(h.port, 3000);
        assert_eq!(h.max_body_bytes, 262_144);
        assert!(!h.expose_errors);
        let e = HttpConfig::from_source(&env(&[("PORT", "http")])).unwrap_err();
        assert_eq!(e.var, "PORT");
        let e =
            HttpConfig::from_source(&env(&[("CORS_ALLOWED_ORIGINS", "https://a.b/")])).unwrap_err();
        assert_eq!(e.var, "CORS_ALLOWED_ORIGINS");
    }
}
