//! Compiled-in files served under a name that changes with their bytes
//! (the `/docs` page's Swagger UI, the pages' CSS and scripts): cacheable
//! for a year, never sniffed, gzipped for clients that take it.

use bytes::Bytes;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY,
};
use hyper::Response;

/// `plain`, or its `gzip` variant when there is one and the request
/// accepts it; `Cache-Control: public, max-age=31536000, immutable` and
/// `X-Content-Type-Options: nosniff` either way.
pub fn immutable(
    content_type: &'static str,
    plain: &'static [u8],
    gzip: Option<&'static [u8]>,
    req: &HeaderMap,
) -> Response<Bytes> {
    let sent = gzip.filter(|_| accepts_gzip(req));
    let mut resp = Response::new(Bytes::from_static(sent.unwrap_or(plain)));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if gzip.is_some() {
        // Caches must key on the client's codings (CORS may add its own).
        h.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if sent.is_some() {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

/// RFC 9110 §12.5.3: `gzip` (or `*`, when gzip is not named) with a
/// non-zero weight. `x-gzip` is not worth a branch for these files.
pub fn accepts_gzip(h: &HeaderMap) -> bool {
    let mut named = None;
    let mut star = None;
    for item in h
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let (coding, weight) = super::qvalue::weighted(item);
        if coding.eq_ignore_ascii_case("gzip") {
            named = Some(weight > 0.0);
        } else if coding == "*" {
            star = Some(weight > 0.0);
        }
    }
    named.or(star).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ae(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_only_when_accepted() {
        for v in ["gzip", "br, gzip", "GZIP;q=0.5", "*", "deflate, *;q=0.1"] {
            assert!(accepts_gzip(&ae(v)), "{v}");
        }
        for v in ["", "identity", "br", "gzip;q=0", "gzip;q=0.0, *", "*;q=0"] {
            assert!(!accepts_gzip(&ae(v)), "{v}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_variant_is_sent_only_to_who_takes_it_and_always_named_in_vary() {
        let r = immutable("text/css", b"plain", Some(b"zipped"), &ae("gzip"));
        assert_eq!(&r.body()[..], b"zipped");
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[VARY], "accept-encoding");
        let r = immutable("text/css", b"plain", Some(b"zipped"), &ae("br"));
        assert_eq!(&r.body()[..], b"plain");
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(r.headers()[VARY], "accept-encoding");
        let r = immutable("image/png", b"png", None, &ae("gzip"));
        assert_eq!(&r.body()[..], b"png");
        assert!(r.headers().get(VARY).is_none());
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
}
