//! Paths and methods: one table ([`ROUTES`]) gives the matcher (matchit, the
//! router axum uses), the `Allow` header and the list the OpenAPI test
//! checks, so a route cannot be matched without being listed or documented.
//! Ids are parsed here, once: a malformed id is a 404 like any unknown id
//! (docs/api.md, "Ids").

use std::sync::OnceLock;

use hyper::Method;
use uuid::Uuid;

use super::docs_ui;
use super::problem::ApiError;
use crate::auth::store::Handle;

/// A path template of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Health,
    Ready,
    OpenApi,
    Snippets,
    Snippet,
    Raw,
    Revisions,
    Revision,
    RevisionRaw,
    Forks,
    Export,
    Import,
    Me,
    Tokens,
    Token,
    Owners,
    Owner,
    Docs,
    DocsAsset,
    Browse,
    Page,
    PageHistory,
    PageVersion,
    Static,
}

/// Every path, the resource it names and the methods it allows, in the
/// order `Allow` lists them. HEAD is allowed wherever GET is.
pub const ROUTES: &[(&str, Resource, &str)] = &[
    ("/health", Resource::Health, "GET, HEAD"),
    ("/ready", Resource::Ready, "GET, HEAD"),
    ("/openapi.json", Resource::OpenApi, "GET, HEAD"),
    ("/snippets", Resource::Snippets, "GET, HEAD, POST"),
    // Static segments win over `{id}` in matchit: never parsed as ids.
    ("/snippets/export", Resource::Export, "GET, HEAD"),
    ("/snippets/import", Resource::Import, "POST"),
    (
        "/snippets/{id}",
        Resource::Snippet,
        "GET, HEAD, PUT, PATCH, DELETE",
    ),
    ("/snippets/{id}/raw", Resource::Raw, "GET, HEAD"),
    ("/snippets/{id}/revisions", Resource::Revisions, "GET, HEAD"),
    (
        "/snippets/{id}/revisions/{version}",
        Resource::Revision,
        "GET, HEAD",
    ),
    (
        "/snippets/{id}/revisions/{version}/raw",
        Resource::RevisionRaw,
        "GET, HEAD",
    ),
    ("/snippets/{id}/forks", Resource::Forks, "POST"),
    ("/me", Resource::Me, "GET, HEAD"),
    ("/tokens", Resource::Tokens, "GET, HEAD, POST"),
    ("/tokens/{id}", Resource::Token, "DELETE"),
    ("/owners", Resource::Owners, "POST"),
    ("/owners/{handle}", Resource::Owner, "DELETE"),
    // The API page for people (src/http/docs_ui/): HTML and its assets, not
    // API operations, so not in the OpenAPI document (NOT_IN_OPENAPI).
    ("/docs", Resource::Docs, "GET, HEAD"),
    ("/docs/{dir}/{file}", Resource::DocsAsset, "GET, HEAD"),
    // The pages for people (src/web/): HTML and their files, not API
    // operations either.
    ("/s", Resource::Browse, "GET, HEAD"),
    ("/s/{id}", Resource::Page, "GET, HEAD"),
    ("/s/{id}/revisions", Resource::PageHistory, "GET, HEAD"),
    (
        "/s/{id}/revisions/{version}",
        Resource::PageVersion,
        "GET, HEAD",
    ),
    ("/static/{file}", Resource::Static, "GET, HEAD"),
];

/// Paths of [`ROUTES`] the OpenAPI document leaves out: the HTML page that
/// renders it and that page's files, which no API client calls.
pub const NOT_IN_OPENAPI: &[&str] = &[
    "/docs",
    "/docs/{dir}/{file}",
    "/s",
    "/s/{id}",
    "/s/{id}/revisions",
    "/s/{id}/revisions/{version}",
    "/static/{file}",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    Ready,
    OpenApi,
    ListSnippets,
    CreateSnippet,
    GetSnippet(Uuid),
    ReplaceSnippet(Uuid),
    PatchSnippet(Uuid),
    DeleteSnippet(Uuid),
    RawSnippet(Uuid),
    ListRevisions(Uuid),
    GetRevision(Uuid, i64),
    RawRevision(Uuid, i64),
    ForkSnippet(Uuid),
    ExportSnippets,
    ImportSnippets,
    Me,
    ListTokens,
    CreateToken,
    RevokeToken(Uuid),
    CreateOwner,
    DeleteOwner(Handle),
    Docs,
    DocsAsset(&'static docs_ui::Asset),
    /// `GET /s`: the public list for people.
    Browse,
    Page(Uuid),
    PageHistory(Uuid),
    PageVersion(Uuid, i64),
    Static(&'static crate::web::assets::Asset),
    /// `OPTIONS` on a known path: answered with `Allow`.
    Options(&'static str),
}

/// The matched path template, for logs and metrics labels (bounded: one
/// value per entry of [`ROUTES`]).
pub fn template(path: &str) -> Option<&'static str> {
    matcher().at(path).ok().map(|m| ROUTES[*m.value].0)
}

fn matcher() -> &'static matchit::Router<usize> {
    static M: OnceLock<matchit::Router<usize>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = matchit::Router::new();
        for (i, (path, _, _)) in ROUTES.iter().enumerate() {
            m.insert(*path, i).expect("ROUTES has no conflicting paths");
        }
        m
    })
}

