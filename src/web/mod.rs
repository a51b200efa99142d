//! The pages for people (issue 34; docs/web.md): a snippet, its history,
//! one version with its diff, and the public list with its search form.
//! Server-rendered HTML (maud: every value escaped by construction),
//! readable with JavaScript off; the script only enhances (highlighting
//! by the vendored highlight.js, the copy button, line selection).
//!
//! Beside `http` and below it: http routes here and turns these
//! responses into its own; this module reads snippets only through the
//! domain's face ([`Snippets`]) with the caller http gives it. Pages
//! are anonymous routes (src/http/dispatch.rs): `Authorization` is never
//! read, so a browser sees what anyone sees and a private snippet is the
//! same 404 as an id that does not exist.

pub mod assets;
mod browse;
mod code;
mod layout;
mod pages;

use std::sync::OnceLock;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use hyper::{Response, StatusCode};
use maud::Markup;

pub use browse::browse;
pub use pages::{history, snippet, version};

/// Every page's policy: this origin's files only, nothing inline, no
/// frames, forms only back to this origin. `img-src 'self'`: the icon.
/// `connect-src 'none'`: the script fetches nothing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// What a page says about itself besides its HTML.
#[derive(Default)]
struct Meta {
    /// `X-Robots-Tag: noindex` (unlisted snippets, error pages).
    noindex: bool,
    /// The validator, when the page has one (a snippet's pages).
    etag: Option<String>,
}

/// A page's ETag: the snippet's version, and this build's assets (a new
/// release's page links new asset names, so an old page must not be
/// revalidated as current).
fn etag(version: i64) -> String {
    static BUILD: OnceLock<String> = OnceLock::new();
    let build = BUILD.get_or_init(|| {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(env!("CARGO_PKG_VERSION"));
        for a in [&assets::CSS, &assets::JS, &assets::HLJS, &assets::ICON] {
            d.update(a.name());
        }
        d.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    format!("\"{version}-{build}\"")
}

/// Does `If-None-Match` list `tag` (weakly compared, RFC 9110 §13.1.2)?
fn not_modified(req: &HeaderMap, tag: &str) -> bool {
    req.get_all("if-none-match")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

fn headers(h: &mut HeaderMap, meta: &Meta) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // The URL of an unlisted snippet is its secret: never sent on.
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if meta.noindex {
        h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    }
    if let Some(tag) = &meta.etag {
        h.insert(ETAG, HeaderValue::from_str(tag).expect("digits and hex"));
    }
}

fn html(status: StatusCode, body: Markup, meta: &Meta) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body.into_string()));
    *resp.status_mut() = status;
    headers(resp.headers_mut(), meta);
    resp
}

/// 304 with what the 200 would carry, when the client has `tag`.
fn revalidated(req: &HeaderMap, meta: &Meta) -> Option<Response<Bytes>> {
    let tag = meta.etag.as_deref()?;
    if !not_modified(req, tag) {
        return None;
    }
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    headers(resp.headers_mut(), meta);
    resp.headers_mut().remove(CONTENT_TYPE);
    Some(resp)
}

/// The one page for a snippet that does not exist, is private, expired,
/// or a version that cannot be shown: the same bytes and headers for all.
pub fn not_found() -> Response<Bytes> {
    let meta = Meta {
        noindex: true,
        etag: None,
    };
    html(StatusCode::NOT_FOUND, layout::not_found(), &meta)
}

/// A static file, or the 404 page.
pub fn asset(file: &str, req: &HeaderMap) -> Response<Bytes> {
    match assets::find(file) {
        Some(a) => assets::serve(a, req),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_is_strict() {
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'"));
        assert!(CSP.contains("script-src 'self';"));
        assert!(!CSP.contains("http"), "no other origin");
    }

    #[test]
    fn etags_revalidate() {
        let tag = etag(7);
        assert!(tag.starts_with("\"7-") && tag.ends_with('"'));
        let mut h = HeaderMap::new();
        h.insert(
            "if-none-match",
            HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap(),
        );
        assert!(not_modified(&h, &tag));
        assert!(!not_modified(&h, &etag(8)));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
