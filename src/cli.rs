//! The command line: the subcommands and which settings each one reads.

use clap::{Parser, Subcommand};

use crate::auth::cli::{OwnerCmd, TokenCmd};
use crate::config::{AdminSettings, MigrateSettings, PortArg, Settings, SuperviseSettings};

#[derive(Parser, Debug)]
#[command(name = "snippetd", version, about = "Code-snippet REST API backed by PostgreSQL", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending database migrations (under an advisory lock); with
    /// APP_DB_USERNAME, also create or update the application role.
    Migrate {
        /// Apply nothing: exit 1 if migrations are pending, 0 otherwise.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        settings: MigrateSettings,
    },
    /// Serve the HTTP API (refuses to start while migrations are pending).
    Serve(Settings),
    /// Container entrypoint: validate config, wait for the database,
    /// migrate, then run `serve` as a child and supervise it.
    Supervise(SuperviseSettings),
    /// GET /health on loopback; exit 0 on 200, 1 otherwise.
    Healthcheck {
        #[command(flatten)]
        port: PortArg,
        /// Seconds to wait for the answer
        #[arg(long = "timeout", env = "HEALTHCHECK_TIMEOUT_SECONDS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=300))]
        timeout: u64,
    },
    /// Print the effective configuration (secrets redacted).
    Config(SuperviseSettings),
    /// Manage owners (same database settings as `serve`).
    Owner {
        #[command(subcommand)]
        cmd: OwnerCmd,
        #[command(flatten)]
        settings: AdminSettings,
    },
    /// Manage API tokens (same database settings as `serve`).
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
        #[command(flatten)]
        settings: AdminSettings,
    },
}

#[cfg(test)]
mod tests;
