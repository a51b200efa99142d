//! snippetd: a code-snippet REST API in one binary. `main` only parses the
//! command line and dispatches; each subcommand lives in `commands`.

use clap::{Parser, Subcommand};

use snippetd::auth::cli::{OwnerCmd, TokenCmd};
use snippetd::{auth, commands};

#[derive(Parser)]
#[command(name = "snippetd", version, about = "Code-snippet REST API backed by PostgreSQL", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (under an advisory lock).
    Migrate {
        /// Apply nothing: exit 1 if migrations are pending, 0 otherwise.
        #[arg(long)]
        check: bool,
    },
    /// Serve the HTTP API (refuses to start while migrations are pending).
    Serve,
    /// Container entrypoint: validate config, wait for the database,
    /// migrate, then run `serve` as a child and supervise it.
    Supervise,
    /// GET /health on loopback; exit 0 on 200, 1 otherwise.
    Healthcheck {
        /// Port to probe.
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
        /// Seconds to wait for the answer.
        #[arg(long, env = "HEALTHCHECK_TIMEOUT_SECONDS", default_value_t = 2)]
        timeout: u64,
    },
    /// Print the effective configuration (password redacted).
    Config,
    /// Manage owners (same database settings as `serve`).
    #[command(subcommand)]
    Owner(OwnerCmd),
    /// Manage API tokens (same database settings as `serve`).
    #[command(subcommand)]
    Token(TokenCmd),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Migrate { check } => commands::migrate(check),
        Command::Serve => commands::serve(),
        Command::Supervise => commands::supervise(),
        Command::Healthcheck { port, timeout } => commands::healthcheck(port, timeout),
        Command::Config => commands::config(),
        Command::Owner(cmd) => auth::cli::owner(cmd),
        Command::Token(cmd) => auth::cli::token(cmd),
    };
    std::process::exit(code);
}
