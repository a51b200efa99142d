//! The snippet as stored and as clients see it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::prelude::*;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::schema::snippets;
use crate::util::timestamp::IsoMillis;

#[derive(Clone, Debug, PartialEq, Queryable, Selectable)]
#[diesel(table_name = snippets, check_for_backend(diesel::pg::Pg))]
pub struct Snippet {
    pub id: Uuid,
    pub title: String,
    pub language: String,
    pub code: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Bumped by every write; the HTTP layer turns it into the ETag.
    pub version: i64,
    /// The owner's handle; `None` for rows written before owners existed
    /// (only an admin may modify those). Server-owned.
    pub owner: Option<String>,
    #[diesel(deserialize_as = String)]
    pub visibility: Visibility,
    /// After this time the snippet is gone (src/snippets/expiry.rs).
    pub expires_at: Option<OffsetDateTime>,
    /// The snippet and version this one was forked from; both `None` when
    /// it is not a fork. Server-owned.
    pub forked_from_id: Option<Uuid>,
    pub forked_from_version: Option<i64>,
}

/// `forkedFrom` in a snippet's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ForkedFrom {
    pub id: Uuid,
    pub version: i64,
}

/// `forkedFrom` as a reader sees it: `id` is `null` when the reader may
/// not be shown the source (forks::hide_sources), the version stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ForkedFromShown {
    pub id: Option<Uuid>,
    pub version: i64,
}

impl Snippet {
    /// `None` when the snippet is not a fork.
    pub fn forked_from(&self) -> Option<ForkedFromShown> {
        Some(ForkedFromShown {
            id: self.forked_from_id,
            version: self.forked_from_version?,
        })
    }
}

/// Who may see a snippet besides its owner and admins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed and readable by anyone (the guide's behaviour).
    #[default]
    Public,
    /// Readable by anyone who has the id, never listed to others.
    Unlisted,
    /// The owner and admins only; to anyone else it does not exist.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }
}

impl From<String> for Visibility {
    /// The column's CHECK allows only the three values; anything else
    /// (a future value an older server reads) fails closed, as private.
    fn from(s: String) -> Self {
        match s.as_str() {
            "public" => Visibility::Public,
            "unlisted" => Visibility::Unlisted,
            _ => Visibility::Private,
        }
    }
}

impl Serialize for Snippet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Snippet", 11)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("title", &self.title)?;
        st.serialize_field("language", &self.language)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("tags", &self.tags)?;
        st.serialize_field("owner", &self.owner)?;
        st.serialize_field("visibility", &self.visibility)?;
        st.serialize_field("forkedFrom", &self.forked_from())?;
        st.serialize_field("createdAt", &IsoMillis(self.created_at))?;
        st.serialize_field("updatedAt", &IsoMillis(self.updated_at))?;
        st.serialize_field("expiresAt", &self.expires_at.map(IsoMillis))?;
        st.end()
    }
}

/// What a client writes: POST and PUT bodies, and a PATCH once merged.
/// Only built from JSON that passed the input schema.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct SnippetInput {
    pub title: String,
    pub language: String,
    pub code: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Absent: `public` on create, unchanged on a replace (a client that
    /// PUTs an old body back does not publish a private snippet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// `expiresAt`/`expiresIn`, read apart from the schema-checked fields
    /// (src/snippets/expiry.rs); absent: no expiry on create, unchanged on
    /// a write.
    #[serde(skip)]
    pub expiry: ExpiryChange,
}

impl From<&Snippet> for SnippetInput {
    fn from(s: &Snippet) -> Self {
        SnippetInput {
            title: s.title.clone(),
            language: s.language.clone(),
            code: s.code.clone(),
            description: s.description.clone(),
            tags: s.tags.clone(),
            visibility: Some(s.visibility),
            expiry: ExpiryChange::Keep,
        }
    }
}

/// The entity tags of `If-Match` or `If-None-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tags {
    /// `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<i64>),
}

impl Tags {
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Tags::Any => true,
            Tags::Versions(v) => v.contains(&version),
        }
    }
}

