//! `GET /docs`: the OpenAPI document rendered for people by Swagger UI
//! (swagger-ui-dist 5.35.0, Apache-2.0, vendored by
//! scripts/vendor-docs-ui.sh), compiled into the binary so the page works
//! with no internet and the server fetches nothing.
//!
//! The files are `include_bytes!` statics: they sit in the executable's
//! read-only pages, which the kernel maps in only when a response is
//! written, so an idle server's memory is unchanged (measured, debug build:
//! RssAnon 4,652 kB idle; after the page and the gzipped assets +576 kB
//! RssFile, +92 kB anon; the plain ones add their 1.7 MB of RssFile, pages
//! the kernel may drop again). Assets live under a
//! versioned directory ([`ASSET_DIR`]) and are cached for a year; the page
//! itself is revalidated, so a new release's page points at new assets.
//!
//! The bundle and the CSS are also stored gzipped (-74 % and -86 %: 1.73 MB
//! → 458 KB, 188 KB → 27 KB). CloudFront does not compress for us: its
//! cache policy is CachingDisabled, and it compresses only what it caches.
//! A client that does not accept gzip gets the plain bytes, also compiled
//! in (no decompressor, no per-request work).

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{HeaderMap, Response};

use super::problem::Body;

/// The vendored Swagger UI version, then `-N`, the revision of our own
/// files (init.js): bumped whenever either changes, since browsers keep
/// what is under this directory for a year. index.html spells it out.
pub const ASSET_DIR: &str = "5.35.0-1";

/// A file under `/docs/{ASSET_DIR}/`.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    pub name: &'static str,
    content_type: &'static str,
    plain: &'static [u8],
    gzip: Option<&'static [u8]>,
}

pub static ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        plain: include_bytes!("vendor/swagger-ui-bundle.js"),
        gzip: Some(include_bytes!("vendor/swagger-ui-bundle.js.gz")),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        plain: include_bytes!("vendor/swagger-ui.css"),
        gzip: Some(include_bytes!("vendor/swagger-ui.css.gz")),
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        plain: include_bytes!("init.js"),
        gzip: None,
    },
    Asset {
        name: "favicon-32x32.png",
        content_type: "image/png",
        plain: include_bytes!("vendor/favicon-32x32.png"),
        gzip: None,
    },
    // Served, not only committed: Apache-2.0 asks that the licence and the
    // NOTICE travel with the copy we distribute.
    Asset {
        name: "LICENSE",
        content_type: "text/plain; charset=utf-8",
        plain: include_bytes!("vendor/LICENSE"),
        gzip: None,
    },
    Asset {
        name: "NOTICE",
        content_type: "text/plain; charset=utf-8",
        plain: include_bytes!("vendor/NOTICE"),
        gzip: None,
    },
];

const PAGE: &[u8] = include_bytes!("index.html");

/// The page's policy: this origin only, nothing inline. Swagger UI 5.35
/// needs no `style-src 'unsafe-inline'`: React sets styles through the
/// CSSOM, which CSP does not police (the browser test opens every
/// operation and fails on any violation). `img-src data:`: swagger-ui.css
/// draws its icons as `data:` SVGs (blocked without it: seen in the test;
/// an image cannot run code).
/// `connect-src 'self'`: /openapi.json, and "Try it out" against this API.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The asset `file` of directory `dir`, if this build has it; an old
/// release's directory is a 404 like any unknown path.
pub fn asset(dir: &str, file: &str) -> Option<&'static Asset> {
    if dir != ASSET_DIR {
        return None;
    }
    ASSETS.iter().find(|a| a.name == file)
}

fn nosniff(h: &mut HeaderMap) {
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}

pub fn page() -> Response<Body> {
    let mut resp = Response::new(Body::from(Bytes::from_static(PAGE)));
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    nosniff(h);
    resp
}

pub fn serve(a: &Asset, req: &HeaderMap) -> Response<Body> {
    crate::util::static_file::immutable(a.content_type, a.plain, a.gzip, req).map(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The page names every asset it loads under this build's directory,
    /// and only those.
    #[test]
    fn page_links_resolve() {
        let page = std::str::from_utf8(PAGE).unwrap();
        let mut linked = 0;
        for (i, _) in page.match_indices("\"/docs/") {
            let path = &page[i + 1..];
            let path = &path[..path.find('"').unwrap()];
            let (dir, file) = path["/docs/".len()..].split_once('/').unwrap();
            assert!(asset(dir, file).is_some(), "{path}");
            linked += 1;
        }
        assert_eq!(linked, 4);
        assert!(
            !page.contains("<script>"),
            "no inline script: the CSP forbids it"
        );
    }

    /// Our own asset's bytes are pinned: editing init.js fails here until
    /// ASSET_DIR's revision is bumped and this hash updated, so no browser
    /// keeps a stale copy for a year.
    #[test]
    fn init_js_changes_bump_the_asset_dir() {
        let init = asset(ASSET_DIR, "init.js").unwrap();
        let hex: String = Sha256::digest(init.plain)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            (ASSET_DIR, hex.as_str()),
            (
                "5.35.0-1",
                "fe01489545ea49843cbb13cd9ef12edbb3408854308d371cb102b1bc3d27e966"
            )
        );
    }

    #[test]
    fn csp_is_strict() {
        assert!(!CSP.contains("unsafe-eval"));
        assert!(CSP.contains("script-src 'self';"));
        assert!(!CSP.contains("unsafe-inline"));
        assert!(!CSP.contains("http"), "no other origin");
    }
}
