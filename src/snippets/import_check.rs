//! Import, line by line: each NDJSON line checked as a create would be
//! (an admin's keeps its server-owned fields and history), into a
//! [`NewRow`] or an [`Outcome`] that says why not.

use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::{SnippetError, Violation};
use super::expiry;
use super::model::SnippetInput;
use super::revisions::Revision;
use crate::auth::Caller;

/// One import line, checked and ready to insert.
#[derive(Clone, Debug)]
pub struct NewRow {
    pub line: usize,
    pub id: Uuid,
    pub input: SnippetInput,
    pub owner: Option<String>,
    /// `None`: now() (non-admin imports, or an admin line without it).
    pub created_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    /// An admin's line of `?revisions=true`: the earlier versions, oldest
    /// first, restored into `snippet_revisions`; the snippet's version is
    /// then the last of them plus one. Empty otherwise (version 1).
    pub revisions: Vec<Revision>,
}

/// What became of one line: `{line, status, id}` or `{line, status,
/// errors}`; statuses as HTTP would answer for the one snippet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    pub line: usize,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LineError>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineError {
    pub pointer: String,
    pub detail: String,
}

impl Outcome {
    pub fn failed(line: usize, status: u16, errors: Vec<Violation>) -> Outcome {
        Outcome {
            line,
            status,
            id: None,
            errors: Some(
                errors
                    .into_iter()
                    .map(|v| LineError {
                        pointer: v.pointer,
                        detail: v.detail,
                    })
                    .collect(),
            ),
        }
    }

    pub(super) fn one(
        line: usize,
        status: u16,
        pointer: &str,
        detail: impl Into<String>,
    ) -> Outcome {
        Outcome::failed(
            line,
            status,
            vec![Violation {
                pointer: pointer.into(),
                detail: detail.into(),
            }],
        )
    }
}

/// Checks one parsed line with the create schema (and the expiry rules).
/// An admin's line keeps its `id`, `createdAt`, `updatedAt`, `owner` and
/// `expiresAt` (a migration: the copy is the original); anyone else's gets
/// a new id, now(), the caller as owner, and its expiry checked as on
/// create. An admin's `revisions` (an export with `?revisions=true`) are
/// kept too; anyone else's are dropped.
pub fn check_line(
    line: usize,
    mut body: Value,
    caller: &Caller,
    max_expiry: std::time::Duration,
) -> Result<NewRow, Outcome> {
    let admin = caller.is_admin();
    let invalid = |v: Vec<Violation>| Outcome::failed(line, 422, v);
    let mut kept = Kept::default();
    if let Some(obj) = body.as_object_mut() {
        let history = obj.remove("revisions");
        if admin {
            kept = Kept::take(obj).map_err(invalid)?;
            if let Some(h) = history {
                kept.revisions = history_of(&h).map_err(invalid)?;
            }
        }
    }
    let mut input = if kept.expires_at.is_some() {
        super::validate::input(body).map_err(|e| to_outcome(line, e))?
    } else {
        expiry::input(body, max_expiry).map_err(|e| to_outcome(line, e))?
    };
    let expires_at = match kept.expires_at {
        Some(t) => t,
        None => std::mem::take(&mut input.expiry).on_insert(),
    };
    Ok(NewRow {
        line,
        id: kept.id.unwrap_or_else(Uuid::now_v7),
        owner: kept
            .owner
            .unwrap_or_else(|| caller.handle().map(str::to_string)),
        created_at: kept.created_at,
        updated_at: kept.updated_at.or(kept.created_at),
        expires_at,
        input,
        revisions: kept.revisions,
    })
}

/// The highest version an imported revision may carry: the snippet's
/// version becomes the last one's plus one and every write adds one, so a
/// version near `i64::MAX` would make the next PATCH overflow (a 500).
pub const MAX_IMPORTED_VERSION: i64 = 1_000_000_000;