/// The conditions of a conditional write (RFC 9110 13.1): it happens only
/// if `If-Match` matches the current version and `If-None-Match` does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    pub if_match: Option<Tags>,
    pub if_none_match: Option<Tags>,
}

impl Precondition {
    /// Does a write of a snippet at `version` go ahead?
    pub fn holds(&self, version: i64) -> bool {
        self.if_match.as_ref().is_none_or(|t| t.matches(version))
            && !self
                .if_none_match
                .as_ref()
                .is_some_and(|t| t.matches(version))
    }
}

/// A position in the newest-first order: the last row of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

impl Cursor {
    pub fn after(s: &Snippet) -> Cursor {
        Cursor {
            created_at: s.created_at,
            id: s.id,
        }
    }

    /// Opaque to clients: base64url of microseconds since the epoch (8 bytes)
    /// and the id (16 bytes).
    pub fn encode(&self) -> String {
        let micros = (self.created_at.unix_timestamp_nanos() / 1_000) as i64;
        let mut raw = [0u8; 24];
        raw[..8].copy_from_slice(&micros.to_be_bytes());
        raw[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        let raw: [u8; 24] = raw.try_into().ok()?;
        let micros = i64::from_be_bytes(raw[..8].try_into().ok()?);
        let created_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()?;
        // Only times PostgreSQL can compare with (its range is 4713 BC to
        // 294276 AD; `time` goes further): anything else is not a cursor.
        if !(1..=9999).contains(&created_at.year()) {
            return None;
        }
        let id = Uuid::from_slice(&raw[8..]).ok()?;
        Some(Cursor { created_at, id })
    }
}

/// `GET /snippets` parameters, already validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub limit: u32,
    pub cursor: Option<Cursor>,
    pub language: Option<String>,
    /// Every one of these tags (AND).
    pub tags: Vec<String>,
    /// Text search over title, description and code.
    pub q: Option<String>,
    /// `owner=`: one owner's snippets.
    pub owner: Option<OwnerFilter>,
}

/// `owner=me` or `owner=HANDLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerFilter {
    /// The caller's own, of every visibility (needs `snippets:read`).
    Me,
    Handle(String),
}

impl OwnerFilter {
    /// As in a query string.
    pub fn as_str(&self) -> &str {
        match self {
            OwnerFilter::Me => "me",
            OwnerFilter::Handle(h) => h,
        }
    }
}

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// What a write does to a snippet's expiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpiryChange {
    /// Neither field given: none on create, unchanged on PUT and PATCH.
    #[default]
    Keep,
    /// `"expiresAt": null`: never expires.
    Clear,
    At(OffsetDateTime),
}

impl ExpiryChange {
    /// The column's value on insert.
    pub fn on_insert(self) -> Option<OffsetDateTime> {
        match self {
            ExpiryChange::At(t) => Some(t),
            _ => None,
        }
    }

    /// The column's new value on update; `None` leaves it as it is.
    pub fn on_update(self) -> Option<Option<OffsetDateTime>> {
        match self {
            ExpiryChange::Keep => None,
            ExpiryChange::Clear => Some(None),
            ExpiryChange::At(t) => Some(Some(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_with_microseconds() {
        let c = Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_300_000_123_456_000)
                .unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
        // Well-formed, but in the year -9000: not a cursor we issue.
        assert_eq!(Cursor::decode("-zLC1Uu3AAAAAAAAAAAAAAAAAAAAAAAA"), None);
    }

    proptest::proptest! {
        #[test]
        fn cursors_round_trip(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000, id: u128) {
            let c = Cursor {
                created_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap(),
                id: Uuid::from_u128(id),
            };
            proptest::prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }

        #[test]
        fn any_decoded_cursor_is_in_postgres_range(s in "[A-Za-z0-9_-]{0,40}") {
            if let Some(c) = Cursor::decode(&s) {
                proptest::prop_assert!((1..=9999).contains(&c.created_at.year()));
            }
        }
    }
}
