//! PostgreSQL: the TLS connector, the bb8 pool of diesel-async connections,
//! the embedded migrations and the diesel schema.

pub mod error;
pub mod migrate;
pub mod schema;
pub mod tls;

use std::sync::{Arc, Mutex};

use diesel::ConnectionError;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection, RecyclingMethod,
};
use diesel_async::AsyncPgConnection;
use futures_util::FutureExt;
use postgres_native_tls::MakeTlsConnector;

use crate::config::{DbConfig, SslMode};
use crate::logging::error_chain;
use crate::metrics as m;

pub type DbConn<'a> = PooledConnection<'a, AsyncPgConnection>;

/// The request pool, and why its last connection attempt failed: bb8 opens
/// connections in the background, so without this a request that times out
/// waiting could only say "timed out", never "connection refused".
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<AsyncPgConnection>,
    last_error: Arc<Mutex<Option<String>>>,
    max_size: u32,
    search_slots: u32,
    revisions_kept: i64,
    timeout: std::time::Duration,
    timeouts: ::metrics::Counter,
}

impl DbPool {
    /// Sets the pool gauges from bb8's state (called before metrics are
    /// exported, not per request).
    pub fn record_state(&self) {
        let state = self.pool.state();
        ::metrics::gauge!(m::POOL_CONNECTIONS).set(f64::from(state.connections));
        ::metrics::gauge!(m::POOL_IDLE).set(f64::from(state.idle_connections));
        ::metrics::gauge!(m::POOL_MAX).set(f64::from(self.max_size));
        ::metrics::gauge!(m::POOL_WAITING).set(state.statistics.pending_gets() as f64);
        ::metrics::counter!(m::POOL_WAITED).absolute(state.statistics.get_waited);
    }

    /// `DB_POOL_SIZE`.
    pub fn max_size(&self) -> u32 {
        self.max_size
    }

    /// Coalesced queries (id lookups, creates) in flight at once: a quarter
    /// of the pool, at least 2 (one slow query does not stall every
    /// lookup), at most the pool. Fewer, fuller batches cost the database
    /// less than many small ones: on the bench's 2 cores, 2 or 3 served
    /// 1.3–1.5 times the requests 10 did, and even 2 at 32 ids a query
    /// outrun a pool's worth of single lookups (docs/performance.md,
    /// "Coalesced id lookups"). The rest of the pool stays free for writes
    /// and lists.
    pub fn batch_queries(&self) -> usize {
        Self::batch_queries_for(self.max_size)
    }

    /// [`DbPool::batch_queries`] of a pool of `size` connections.
    pub fn batch_queries_for(size: u32) -> usize {
        (size.div_ceil(4).max(2).min(size)) as usize
    }

    /// `SEARCH_CONCURRENCY`, resolved.
    pub fn search_slots(&self) -> u32 {
        self.search_slots
    }

    /// `REVISIONS_KEPT`: earlier versions shown besides the current one.
    pub fn revisions_kept(&self) -> i64 {
        self.revisions_kept
    }

    /// `DB_POOL_TIMEOUT_MS`.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Open connections nobody holds right now: background work that must
    /// not make the pool open a connection checks this first.
    pub fn idle_connections(&self) -> u32 {
        self.pool.state().idle_connections
    }

