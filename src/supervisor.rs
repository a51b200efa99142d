//! Runs `snippetd serve` as a child and keeps it alive, correct as PID 1:
//! forwards SIGTERM/SIGINT, reaps every zombie (orphans re-parent to PID 1),
//! restarts a crashed child with exponential backoff, and gives up after
//! repeated crashes so that the orchestrator replaces the task.

use std::collections::VecDeque;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};

/// Give up after this many crashes within [`CRASH_WINDOW`].
pub const MAX_CRASHES: usize = 5;
pub const CRASH_WINDOW: Duration = Duration::from_secs(60);

/// The child exited with EX_CONFIG: restarting cannot help.
const EXIT_CONFIG: i32 = crate::config::EXIT_CONFIG;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot start the server process: {0}")]
    Spawn(std::io::Error),
    #[error("the server crashed {0} times within {1:?}; giving up")]
    CrashLoop(usize, Duration),
    #[error("the server exited with a configuration error (code {EXIT_CONFIG})")]
    Config,
}

/// How a child ended, from a `waitpid` status.
fn describe(status: libc::c_int) -> (i32, String) {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        (code, format!("exited with code {code}"))
    } else if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        (128 + sig, format!("killed by signal {sig}"))
    } else {
        (1, format!("ended with status {status}"))
    }
}

/// Reaps every child that has exited; returns the status of `pid` if it
/// was among them.
fn reap(pid: libc::pid_t) -> Option<libc::c_int> {
    let mut ours = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG only writes `status`.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r <= 0 {
            return ours;
        }
        if r == pid {
            ours = Some(status);
        }
    }
}

fn send(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill has no memory effects; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Supervises `command` until a signal asks us to stop (returns the child's
/// exit code) or it crash-loops.
pub async fn run(mut command: Command, grace: Duration) -> Result<i32, SupervisorError> {
    let mut chld = signal(SignalKind::child()).expect("install SIGCHLD handler");
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    let mut crashes: VecDeque<Instant> = VecDeque::new();
    let mut backoff = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let child = command.spawn().map_err(SupervisorError::Spawn)?;
        let pid = child.id() as libc::pid_t;
        // We reap with waitpid ourselves; std's handle must not wait too.
        drop(child);
        log::info!(target: "snippetd::supervisor", pid = pid, supervisor_pid = std::process::id(); "server process started");
        let mut stopping: Option<Instant> = None;
        let status = loop {
            if let Some(status) = reap(pid) {
                break status;
            }
            let kill_at = stopping.map(|t| t + grace + Duration::from_secs(5));
            tokio::select! {
                _ = chld.recv() => {}
                _ = term.recv() => { send(pid, libc::SIGTERM); stopping.get_or_insert_with(Instant::now); }
                _ = int.recv() => { send(pid, libc::SIGINT); stopping.get_or_insert_with(Instant::now); }
                // SIGCHLD can coalesce; poll now and then as well.
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if kill_at.is_some_and(|t| Instant::now() >= t) {
                        log::warn!("server did not stop within the grace period: SIGKILL");
                        send(pid, libc::SIGKILL);
                    }
                }
            }
        };
        let (code, how) = describe(status);
        if stopping.is_some() {
            log::info!(target: "snippetd::supervisor", "server process {how} after the stop signal");
            return Ok(code);
        }
        if code == EXIT_CONFIG {
            return Err(SupervisorError::Config);
        }
        log::error!(target: "snippetd::supervisor", "server process {how}");
        let now = Instant::now();
        if now.duration_since(started) > CRASH_WINDOW {
            // It ran fine for a while: this is a new incident, not a loop.
            backoff = Duration::from_millis(500);
        }
        crashes.push_back(now);
        while crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
        {
            crashes.pop_front();
        }
        if crashes.len() >= MAX_CRASHES {
            return Err(SupervisorError::CrashLoop(crashes.len(), CRASH_WINDOW));
        }
        log::warn!(target: "snippetd::supervisor", "restarting in {backoff:?}");
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = term.recv() => return Ok(0),
            _ = int.recv() => return Ok(0),
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
