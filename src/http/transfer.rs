//! `GET /snippets/export` (NDJSON; the import is src/http/import.rs).
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
use hyper::Response;
use serde::Deserialize;

use super::body::BoxError;
use super::problem::{ApiError, Body};
use super::App;
use crate::auth::Caller;
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
    let exporter = app.snippets.exporter(caller, revisions)?;
    let first = exporter.page(None).await?;
    // State: the page in hand, or where the next one starts (None: done).
    let pages = stream::unfold(
        (Some(first.ndjson), first.next),
        move |(ready, next): (Option<Vec<u8>>, Option<Cursor>)| {
            let exporter = exporter.clone();
            async move {
                if let Some(bytes) = ready {
                    return Some((Ok(Frame::data(Bytes::from(bytes))), (None, next)));
                }
                let after = next?;
                match exporter.page(Some(after)).await {
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