/// A version as the server writes it: 1 or more, decimal digits, no sign
/// or leading zero (one URL per revision, like ids).
fn canonical_version(raw: &str) -> Option<i64> {
    let v: i64 = raw.parse().ok()?;
    (v >= 1 && v.to_string() == raw).then_some(v)
}

/// Only the canonical form (lower-case, hyphenated): one URL per snippet.
/// `/snippets/<UPPER-CASE-UUID>` is a 404, not a second name for the row.
fn canonical_id(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    (id.hyphenated().to_string() == raw).then_some(id)
}

/// A request's route, matched once (by framing, src/http/stack.rs) and
/// passed on as a request extension: the metrics' label and what the
/// dispatcher serves come from the one lookup.
#[derive(Clone, Copy, Debug)]
pub struct Matched {
    /// The index in [`ROUTES`] of the template the path matches.
    pub template: Option<usize>,
    pub route: Result<Route, Miss>,
}

/// Why a path and method have no route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    NotFound,
    /// A known path: the methods it allows.
    MethodNotAllowed(&'static str),
}

impl From<Miss> for ApiError {
    fn from(m: Miss) -> ApiError {
        match m {
            Miss::NotFound => ApiError::NotFound,
            Miss::MethodNotAllowed(allow) => ApiError::MethodNotAllowed(allow),
        }
    }
}

pub fn matched(method: &Method, path: &str) -> Matched {
    match matcher().at(path) {
        Err(_) => Matched {
            template: None,
            route: Err(Miss::NotFound),
        },
        Ok(found) => Matched {
            template: Some(*found.value),
            route: resolve(method, &found),
        },
    }
}

/// [`matched`]'s route alone.
pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    matched(method, path).route.map_err(ApiError::from)
}

