//! snippetd: a code-snippet REST API in one binary. `main` only parses the
//! command line and dispatches; each subcommand lives in `commands`.

use std::process::ExitCode;

use snippetd::cli::{Cli, Command};
use snippetd::commands;
use snippetd::config;

fn main() -> ExitCode {
    let (cli, matches) = match config::parse::<Cli>() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let code = match cli.command {
        Command::Migrate { check, settings } => commands::migrate(&settings, check),
        Command::Serve(settings) => commands::serve(&settings),
        Command::Supervise(settings) => commands::supervise(&settings),
        Command::Healthcheck { port, timeout } => commands::healthcheck(port.port, timeout),
        Command::Owner { cmd, settings } => snippetd::auth::cli::owner(&settings, cmd),
        Command::Token { cmd, settings } => snippetd::auth::cli::token(&settings, cmd),
        Command::Config(settings) => {
            let (name, sub) = matches.subcommand().expect("a subcommand was parsed");
            commands::config(&settings, name, sub)
        }
    };
    // Log lines are written in batches (src/logging/sink.rs): the last
    // ones go out before the process ends.
    snippetd::logging::flush();
    code
}
