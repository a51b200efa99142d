//! Paths and methods. Ids are parsed here, once: a malformed id is a 404
//! like any unknown id (the guide's 4.5).

use hyper::Method;
use uuid::Uuid;

use super::problem::ApiError;

/// Every route and the methods it allows (`Allow`). The OpenAPI test checks
/// that each of these is documented.
pub const ROUTES: &[(&str, &str)] = &[
    ("/health", "GET, HEAD"),
    ("/ready", "GET, HEAD"),
    ("/openapi.json", "GET, HEAD"),
    ("/snippets", "GET, HEAD, POST"),
    ("/snippets/{id}", "GET, HEAD, PUT, PATCH, DELETE"),
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
    /// `OPTIONS` on a known path: answered with `Allow`.
    Options(&'static str),
}

/// The path's entry in [`ROUTES`] and its id, if any.
fn resource(path: &str) -> Option<(usize, Option<Uuid>)> {
    match path {
        "/health" => Some((0, None)),
        "/ready" => Some((1, None)),
        "/openapi.json" => Some((2, None)),
        "/snippets" => Some((3, None)),
        _ => {
            let raw = path.strip_prefix("/snippets/")?;
            // Only the canonical hyphenated form: one URL per snippet.
            if raw.len() != 36 {
                return None;
            }
            Some((4, Some(Uuid::try_parse(raw).ok()?)))
        }
    }
}

pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let (index, id) = resource(path).ok_or(ApiError::NotFound)?;
    let allow = ROUTES[index].1;
    let m = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let route = match (index, m, id) {
        (_, &Method::OPTIONS, _) => Route::Options(allow),
        (0, &Method::GET, _) => Route::Health,
        (1, &Method::GET, _) => Route::Ready,
        (2, &Method::GET, _) => Route::OpenApi,
        (3, &Method::GET, _) => Route::ListSnippets,
        (3, &Method::POST, _) => Route::CreateSnippet,
        (4, &Method::GET, Some(id)) => Route::GetSnippet(id),
        (4, &Method::PUT, Some(id)) => Route::ReplaceSnippet(id),
        (4, &Method::PATCH, Some(id)) => Route::PatchSnippet(id),
        (4, &Method::DELETE, Some(id)) => Route::DeleteSnippet(id),
        _ => return Err(ApiError::MethodNotAllowed(allow)),
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
        assert!(matches!(
            route(&Method::GET, "/snippets/42"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            route(&Method::GET, "/snippets/0192f3c87a4e7b1e9c1a0123456789ab"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            route(&Method::POST, &format!("/snippets/{id}")),
            Err(ApiError::MethodNotAllowed(_))
        ));
        assert!(matches!(
            route(&Method::DELETE, "/health"),
            Err(ApiError::MethodNotAllowed("GET, HEAD"))
        ));
        assert!(matches!(
            route(&Method::GET, "/nope"),
            Err(ApiError::NotFound)
        ));
    }
}
