//! The subcommands: each reads its configuration, wires the layers together
//! and returns the process exit code.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError, DbConfig, LogConfig, ProcessEnv, EXIT_CONFIG};
use crate::db::{migrate as migrations, Connector, DbError};
use crate::http::{server, App};
use crate::{healthcheck as probe, logging, signals, supervisor};

/// A runtime failure (database unreachable, port taken, …).
const EXIT_FAILURE: i32 = 1;

/// Prints a config error as one line naming the variable.
fn config_failed(e: &ConfigError) -> i32 {
    eprintln!("snippetd: configuration error: {e}");
    EXIT_CONFIG
}

/// A database error as an exit code: a bad CA bundle path is configuration.
fn db_failed(e: &DbError) -> i32 {
    log::error!("{e}");
    match e {
        DbError::RootCert { .. } => EXIT_CONFIG,
        _ => EXIT_FAILURE,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime")
}

fn init_logging(log: &LogConfig, db: &DbConfig) {
    logging::init(log);
    for w in &db.warnings {
        log::warn!("{w}");
    }
}

/// One connector for migrate, serve and supervise; logs the TLS state once.
fn connector(db: &DbConfig) -> Result<Connector, DbError> {
    let c = Connector::new(db)?;
    log::info!(
        "database {} as {:?}: sslmode={} ({})",
        db.target(),
        db.pg.get_user().unwrap_or(""),
        db.tls.mode,
        crate::db::tls::describe(&db.tls)
    );
    Ok(c)
}

pub fn migrate(check: bool) -> i32 {
    let (log, db) = match (
        LogConfig::from_source(&ProcessEnv),
        DbConfig::from_source(&ProcessEnv),
    ) {
        (Ok(l), Ok(d)) => (l, d),
        (Err(e), _) | (_, Err(e)) => return config_failed(&e),
    };
    init_logging(&log, &db);
    runtime().block_on(async {
        let c = match connector(&db) {
            Ok(c) => c,
            Err(e) => return db_failed(&e),
        };
        let mut conn = match c.connect().await {
            Ok(conn) => conn,
            Err(e) => return db_failed(&e),
        };
        if check {
            return match migrations::pending(&mut conn).await {
                Ok(p) if p.is_empty() => {
                    log::info!("schema is current");
                    0
                }
                Ok(p) => {
                    log::warn!("{} migration(s) pending: {}", p.len(), p.join(", "));
                    1
                }
                Err(e) => db_failed(&e),
            };
        }
        match migrations::run(conn).await {
            Ok(applied) if applied.is_empty() => {
                log::info!("schema is current: no migration to apply");
                0
            }
            Ok(applied) => {
                log::info!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
                0
            }
            Err(e) => db_failed(&e),
        }
    })
}

/// Connects once and refuses to go on unless the schema is current.
async fn check_database(c: &Connector) -> Result<(), DbError> {
    let mut conn = c.connect().await?;
    let pending = migrations::pending(&mut conn).await?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(DbError::Pending(pending.len()))
    }
}

/// Reads the whole configuration, starts logging, the runtime and the
/// connector, then runs `body`; each failure on the way is an exit code.
fn with_connector(body: impl AsyncFnOnce(Config, Connector) -> i32) -> i32 {
    let cfg = match Config::from_source(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => return config_failed(&e),
    };
    init_logging(&cfg.log, &cfg.db);
    runtime().block_on(async {
        match connector(&cfg.db) {
            Ok(c) => body(cfg, c).await,
            Err(e) => db_failed(&e),
        }
    })
}

pub fn serve() -> i32 {
    with_connector(async |cfg, c| {
        // Healthy only once the database answered and the schema is current:
        // a broken DB config fails the deploy instead of serving 500s.
        if let Err(e) = check_database(&c).await {
            return db_failed(&e);
        }
        let addr = std::net::SocketAddr::new(cfg.http.host, cfg.http.port);
        let listener = match server::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                log::error!("cannot listen on {addr}: {e}");
                return EXIT_FAILURE;
            }
        };
        log::info!(
            "listening on http://{}",
            listener.local_addr().unwrap_or(addr)
        );
        let pool = c.pool();
        if let Err(e) = crate::auth::cli::prepare_serve(&cfg.auth, &pool).await {
            log::error!("{e}");
            return EXIT_FAILURE;
        }
        let app = Arc::new(App::new(cfg.http.clone(), &cfg.auth, pool));
        server::run(app, listener, signals::shutdown()).await;
        log::info!("stopped");
        0
    })
}

pub fn supervise() -> i32 {
    with_connector(async |cfg, c| {
        log::info!("waiting up to {:?} for the database", cfg.db.wait);
        let conn = tokio::select! {
            r = crate::db::wait_for(&c) => match r {
                Ok(conn) => conn,
                Err(e) => return db_failed(&e),
            },
            () = signals::shutdown() => return 0,
        };
        match migrations::run(conn).await {
            Ok(applied) => log::info!("migrations applied: {}", applied.len()),
            Err(e) => return db_failed(&e),
        }
        // /proc/self/exe, or argv[0] where there is no /proc (an empty root).
        let exe = match std::env::current_exe()
            .ok()
            .or_else(|| std::env::args_os().next().map(Into::into))
        {
            Some(p) => p,
            None => {
                log::error!("cannot find my own executable to start `serve`");
                return EXIT_FAILURE;
            }
        };
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("serve");
        match supervisor::run(cmd, cfg.http.shutdown_grace).await {
            Ok(code) => code,
            Err(e) => {
                log::error!("{e}");
                match e {
                    supervisor::SupervisorError::Config => EXIT_CONFIG,
                    _ => EXIT_FAILURE,
                }
            }
        }
    })
}

pub fn healthcheck(port: u16, timeout_secs: u64) -> i32 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    match rt.block_on(probe::probe(port, Duration::from_secs(timeout_secs))) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("snippetd healthcheck: {e}");
            1
        }
    }
}

pub fn config() -> i32 {
    match Config::from_source(&ProcessEnv) {
        Ok(cfg) => {
            print!("{}", cfg.render());
            for w in &cfg.db.warnings {
                eprintln!("snippetd: warning: {w}");
            }
            0
        }
        Err(e) => config_failed(&e),
    }
}
