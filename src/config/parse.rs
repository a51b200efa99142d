//! From the command line and the environment to a [`Config`]: parsing,
//! empty variables as unset, one-line errors naming the variable (exit
//! 78), and `snippetd config`'s rendering with secrets redacted.

use std::process::ExitCode;

use clap::ArgMatches;

use super::*;
use crate::exit;

/// The effective configuration as `VAR=value` lines, in declaration order:
/// the value as given (or its default) for each variable `cmd` declares,
/// the merged connection's values for the `DB_*` ones, and `<redacted>`
/// for a secret (an argument declared with `hide_env_values`).
pub fn render(cmd: &clap::Command, m: &ArgMatches, db: &DbConfig) -> String {
    let merged = db.effective();
    let mut out = String::new();
    for arg in cmd.get_arguments() {
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        let raw = m.get_raw(arg.get_id().as_str()).map(|vs| {
            vs.map(|v| v.to_string_lossy())
                .collect::<Vec<_>>()
                .join(",")
        });
        let value = match merged.iter().find(|(k, _)| *k == var) {
            Some((_, v)) => v.clone(),
            None if arg.is_hide_env_values_set() => match raw {
                Some(_) => "<redacted>".into(),
                None => String::new(),
            },
            None => raw.unwrap_or_default(),
        };
        out.push_str(&format!("{var}={value}\n"));
    }
    out
}

/// Empty variables count as unset, as in a shell's `${VAR:-default}`:
/// ECS and Compose pass `VAR=` for an unset value. clap would parse "" as a
/// value, so they are removed before clap reads the environment.
fn unset_empty(cmd: &clap::Command) {
    for var in all_args(cmd).into_iter().filter_map(|a| a.get_env()) {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // Still single-threaded: nothing else reads the environment.
            std::env::remove_var(var);
        }
    }
}

/// The arguments of `cmd` and of all its subcommands.
fn all_args(cmd: &clap::Command) -> Vec<&clap::Arg> {
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().collect();
    for sub in cmd.get_subcommands() {
        args.extend(all_args(sub));
    }
    args
}

/// Parses the command line and the environment. A bad value, whether from
/// a variable or a flag, is one line naming the variable, exit 78; help,
/// version and usage errors are clap's own.
pub fn parse<C: clap::Parser>() -> Result<(C, ArgMatches), ExitCode> {
    unset_empty(&C::command());
    // Built again: clap reads each variable when the command is built.
    let cmd = C::command();
    let matches = cmd
        .clone()
        .try_get_matches()
        .map_err(|e| clap_failed(&cmd, e))?;
    let parsed = C::from_arg_matches(&matches).map_err(|e| clap_failed(&cmd, e))?;
    Ok((parsed, matches))
}

fn clap_failed(cmd: &clap::Command, e: clap::Error) -> ExitCode {
    match value_error(cmd, &e) {
        Some(config_error) => failed(&config_error),
        None => {
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::FAILURE))
        }
    }
}

impl Config {
    /// `serve`'s configuration from a map of variables instead of the
    /// process environment (in-process tests): each declared variable that
    /// is set and not empty is passed as its flag.
    pub fn from_env_map(
        env: &std::collections::HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            settings: Settings,
        }
        let declared = <Serve as clap::CommandFactory>::command();
        let mut argv = vec!["snippetd".to_string()];
        for arg in declared.get_arguments() {
            let var = arg.get_env().and_then(|v| v.to_str()).unwrap_or_default();
            match (env.get(var), arg.get_long()) {
                (Some(value), Some(long)) if !value.is_empty() => {
                    argv.push(format!("--{long}={value}"))
                }
                _ => {}
            }
        }
        let matches = declared
            .clone()
            .mut_args(|a| a.env(clap::builder::Resettable::Reset))
            .try_get_matches_from(argv)
            .and_then(|m| <Serve as clap::FromArgMatches>::from_arg_matches(&m));
        match matches {
            Ok(serve) => Config::from_settings(&serve.settings),
            Err(e) => Err(value_error(&declared, &e).unwrap_or_else(|| ConfigError {
                var: "command line".into(),
                reason: e.to_string(),
            })),
        }
    }
}

/// clap's multi-line error for a value, as the one line naming the variable.
/// A clap error about a value, as the error naming its variable; `None`
/// for anything else (help, version, a usage error).
fn value_error(cmd: &clap::Command, e: &clap::Error) -> Option<ConfigError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(v.join(", ")),
        _ => None,
    };
    let about_a_value = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => true,
        // Without a list of valid values, it is a flag given no value.
        ErrorKind::InvalidValue => context(ContextKind::ValidValue).is_some(),
        _ => false,
    };
    if !about_a_value {
        return None;
    }
    let flag = context(ContextKind::InvalidArg).unwrap_or_default();
    // An argument's Display ("--port <PORT>", as in the error) needs a built
    // command.
    let mut cmd = cmd.clone();
    cmd.build();
    let args = all_args(&cmd);
    let arg = args
        .iter()
        .find(|a| a.to_string() == flag)
        // clap does not say which variable is not UTF-8: the first one that is.
        .or_else(|| {
            args.iter().find(|a| {
                a.get_env()
                    .and_then(std::env::var_os)
                    .is_some_and(|v| v.to_str().is_none())
            })
        })
        .copied();
    let name = arg
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or(flag);
    let secret = arg.is_some_and(|a| a.is_hide_env_values_set());
    let reason = match (e.kind(), context(ContextKind::InvalidValue)) {
        (ErrorKind::InvalidUtf8, _) => "is not valid UTF-8".to_string(),
        (_, Some(value)) if !secret => {
            let why = match (
                std::error::Error::source(e),
                context(ContextKind::ValidValue),
            ) {
                (Some(source), _) => source.to_string(),
                (None, Some(valid)) => format!("must be one of {valid}"),
                (None, None) => "invalid".into(),
            };
            format!("{why} (got {value:?})")
        }
        _ => "is invalid".to_string(),
    };
    Some(ConfigError { var: name, reason })
}
