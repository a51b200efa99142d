//! The HTTP MUSTs that hyper leaves to the application, checked before any
//! route runs. Each answers what RFC 9110 / RFC 9112 require, so that a
//! proxy or WAF in front never sees a different request than snippetd does
//! (docs/api.md, "Malformed requests").

use hyper::header::{HeaderMap, CONTENT_ENCODING, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use hyper::http::uri::Authority;
use hyper::{Request, Version};

use super::problem::{ApiError, MAX_HEAD_BYTES};

pub fn check<B>(req: &Request<B>) -> Result<(), ApiError> {
    head_size(req)?;
    host(req.version(), req.headers())?;
    transfer_coding(req.headers())?;
    content_coding(req.headers())?;
    if req.headers().get_all(CONTENT_TYPE).iter().count() > 1 {
        return Err(ApiError::BadRequest("send one Content-Type header".into()));
    }
    Ok(())
}

/// The documented head limit, whatever the segmentation: hyper's own limit
/// is on its read buffer, so a head that arrives in one large read can pass
/// it (tests/abuse.rs, `header_limit_holds_however_the_head_arrives`).
fn head_size<B>(req: &Request<B>) -> Result<(), ApiError> {
    // Request line and `name: value\r\n` per field, as on the wire.
    let uri = req.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if line + fields > MAX_HEAD_BYTES {
        return Err(ApiError::HeadersTooLarge(MAX_HEAD_BYTES));
    }
    Ok(())
}

/// RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without a
/// Host header, with more than one, or with an invalid one.
fn host(version: Version, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(HOST).iter();
    let bad = |why: &str| ApiError::BadRequest(format!("Host header: {why} (RFC 9112 3.2)"));
    let Some(value) = values.next() else {
        return if version == Version::HTTP_10 {
            Ok(())
        } else {
            Err(bad("missing"))
        };
    };
    if values.next().is_some() {
        return Err(bad("sent more than once"));
    }
    let text = value.to_str().map_err(|_| bad("not visible ASCII"))?;
    // uri-host [ ":" port ], no user info.
    match text.parse::<Authority>() {
        Ok(a) if !text.is_empty() && !text.contains('@') && a.as_str() == text => Ok(()),
        _ => Err(bad("not a host[:port]")),
    }
}

/// RFC 9112 6.1: a server that receives a transfer coding it does not
/// understand SHOULD answer 501. hyper decodes `chunked` only, and would
/// hand `gzip, chunked` (or `chunked, chunked`) over as if it were plain.
fn transfer_coding(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut codings = Vec::new();
    for v in headers.get_all(TRANSFER_ENCODING) {
        let text = v.to_str().unwrap_or("?");
        codings.extend(
            text.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty()),
        );
    }
    match codings.as_slice() {
        [] => Ok(()),
        [only] if only == "chunked" => Ok(()),
        _ => Err(ApiError::NotImplemented(format!(
            "Transfer-Encoding {:?} is not implemented: send the body with Content-Length or \
             `Transfer-Encoding: chunked` alone",
            codings.join(", ").chars().take(80).collect::<String>()
        ))),
    }
}

/// Bodies are read as they are: a content coding (`gzip`, …) would be read
/// as JSON bytes. RFC 9110 15.5.16: 415, with `Accept-Encoding: identity`.
fn content_coding(headers: &HeaderMap) -> Result<(), ApiError> {
    for v in headers.get_all(CONTENT_ENCODING) {
        let plain = v
            .to_str()
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
            })
            .unwrap_or(false);
        if !plain {
            return Err(ApiError::UnsupportedContentEncoding(
                "request bodies must not be content-coded (Content-Encoding): send them as \
                 identity"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, headers: &[(&str, &[u8])]) -> Request<()> {
        let mut b = Request::builder().uri("/health").version(version);
        for (k, v) in headers {
            b = b.header(*k, hyper::header::HeaderValue::from_bytes(v).unwrap());
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_must_be_one_valid_authority() {
        use Version as V;
        assert!(check(&req(V::HTTP_11, &[("host", b"example.com")])).is_ok());
        assert!(check(&req(V::HTTP_11, &[("host", b"127.0.0.1:3000")])).is_ok());
        assert!(check(&req(V::HTTP_11, &[("host", b"[::1]:3000")])).is_ok());
        assert!(check(&req(V::HTTP_10, &[])).is_ok());
        for bad in [
            &[][..],
            &[("host", &b"a b/c@d"[..])][..],
            &[("host", "é.example".as_bytes())][..],
            &[("host", &b"user@host"[..])][..],
            &[("host", &b""[..])][..],
            &[("host", &b"a"[..]), ("host", &b"b"[..])][..],
        ] {
            let e = check(&req(V::HTTP_11, bad)).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(_)), "{bad:?}");
        }
    }

    #[test]
    fn codings() {
        use Version as V;
        let h = |pairs: &[(&str, &[u8])]| {
            let mut all = vec![("host", &b"x"[..])];
            all.extend_from_slice(pairs);
            check(&req(V::HTTP_11, &all))
        };
        assert!(h(&[("transfer-encoding", b"chunked")]).is_ok());
        assert!(h(&[("content-encoding", b"identity")]).is_ok());
        for te in [&b"gzip, chunked"[..], b"chunked, chunked", b"x"] {
            assert!(matches!(
                h(&[("transfer-encoding", te)]),
                Err(ApiError::NotImplemented(_))
            ));
        }
        assert!(matches!(
            h(&[("content-encoding", b"gzip")]),
            Err(ApiError::UnsupportedContentEncoding(_))
        ));
        assert!(matches!(
            h(&[
                ("content-type", b"application/json"),
                ("content-type", b"text/plain")
            ]),
            Err(ApiError::BadRequest(_))
        ));
        let big = vec![b'a'; MAX_HEAD_BYTES];
        assert!(matches!(
            h(&[("x-big", &big)]),
            Err(ApiError::HeadersTooLarge(_))
        ));
    }
}
