//! `GET /s/{id}`, `GET /s/{id}/revisions`, `GET /s/{id}/revisions/{version}`.

use bytes::Bytes;
use hyper::{HeaderMap, Response, StatusCode};
use maud::{html, Markup};
use uuid::Uuid;

use super::layout::{first_line, page, when, Card, Head};
use super::{code, etag, html as respond, not_found, revalidated, Meta};
use crate::auth::Caller;
use crate::snippets::revisions::{Revision, RevisionCursor, RevisionQuery};
use crate::snippets::{Snippet, SnippetError, Snippets, Visibility};

type Result<T> = std::result::Result<T, SnippetError>;

/// History entries per page.
const HISTORY_PAGE: u32 = 50;

/// The snippet as the caller may see it, or the 404 page.
async fn readable(snippets: &Snippets, caller: &Caller, id: Uuid) -> Result<Option<Snippet>> {
    match snippets.get(caller, id).await {
        Ok(s) => Ok(Some(s)),
        Err(SnippetError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Only public snippets may be found by crawlers.
fn meta(s: &Snippet) -> Meta {
    Meta {
        noindex: s.visibility != Visibility::Public,
        etag: Some(etag(s.version)),
    }
}

fn owner(o: Option<&str>) -> Markup {
    html! {
        @match o {
            Some(h) => a href={ "/s?owner=" (urlenc(h)) } { (h) },
            None => "nobody",
        }
    }
}

fn tags(tags: &[String]) -> Markup {
    html! {
        @if !tags.is_empty() {
            ul.tags aria-label="Tags" {
                @for t in tags {
                    li { a href={ "/s?tag=" (urlenc(t)) } { (t) } }
                }
            }
        }
    }
}

pub(super) fn urlenc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn visibility_note(v: Visibility) -> Markup {
    html! {
        @match v {
            Visibility::Public => {},
            Visibility::Unlisted => p.note { "Unlisted: anyone with the link can read it; it is never listed." },
            Visibility::Private => p.note { "Private: only its owner can read it." },
        }
    }
}

/// `GET /s/{id}`.
pub async fn snippet(
    snippets: &Snippets,
    caller: &Caller,
    id: Uuid,
    req: &HeaderMap,
) -> Result<Response<Bytes>> {
    let Some(mut s) = readable(snippets, caller, id).await? else {
        return Ok(not_found());
    };
    let meta = meta(&s);
    if let Some(resp) = revalidated(req, &meta) {
        return Ok(resp);
    }
    snippets
        .show_sources(caller, std::slice::from_mut(&mut s))
        .await?;
    let card = (s.visibility == Visibility::Public).then(|| Card {
        title: &s.title,
        language: &s.language,
        summary: first_line(s.description.as_deref().unwrap_or(&s.code), 200),
    });
    let head = Head {
        title: &s.title,
        noindex: meta.noindex,
        card,
    };
    let lines = s.code.lines().count();
    let body = html! {
        article.snippet {
            h1 { (s.title) }
            (visibility_note(s.visibility))
            dl.facts {
                dt { "Owner" } dd { (owner(s.owner.as_deref())) }
                dt { "Language" } dd { a href={ "/s?language=" (urlenc(&s.language)) } { (s.language) } }
                dt { "Created" } dd { (when(s.created_at)) }
                dt { "Updated" } dd { (when(s.updated_at)) }
                dt { "Version" } dd { (s.version) }
                @if let Some(f) = s.forked_from() {
                    dt { "Forked from" }
                    dd {
                        @match f.id {
                            Some(src) => { a href={ "/s/" (src) } { "a snippet, version " (f.version) } },
                            None => { "a snippet you cannot see, version " (f.version) },
                        }
                    }
                }
            }
            (tags(&s.tags))
            @if let Some(d) = &s.description {
                p.description { (d) }
            }
            nav.actions aria-label="This snippet" {
                a href={ "/snippets/" (s.id) "/raw" } { "Raw" }
                a href={ "/snippets/" (s.id) "/raw" } download { "Download" }
                a href={ "/s/" (s.id) "/revisions" } { "History" }
                span.count { (lines) " lines" }
            }
            (code::block(&s.code, &s.language))
        }
    };
    Ok(respond(StatusCode::OK, page(&head, body), &meta))
}

/// `GET /s/{id}/revisions`: newest first, `?cursor=` for older ones.
pub async fn history(
    snippets: &Snippets,
    caller: &Caller,
    id: Uuid,
    query: Option<&str>,
    req: &HeaderMap,
) -> Result<Response<Bytes>> {
    // A cursor that is not ours is the first page (a person's typo).
    let cursor = query
        .and_then(|q| serde_html_form::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "cursor")
                .and_then(|(_, v)| RevisionCursor::decode(&v))
        });
    let q = RevisionQuery {
        limit: HISTORY_PAGE,
        cursor,
    };
    let (current, rows, more) = match snippets.history(caller, id, q).await {
        Ok(found) => found,
        Err(SnippetError::NotFound) => return Ok(not_found()),
        Err(e) => return Err(e),
    };
    let meta = meta(&current);
    if let Some(resp) = revalidated(req, &meta) {
        return Ok(resp);
    }
    let head = Head {
        title: &format!("History of {}", current.title),
        noindex: meta.noindex,
        card: None,
    };
    let body = html! {
        h1 { "History of " a href={ "/s/" (id) } { (current.title) } }
        (visibility_note(current.visibility))
        ol.history reversed {
            @for r in &rows {
                li {
                    a href={ "/s/" (id) "/revisions/" (r.version) } { "Version " (r.version) }
                    " · " (when(r.updated_at)) " · " (r.title)
                    @if r.version == current.version { " (current)" }
                }
            }
        }
        @if let (true, Some(last)) = (more, rows.last()) {
            p { a rel="next" href={ "/s/" (id) "/revisions?cursor=" (RevisionCursor(last.version).encode()) } { "Older versions" } }
        }
    };
    Ok(respond(StatusCode::OK, page(&head, body), &meta))
}

/// `GET /s/{id}/revisions/{version}`: the version, and its diff from the
/// one before it when the caller may read that one.
pub async fn version(
    snippets: &Snippets,
    caller: &Caller,
    id: Uuid,
    v: i64,
    req: &HeaderMap,
) -> Result<Response<Bytes>> {
    let found = |r: Result<(Snippet, Revision, Visibility)>| match r {
        Ok(x) => Ok(Some(x)),
        Err(SnippetError::NotFound) => Ok(None),
        Err(e) => Err(e),
    };
    let Some((current, rev, _)) = found(snippets.version(caller, id, v).await)? else {
        return Ok(not_found());
    };
    let meta = meta(&current);
    if let Some(resp) = revalidated(req, &meta) {
        return Ok(resp);
    }
    let before = match v {
        1 => None,
        _ => found(snippets.version(caller, id, v - 1).await)?.map(|(_, r, _)| r),
    };
    let (diff, added, removed) = code::diff(before.as_ref().map_or("", |b| &b.code), &rev.code);
    let head = Head {
        title: &format!("{} (version {v})", rev.title),
        noindex: meta.noindex,
        card: None,
    };
    let body = html! {
        article.snippet {
            h1 { (rev.title) }
            p.note {
                "Version " (v) " of "
                a href={ "/s/" (id) } { "this snippet" }
                ", written " (when(rev.updated_at)) ". "
                a href={ "/s/" (id) "/revisions" } { "All versions" }
            }
            dl.facts {
                dt { "Language" } dd { (rev.language) }
                dt { "Raw" } dd { a href={ "/snippets/" (id) "/revisions/" (v) "/raw" } { "this version's code" } }
            }
            (tags(&rev.tags))
            @if let Some(d) = &rev.description {
                p.description { (d) }
            }
            h2 { "Changes" }
            p {
                @match &before {
                    Some(_) => { "From version " (v - 1) ": " (added) " lines added, " (removed) " removed." },
                    None if v == 1 => { "The first version: " (added) " lines." },
                    None => { "Version " (v - 1) " is not kept or not yours to see: every line is shown as added." },
                }
            }
            (diff)
            h2 { "Code" }
            (code::block(&rev.code, &rev.language))
        }
    };
    Ok(respond(StatusCode::OK, page(&head, body), &meta))
}
