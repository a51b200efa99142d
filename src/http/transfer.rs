//! `GET /snippets/export` and `POST /snippets/import` (NDJSON).
//!
//! The export is a streamed body: one keyset page is read when hyper asks
//! for more, written out, and dropped, so the server holds one page (at
//! most [`transfer::EXPORT_PAGE`] snippets) whatever the export's size, and
//! a connection is checked out only while a page is read (a slow reader
//! holds none). The first page is read before the status is sent, so a
//! database that is down is a 503 problem, not a cut-off 200; a failure
//! after that ends the body early (the client sees a truncated transfer,
//! and the error is logged).

use std::pin::Pin;

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use http_body_util::{Either, StreamBody};
use hyper::body::Frame;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::handlers::{json, Req};
use super::problem::{ApiError, Body};
use super::request::{self, Json};
use super::stack::BoxError;
use super::App;
use crate::auth::{Caller, Scope};
use crate::snippets::transfer::{self, Outcome};
use crate::snippets::Cursor;

type Result<T> = std::result::Result<T, ApiError>;

/// An export's body: NDJSON pages as they are read.
pub type ExportBody =
    StreamBody<Pin<Box<dyn Stream<Item = std::result::Result<Frame<Bytes>, BoxError>> + Send>>>;
/// What a handler answers with: a whole body, or a stream.
pub type Reply = Either<Body, ExportBody>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    revisions: Option<String>,
}

/// `?revisions=true|false` (nothing else).
fn export_query(query: Option<&str>) -> Result<bool> {
    let q: ExportQuery = serde_html_form::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("use revisions=true or revisions=false, once".into()))?;
    match q.revisions.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::BadRequest(
            "revisions must be true or false".into(),
        )),
    }
}

pub async fn export(app: &App, caller: &Caller, query: Option<&str>) -> Result<Response<Reply>> {
    let revisions = export_query(query)?;
    let owner = transfer::exporter(caller)?;
    let first = transfer::export_page(&app.pool, owner.as_deref(), None, revisions).await?;
    let pool = app.pool.clone();
    // State: the page in hand, or where the next one starts (None: done).
    let pages = stream::unfold(
        (Some(first.ndjson), first.next),
        move |(ready, next): (Option<Vec<u8>>, Option<Cursor>)| {
            let pool = pool.clone();
            let owner = owner.clone();
            async move {
                if let Some(bytes) = ready {
                    return Some((Ok(Frame::data(Bytes::from(bytes))), (None, next)));
                }
                let after = next?;
                match transfer::export_page(&pool, owner.as_deref(), Some(after), revisions).await {
                    Ok(page) => {
                        Some((Ok(Frame::data(Bytes::from(page.ndjson))), (None, page.next)))
                    }
                    Err(e) => {
                        log::error!(target: "snippetd::error", "export cut short: {e}");
                        Some((Err(BoxError::from(e.to_string())), (None, None)))
                    }
                }
            }
        },
    );
    let body: ExportBody = StreamBody::new(Box::pin(pages));
    let mut resp = Response::new(Either::Right(body));
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

/// The import's answer: counts, then one outcome per non-blank line.
#[derive(Serialize)]
struct Report {
    imported: usize,
    failed: usize,
    lines: Vec<Outcome>,
}

pub async fn import(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>> {
    caller.require(Scope::SnippetsWrite)?;
    request::content_type(req.headers(), &[Json::Ndjson])?;
    let bytes = request::body(
        req.into_body(),
        app.cfg.import_max_bytes,
        app.cfg.body_read_timeout,
    )
    .await?;
    let mut lines = Vec::new();
    let mut batch = Vec::with_capacity(transfer::IMPORT_BATCH);
    let numbered = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    for (n, raw) in numbered {
        let checked = match request::json(raw) {
            Ok(v) => transfer::check_line(n, v, caller, app.cfg.max_expiry),
            Err(e) => Err(Outcome::failed(
                n,
                400,
                vec![crate::snippets::Violation {
                    pointer: String::new(),
                    detail: e.to_string(),
                }],
            )),
        };
        match checked {
            Ok(row) => batch.push(row),
            Err(o) => lines.push(o),
        }
        if batch.len() == transfer::IMPORT_BATCH {
            let rows = std::mem::take(&mut batch);
            lines.extend(
                transfer::import_batch(&app.pool, caller, rows, app.cfg.limits.quota).await,
            );
        }
    }
    if !batch.is_empty() {
        lines.extend(transfer::import_batch(&app.pool, caller, batch, app.cfg.limits.quota).await);
    }
    lines.sort_by_key(|o| o.line);
    let imported = lines.iter().filter(|o| o.status == 201).count();
    Ok(json(
        StatusCode::OK,
        &Report {
            imported,
            failed: lines.len() - imported,
            lines,
        },
    ))
}
