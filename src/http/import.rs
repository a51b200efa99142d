//! `POST /snippets/import`: NDJSON in, a bounded report out.
//!
//! The body is read as it arrives, one line at a time, and written in
//! batches: the server holds at most one line ([`MAX_LINE_BYTES`]), one
//! batch ([`transfer::IMPORT_BATCH`] rows, [`BATCH_BYTES`]) and a report of
//! at most [`REPORT_EACH`] outcomes of each kind (created, failed), so a
//! request's memory does not grow with its body. Reading the whole body
//! first and keeping an outcome per line made 4 MiB of `1\n` a 188 MB
//! report and ~800 MiB of peak RSS (tests/transfer_memory.rs measures it;
//! docs/api.md, "Import", is the contract).

use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::body::HandlerBody;
use super::body::Req;
use super::problem::{ApiError, Body};
use super::request::{self, Json};
use super::respond::json;
use super::App;
use crate::auth::{Caller, Scope};
use crate::snippets::transfer::{self, NewRow, Outcome};
use crate::snippets::Violation;

/// A longer line fails alone (413) and is skipped without being kept: an
/// export's line is one snippet with at most `REVISIONS_KEPT` versions.
pub const MAX_LINE_BYTES: usize = 8 << 20;
/// A batch is written once its lines add up to this, or to
/// [`transfer::IMPORT_BATCH`] rows, whichever comes first.
const BATCH_BYTES: usize = 4 << 20;
/// Outcomes listed per kind (created, failed); the rest are counted.
pub const REPORT_EACH: usize = 1000;
/// Errors listed per failed line; the rest are summed up in one more.
const ERRORS_PER_LINE: usize = 20;

