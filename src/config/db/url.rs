//! `DATABASE_URL` and `DB_*` into one `tokio_postgres::Config`: the
//! libpq parameters tokio-postgres does not parse (`sslmode=verify-*`,
//! `sslrootcert`) taken out first, one source per setting.

use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;

use super::ConfigError;

use super::*;

/// Query parameters of `DATABASE_URL` that snippetd handles itself, because
/// tokio-postgres rejects (`sslmode=verify-*`) or ignores (`sslrootcert`) them.
#[derive(Default)]
pub(super) struct UrlExtras {
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
}

/// Splits `sslmode`, `sslrootcert` and Prisma's `schema` off the URL's query.
/// Values are percent-decoded; nothing of the URL is echoed in errors.
pub(super) fn split_url_extras(url: &str) -> Result<(String, UrlExtras), ConfigError> {
    const VAR: &str = "DATABASE_URL";
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(err(VAR, "must be a postgres:// or postgresql:// URL"));
    }
    let mut extras = UrlExtras::default();
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
            // Prisma's `schema=public` (https://www.prisma.io/docs/orm/overview/databases/postgresql#arguments):
            // public is the default.
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
/// names both (a URL's sslmode must never silently win).
pub(super) fn one_of(
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

/// `DATABASE_URL` into a connection config and the parameters it carried.
pub(super) fn from_url(
    url: &str,
    a: &DbArgs,
    warnings: &mut Vec<String>,
) -> Result<(tokio_postgres::Config, UrlExtras), ConfigError> {
    let (stripped, extras) = split_url_extras(url)?;
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
    for (var, set) in [
        ("DB_HOST", a.db_host.is_some()),
        ("DB_USERNAME", a.db_username.is_some()),
        ("DB_PASSWORD", a.db_password.is_some()),
    ] {
        if set {
            warnings.push(format!("DATABASE_URL is set, so {var} is ignored"));
        }
    }
    Ok((pg, extras))
}

/// `DB_*` into a connection config; a missing one is named.
pub(super) fn from_vars(a: &DbArgs) -> Result<tokio_postgres::Config, ConfigError> {
    fn need<'a, T: ?Sized>(var: &'static str, v: Option<&'a T>) -> Result<&'a T, ConfigError> {
        v.ok_or_else(|| {
            err(
                var,
                "is not set (set DATABASE_URL, or DB_HOST, DB_USERNAME and DB_PASSWORD)",
            )
        })
    }
    let host = need("DB_HOST", a.db_host.as_deref())?;
    let user = need("DB_USERNAME", a.db_username.as_deref())?;
    let password = need("DB_PASSWORD", a.db_password.as_ref())?;
    let mut pg = tokio_postgres::Config::new();
    pg.host(host)
        .port(a.db_port)
        .user(user)
        .password(password.expose_secret())
        .dbname(&a.db_name);
    Ok(pg)
}
