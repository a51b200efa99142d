//! The subcommands: each takes its parsed settings, wires the layers
//! together and returns the process exit code (see `exit`).

use std::process::ExitCode;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::{
    self, AppRole, Config, DbConfig, LogConfig, MigrateSettings, Settings, SuperviseSettings,
};
use crate::db::{migrate as migrations, Connector, DbError};
use crate::exit;
use crate::http::server;
use crate::{healthcheck as probe, logging, signals, supervisor};

/// A database error as an exit code: a bad CA bundle path is configuration.
fn db_failed(e: &DbError) -> ExitCode {
    log::error!("{e}");
    ExitCode::from(match e {
        DbError::RootCert { .. } => exit::CONFIG,
        _ => exit::FAILURE,
    })
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

/// Applies the migrations (and the application role's grants) and logs
/// what it did.
async fn apply(conn: diesel_async::AsyncPgConnection, app: Option<AppRole>) -> Result<(), DbError> {
    let applied = migrations::run(conn, app).await?;
    if applied.is_empty() {
        log::info!("schema is current: no migration to apply");
    } else {
        log::info!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    Ok(())
}

pub fn migrate(s: &MigrateSettings, check: bool) -> ExitCode {
    let log = LogConfig::from(&s.log);
    let (db, app) = match DbConfig::from_args(&s.db)
        .and_then(|db| s.app_role.resolve(&db).map(|app| (db, app)))
    {
        Ok(x) => x,
        Err(e) => return config::failed(&e),
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
                    ExitCode::from(exit::SUCCESS)
                }
                Ok(p) => {
                    log::warn!("{} migration(s) pending: {}", p.len(), p.join(", "));
                    ExitCode::from(exit::FAILURE)
                }
                Err(e) => db_failed(&e),
            };
        }
        match apply(conn, app).await {
            Ok(()) => ExitCode::from(exit::SUCCESS),
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

/// Validates the configuration, starts logging, the runtime and the
/// connector, then runs `body`; each failure on the way is an exit code.
fn with_connector(cfg: Config, body: impl AsyncFnOnce(Config, Connector) -> ExitCode) -> ExitCode {
    init_logging(&cfg.log, &cfg.db);
    runtime().block_on(async {
        match connector(&cfg.db) {
            Ok(c) => body(cfg, c).await,
            Err(e) => db_failed(&e),
        }
    })
}

pub fn serve(s: &Settings) -> ExitCode {
    let cfg = match Config::from_settings(s) {
        Ok(c) => c,
        Err(e) => return config::failed(&e),
    };
    with_connector(cfg, async |cfg, c| {
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
                return ExitCode::from(exit::FAILURE);
            }
        };
        let built = match crate::serve::Built::build(&cfg, &c).await {
            Ok(b) => b,
            Err(e) => {
                log::error!("{e}");
                return ExitCode::from(exit::FAILURE);
            }
        };
        let app = built.app.clone();
        let listener = match server::listen(listener) {
            Ok(l) => l,
            Err(e) => {
                log::error!("cannot listen on {addr}: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        };
        log::info!(
            "listening on http://{}",
            listener.local_addr().unwrap_or(addr)
        );
        // The startup lines at once; from here on lines are batched
        // (src/logging/sink.rs).
        crate::logging::flush();
        server::run(app, listener, signals::shutdown()).await;
        built.stop().await;
        log::info!("stopped");
        ExitCode::from(exit::SUCCESS)
    })
}

/// `snippetd serve`, as a child: the same environment, except that with an
/// application role the child connects as that role. It then gets the
/// merged connection as `DB_*` (no `DATABASE_URL`, which carries the
/// owner's credentials) and neither the owner's password nor
/// `APP_DB_PASSWORD`.
fn serve_command(
    exe: std::path::PathBuf,
    db: &DbConfig,
    app: Option<&AppRole>,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("serve");
    if let Some(app) = app {
        cmd.env_remove("DATABASE_URL")
            .env_remove("APP_DB_USERNAME")
            .env_remove("APP_DB_PASSWORD");
        for (var, value) in db.effective() {
            match value.as_str() {
                "" => cmd.env_remove(var),
                v => cmd.env(var, v),
            };
        }
        cmd.env("DB_USERNAME", &app.user)
            .env("DB_PASSWORD", app.password.expose_secret());
    }
    cmd
}

pub fn supervise(s: &SuperviseSettings) -> ExitCode {
    let (cfg, app) = match Config::from_settings(&s.settings)
        .and_then(|cfg| s.app_role.resolve(&cfg.db).map(|app| (cfg, app)))
    {
        Ok(x) => x,
        Err(e) => return config::failed(&e),
    };
    with_connector(cfg, async |cfg, c| {
        log::info!("waiting up to {:?} for the database", cfg.db.wait);
        let conn = tokio::select! {
            r = crate::db::wait_for(&c) => match r {
                Ok(conn) => conn,
                Err(e) => return db_failed(&e),
            },
            () = signals::shutdown() => return ExitCode::from(exit::SUCCESS),
        };
        // The owner's credentials are used for this step only.
        if let Err(e) = apply(conn, app.clone()).await {
            return db_failed(&e);
        }
        if let Some(app) = &app {
            log::info!("serve connects as the application role {:?}", app.user);
        }
        // /proc/self/exe, or argv[0] where there is no /proc (an empty root).
        let Some(exe) = std::env::current_exe()
            .ok()
            .or_else(|| std::env::args_os().next().map(Into::into))
        else {
            log::error!("cannot find my own executable to start `serve`");
            return ExitCode::from(exit::FAILURE);
        };
        let cmd = serve_command(exe, &cfg.db, app.as_ref());
        match supervisor::run(cmd, cfg.http.shutdown_grace).await {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                log::error!("{e}");
                ExitCode::from(match e {
                    supervisor::SupervisorError::Config => exit::CONFIG,
                    _ => exit::FAILURE,
                })
            }
        }
    })
}

pub fn healthcheck(port: u16, timeout_secs: u64) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    match rt.block_on(probe::probe(port, Duration::from_secs(timeout_secs))) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("snippetd healthcheck: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Prints every variable `snippetd <name>` declares with its effective
/// value; `matches` are that subcommand's.
pub fn config(s: &SuperviseSettings, name: &str, matches: &clap::ArgMatches) -> ExitCode {
    let cfg = match Config::from_settings(&s.settings)
        .and_then(|cfg| s.app_role.resolve(&cfg.db).map(|_| cfg))
    {
        Ok(cfg) => cfg,
        Err(e) => return config::failed(&e),
    };
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let sub = cmd.find_subcommand(name).expect("the parsed subcommand");
    print!("{}", config::render(sub, matches, &cfg.db));
    for w in &cfg.db.warnings {
        eprintln!("snippetd: warning: {w}");
    }
    ExitCode::from(exit::SUCCESS)
}
