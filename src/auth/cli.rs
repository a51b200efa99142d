//! What `serve` does about identities at startup, and the operator
//! commands (`snippetd owner …`, `snippetd token …`): the same
//! configuration as `serve`, straight to the database. A token goes to
//! stdout and nowhere else; everything else goes to stderr or the log.

use std::process::ExitCode;

use crate::config::{AdminSettings, AuthConfig, AuthMode, DbConfig, LogConfig};
use crate::db::DbPool;
use crate::exit;

use super::{store, AuthError};

/// Before `serve` accepts: the open-mode warning, and the bootstrap admin
/// token (`BOOTSTRAP_ADMIN_TOKEN_SHA256`) made sure of.
pub async fn prepare_serve(cfg: &AuthConfig, pool: &DbPool) -> Result<(), AuthError> {
    if cfg.mode == AuthMode::Open {
        log::warn!(
            "AUTH_MODE=open: NO AUTHENTICATION. Anyone who can reach this server can create, \
             change and delete every snippet. For local experiments only; unset AUTH_MODE \
             (or set AUTH_MODE=tokens) anywhere else."
        );
    }
    if let Some(hash) = &cfg.bootstrap_admin_sha256 {
        if store::ensure_bootstrap(pool, hash).await? {
            log::info!(
                "bootstrap: created the admin token of BOOTSTRAP_ADMIN_TOKEN_SHA256 (owner admin)"
            );
        } else {
            log::info!("bootstrap: the admin token of BOOTSTRAP_ADMIN_TOKEN_SHA256 exists");
        }
    }
    Ok(())
}

/// `snippetd owner …`
#[derive(clap::Subcommand, Debug)]
pub enum OwnerCmd {
    /// Create an owner.
    Add {
        /// 1 to 39 lower-case letters, digits or '-', not starting with '-'.
        handle: String,
    },
    /// Delete an owner with its snippets (and their history) and its
    /// tokens; tokens they created for other owners are revoked. Running
    /// servers refuse its tokens within 10 seconds.
    Delete { handle: String },
}

/// `snippetd token …`
#[derive(clap::Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token for an owner; prints only the token, on stdout.
    Create {
        #[arg(long)]
        owner: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated: snippets:read, snippets:write, tokens:write, admin.
        #[arg(long, default_value = "snippets:read,snippets:write")]
        scopes: String,
        /// Days until the token expires (default: never).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_days: Option<u32>,
    },
    /// List tokens (all, or one owner's); never a token or its hash.
    List {
        #[arg(long)]
        owner: Option<String>,
    },
    /// Revoke a token by id (other servers refuse it within 10 seconds).
    Revoke { id: uuid::Uuid },
    /// Print a fresh token and, on the next line, its SHA-256 (hex) for
    /// BOOTSTRAP_ADMIN_TOKEN_SHA256. Touches no database.
    New,
}

/// `snippetd token new`: no configuration, no database.
fn token_new() -> ExitCode {
    match super::token::generate() {
        Ok(t) => {
            println!("{}", t.expose());
            println!("{}", super::token::hex(&t.hash()));
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("snippetd: cannot read the OS random source: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Reads the database settings as `serve` does and runs `body` on a pool.
fn with_pool(
    settings: &AdminSettings,
    body: impl AsyncFnOnce(DbPool) -> Result<(), AuthError>,
) -> ExitCode {
    let db = match DbConfig::from_args(&settings.db) {
        Ok(d) => d,
        Err(e) => return crate::config::failed(&e),
    };
    crate::logging::init(&LogConfig::from(&settings.log));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    rt.block_on(async {
        let connector = match crate::db::Connector::new(&db) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("snippetd: {e}");
                return ExitCode::from(exit::CONFIG);
            }
        };
        match body(connector.pool()).await {
            Ok(()) => ExitCode::from(exit::SUCCESS),
            Err(e) => {
                eprintln!("snippetd: {e}");
                ExitCode::from(exit::FAILURE)
            }
        }
    })
}

pub fn owner(settings: &AdminSettings, cmd: OwnerCmd) -> ExitCode {
    match cmd {
        OwnerCmd::Add { handle } => with_pool(settings, async |pool| {
            store::create_owner(&pool, &handle).await?;
            eprintln!("created owner {handle}");
            Ok(())
        }),
        OwnerCmd::Delete { handle } => with_pool(settings, async |pool| {
            let gone = super::lineage::delete_owner(&pool, &handle)
                .await
                .map_err(|e| match e {
                    AuthError::NotFound => AuthError::Invalid("HANDLE", "no such owner".into()),
                    e => e,
                })?;
            eprintln!(
                "deleted owner {handle}: {} snippet(s), {} token(s) revoked; running servers \
                 refuse them within 10 seconds",
                gone.snippets,
                gone.tokens.len()
            );
            Ok(())
        }),
    }
}

pub fn token(settings: &AdminSettings, cmd: TokenCmd) -> ExitCode {
    match cmd {
        TokenCmd::New => token_new(),
        TokenCmd::Create {
            owner,
            name,
            scopes,
            expires_days,
        } => with_pool(settings, async |pool| {
            let names: Vec<&str> = scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let scopes = super::Scopes::parse_names(&names)
                .map_err(|s| AuthError::Invalid("--scopes", format!("{s:?} is not a scope")))?;
            if scopes == super::Scopes::default() {
                return Err(AuthError::Invalid("--scopes", "name at least one".into()));
            }
            let expires_at = expires_days
                .map(|d| time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(d)));
            let (row, secret) =
                store::create_token(&pool, &owner, &name, scopes, expires_at).await?;
            eprintln!(
                "created token {} for {} ({}); it is shown once, below",
                row.id,
                row.owner,
                row.scopes.join(",")
            );
            println!("{}", secret.expose());
            Ok(())
        }),
        TokenCmd::List { owner } => with_pool(settings, async |pool| {
            let rows = store::list_tokens(&pool, owner.as_deref()).await?;
            let t = |v: Option<time::OffsetDateTime>| {
                v.map(crate::util::timestamp::iso_millis)
                    .unwrap_or_else(|| "-".into())
            };
            println!("ID\tOWNER\tNAME\tSCOPES\tCREATED\tEXPIRES\tLAST_USED\tREVOKED");
            for r in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.owner,
                    r.name.replace(['\t', '\n'], " "),
                    r.scopes.join(","),
                    crate::util::timestamp::iso_millis(r.created_at),
                    t(r.expires_at),
                    t(r.last_used_at),
                    t(r.revoked_at)
                );
            }
            Ok(())
        }),
        TokenCmd::Revoke { id } => with_pool(settings, async |pool| {
            let ids = super::lineage::revoke(&pool, id, None).await?;
            eprintln!(
                "revoked token {id} and {} token(s) it created; running servers refuse them \
                 within 10 seconds",
                ids.len() - 1
            );
            Ok(())
        }),
    }
}