fn resolve(method: &Method, found: &matchit::Match<'_, '_, &usize>) -> Result<Route, Miss> {
    let (_, resource, allow) = ROUTES[*found.value];
    let id = match found.params.get("id") {
        Some(raw) => Some(canonical_id(raw).ok_or(Miss::NotFound)?),
        None => None,
    };
    let version = match found.params.get("version") {
        Some(raw) => Some(canonical_version(raw).ok_or(Miss::NotFound)?),
        None => None,
    };
    let m = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    use Resource as R;
    let route = match (resource, m, id) {
        (_, &Method::OPTIONS, _) => Route::Options(allow),
        (R::Raw, &Method::GET, Some(id)) => Route::RawSnippet(id),
        (R::Revisions, &Method::GET, Some(id)) => Route::ListRevisions(id),
        (R::Revision, &Method::GET, Some(id)) => Route::GetRevision(id, version.unwrap_or(0)),
        (R::RevisionRaw, &Method::GET, Some(id)) => Route::RawRevision(id, version.unwrap_or(0)),
        (R::Forks, &Method::POST, Some(id)) => Route::ForkSnippet(id),
        (R::Health, &Method::GET, _) => Route::Health,
        (R::Ready, &Method::GET, _) => Route::Ready,
        (R::OpenApi, &Method::GET, _) => Route::OpenApi,
        (R::Snippets, &Method::GET, _) => Route::ListSnippets,
        (R::Snippets, &Method::POST, _) => Route::CreateSnippet,
        (R::Snippet, &Method::GET, Some(id)) => Route::GetSnippet(id),
        (R::Snippet, &Method::PUT, Some(id)) => Route::ReplaceSnippet(id),
        (R::Snippet, &Method::PATCH, Some(id)) => Route::PatchSnippet(id),
        (R::Snippet, &Method::DELETE, Some(id)) => Route::DeleteSnippet(id),
        (R::Export, &Method::GET, _) => Route::ExportSnippets,
        (R::Import, &Method::POST, _) => Route::ImportSnippets,
        (R::Me, &Method::GET, _) => Route::Me,
        (R::Tokens, &Method::GET, _) => Route::ListTokens,
        (R::Tokens, &Method::POST, _) => Route::CreateToken,
        (R::Token, &Method::DELETE, Some(id)) => Route::RevokeToken(id),
        (R::Owners, &Method::POST, _) => Route::CreateOwner,
        (R::Owner, &Method::DELETE, _) => Route::DeleteOwner(
            found
                .params
                .get("handle")
                .and_then(Handle::parse)
                .ok_or(Miss::NotFound)?,
        ),
        (R::Docs, &Method::GET, _) => Route::Docs,
        (R::DocsAsset, &Method::GET, _) => Route::DocsAsset(
            found
                .params
                .get("dir")
                .zip(found.params.get("file"))
                .and_then(|(dir, file)| docs_ui::asset(dir, file))
                .ok_or(Miss::NotFound)?,
        ),
        (R::Browse, &Method::GET, _) => Route::Browse,
        (R::Page, &Method::GET, Some(id)) => Route::Page(id),
        (R::PageHistory, &Method::GET, Some(id)) => Route::PageHistory(id),
        (R::PageVersion, &Method::GET, Some(id)) => Route::PageVersion(id, version.unwrap_or(0)),
        (R::Static, &Method::GET, _) => Route::Static(
            found
                .params
                .get("file")
                .and_then(crate::web::assets::find)
                .ok_or(Miss::NotFound)?,
        ),
        _ => return Err(Miss::MethodNotAllowed(allow)),
    };
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_methods() {
        let id = "0192f3c8-7a4e-7b1e-9c1a-0123456789ab";
        assert!(matches!(
            route(&Method::GET, &format!("/snippets/{id}")),
            Ok(Route::GetSnippet(_))
        ));
        assert!(matches!(
            route(&Method::HEAD, "/snippets"),
            Ok(Route::ListSnippets)
        ));
        for bad in [
            "/snippets/42",
            "/snippets/0192f3c87a4e7b1e9c1a0123456789ab",
            "/snippets/0192F3C8-7A4E-7B1E-9C1A-0123456789AB",
            "/snippets/{0192f3c8-7a4e-7b1e-9c1a-0123456789ab}",
            "/snippets/",
            "/snippets/a/b",
            "/nope",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/0",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/01",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/+1",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/-1",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/9223372036854775808",
            "/snippets/0192f3c8-7a4e-7b1e-9c1a-0123456789ab/revisions/x/raw",
            "/docs/",
            "/docs/5.0.0-1/init.js",
            "/docs/5.35.0-1/nope.js",
            "/docs/5.35.0-1/init.js/x",
        ] {
            assert!(
                matches!(route(&Method::GET, bad), Err(ApiError::NotFound)),
                "{bad}"
            );
        }
        assert_eq!(
            route(&Method::GET, &format!("/snippets/{id}/revisions/12/raw")).unwrap(),
            Route::RawRevision(Uuid::parse_str(id).unwrap(), 12)
        );
        assert!(matches!(
            route(&Method::POST, &format!("/snippets/{id}")),
            Err(ApiError::MethodNotAllowed(_))
        ));
        assert_eq!(
            route(&Method::GET, "/snippets/export").unwrap(),
            Route::ExportSnippets
        );
        assert!(matches!(
            route(&Method::GET, "/snippets/import"),
            Err(ApiError::MethodNotAllowed("POST"))
        ));
        assert!(matches!(
            route(&Method::DELETE, "/owners/Alice"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            route(&Method::DELETE, "/owners/alice"),
            Ok(Route::DeleteOwner(h)) if h.as_str() == "alice"
        ));
        assert!(matches!(
            route(&Method::DELETE, "/health"),
            Err(ApiError::MethodNotAllowed("GET, HEAD"))
        ));
    }

    /// Every listed method of every path reaches a route (no entry of the
    /// table is unreachable) and OPTIONS answers with the same `Allow`.
    #[test]
    fn every_listed_method_routes() {
        for (tpl, _, allow) in ROUTES {
            let path = tpl
                .replace("{id}", "0192f3c8-7a4e-7b1e-9c1a-0123456789ab")
                .replace("{version}", "3")
                .replace("{handle}", "alice")
                .replace("{dir}", docs_ui::ASSET_DIR)
                .replace(
                    "{file}",
                    if tpl.starts_with("/static/") {
                        crate::web::assets::CSS.name()
                    } else {
                        "init.js"
                    },
                );
            assert_eq!(template(&path), Some(*tpl));
            for m in allow.split(", ") {
                let m: Method = m.parse().unwrap();
                assert!(route(&m, &path).is_ok(), "{m} {path}");
            }
            assert_eq!(
                route(&Method::OPTIONS, &path).unwrap(),
                Route::Options(allow)
            );
        }
    }
}
