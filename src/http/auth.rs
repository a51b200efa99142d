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
/// parameter named like one, or any value with our prefix.
pub fn refuse_token_in_url(uri: &Uri) -> Result<(), ApiError> {
    let Some(query) = uri.query() else {
        return Ok(());
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode_str(k).decode_utf8_lossy();
        let v = percent_decode_str(v).decode_utf8_lossy();
        if TOKEN_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p))
            || v.trim_start().starts_with(token::PREFIX)
        {
            return Err(ApiError::BadRequest(
                "a token must not be sent in the URL: use the header Authorization: Bearer <token> (and revoke the token: URLs end up in logs)"
                    .into(),
            ));
        }
    }
    Ok(())
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
    /// A bearer token to verify ([`crate::auth::Auth::verify`]).
    Token(&'a str),
}

/// Who is asking: anonymous without a token, the token's owner with a
/// valid one, 401 with an invalid one (on reads too: an invalid token is
/// never silently downgraded). In open mode, everyone is [`Caller::Open`].
/// Only a token needs a lookup, so the caller of this awaits (and boxes)
/// the verification only then: most reads build no future for it.
pub fn credential<'a>(
    app: &App,
    uri: &Uri,
    headers: &'a HeaderMap,
) -> Result<Credential<'a>, ApiError> {
    refuse_token_in_url(uri)?;
    if app.auth_mode == AuthMode::Open {
        return Ok(Credential::Known(Caller::Open));
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
        ] {
            let uri: Uri = bad.parse().unwrap();
            assert!(refuse_token_in_url(&uri).is_err(), "{bad}");
        }
        for ok in ["/snippets", "/snippets?q=snippets&tag=a", "/health?"] {
            let uri: Uri = ok.parse().unwrap();
            assert!(refuse_token_in_url(&uri).is_ok(), "{ok}");
        }
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
