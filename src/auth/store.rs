//! Owner and token queries. The token in clear never reaches this module's
//! SQL: only its SHA-256.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::scope::Scopes;
use super::token::{self, Secret, TokenHash};
use super::AuthError;
use crate::db::schema::{owners::dsl as o, tokens::dsl as t};
use crate::db::{DbConn, DbPool};
use crate::util::timestamp::iso_millis;

async fn conn(pool: &DbPool) -> Result<DbConn<'_>, AuthError> {
    Ok(pool.get().await?)
}

/// `^[a-z0-9][a-z0-9-]{0,38}$`, as the column's CHECK.
pub fn valid_handle(h: &str) -> bool {
    let b = h.as_bytes();
    (1..=39).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// A valid handle held inline, so that the router's `Copy` route can carry
/// one (`DELETE /owners/{handle}`): parsed once, where ids are
/// (src/http/router.rs), a malformed handle is a 404 like an unknown one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    len: u8,
    bytes: [u8; 39],
}

impl Handle {
    pub fn parse(s: &str) -> Option<Handle> {
        if !valid_handle(s) {
            return None;
        }
        let mut bytes = [0; 39];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Handle {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // ASCII by construction (`valid_handle`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// A token as listed: never its hash.
#[derive(Clone, Debug, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = crate::db::schema::tokens, check_for_backend(diesel::pg::Pg))]
pub struct TokenRow {
    pub id: Uuid,
    pub owner: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl Serialize for TokenRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Token", 8)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("owner", &self.owner)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("scopes", &self.scopes)?;
        st.serialize_field("createdAt", &iso_millis(self.created_at))?;
        st.serialize_field("expiresAt", &self.expires_at.map(iso_millis))?;
        st.serialize_field("lastUsedAt", &self.last_used_at.map(iso_millis))?;
        st.serialize_field("revokedAt", &self.revoked_at.map(iso_millis))?;
        st.end()
    }
}

pub async fn find_by_hash(pool: &DbPool, hash: &TokenHash) -> Result<Option<TokenRow>, AuthError> {
    let mut c = conn(pool).await?;
    Ok(t::tokens
        .filter(t::sha256.eq(hash.as_slice()))
        .select(TokenRow::as_select())
        .first(&mut c)
        .await
        .optional()?)
}

/// `last_used_at = now()` for these tokens; called off the request path.
pub async fn touch(pool: &DbPool, ids: &[Uuid]) -> Result<(), AuthError> {
    let mut c = conn(pool).await?;
    diesel::update(t::tokens.filter(t::id.eq_any(ids)))
        .set(t::last_used_at.eq(diesel::dsl::now))
        .execute(&mut c)
        .await?;
    Ok(())
}

pub async fn create_owner(pool: &DbPool, handle: &str) -> Result<OffsetDateTime, AuthError> {
    if handle == "me" {
        return Err(AuthError::Invalid(
            "/handle",
            "\"me\" is reserved (?owner=me means the caller)".into(),
        ));
    }
    if !valid_handle(handle) {
        return Err(AuthError::Invalid(
            "/handle",
            "must be 1 to 39 lower-case letters, digits or '-', not starting with '-'".into(),
        ));
    }
    let mut c = conn(pool).await?;
    diesel::insert_into(o::owners)
        .values(o::handle.eq(handle))
        .returning(o::created_at)
        .get_result(&mut c)
        .await
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AuthError::Conflict(format!("the owner {handle:?} exists"))
            }
            e => e.into(),
        })
}

pub async fn owner_exists(pool: &DbPool, handle: &str) -> Result<bool, AuthError> {
    let mut c = conn(pool).await?;
    Ok(diesel::select(diesel::dsl::exists(o::owners.find(handle)))
        .get_result(&mut c)
        .await?)
}

/// A new token for `owner`: the row and the token in clear (shown once).
pub async fn create_token(
    pool: &DbPool,
    owner: &str,
    name: &str,
    scopes: Scopes,
    expires_at: Option<OffsetDateTime>,
) -> Result<(TokenRow, Secret), AuthError> {
    let secret = token::generate().map_err(|e| AuthError::Internal(format!("getrandom: {e}")))?;
    let mut c = conn(pool).await?;
    let row = diesel::insert_into(t::tokens)
        .values((
            t::id.eq(Uuid::now_v7()),
            t::owner.eq(owner),
            t::name.eq(name),
            t::scopes.eq(scopes.names()),
            t::sha256.eq(secret.hash().as_slice()),
            t::expires_at.eq(expires_at),
        ))
        .returning(TokenRow::as_returning())
        .get_result(&mut c)
        .await
        .map_err(|e| unknown_owner(e, owner))?;
    Ok((row, secret))
}

/// A token insert's foreign-key violation: `owner` names no owner (an
/// admin's `owner` field, the CLI's `--owner`).
pub(super) fn unknown_owner(e: DieselError, owner: &str) -> AuthError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            AuthError::Invalid("/owner", format!("there is no owner {owner:?}"))
        }
        e => e.into(),
    }
}

/// Tokens, newest first: one owner's, or everyone's.
pub async fn list_tokens(pool: &DbPool, owner: Option<&str>) -> Result<Vec<TokenRow>, AuthError> {
    let mut c = conn(pool).await?;
    let mut q = t::tokens.select(TokenRow::as_select()).into_boxed();
    if let Some(owner) = owner {
        q = q.filter(t::owner.eq(owner.to_string()));
    }
    Ok(q.order((t::created_at.desc(), t::id.desc()))
        .load(&mut c)
        .await?)
}

/// `BOOTSTRAP_ADMIN_TOKEN_SHA256`: makes sure an owner `admin` with an
/// admin token of this hash exists (idempotent; many tasks may start at
/// once). Returns whether the token was created now.
pub async fn ensure_bootstrap(pool: &DbPool, hash: &TokenHash) -> Result<bool, AuthError> {
    let mut c = conn(pool).await?;
    diesel::insert_into(o::owners)
        .values(o::handle.eq("admin"))
        .on_conflict_do_nothing()
        .execute(&mut c)
        .await?;
    let n = diesel::insert_into(t::tokens)
        .values((
            t::id.eq(Uuid::now_v7()),
            t::owner.eq("admin"),
            t::name.eq("bootstrap"),
            t::scopes.eq(vec!["admin".to_string()]),
            t::sha256.eq(hash.as_slice()),
        ))
        .on_conflict(t::sha256)
        .do_nothing()
        .execute(&mut c)
        .await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::{valid_handle, Handle};

    #[test]
    fn handles_inline() {
        let long = "a".repeat(39);
        for ok in ["a", "a-b", &long] {
            assert_eq!(Handle::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(Handle::parse("A"), None);
        assert_eq!(Handle::parse(&"a".repeat(40)), None);
    }

    #[test]
    fn handles() {
        for ok in ["a", "0", "local", "a-b", &"a".repeat(39)] {
            assert!(valid_handle(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", "é", &"a".repeat(40), "me\n"] {
            assert!(!valid_handle(bad), "{bad}");
        }
    }
}
