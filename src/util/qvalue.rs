//! Quality values in `Accept`-style header lists (RFC 9110 §12.4.2).

/// One list element, `token;param=..;q=0.5`: the token (trimmed) and its
/// weight (1 without `q`, 0 when `q` does not parse).
pub fn weighted(item: &str) -> (&str, f32) {
    let mut parts = item.split(';');
    let token = parts.next().unwrap_or("").trim();
    let q = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
        })
        .next()
        .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
    (token, q)
}

#[cfg(test)]
mod tests {
    use super::weighted;

    #[test]
    fn tokens_and_their_weights() {
        assert_eq!(weighted(" gzip "), ("gzip", 1.0));
        assert_eq!(weighted("text/html;level=1;q=0.5"), ("text/html", 0.5));
        assert_eq!(weighted("br; Q=0"), ("br", 0.0));
        assert_eq!(weighted("x;q=abc"), ("x", 0.0));
    }
}
