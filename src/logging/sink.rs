//! Where log lines go: stderr, in batches.
//!
//! env_logger writes each record to its target and flushes it: one
//! `write(2)` per line, so one per request for the access log. Here lines
//! gather in memory and go out together: every `LOG_FLUSH_MS`, at
//! [`HIGH_WATER`] bytes, at once for a warning or an error (with the lines
//! before it, in order), and at exit ([`flush`] from `main` and from the
//! panic hook). `LOG_FLUSH_MS=0` writes every line as it comes.
//!
//! Measured (docs/performance.md, "The batched log sink"): `make bench`
//! get_id 40,800 / 42,282 → 44,952 / 44,957 req/s, snippetd CPU 25 / 23 →
//! 22 / 21 µs per request. What can be lost: up to one interval of info
//! and debug lines if the process is killed with SIGKILL or aborts.

use std::cell::Cell;
use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Bytes held before they are written whatever the interval: a burst
/// does not grow the buffer without bound (a few hundred access lines).
pub const HIGH_WATER: usize = 32 * 1024;

/// Lines waiting, and where they go.
pub struct Sink<W> {
    pending: Mutex<Vec<u8>>,
    /// Held while a batch is written, so that batches go out in order.
    out: Mutex<W>,
    /// Zero: every line is written at once.
    every: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while logging must not silence the logger.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<W: Write> Sink<W> {
    pub fn new(out: W, every: Duration) -> Sink<W> {
        Sink {
            pending: Mutex::new(Vec::with_capacity(HIGH_WATER)),
            out: Mutex::new(out),
            every,
        }
    }

    /// Adds one formatted line; writes everything pending if `urgent`, if
    /// the buffer is full or if nothing is deferred.
    pub fn push(&self, line: &[u8], urgent: bool) {
        let full = {
            let mut p = lock(&self.pending);
            p.extend_from_slice(line);
            p.len() >= HIGH_WATER
        };
        if urgent || full || self.every.is_zero() {
            self.flush();
        }
    }

    /// Writes out whatever is pending.
    pub fn flush(&self) {
        let mut out = lock(&self.out);
        let batch = {
            let mut p = lock(&self.pending);
            if p.is_empty() {
                return;
            }
            std::mem::replace(&mut *p, Vec::with_capacity(HIGH_WATER))
        };
        write_lines(&mut *out, &batch);
    }

    /// [`Sink::flush`] unless a lock is held: for the panic hook, which
    /// may run on a thread that panicked while holding one.
    fn try_flush(&self) {
        if let (Ok(mut out), Ok(mut p)) = (self.out.try_lock(), self.pending.try_lock()) {
            write_lines(&mut *out, &p);
            p.clear();
        }
    }
}

/// Bytes a pipe writes atomically (pipe(7): `PIPE_BUF`, 4,096 on Linux).
/// `supervise` and its `serve` child share one stderr pipe: a larger write
/// could be split by the kernel with the other process's line in between,
/// tearing a JSON line in CloudWatch.
pub const PIPE_BUF: usize = 4096;

/// Writes whole lines, at most [`PIPE_BUF`] bytes per write (a longer
/// single line in one write, as env_logger would have).
fn write_lines(out: &mut impl Write, mut batch: &[u8]) {
    while !batch.is_empty() {
        let window = &batch[..batch.len().min(PIPE_BUF)];
        let end = match window.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => batch
                .iter()
                .position(|&b| b == b'\n')
                .map_or(batch.len(), |i| i + 1),
        };
        // Nowhere to report a failed write to: stderr is the report.
        if out.write_all(&batch[..end]).is_err() {
            return;
        }
        batch = &batch[end..];
    }
    let _ = out.flush();
}

static SINK: OnceLock<Sink<std::io::Stderr>> = OnceLock::new();

thread_local! {
    /// Set by the formatter for the line it just formatted, read by
    /// [`Target`]'s write that env_logger calls right after, on the same
    /// thread.
    static URGENT: Cell<bool> = const { Cell::new(false) };
}

/// Marks the line being formatted as one to write at once (warnings and
/// errors: what an operator looks for after a crash).
pub fn mark(level: log::Level) {
    URGENT.with(|u| u.set(level <= log::Level::Warn));
}