pub async fn import(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>, ApiError> {
    caller.require(Scope::SnippetsWrite)?;
    request::content_type(req.headers(), &[Json::Ndjson])?;
    let mut lines = Lines::new(
        req.into_body(),
        app.cfg.import_max_bytes,
        app.cfg.body_read_timeout,
    );
    let mut report = Report::default();
    let mut batch = Batch::default();
    let stopped = loop {
        let (n, raw) = match lines.next().await {
            Ok(Some(line)) => line,
            Ok(None) => break None,
            Err(e) if lines.number == 0 => return Err(e),
            Err(e) => break Some(e),
        };
        let checked = match raw {
            Line::TooLong => Err(too_long(n)),
            Line::Text(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(bytes) => parse(n, &bytes, caller, app),
        };
        match checked {
            Ok(row) => batch.push(row, lines.last_len),
            Err(o) => report.add(o),
        }
        if batch.full() {
            report.extend(app.snippets.import_batch(caller, batch.take()).await);
        }
    };
    if !batch.rows.is_empty() {
        report.extend(app.snippets.import_batch(caller, batch.take()).await);
    }
    report.stopped = stopped.map(|e| Stopped {
        status: e.status().as_u16(),
        detail: e.to_string(),
        after_line: lines.number,
    });
    Ok(json(StatusCode::OK, &report.finish()))
}

fn parse(n: usize, bytes: &[u8], caller: &Caller, app: &App) -> Result<NewRow, Outcome> {
    let line = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match request::json(line) {
        Ok(v) => app.snippets.check_import_line(n, v, caller),
        Err(e) => Err(Outcome::failed(n, 400, vec![violation("", e.to_string())])),
    }
}

fn too_long(n: usize) -> Outcome {
    let detail = format!("the line is longer than {MAX_LINE_BYTES} bytes: not read");
    Outcome::failed(n, 413, vec![violation("", detail)])
}

fn violation(pointer: &str, detail: String) -> Violation {
    Violation {
        pointer: pointer.into(),
        detail,
    }
}

/// Checked lines waiting to be written.
#[derive(Default)]
struct Batch {
    rows: Vec<NewRow>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, row: NewRow, bytes: usize) {
        self.rows.push(row);
        self.bytes += bytes;
    }

    fn full(&self) -> bool {
        self.rows.len() >= transfer::IMPORT_BATCH || self.bytes >= BATCH_BYTES
    }

    fn take(&mut self) -> Vec<NewRow> {
        self.bytes = 0;
        std::mem::take(&mut self.rows)
    }
}

/// One line of the body, without its `\n`.
enum Line {
    Text(BytesMut),
    /// Over [`MAX_LINE_BYTES`]: its bytes were dropped as they came.
    TooLong,
}

/// The body as numbered lines, read frame by frame. At most one line (and
/// the frame that ends it) is held.
struct Lines {
    body: HandlerBody,
    buf: BytesMut,
    /// Where the search for `\n` resumes in `buf`.
    scanned: usize,
    /// The current line passed [`MAX_LINE_BYTES`]: drop it up to its `\n`.
    skipping: bool,
    eof: bool,
    /// Lines returned so far, blank ones included (1-based numbers).
    number: usize,
    /// The byte length of the line returned last.
    last_len: usize,
    limit: usize,
    /// Time left for the body to arrive (`BODY_READ_TIMEOUT_SECONDS`, for
    /// the waits on the client only, not for the batches' writes).
    wait_left: Duration,
    timeout: Duration,
}

impl Lines {
    fn new(body: HandlerBody, limit: usize, timeout: Duration) -> Lines {
        Lines {
            body,
            buf: BytesMut::new(),
            scanned: 0,
            skipping: false,
            eof: false,
            number: 0,
            last_len: 0,
            limit,
            wait_left: timeout,
            timeout,
        }
    }

    async fn next(&mut self) -> Result<Option<(usize, Line)>, ApiError> {
        loop {
            if let Some(i) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
                let mut line = self.buf.split_to(self.scanned + i + 1);
                line.truncate(line.len() - 1);
                self.scanned = 0;
                return Ok(Some(self.numbered(line)));
            }
            if self.eof {
                if self.buf.is_empty() && !self.skipping {
                    return Ok(None);
                }
                let line = self.buf.split();
                self.scanned = 0;
                return Ok(Some(self.numbered(line)));
            }
            if self.buf.len() > MAX_LINE_BYTES {
                self.skipping = true;
                self.buf.advance(self.buf.len());
            }
            self.scanned = self.buf.len();
            self.read().await?;
        }
    }

    fn numbered(&mut self, line: BytesMut) -> (usize, Line) {
        self.number += 1;
        self.last_len = line.len();
        let line = if std::mem::take(&mut self.skipping) || line.len() > MAX_LINE_BYTES {
            Line::TooLong
        } else {
            Line::Text(line)
        };
        (self.number, line)
    }

    /// The next frame's data into `buf`, or `eof`.
    async fn read(&mut self) -> Result<(), ApiError> {
        let started = Instant::now();
        let frame = tokio::time::timeout(self.wait_left, self.body.frame())
            .await
            .map_err(|_| ApiError::RequestTimeout(self.timeout))?;
        self.wait_left = self.wait_left.saturating_sub(started.elapsed());
        match frame {
            None => self.eof = true,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.buf.extend_from_slice(&data);
                }
            }
            Some(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::PayloadTooLarge(self.limit));
            }
            Some(Err(e)) => {
                return Err(ApiError::BadRequest(format!(
                    "could not read the request body: {e}"
                )))
            }
        }
        Ok(())
    }
}

/// The answer: exact counts; the outcomes of the first [`REPORT_EACH`]
/// created and the first [`REPORT_EACH`] failed lines, in line order;
/// how many outcomes were left out; why reading stopped early, if it did.
#[derive(Default, Serialize)]
struct Report {
    imported: usize,
    failed: usize,
    lines: Vec<Outcome>,
    omitted: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<Stopped>,
    #[serde(skip)]
    created: Kept,
    #[serde(skip)]
    refused: Kept,
}

