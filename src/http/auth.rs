//! Authentication at the HTTP edge: `Authorization: Bearer <token>` becomes
//! a [`Caller`]; a token anywhere in the URL is refused (400) before it can
//! travel further in logs, proxies and browser history. Verification (and
//! its cache) is `crate::auth`'s; this module only reads headers.

use hyper::header::AUTHORIZATION;
use hyper::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

use super::problem::ApiError;
use super::App;
use crate::auth::{token, Caller};
use crate::config::AuthMode;

/// Query parameter names under which clients commonly send tokens.
const TOKEN_PARAMS: [&str; 3] = ["access_token", "token", "api_key"];

/// 400 when the query string carries what looks like a token: a
/// parameter named like one, or a [`token_shaped`] name or value (form
/// decoding: `+` is a space, so `q=+snp_…` is caught like `q=%20snp_…`).
pub fn refuse_token_in_url(uri: &Uri) -> Result<(), ApiError> {
    let Some(query) = uri.query() else {
        return Ok(());
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), form_decode(v));
        if TOKEN_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p))
            || token_shaped(&k)
            || token_shaped(&v)
        {
            return Err(ApiError::BadRequest(
                "a token must not be sent in the URL: use the header Authorization: Bearer <token> (and revoke the token: URLs end up in logs)"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` decoding; borrowed (no allocation)
/// unless the text holds a `+` or an escape, as most queries on the hot
/// path do not.
fn form_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('+') {
        let spaced = s.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned()
            .into()
    } else {
        percent_decode_str(s).decode_utf8_lossy()
    }
}

/// Whether `text` holds our token prefix at the start of a word (after
/// anything but a letter or digit) followed by a letter or digit: the
/// shape of a token, whole or cut, wherever it sits.
pub fn token_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(token::PREFIX).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + token::PREFIX.len());
        before.is_none_or(|b| !b.is_ascii_alphanumeric())
            && after.is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// `path` as the access log may show it: a segment that holds a token
/// (a client that put one in the path) becomes `[redacted]`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains(token::PREFIX) && !path.contains('%') {
        return path.into();
    }
    let segments: Vec<&str> = path.split('/').collect();
    let shaped = |seg: &&str| token_shaped(&percent_decode_str(seg).decode_utf8_lossy());
    if !segments.iter().any(shaped) {
        return path.into();
    }
    segments
        .iter()
        .map(|seg| if shaped(seg) { "[redacted]" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// The bearer token, if any. Another scheme, an empty token or two
/// `Authorization` headers are an invalid token, never anonymous.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    let invalid = |why: &str| ApiError::Unauthorized(Some(why.into()));
    if all.next().is_some() {
        return Err(invalid("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| invalid("use Authorization: Bearer <token>"))?;
    match value.trim().split_once(' ') {
        Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() => {
            Ok(Some(tok.trim()))
        }
        _ => Err(invalid("use Authorization: Bearer <token>")),
    }
}

/// What a request says about its caller, before anything is looked up.
pub enum Credential<'a> {
    /// Known without a lookup: anonymous, or anyone in open mode.
    Known(Caller),
    /// A bearer token to verify ([`crate::auth::Auth::verify_cached`], then, charged
    /// to the address, [`crate::auth::Auth::verify_stored`]).
    Token(&'a str),
}

/// Who is asking: anonymous without a token, the token's owner with a
/// valid one, 401 with an invalid one (on reads too: an invalid token is
/// never silently downgraded). In open mode, everyone is [`Caller::Open`].
/// Only a token needs a lookup, so the caller of this awaits (and boxes)
/// the verification only then: most reads build no future for it. Routes
/// that need no identity (`anonymous_route`: probes, the contract, the
/// docs) never read `Authorization`.
pub fn credential<'a>(
    app: &App,
    uri: &Uri,
    headers: &'a HeaderMap,
    anonymous_route: bool,
) -> Result<Credential<'a>, ApiError> {
    refuse_token_in_url(uri)?;
    if app.auth_mode == AuthMode::Open {
        return Ok(Credential::Known(Caller::Open));
    }
    if anonymous_route {
        return Ok(Credential::Known(Caller::Anonymous));
    }
    Ok(match bearer(headers)? {
        None => Credential::Known(Caller::Anonymous),
        Some(tok) => Credential::Token(tok),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_urls_are_refused() {
        for bad in [
            "/snippets?access_token=x",
            "/snippets?limit=1&Access_Token=x",
            "/snippets/x?token=",
            "/snippets?q=snp_abc",
            "/snippets?q=%73np_abc",
            // Issue 30, finding 6: a `+` (a space in a form) before it,
            // or anywhere in the value or the name.
            "/snippets?q=+snp_abc",
            "/snippets?q=find+snp_abc",
            "/snippets?q=x,snp_abc",
            "/snippets?snp_abc",
        ] {
            let uri: Uri = bad.parse().unwrap();
            assert!(refuse_token_in_url(&uri).is_err(), "{bad}");
        }
        for ok in [
            "/snippets",
            "/snippets?q=snippets&tag=a",
            "/health?",
            "/snippets?q=mysnp_x",
            "/snippets?q=snp_",
        ] {
            let uri: Uri = ok.parse().unwrap();
            assert!(refuse_token_in_url(&uri).is_ok(), "{ok}");
        }
    }

    #[test]
    fn tokens_in_paths_are_not_logged() {
        let t = "snp_0123456789abcdefghijABCDEFGHIJ0123456789";
        assert_eq!(
            loggable_path(&format!("/snippets/{t}")),
            "/snippets/[redacted]"
        );
        assert_eq!(
            loggable_path(&format!("/snippets/%73np_{}/raw", &t[4..])),
            "/snippets/[redacted]/raw"
        );
        assert_eq!(loggable_path("/snippets/abc"), "/snippets/abc");
        assert_eq!(loggable_path("/snippets/a%20b"), "/snippets/a%20b");
    }

    #[test]
    fn only_one_bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).unwrap(), None);
        h.insert(AUTHORIZATION, "Bearer snp_x".parse().unwrap());
        assert_eq!(bearer(&h).unwrap(), Some("snp_x"));
        h.insert(AUTHORIZATION, "bearer   snp_y ".parse().unwrap());
        assert_eq!(bearer(&h).unwrap(), Some("snp_y"));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "snp_x",
            "Token snp_x",
        ] {
            h.insert(AUTHORIZATION, bad.parse().unwrap());
            assert!(bearer(&h).is_err(), "{bad}");
        }
        h.insert(AUTHORIZATION, "Bearer a".parse().unwrap());
        h.append(AUTHORIZATION, "Bearer b".parse().unwrap());
        assert!(bearer(&h).is_err());
    }
}
