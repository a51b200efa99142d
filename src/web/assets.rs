//! The pages' static files, compiled in (`include_bytes!`) and served
//! under `/static/` with a name that carries a hash of their bytes
//! (`app.3f9a1c0e.css`): a new release's bytes get a new name, so every
//! name can be cached for a year (`immutable`) and no reader ever mixes
//! an old script with a new page.
//!
//! Every one is text, also served gzipped to clients that accept it:
//! compressed once, at its first request (flate2, level 9), and kept:
//! ~45 KB of memory for all of them, nothing per request.
//! highlight.js is vendored by scripts/vendor-web.sh, its bytes checked
//! against SHA256SUMS (as Swagger UI's are: src/http/docs_ui/).

use std::io::Write as _;
use std::sync::OnceLock;

use bytes::Bytes;
use hyper::header::HeaderMap;
use hyper::Response;
use sha2::{Digest, Sha256};

/// One file under `/static/`.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// The file's own name: `app.css`.
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    plain: &'static [u8],
    name: OnceLock<String>,
    gzip: OnceLock<Vec<u8>>,
}

impl Asset {
    const fn new(stem: &'static str, ext: &'static str, plain: &'static [u8]) -> Asset {
        let content_type = match ext.as_bytes() {
            b"css" => "text/css; charset=utf-8",
            b"js" => "text/javascript; charset=utf-8",
            b"svg" => "image/svg+xml",
            _ => "text/plain; charset=utf-8",
        };
        Asset {
            stem,
            ext,
            content_type,
            plain,
            name: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    /// `stem.HASH.ext`: the first 8 hex digits of the bytes' SHA-256.
    pub fn name(&self) -> &str {
        self.name.get_or_init(|| {
            let d = Sha256::digest(self.plain);
            let hex: String = d[..4].iter().map(|b| format!("{b:02x}")).collect();
            format!("{}.{hex}.{}", self.stem, self.ext)
        })
    }

    /// The path pages link to.
    pub fn href(&self) -> String {
        format!("/static/{}", self.name())
    }

    fn gzipped(&'static self) -> &'static [u8] {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(self.plain).expect("writes to a Vec");
            enc.finish().expect("writes to a Vec")
        })
    }
}

pub static CSS: Asset = Asset::new("app", "css", include_bytes!("assets/app.css"));
pub static JS: Asset = Asset::new("app", "js", include_bytes!("assets/app.js"));
pub static HLJS: Asset = Asset::new("hljs", "js", include_bytes!("assets/vendor/hljs.js"));
pub static ICON: Asset = Asset::new("icon", "svg", include_bytes!("assets/icon.svg"));
/// Served, not only committed: BSD-3-Clause asks that the notice travel
/// with the copy we distribute.
pub static HLJS_LICENSE: Asset = Asset::new(
    "hljs-LICENSE",
    "txt",
    include_bytes!("assets/vendor/LICENSE"),
);

static ALL: [&Asset; 5] = [&CSS, &JS, &HLJS, &ICON, &HLJS_LICENSE];

/// The asset named `file` (hash included), if this build has it.
pub fn find(file: &str) -> Option<&'static Asset> {
    ALL.iter().copied().find(|a| a.name() == file)
}

/// The asset's bytes, cached for a year, gzipped when the client takes it.
pub fn serve(a: &'static Asset, req: &HeaderMap) -> Response<Bytes> {
    crate::util::static_file::immutable(a.content_type, a.plain, Some(a.gzipped()), req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING};
    use std::io::Read as _;

    #[test]
    fn names_carry_the_hash_and_resolve() {
        for a in ALL {
            let name = a.name();
            assert!(name.starts_with(a.stem) && name.ends_with(a.ext), "{name}");
            assert_eq!(name.len(), a.stem.len() + a.ext.len() + 10, "{name}");
            assert!(std::ptr::eq(find(name).unwrap(), a));
        }
        assert!(find("app.css").is_none());
        assert!(find("app.00000000.css").is_none());
    }

    #[test]
    fn gzip_round_trips_and_is_smaller() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, gzip"));
        let resp = serve(&HLJS, &h);
        assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&resp.body()[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, HLJS.plain);
        assert!(resp.body().len() * 2 < out.len());
        let plain = serve(&HLJS, &HeaderMap::new());
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(plain.body().len(), HLJS.plain.len());
    }

    /// The vendored file is the one SHA256SUMS names (the script checks
    /// the same; this runs with every `cargo test`).
    #[test]
    fn vendored_bytes_match_sha256sums() {
        let sums = include_str!("assets/vendor/SHA256SUMS");
        for (asset, file) in [(&HLJS, "hljs.js"), (&HLJS_LICENSE, "LICENSE")] {
            let hex: String = Sha256::digest(asset.plain)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(sums.contains(&format!("{hex}  {file}")), "{file}");
        }
    }
}
