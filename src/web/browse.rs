//! `GET /s`: the public snippets, newest first, with the list's filters
//! (`q`, `language`, `tag`, `owner`) as a plain GET form, so that search
//! works with JavaScript off, and keyset pages behind a "next" link.

use bytes::Bytes;
use hyper::{Response, StatusCode};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{page, when, Head};
use super::pages::urlenc;
use super::{html as respond, Meta};
use crate::auth::Caller;
use crate::snippets::{validate, Cursor, ListQuery, OwnerFilter, Snippet, SnippetError, Snippets};

/// Entries per page.
const PAGE: u32 = 20;
/// Lines of each entry's code shown, and characters of each line.
const PREVIEW_LINES: usize = 3;
const PREVIEW_CHARS: usize = 120;

#[derive(Default, Deserialize)]
struct Form {
    q: Option<String>,
    language: Option<String>,
    #[serde(default)]
    tag: Vec<String>,
    owner: Option<String>,
    cursor: Option<String>,
}

/// An empty field of the form is no filter.
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The filters as the list takes them, or what is wrong with them (said
/// on the page, the form kept as typed).
fn filters(f: &Form) -> Result<ListQuery, String> {
    let q = given(f.q.clone());
    if let Some(t) = &q {
        if validate::search_text(t).is_err() {
            return Err(format!(
                "The search text must be at most 200 characters, {} words and {} `or`s.",
                validate::MAX_SEARCH_WORDS,
                validate::MAX_SEARCH_ORS
            ));
        }
    }
    let language = given(f.language.clone());
    let mut tags: Vec<String> = f
        .tag
        .iter()
        .filter_map(|t| given(Some(t.clone())))
        .collect();
    tags.sort();
    tags.dedup();
    if validate::list_filters(language.as_deref(), &tags).is_err() {
        return Err("That language or tag is not one a snippet can have.".into());
    }
    let owner = match given(f.owner.clone()) {
        None => None,
        Some(h) if crate::auth::store::valid_handle(&h) => Some(OwnerFilter::Handle(h)),
        Some(_) => return Err("An owner is a handle: lower-case letters, digits and '-'.".into()),
    };
    Ok(ListQuery {
        limit: PAGE,
        // A cursor that is not ours is the first page.
        cursor: f.cursor.as_deref().and_then(Cursor::decode),
        language,
        tags,
        q,
        owner,
    })
}

/// The query string of these filters and `cursor`.
fn next_href(q: &ListQuery, cursor: &Cursor) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &q.q {
        parts.push(format!("q={}", urlenc(t)));
    }
    if let Some(l) = &q.language {
        parts.push(format!("language={}", urlenc(l)));
    }
    for t in &q.tags {
        parts.push(format!("tag={}", urlenc(t)));
    }
    if let Some(o) = &q.owner {
        parts.push(format!("owner={}", urlenc(o.as_str())));
    }
    parts.push(format!("cursor={}", cursor.encode()));
    format!("/s?{}", parts.join("&"))
}

fn form(f: &Form) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        form.search method="get" action="/s" role="search" {
            div {
                label for="q" { "Text" }
                input #q type="search" name="q" maxlength="200" value=(value(&f.q));
            }
            div {
                label for="language" { "Language" }
                input #language type="text" name="language" value=(value(&f.language));
            }
            div {
                label for="tag" { "Tag" }
                input #tag type="text" name="tag" value=(f.tag.first().cloned().unwrap_or_default());
            }
            div {
                label for="owner" { "Owner" }
                input #owner type="text" name="owner" value=(value(&f.owner));
            }
            button type="submit" { "Search" }
        }
    }
}

fn entry(s: &Snippet) -> Markup {
    let preview: Vec<String> = s
        .code
        .lines()
        .take(PREVIEW_LINES)
        .map(|l| l.chars().take(PREVIEW_CHARS).collect())
        .collect();
    html! {
        li.entry {
            h2 { a href={ "/s/" (s.id) } { (s.title) } }
            p.meta {
                a href={ "/s?language=" (urlenc(&s.language)) } { (s.language) }
                " · "
                @match &s.owner {
                    Some(h) => a href={ "/s?owner=" (urlenc(h)) } { (h) },
                    None => "nobody",
                }
                " · " (when(s.created_at))
            }
            pre.preview { (preview.join("\n")) }
        }
    }
}

/// `GET /s`; `client` names who asks, for the search slots' share.
pub async fn browse(
    snippets: &Snippets,
    caller: &Caller,
    query: Option<&str>,
    client: &str,
) -> Result<Response<Bytes>, SnippetError> {
    let parsed = serde_html_form::from_str::<Form>(query.unwrap_or(""));
    let (f, checked) = match parsed {
        Ok(f) => {
            let checked = filters(&f);
            (f, checked)
        }
        Err(_) => (Form::default(), Err("That search cannot be read.".into())),
    };
    let head = Head {
        title: "Snippets",
        noindex: false,
        card: None,
    };
    let (status, results) = match checked {
        Err(why) => (
            StatusCode::BAD_REQUEST,
            html! { p.error role="alert" { (why) } },
        ),
        Ok(q) => {
            let (rows, more) = snippets.list(caller, client, &q).await?;
            let results = html! {
                @if rows.is_empty() {
                    p { "No snippets match." }
                } @else {
                    ol.entries { @for s in &rows { (entry(s)) } }
                }
                @if let (true, Some(last)) = (more, rows.last()) {
                    p { a rel="next" href=(next_href(&q, &Cursor::after(last))) { "Next page" } }
                }
            };
            (StatusCode::OK, results)
        }
    };
    let body = html! {
        h1 { "Snippets" }
        (form(&f))
        (results)
    };
    Ok(respond(status, page(&head, body), &Meta::default()))
}
