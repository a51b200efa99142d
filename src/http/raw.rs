//! `GET /snippets/{id}/raw` and `GET /snippets/{id}/revisions/{version}/raw`:
//! the code alone, as text that a browser shows and never runs.

use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Response};
use uuid::Uuid;

use super::problem::{ApiError, Body};
use super::respond::etag_header;
use super::revisions::{find, not_modified};
use super::App;
use crate::auth::Caller;
use crate::snippets::revisions::Revision;

type Result<T> = std::result::Result<T, ApiError>;

/// File name extensions of common languages, by lower-cased `language`.
/// Anything else is saved as `.txt`, which is what the body is.
const EXTENSIONS: &[(&str, &str)] = &[
    ("bash", "sh"),
    ("c", "c"),
    ("c#", "cs"),
    ("c++", "cpp"),
    ("cpp", "cpp"),
    ("csharp", "cs"),
    ("css", "css"),
    ("dockerfile", "dockerfile"),
    ("elixir", "ex"),
    ("erlang", "erl"),
    ("go", "go"),
    ("haskell", "hs"),
    ("html", "html"),
    ("java", "java"),
    ("javascript", "js"),
    ("js", "js"),
    ("json", "json"),
    ("kotlin", "kt"),
    ("lua", "lua"),
    ("markdown", "md"),
    ("perl", "pl"),
    ("php", "php"),
    ("python", "py"),
    ("r", "r"),
    ("ruby", "rb"),
    ("rust", "rs"),
    ("scala", "scala"),
    ("sh", "sh"),
    ("shell", "sh"),
    ("sql", "sql"),
    ("swift", "swift"),
    ("toml", "toml"),
    ("ts", "ts"),
    ("typescript", "ts"),
    ("xml", "xml"),
    ("yaml", "yaml"),
    ("zig", "zig"),
];

fn extension(language: &str) -> &'static str {
    let lang = language.trim().to_ascii_lowercase();
    EXTENSIONS
        .iter()
        .find(|(l, _)| *l == lang)
        .map_or("txt", |(_, e)| e)
}

/// `title` reduced to `[A-Za-z0-9._-]` (runs of anything else become one
/// `-`; no leading dot, at most 64 characters), `snippet` when nothing is
/// left, then the language's extension unless the title already ends
/// with it. Nothing a client wrote can break out of the quoted header.
pub fn filename(title: &str, language: &str) -> String {
    let mut stem = String::with_capacity(title.len().min(64));
    for ch in title.chars() {
        if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
            stem.push(ch);
        } else if !stem.ends_with('-') {
            stem.push('-');
        }
        if stem.len() >= 64 {
            break;
        }
    }
    let stem = stem.trim_matches(|c| c == '-' || c == '.');
    let stem = if stem.is_empty() { "snippet" } else { stem };
    let ext = extension(language);
    if stem
        .rsplit_once('.')
        .is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext))
    {
        stem.to_string()
    } else {
        format!("{stem}.{ext}")
    }
}

/// The code as `text/plain`, with the headers that keep a browser from
/// sniffing it into HTML or running it as a page.
fn text(rev: &Revision, cache: HeaderValue) -> Response<Body> {
    let mut resp = Response::new(Body::from(rev.code.clone()));
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    let disposition = format!(
        "inline; filename=\"{}\"",
        filename(&rev.title, &rev.language)
    );
    h.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("ASCII letters, digits, ._-"),
    );
    h.insert(ETAG, etag_header(rev.version));
    h.insert(CACHE_CONTROL, cache);
    resp
}

/// The current version; revalidated like the JSON (`no-cache`, ETag).
pub(super) async fn current(
    app: &App,
    caller: &Caller,
    id: Uuid,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    let s = app.snippets.get(caller, id).await?;
    let cache = HeaderValue::from_static("no-cache");
    if let Some(resp) = not_modified(headers, s.version, cache.clone())? {
        return Ok(resp);
    }
    Ok(text(&Revision::from(&s), cache))
}

/// One version, immutable like its JSON.
pub(super) async fn revision(
    app: &App,
    caller: &Caller,
    id: Uuid,
    version: i64,
    headers: &HeaderMap,
) -> Result<Response<Body>> {
    Ok(match find(app, caller, id, version, headers).await? {
        Ok((rev, cache)) => text(&rev, cache),
        Err(not_modified) => not_modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_safe_and_carry_the_extension() {
        assert_eq!(filename("Hello world", "Rust"), "Hello-world.rs");
        assert_eq!(filename("main.rs", "rust"), "main.rs");
        assert_eq!(
            filename("a\"b\r\nSet-Cookie: x", "python"),
            "a-b-Set-Cookie-x.py"
        );
        assert_eq!(filename("../../etc/passwd", "c"), "etc-passwd.c");
        assert_eq!(filename("   ", "cobol"), "snippet.txt");
        assert_eq!(filename("日本語", "go"), "snippet.go");
        assert_eq!(filename(".env", "sh"), "env.sh");
        let long = filename(&"x".repeat(500), "json");
        assert_eq!(long, format!("{}.json", "x".repeat(64)));
    }
}
