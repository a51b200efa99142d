//! `GET /me`, `GET|POST /tokens`, `DELETE /tokens/{id}`, `POST /owners`,
//! `DELETE /owners/{handle}`:
//! HTTP in, `crate::auth` call, HTTP out.

use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::body::Req;
use super::problem::{ApiError, Body};
use super::request::{self, Json};
use super::respond::json;
use super::App;
use crate::auth::store::Handle;
use crate::auth::{lineage, Caller, Scope, Scopes};
use crate::snippets::Violation;
use crate::util::timestamp::iso_millis;

type Result<T> = std::result::Result<T, ApiError>;

/// The most days a token created over the API may live.
pub const MAX_EXPIRES_DAYS: u32 = 365;

fn no_store(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Open mode has no identities: these routes say so instead of pretending.
fn identities(caller: &Caller) -> Result<()> {
    match caller {
        Caller::Open => Err(ApiError::Forbidden(
            "AUTH_MODE=open: the server uses no tokens or owners".into(),
        )),
        _ => Ok(()),
    }
}

pub async fn me(caller: &Caller) -> Result<Response<Body>> {
    identities(caller)?;
    match caller {
        Caller::Owner {
            handle,
            token_id,
            scopes,
            expires_at,
        } => Ok(no_store(json(
            StatusCode::OK,
            &json!({
                "handle": &**handle,
                "tokenId": token_id,
                "scopes": scopes.names(),
                "expiresAt": expires_at.map(iso_millis),
            }),
        ))),
        _ => Err(ApiError::Unauthorized(None)),
    }
}

/// `GET /tokens` parameters. Others are ignored, as they were before
/// `owner` existed; `owner` twice is a 400.
#[derive(Deserialize)]
struct TokensQuery {
    owner: Option<String>,
}

/// Whose tokens `GET /tokens?owner=…` lists: the caller's without it (or
/// with `me` or the caller's handle); any owner's for an admin, where an
/// unknown handle lists nothing (docs/api.md: `admin` covers "every
/// owner's snippets and tokens"); anyone else naming another is a 403.
fn tokens_owner(caller: &Caller, query: Option<&str>) -> Result<String> {
    let own = caller.handle().unwrap_or_default();
    let asked = match query {
        None => None,
        Some(q) => {
            serde_html_form::from_str::<TokensQuery>(q)
                .map_err(|_| ApiError::BadRequest("owner may be given once: owner=HANDLE".into()))?
                .owner
        }
    };
    match asked {
        None => Ok(own.to_string()),
        Some(o) if o == "me" || o == own => Ok(own.to_string()),
        Some(o) if caller.is_admin() => Ok(o),
        Some(_) => Err(ApiError::Forbidden(
            "Only an admin may list another owner's tokens.".into(),
        )),
    }
}

pub async fn list(app: &App, caller: &Caller, query: Option<&str>) -> Result<Response<Body>> {
    identities(caller)?;
    caller.require(Scope::TokensWrite)?;
    let owner = tokens_owner(caller, query)?;
    let rows = app.auth.list_tokens(&owner).await?;
    Ok(no_store(json(StatusCode::OK, &rows)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewToken {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    expires_in_days: Option<u32>,
    #[serde(default)]
    owner: Option<String>,
}

/// The caller's token and its expiry: the parent of the tokens it
/// creates (docs/api.md, token lineage).
fn parent(caller: &Caller) -> Result<(Uuid, Option<OffsetDateTime>)> {
    match caller {
        Caller::Owner {
            token_id,
            expires_at,
            ..
        } => Ok((*token_id, *expires_at)),
        _ => Err(ApiError::Unauthorized(None)),
    }
}

fn invalid(pointer: &str, detail: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![Violation {
        pointer: pointer.into(),
        detail: detail.into(),
    }])
}

/// `{name, scopes, expiresInDays, owner}` → 201 with the token, once.
/// Scopes must be a subset of the caller's; only an admin may name
/// another owner.
pub async fn create(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>> {
    identities(caller)?;
    caller.require(Scope::TokensWrite)?;
    let body = request::json_body(&app.cfg, req, &[Json::Plain]).await?;
    let t: NewToken = serde_json::from_value(body).map_err(|e| {
        invalid(
            "",
            format!(
                "must be {{name, scopes, expiresInDays?, owner?}}: {}",
                e.to_string().chars().take(120).collect::<String>()
            ),
        )
    })?;
    let name = t.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
        return Err(invalid("/name", "must be 1 to 100 characters, not blank"));
    }
    let scopes = Scopes::parse_names(&t.scopes).map_err(|s| {
        invalid(
            "/scopes",
            format!("{s:?} is not a scope (snippets:read, snippets:write, tokens:write, admin)"),
        )
    })?;
    if scopes == Scopes::default() {
        return Err(invalid("/scopes", "must name at least one scope"));
    }
    if !scopes.is_subset_of(caller.scopes()) {
        return Err(ApiError::Forbidden(
            "A token can only be given scopes its creator's token has.".into(),
        ));
    }
    let asked = match t.expires_in_days {
        None => None,
        Some(d) if (1..=MAX_EXPIRES_DAYS).contains(&d) => {
            Some(OffsetDateTime::now_utc() + Duration::days(i64::from(d)))
        }
        Some(_) => {
            return Err(invalid(
                "/expiresInDays",
                format!("must be a whole number from 1 to {MAX_EXPIRES_DAYS}"),
            ))
        }
    };
    let (parent, parent_expires) = parent(caller)?;
    let expires_at = lineage::child_expiry(parent_expires, asked).map_err(|p| {
        invalid(
            "/expiresInDays",
            format!(
                "the new token would outlive the token creating it, which expires at {}",
                iso_millis(p)
            ),
        )
    })?;
    let own = caller.handle().unwrap_or_default();
    let owner = match t.owner.as_deref() {
        None => own,
        Some(o) if o == own => own,
        Some(o) if caller.is_admin() => o,
        Some(_) => {
            return Err(ApiError::Forbidden(
                "Only an admin may create tokens for another owner.".into(),
            ))
        }
    };
    let (row, secret) = app
        .auth
        .create_token(parent, owner, name, scopes, expires_at)
        .await?;
    let mut body = serde_json::to_value(&row).expect("serializes");
    body["token"] = secret.expose().into();
    Ok(no_store(json(StatusCode::CREATED, &body)))
}

pub async fn revoke(app: &App, caller: &Caller, id: Uuid) -> Result<Response<Body>> {
    identities(caller)?;
    app.auth.revoke(caller, id).await?;
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOwner {
    handle: String,
}

pub async fn create_owner(app: &App, caller: &Caller, req: Req) -> Result<Response<Body>> {
    identities(caller)?;
    caller.require(Scope::Admin)?;
    let body = request::json_body(&app.cfg, req, &[Json::Plain]).await?;
    let o: NewOwner =
        serde_json::from_value(body).map_err(|_| invalid("", "must be {\"handle\": \"…\"}"))?;
    let created = app.auth.create_owner(&o.handle).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"handle": o.handle, "createdAt": iso_millis(created)}),
    ))
}

/// Deletes an owner, its snippets and its tokens (revoking what they
/// created): 204, or 404 for no such owner (docs/api.md, "Deleting an
/// owner").
pub async fn delete_owner(app: &App, caller: &Caller, handle: Handle) -> Result<Response<Body>> {
    identities(caller)?;
    let gone = app.auth.delete_owner(caller, handle.as_str()).await?;
    log::info!(
        "deleted owner {}: {} snippet(s), {} token(s) revoked",
        handle.as_str(),
        gone.snippets,
        gone.tokens.len()
    );
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