/// The body could not be read to its end: lines up to `afterLine` were
/// imported (or failed) as the report says; none after it were read.
#[derive(Serialize)]
struct Stopped {
    status: u16,
    detail: String,
    #[serde(rename = "afterLine")]
    after_line: usize,
}

impl Report {
    fn add(&mut self, mut o: Outcome) {
        if o.status == 201 {
            self.imported += 1;
            self.omitted += self.created.keep(o);
        } else {
            self.failed += 1;
            if let Some(errors) = o.errors.as_mut().filter(|e| e.len() > ERRORS_PER_LINE) {
                let more = errors.len() - ERRORS_PER_LINE + 1;
                errors.truncate(ERRORS_PER_LINE - 1);
                errors.push(transfer::LineError {
                    pointer: String::new(),
                    detail: format!("and {more} more"),
                });
            }
            self.omitted += self.refused.keep(o);
        }
    }

    fn extend(&mut self, outcomes: Vec<Outcome>) {
        outcomes.into_iter().for_each(|o| self.add(o));
    }

    fn finish(mut self) -> Report {
        let (created, refused) = (
            std::mem::take(&mut self.created),
            std::mem::take(&mut self.refused),
        );
        self.lines = created
            .0
            .into_iter()
            .chain(refused.0)
            .map(|k| k.0)
            .collect();
        self.lines.sort_by_key(|o| o.line);
        self
    }
}

/// The [`REPORT_EACH`] outcomes with the lowest line numbers seen so far
/// (batches answer out of line order with the lines checked meanwhile).
#[derive(Default)]
struct Kept(BinaryHeap<ByLine>);

impl Kept {
    /// Keeps `o` if it is among the first; returns how many were dropped.
    fn keep(&mut self, o: Outcome) -> usize {
        if self.0.len() < REPORT_EACH {
            self.0.push(ByLine(o));
            return 0;
        }
        if self.0.peek().is_some_and(|top| o.line < top.0.line) {
            self.0.pop();
            self.0.push(ByLine(o));
        }
        1
    }
}

struct ByLine(Outcome);

impl PartialEq for ByLine {
    fn eq(&self, other: &Self) -> bool {
        self.0.line == other.0.line
    }
}
impl Eq for ByLine {}
impl PartialOrd for ByLine {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByLine {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.line.cmp(&other.0.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(line: usize, status: u16) -> Outcome {
        if status == 201 {
            Outcome {
                line,
                status,
                id: Some(uuid::Uuid::nil()),
                errors: None,
            }
        } else {
            Outcome::failed(line, status, vec![violation("", "x".into())])
        }
    }

    #[test]
    fn the_report_keeps_the_first_lines_of_each_kind_and_counts_all() {
        let mut r = Report::default();
        // Failures of later lines first, then a batch of earlier ones.
        for n in (3000..4500).rev() {
            r.add(outcome(n, 400));
        }
        r.extend(
            (1..=2000)
                .map(|n| outcome(n, if n % 2 == 0 { 201 } else { 409 }))
                .collect(),
        );
        let r = r.finish();
        assert_eq!((r.imported, r.failed), (1000, 2500));
        assert_eq!(r.lines.len(), 2 * REPORT_EACH);
        assert_eq!(r.omitted, 2500 - REPORT_EACH);
        let failed: Vec<_> = r
            .lines
            .iter()
            .filter(|o| o.status != 201)
            .map(|o| o.line)
            .collect();
        assert_eq!(failed, (1..=1999).step_by(2).collect::<Vec<_>>());
        assert!(r.lines.windows(2).all(|w| w[0].line < w[1].line));
    }

    #[test]
    fn a_line_lists_a_bounded_number_of_errors() {
        let mut r = Report::default();
        let many = (0..100)
            .map(|i| violation("/tags", format!("e{i}")))
            .collect();
        r.add(Outcome::failed(1, 422, many));
        let errors = r.finish().lines[0].errors.clone().unwrap();
        assert_eq!(errors.len(), ERRORS_PER_LINE);
        assert_eq!(errors.last().unwrap().detail, "and 81 more");
    }
}