    /// A pooled connection, waiting at most `DB_POOL_TIMEOUT_MS`. The only
    /// error is "no connection": upstream, that is a 503.
    ///
    /// bb8's checkout future (1,200 bytes with its timeout) is boxed: inline,
    /// it sat in every future that awaits a connection, and each of those
    /// was copied whole as it moved into its caller's (a GET by id's
    /// handler 1,968 → ~900 bytes, `-Zprint-type-sizes`).
    pub async fn get(&self) -> Result<DbConn<'_>, CheckoutError> {
        self.checked(Box::pin(self.pool.get()).await)
    }

    /// The same, not borrowing the pool (for holders that outlive a call).
    pub async fn get_owned(&self) -> Result<DbConn<'static>, CheckoutError> {
        self.checked(Box::pin(self.pool.get_owned()).await)
    }

    fn checked<'a>(
        &self,
        got: Result<DbConn<'a>, bb8::RunError<PoolError>>,
    ) -> Result<DbConn<'a>, CheckoutError> {
        match got {
            Ok(c) => Ok(c),
            Err(bb8::RunError::TimedOut) => Err(CheckoutError({
                self.timeouts.increment(1);
                match self.last_error.lock().ok().and_then(|e| e.clone()) {
                    Some(cause) => format!(
                        "timed out waiting for a database connection; the last attempt failed: {cause}"
                    ),
                    None => "timed out waiting for a database connection (all in use)".into(),
                }
            })),
            Err(bb8::RunError::User(e)) => Err(CheckoutError(error_chain(&e))),
        }
    }
}

/// Receives the pool's background connection errors: remembers the last
/// one and logs at most one line a second.
#[derive(Clone, Debug)]
struct ErrorLog {
    last_error: Arc<Mutex<Option<String>>>,
    last_logged: Arc<Mutex<Option<std::time::Instant>>>,
    /// `snippetd_db_connection_errors_total{kind="connect"}`.
    errors: ::metrics::Counter,
}

impl bb8::ErrorSink<PoolError> for ErrorLog {
    fn sink(&self, error: PoolError) {
        self.errors.increment(1);
        let text = error_chain(&error);
        if let Ok(mut last) = self.last_logged.lock() {
            if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                *last = Some(std::time::Instant::now());
                log::warn!("database connection failed: {text}");
            }
        }
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(text);
        }
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<PoolError>> {
        Box::new(self.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DB_SSLROOTCERT: {path}: {reason}")]
    RootCert { path: String, reason: String },
    /// One line that names the target, the mode and the real cause.
    #[error("cannot connect to PostgreSQL at {target} (sslmode={mode}): {cause}")]
    Connect {
        target: String,
        mode: String,
        cause: String,
    },
    #[error("database query failed: {}", error_chain(.0))]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0} migration(s) pending: run `snippetd migrate` first")]
    Pending(usize),
}

/// No pooled connection could be had within `DB_POOL_TIMEOUT_MS`: the one
/// database failure a request meets before its query runs.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckoutError(pub String);

/// Everything needed to open a connection; cheap to clone.
#[derive(Clone)]
pub struct Connector {
    cfg: Arc<DbConfig>,
    /// None with `sslmode=disable`: no TLS state is built at all (building
    /// native-tls's connector reads the system CA files, ~20 ms each under
    /// strace at startup, for nothing).
    tls: Option<MakeTlsConnector>,
}

/// One connection over `tls` (`NoTls` or native-tls), or why not.
async fn open<T>(pg: &tokio_postgres::Config, tls: T) -> Result<AsyncPgConnection, String>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = pg.connect(tls).await.map_err(|e| error_chain(&e))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(|e| error_chain(&e))
}

impl Connector {
    pub fn new(cfg: &DbConfig) -> Result<Connector, DbError> {
        let mut cfg = cfg.clone();
        let tls = match cfg.tls.mode {
            SslMode::Disable => {
                cfg.pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
                None
            }
            _ => {
                let (tls, pg_mode) = tls::connector(&cfg.tls)?;
                cfg.pg.ssl_mode(pg_mode);
                Some(tls)
            }
        };
        Ok(Connector {
            cfg: Arc::new(cfg),
            tls,
        })
    }

    pub fn config(&self) -> &DbConfig {
        &self.cfg
    }

