//! `Accept` as a browser sends it: does the client prefer an HTML page
//! to JSON? A browser that opens `GET /snippets/{id}` is sent to the
//! page (303, `/s/{id}`); API clients (`application/json`, `*/*`, no
//! `Accept`) get JSON as before (docs/web.md, "From the API to the page").

use hyper::header::{HeaderMap, ACCEPT};

/// The weight `accept` gives `media` (`type/subtype`): that of the most
/// specific range that matches it (RFC 9110 §12.5.1), 0 when none does.
fn weight(accept: &str, media: &str) -> f32 {
    let (ty, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, f32)> = None;
    for item in accept.split(',') {
        let (range, q) = crate::util::qvalue::weighted(item);
        let range = range.to_ascii_lowercase();
        let specificity = if range == media {
            3
        } else if range.strip_suffix("/*") == Some(ty) {
            2
        } else if range == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// True when `Accept` weighs `text/html` above `application/json`.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if accept.trim().is_empty() {
        return false;
    }
    weight(&accept, "text/html") > weight(&accept, "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn browsers_get_pages_api_clients_json() {
        for v in [
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html",
            "text/*, application/json;q=0.5",
            "application/json;q=0.1, text/html",
        ] {
            assert!(prefers_html(&accept(v)), "{v}");
        }
        for v in [
            "application/json",
            "*/*",
            "",
            "text/html;q=0.5, application/json",
            "text/html, application/json",
            "application/*, text/html;q=0.9",
            "text/plain",
        ] {
            assert!(!prefers_html(&accept(v)), "{v}");
        }
        assert!(!prefers_html(&HeaderMap::new()));
    }
}