/// An export's `revisions` (oldest first, as `GET …/revisions/{version}`
/// shows each): versions strictly increasing up to
/// [`MAX_IMPORTED_VERSION`], the content of each valid as a `POST
/// /snippets` body would be (the same schema: no blank title, no NUL, tags
/// of the tag pattern), its `updatedAt` an RFC 3339 date-time.
fn history_of(v: &Value) -> Result<Vec<Revision>, Vec<Violation>> {
    let mut errors = Vec::new();
    let Some(items) = v.as_array() else {
        return Err(vec![Violation {
            pointer: "/revisions".into(),
            detail: "must be an array of revisions".into(),
        }]);
    };
    let mut out: Vec<Revision> = Vec::with_capacity(items.len());
    let mut previous = 0;
    for (i, item) in items.iter().enumerate() {
        match revision_of(item, previous) {
            Ok(r) => {
                previous = r.version;
                out.push(r);
            }
            Err(v) => errors.extend(v.into_iter().map(|e| Violation {
                pointer: format!("/revisions/{i}{}", e.pointer),
                detail: e.detail,
            })),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One revision of [`history_of`], its violations' pointers relative to it.
fn revision_of(item: &Value, previous: i64) -> Result<Revision, Vec<Violation>> {
    let mut errors = Vec::new();
    let mut bad = |pointer: &str, detail: &str| {
        errors.push(Violation {
            pointer: pointer.into(),
            detail: detail.into(),
        })
    };
    let Some(obj) = item.as_object() else {
        bad("", "must be an object");
        return Err(errors);
    };
    let version = obj
        .get("version")
        .and_then(Value::as_i64)
        .filter(|n| (previous + 1..=MAX_IMPORTED_VERSION).contains(n));
    if version.is_none() {
        bad(
            "/version",
            "must be an integer above the previous revision's (at most 1000000000)",
        );
    }
    let updated_at = obj
        .get("updatedAt")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    if updated_at.is_none() {
        bad("/updatedAt", "must be an RFC 3339 date-time");
    }
    // The content through the create schema: the fields it knows only
    // (`visibility` and the server-owned ones are not a revision's).
    let content: serde_json::Map<String, Value> =
        ["title", "language", "code", "description", "tags"]
            .iter()
            .filter_map(|k| obj.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
    let input = match super::validate::input(Value::Object(content)) {
        Ok(input) => Some(input),
        Err(SnippetError::Invalid(v)) => {
            errors.extend(v);
            None
        }
        Err(e) => {
            errors.push(Violation {
                pointer: String::new(),
                detail: e.to_string(),
            });
            None
        }
    };
    match (version, updated_at, input) {
        (Some(version), Some(updated_at), Some(input)) if errors.is_empty() => Ok(Revision {
            version,
            title: input.title,
            language: input.language,
            code: input.code,
            description: input.description,
            tags: input.tags,
            updated_at,
        }),
        _ => Err(errors),
    }
}

fn to_outcome(line: usize, e: SnippetError) -> Outcome {
    match e {
        SnippetError::Invalid(v) => Outcome::failed(line, 422, v),
        other => Outcome::one(line, 500, "", other.to_string()),
    }
}

/// The server-owned fields an admin import keeps, as given.
#[derive(Default)]
struct Kept {
    id: Option<Uuid>,
    created_at: Option<OffsetDateTime>,
    updated_at: Option<OffsetDateTime>,
    /// `Some(None)`: an unowned snippet.
    owner: Option<Option<String>>,
    /// `Some(None)`: `"expiresAt": null`.
    expires_at: Option<Option<OffsetDateTime>>,
    revisions: Vec<Revision>,
}

impl Kept {
    fn take(obj: &mut serde_json::Map<String, Value>) -> Result<Kept, Vec<Violation>> {
        let mut errors = Vec::new();
        let mut bad = |pointer: &str, detail: &str| {
            errors.push(Violation {
                pointer: pointer.into(),
                detail: detail.into(),
            })
        };
        let time = |name: &str, bad: &mut dyn FnMut(&str, &str)| match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => OffsetDateTime::parse(t, &Rfc3339).ok().or_else(|| {
                bad(&format!("/{name}"), "must be an RFC 3339 date-time");
                None
            }),
            Some(_) => {
                bad(&format!("/{name}"), "must be an RFC 3339 date-time");
                None
            }
        };
        let created_at = time("createdAt", &mut bad);
        let updated_at = time("updatedAt", &mut bad);
        // expiresIn stays with the expiry rules; a given expiresAt is kept
        // as it was, even if it is near or past (it was the original's).
        let expires_at = match (obj.get("expiresAt"), obj.contains_key("expiresIn")) {
            (Some(Value::Null), false) => Some(None),
            (Some(Value::String(_)), false) => time("expiresAt", &mut bad).map(Some),
            _ => None,
        };
        if expires_at.is_some() {
            obj.remove("expiresAt");
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(raw)) => match Uuid::try_parse(raw) {
                Ok(id) => Some(id),
                Err(_) => {
                    bad("/id", "must be a UUID");
                    None
                }
            },
            Some(_) => {
                bad("/id", "must be a UUID");
                None
            }
        };
        let owner = match obj.get("owner") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(h)) if crate::auth::store::valid_handle(h) => Some(Some(h.clone())),
            Some(_) => {
                bad("/owner", "must be an owner's handle or null");
                None
            }
        };
        if errors.is_empty() {
            Ok(Kept {
                id,
                created_at,
                updated_at,
                owner,
                expires_at,
                revisions: Vec::new(),
            })
        } else {
            Err(errors)
        }
    }
}
