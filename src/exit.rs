//! The process's exit codes, in one place.

/// Done; or stopped by SIGTERM/SIGINT after a graceful shutdown.
pub const SUCCESS: u8 = 0;

/// A runtime failure (database unreachable, port taken, crash loop), and
/// `migrate --check` finding pending migrations.
pub const FAILURE: u8 = 1;

/// A configuration error: `EX_CONFIG` of sysexits(3)
/// (https://man.freebsd.org/cgi/man.cgi?query=sysexits). Restarting cannot
/// help, so `supervise` does not restart a child that exits with it.
pub const CONFIG: u8 = 78;
