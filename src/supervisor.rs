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

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("cannot start the server process: {0}")]
    Spawn(std::io::Error),
    #[error("the server crashed {0} times within {1:?}; giving up")]
    CrashLoop(usize, Duration),
    #[error("the server exited with a configuration error (code {})", exit::CONFIG)]
    Config,
}

/// How a child ended: its exit code (128 + the signal's number when a
/// signal killed it, as shells report it) and a description.
fn describe(status: WaitStatus) -> (u8, String) {
    match status {
        WaitStatus::Exited(_, code) => (code as u8, format!("exited with code {code}")),
        WaitStatus::Signaled(_, sig, _) => (
            128u8.wrapping_add(sig as u8),
            format!("killed by signal {} ({sig})", sig as i32),
        ),
        other => (exit::FAILURE, format!("ended with {other:?}")),
    }
}

/// Reaps every child that has exited (orphans re-parented to us when we
/// are PID 1 included); returns the status of `pid` if it was among them.
fn reap(pid: Pid) -> Option<WaitStatus> {
    let mut ours = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            // StillAlive: children remain, none has exited; ECHILD: none left.
            Ok(WaitStatus::StillAlive) | Err(_) => return ours,
            Ok(status) => {
                if status.pid() == Some(pid) {
                    ours = Some(status);
                }
            }
        }
    }
}

fn send(pid: Pid, sig: Signal) {
    // ESRCH: it has just exited; the next reap collects it.
    if let Err(e) = kill(pid, sig) {
        if e != Errno::ESRCH {
            log::warn!("cannot send {sig} to the server process {pid}: {e}");
        }
    }
}

/// Supervises `command` until a signal asks us to stop (returns the child's
/// exit code) or it crash-loops.
pub async fn run(mut command: Command, grace: Duration) -> Result<u8, SupervisorError> {
    let mut chld = signal(SignalKind::child()).expect("install SIGCHLD handler");
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    let mut crashes: VecDeque<Instant> = VecDeque::new();
    let mut backoff = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        let child = command.spawn().map_err(SupervisorError::Spawn)?;
        let pid = Pid::from_raw(child.id() as i32);
        // We reap with waitpid ourselves; std's handle must not wait too.
        drop(child);
        log::info!(target: "snippetd::supervisor", pid = pid.as_raw(), supervisor_pid = std::process::id(); "server process started");
        let mut stopping: Option<Instant> = None;
        let status = loop {
            if let Some(status) = reap(pid) {
                break status;
            }
            let kill_at = stopping.map(|t| t + grace + Duration::from_secs(5));
            tokio::select! {
                _ = chld.recv() => {}
                _ = term.recv() => { send(pid, Signal::SIGTERM); stopping.get_or_insert_with(Instant::now); }
                _ = int.recv() => { send(pid, Signal::SIGINT); stopping.get_or_insert_with(Instant::now); }
                // SIGCHLD can coalesce; poll now and then as well.
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if kill_at.is_some_and(|t| Instant::now() >= t) {
                        log::warn!("server did not stop within the grace period: SIGKILL");
                        send(pid, Signal::SIGKILL);
                    }
                }
            }
        };
        let (code, how) = describe(status);
        if stopping.is_some() {
            log::info!(target: "snippetd::supervisor", "server process {how} after the stop signal");
            return Ok(code);
        }
        if code == exit::CONFIG {
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
            _ = term.recv() => return Ok(exit::SUCCESS),
            _ = int.recv() => return Ok(exit::SUCCESS),
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