/// The process's sink, writing to stderr every `every`, and a panic hook
/// that writes out what is pending before the panic message. The first
/// call decides; later ones (tests) keep it.
pub fn install(every: Duration) -> &'static Sink<std::io::Stderr> {
    let mut installed = false;
    let sink = SINK.get_or_init(|| {
        installed = true;
        Sink::new(std::io::stderr(), every)
    });
    if installed {
        if !every.is_zero() {
            let spawned =
                std::thread::Builder::new()
                    .name("log-flush".into())
                    .spawn(move || loop {
                        std::thread::sleep(every);
                        sink.flush();
                    });
            if spawned.is_err() {
                // Without the flusher, lines could wait for the next warning.
                eprintln!("cannot start the log flusher thread: logging line by line");
            }
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            sink.try_flush();
            previous(info);
        }));
    }
    sink
}

/// Writes out pending lines: before the process exits.
pub fn flush() {
    if let Some(s) = SINK.get() {
        s.flush();
    }
}

/// env_logger's target: a line into the sink. env_logger calls `write_all`
/// with the whole line (one `write`, taken whole), then `flush`, which does
/// nothing: when lines go out is the sink's decision.
pub struct Target(pub &'static Sink<std::io::Stderr>);

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf, URGENT.with(|u| u.replace(false)));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read, counting its writes.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    #[test]
    fn lines_wait_until_a_flush_then_go_out_in_one_write_in_order() {
        let out = Shared::default();
        let sink = Sink::new(out.clone(), Duration::from_secs(3600));
        for i in 0..100 {
            sink.push(format!("line {i}\n").as_bytes(), false);
        }
        assert_eq!(out.writes(), 0);
        sink.flush();
        assert_eq!(out.writes(), 1);
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(out.text(), expected);
        sink.flush();
        assert_eq!(out.writes(), 1, "nothing pending, nothing written");
    }

    #[test]
    fn an_urgent_line_goes_out_at_once_with_the_lines_before_it() {
        let out = Shared::default();
        let sink = Sink::new(out.clone(), Duration::from_secs(3600));
        sink.push(b"info 1\n", false);
        sink.push(b"info 2\n", false);
        sink.push(b"error\n", true);
        assert_eq!(out.text(), "info 1\ninfo 2\nerror\n");
    }

    #[test]
    fn a_full_buffer_is_written_without_waiting() {
        let out = Shared::default();
        let sink = Sink::new(out.clone(), Duration::from_secs(3600));
        let mut line = [b'x'; 1000];
        line[999] = b'\n';
        for _ in 0..HIGH_WATER / 1000 {
            sink.push(&line, false);
        }
        assert_eq!(out.writes(), 0);
        sink.push(&line, false);
        assert!(out.writes() > 0);
        assert_eq!(out.text().len(), (HIGH_WATER / 1000 + 1) * 1000);
    }

    /// Each write is whole lines and at most PIPE_BUF bytes, unless one
    /// line alone is longer.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_are_whole_lines_of_at_most_pipe_buf() {
        let mut batch = Vec::new();
        for i in 0..400 {
            batch.extend_from_slice(format!("{}\n", "z".repeat(i * 7 % 300)).as_bytes());
        }
        batch.extend_from_slice(format!("{}\n", "L".repeat(3 * PIPE_BUF)).as_bytes());
        batch.extend_from_slice(b"after\n");
        let mut w = Writes::default();
        write_lines(&mut w, &batch);
        assert_eq!(w.0.concat(), batch);
        assert!(w.0.len() > 1);
        for chunk in &w.0 {
            assert_eq!(chunk.last(), Some(&b'\n'));
            let lines = chunk.iter().filter(|&&b| b == b'\n').count();
            assert!(
                chunk.len() <= PIPE_BUF || lines == 1,
                "{} bytes",
                chunk.len()
            );
        }
    }

    #[test]
    fn zero_interval_writes_every_line() {
        let out = Shared::default();
        let sink = Sink::new(out.clone(), Duration::ZERO);
        sink.push(b"a\n", false);
        sink.push(b"b\n", false);
        assert_eq!(out.writes(), 2);
        assert_eq!(out.text(), "a\nb\n");
    }

    #[test]
    fn lines_from_many_threads_are_never_torn_or_lost() {
        let out = Shared::default();
        let sink = Arc::new(Sink::new(out.clone(), Duration::from_secs(3600)));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let line = format!("{t}:{i}:{}\n", "y".repeat(i % 97));
                        sink.push(line.as_bytes(), i % 500 == 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        sink.flush();
        let text = out.text();
        let mut seen = std::collections::HashSet::new();
        for l in text.lines() {
            let mut parts = l.split(':');
            let (t, i, pad) = (parts.next(), parts.next(), parts.next().unwrap());
            let i: usize = i.unwrap().parse().unwrap();
            assert_eq!(pad.len(), i % 97, "torn line {l:?}");
            assert!(seen.insert((t.unwrap().to_owned(), i)));
        }
        assert_eq!(seen.len(), 8000);
    }
}