    /// Opens one connection (TLS as configured) as a diesel-async connection.
    /// `AsyncPgConnection::establish` would always use NoTls.
    pub async fn connect(&self) -> Result<AsyncPgConnection, DbError> {
        let fail = |cause: String| DbError::Connect {
            target: self.cfg.target(),
            mode: self.cfg.tls.mode.to_string(),
            cause: match tls_hint(&cause, &self.cfg) {
                Some(hint) => format!("{cause} [{hint}]"),
                None => cause,
            },
        };
        let pg = &self.cfg.pg;
        match &self.tls {
            None => open(pg, tokio_postgres::NoTls).await,
            Some(tls) => open(pg, tls.clone()).await,
        }
        .map_err(fail)
    }

    /// The request pool. Connections are opened lazily; a checkout waits at
    /// most `DB_POOL_TIMEOUT_MS`, so a dead database turns into fast 503s.
    pub fn pool(&self) -> DbPool {
        let connector = self.clone();
        let last_error: Arc<Mutex<Option<String>>> = Arc::default();
        let healed = last_error.clone();
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        manager_config.custom_setup = Box::new(move |_url| {
            let (connector, healed) = (connector.clone(), healed.clone());
            async move {
                let conn = connector
                    .connect()
                    .await
                    .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                if let Ok(mut e) = healed.lock() {
                    *e = None;
                }
                Ok(conn)
            }
            .boxed()
        });
        // A checkout costs no round trip: a connection whose socket closed
        // (database restarted, fail-over) is dropped and replaced instead.
        let broken_total = ::metrics::counter!(m::DB_CONNECTION_ERRORS, "kind" => "broken");
        manager_config.recycling_method = RecyclingMethod::CustomFunction(Box::new(move |conn| {
            let broken = conn.is_broken();
            if broken {
                broken_total.increment(1);
            }
            async move {
                if broken {
                    Err(diesel::result::Error::BrokenTransactionManager)
                } else {
                    Ok(())
                }
            }
            .boxed()
        }));
        let manager = AsyncDieselConnectionManager::new_with_config("", manager_config);
        let pool = Pool::builder()
            .max_size(self.cfg.pool_size)
            .connection_timeout(self.cfg.pool_timeout)
            .retry_connection(false)
            .error_sink(Box::new(ErrorLog {
                last_error: last_error.clone(),
                last_logged: Arc::default(),
                errors: ::metrics::counter!(m::DB_CONNECTION_ERRORS, "kind" => "connect"),
            }))
            .build_unchecked(manager);
        DbPool {
            pool,
            last_error,
            max_size: self.cfg.pool_size,
            search_slots: self.cfg.search_concurrency,
            revisions_kept: self.cfg.revisions_kept as i64,
            timeout: self.cfg.pool_timeout,
            timeouts: ::metrics::counter!(m::POOL_TIMEOUTS),
        }
    }
}

/// What to do about the TLS failures people meet (OpenSSL's words are exact
/// but not obvious).
fn tls_hint(cause: &str, cfg: &DbConfig) -> Option<String> {
    let roots = cfg
        .tls
        .root_cert
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if cause.contains("mismatch") {
        Some(format!(
            "the server's certificate is not issued for host {:?}: connect with a name it \
             carries (for RDS, the instance endpoint), or use sslmode=verify-ca",
            cfg.host()
        ))
    } else if cause.contains("certificate verify failed") {
        Some(format!(
            "the server's certificate does not chain to a CA in DB_SSLROOTCERT ({roots}): \
             for RDS use the bundle from truststore.pki.rds.amazonaws.com"
        ))
    } else if cause.contains("server does not support TLS") {
        Some("the server has ssl=off: enable TLS on it, or use sslmode=prefer".into())
    } else {
        None
    }
}

/// Retries `connect` with backoff until it succeeds or `cfg.wait` is over;
/// then returns the last error. Used by supervise before it migrates.
pub async fn wait_for(connector: &Connector) -> Result<AsyncPgConnection, DbError> {
    let deadline = tokio::time::Instant::now() + connector.config().wait;
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match connector.connect().await {
            Ok(conn) => return Ok(conn),
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                log::warn!("database not reachable yet, retrying in {delay:?}: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}
