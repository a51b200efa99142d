//! Export and import: a caller's snippets as NDJSON, one snippet's JSON (as
//! `GET /snippets/{id}` shows it) per line, and back.
//!
//! Export reads keyset pages ([`export_page`]) so the HTTP layer can stream
//! them with one page in memory at a time. Import inserts batches, one
//! transaction each ([`import_batch`]): a batch is in the database whole or
//! not at all, and when its multi-row INSERT meets a constraint (an id that
//! exists, an owner that does not) its rows are tried again one by one so
//! that only the bad row fails.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::Usage;
use super::error::{SnippetError, Violation};
use super::expiry::{self, Live};
use super::model::{Cursor, Snippet, SnippetInput};
use super::quota;
use super::revisions::Revision;
use super::store::Before;
use crate::auth::{Caller, Scope};
use crate::config::Quota;
use crate::db::schema::snippet_revisions::dsl as rv;
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

/// Snippets per export page (one query, one connection check-out, then
/// the connection is back in the pool while the client reads).
pub const EXPORT_PAGE: i64 = 500;
/// Lines per import transaction.
pub const IMPORT_BATCH: usize = 500;

/// Whose snippets the caller exports: its own (`snippets:read`); in open
/// mode, the unowned ones (every snippet written in open mode).
pub(super) fn exporter(caller: &Caller) -> Result<Option<String>, SnippetError> {
    caller.require(Scope::SnippetsRead)?;
    Ok(caller.handle().map(str::to_string))
}

/// One page of an export: its NDJSON lines and where the next page starts.
pub struct ExportPage {
    pub ndjson: Vec<u8>,
    pub next: Option<Cursor>,
}

/// A line of an export: the snippet as the API shows it, and with
/// `?revisions=true` its history.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    snippet: &'a Snippet,
    #[serde(skip_serializing_if = "Option::is_none")]
    revisions: Option<Vec<Value>>,
}

/// The page of `owner`'s live snippets after `after`, newest first (the
/// `(owner, created_at, id)` index serves it).
pub(super) async fn export_page(
    pool: &DbPool,
    owner: Option<&str>,
    after: Option<Cursor>,
    with_revisions: bool,
) -> Result<ExportPage, SnippetError> {
    let mut c = pool.get().await?;
    let mut q = s::snippets
        .filter(Live)
        .select(Snippet::as_select())
        .into_boxed();
    q = match owner {
        Some(o) => q.filter(s::owner.eq(o.to_string())),
        None => q.filter(s::owner.is_null()),
    };
    if let Some(a) = after {
        q = q.filter(Before(a.created_at, a.id));
    }
    let mut rows: Vec<Snippet> = q
        .order((s::created_at.desc(), s::id.desc()))
        .limit(EXPORT_PAGE)
        .load(&mut c)
        .await?;
    // `forkedFrom.id` as GET shows it to the exporting owner (issue 30,
    // finding 13): one batched query per page, only if it holds forks.
    super::forks::hide_sources(&mut c, &mut rows, |o, v| {
        super::access::shows_source_to(owner, o, v)
    })
    .await?;
    let mut history = if with_revisions {
        revisions_of(&mut c, &rows, pool.revisions_kept()).await?
    } else {
        HashMap::new()
    };
    let mut ndjson = Vec::with_capacity(rows.len() * 512);
    for snippet in &rows {
        let line = Line {
            snippet,
            revisions: with_revisions.then(|| history.remove(&snippet.id).unwrap_or_default()),
        };
        serde_json::to_writer(&mut ndjson, &line)
            .map_err(|e| SnippetError::Internal(format!("cannot serialize a snippet: {e}")))?;
        ndjson.push(b'\n');
    }
    let next = (rows.len() as i64 == EXPORT_PAGE)
        .then(|| rows.last().map(Cursor::after))
        .flatten();
    Ok(ExportPage { ndjson, next })
}

/// The history of each snippet of a page, oldest first, for
/// `?revisions=true`: the earlier versions kept in `snippet_revisions`
/// (src/snippets/revisions.rs), one `WHERE snippet_id = ANY($1)` query per
/// page. Each entry is a `Revision` as `GET …/revisions/{version}` shows it.
/// Only the versions `REVISIONS_KEPT` shows: a few older ones may still be
/// stored until the next batch prune (src/snippets/revisions.rs).
async fn revisions_of(
    c: &mut AsyncPgConnection,
    rows: &[Snippet],
    kept: i64,
) -> Result<HashMap<Uuid, Vec<Value>>, SnippetError> {
    use crate::db::schema::snippet_revisions::dsl as r;
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let stored: Vec<(Uuid, Revision)> = r::snippet_revisions
        .filter(r::snippet_id.eq_any(&ids))
        .order((r::snippet_id, r::version.asc()))
        .select((r::snippet_id, Revision::as_select()))
        .load(c)
        .await?;
    let oldest: HashMap<Uuid, i64> = rows
        .iter()
        .map(|s| (s.id, super::revisions::oldest_kept(s, kept)))
        .collect();
    let mut history: HashMap<Uuid, Vec<Value>> = HashMap::new();
    for (id, rev) in stored {
        if oldest.get(&id).is_some_and(|&o| rev.version < o) {
            continue;
        }
        let v = serde_json::to_value(&rev)
            .map_err(|e| SnippetError::Internal(format!("cannot serialize a revision: {e}")))?;
        history.entry(id).or_default().push(v);
    }
    Ok(history)
}

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

    fn one(line: usize, status: u16, pointer: &str, detail: impl Into<String>) -> Outcome {
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

/// Why a batch's transaction failed.
enum BatchError {
    /// A constraint of one of its rows: retry them one by one.
    Constraint,
    /// Another refusal of one row's values that is not transient (the
    /// import's checks should make it impossible): retry them one by one,
    /// so that one line fails, never its whole batch.
    Refused(String),
    Snippet(SnippetError),
}

impl From<DieselError> for BatchError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation,
                _,
            ) => BatchError::Constraint,
            DieselError::DatabaseError(..) => match SnippetError::from(&e) {
                SnippetError::Internal(why) => BatchError::Refused(why),
                other => BatchError::Snippet(other),
            },
            _ => BatchError::Snippet(e.into()),
        }
    }
}

impl From<SnippetError> for BatchError {
    fn from(e: SnippetError) -> Self {
        BatchError::Snippet(e)
    }
}

/// Inserts `rows` in one transaction; a non-admin's quota is checked as on
/// create, row by row in line order (the rows past it get 403, the others
/// go in). If a constraint refuses the batch, its rows are tried alone, so
/// only the offending rows fail. A database that is unavailable fails the
/// whole batch (503 on each of its lines; nothing of it was written).
pub(super) async fn import_batch(
    pool: &DbPool,
    caller: &Caller,
    rows: Vec<NewRow>,
    limits: Quota,
) -> Vec<Outcome> {
    let mut c = match pool.get().await {
        Ok(c) => c,
        Err(e) => return unavailable(&rows, &SnippetError::from(e)),
    };
    match insert_all(&mut c, caller, &rows, limits).await {
        Ok(out) => out,
        Err(BatchError::Snippet(e)) => unavailable(&rows, &e),
        Err(BatchError::Constraint | BatchError::Refused(_)) => {
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let line = row.line;
                out.extend(match insert_all(&mut c, caller, &[row], limits).await {
                    Ok(o) => o,
                    Err(BatchError::Constraint) => vec![Outcome::one(
                        line,
                        409,
                        "/id",
                        "a snippet with this id exists, or its owner does not",
                    )],
                    Err(BatchError::Refused(why)) => {
                        log::warn!("import: line {line} refused by the database: {why}");
                        vec![Outcome::one(
                            line,
                            422,
                            "",
                            "the database refused this line's values",
                        )]
                    }
                    Err(BatchError::Snippet(e)) => unavailable_line(line, &e),
                });
            }
            out
        }
    }
}

fn unavailable(rows: &[NewRow], e: &SnippetError) -> Vec<Outcome> {
    rows.iter()
        .flat_map(|r| unavailable_line(r.line, e))
        .collect()
}

fn unavailable_line(line: usize, e: &SnippetError) -> Vec<Outcome> {
    log::warn!("import: line {line} not written: {e}");
    let status = match e {
        SnippetError::Unavailable(_) => 503,
        _ => 500,
    };
    vec![Outcome::one(
        line,
        status,
        "",
        "not imported: the database failed; retry this line",
    )]
}

async fn insert_all(
    c: &mut AsyncPgConnection,
    caller: &Caller,
    rows: &[NewRow],
    limits: Quota,
) -> Result<Vec<Outcome>, BatchError> {
    let (rows, owner) = (rows.to_vec(), quota::owner_of(caller).map(str::to_string));
    c.transaction::<_, BatchError, _>(async move |c| {
        let mut out = Vec::with_capacity(rows.len());
        let mut accepted = Vec::with_capacity(rows.len());
        match &owner {
            None => accepted = rows,
            Some(o) => {
                let before = quota::lock(c, o).await?;
                let mut usage = before;
                for row in rows {
                    let after = Usage {
                        snippets: usage.snippets + 1,
                        bytes: usage.bytes + quota::size(&row.input),
                    };
                    match quota::check(usage, after, limits) {
                        Ok(()) => {
                            usage = after;
                            accepted.push(row);
                        }
                        Err(e) => out.push(Outcome::one(row.line, 403, "", e.to_string())),
                    }
                }
            }
        }
        if accepted.is_empty() {
            return Ok(out);
        }
        let values: Vec<_> = accepted
            .iter()
            .map(|r| {
                (
                    s::id.eq(r.id),
                    s::title.eq(&r.input.title),
                    s::language.eq(&r.input.language),
                    s::code.eq(&r.input.code),
                    s::description.eq(&r.input.description),
                    s::tags.eq(&r.input.tags),
                    s::owner.eq(&r.owner),
                    s::visibility.eq(r.input.visibility.unwrap_or_default().as_str()),
                    r.created_at.map(|t| s::created_at.eq(t)),
                    r.updated_at.map(|t| s::updated_at.eq(t)),
                    s::expires_at.eq(r.expires_at),
                    r.revisions.last().map(|p| s::version.eq(p.version + 1)),
                )
            })
            .collect();
        diesel::insert_into(s::snippets)
            .values(values)
            .execute(c)
            .await?;
        // The restored history, in the same transaction as its snippets.
        let history: Vec<_> = accepted
            .iter()
            .flat_map(|r| {
                r.revisions.iter().map(move |v| {
                    (
                        rv::snippet_id.eq(r.id),
                        rv::version.eq(v.version),
                        rv::title.eq(&v.title),
                        rv::language.eq(&v.language),
                        rv::code.eq(&v.code),
                        rv::description.eq(&v.description),
                        rv::tags.eq(&v.tags),
                        rv::updated_at.eq(v.updated_at),
                    )
                })
            })
            .collect();
        // PostgreSQL takes at most 65,535 parameters a statement: 8 a row.
        for chunk in history.chunks(8_000) {
            diesel::insert_into(rv::snippet_revisions)
                .values(chunk)
                .execute(c)
                .await?;
        }
        out.extend(accepted.iter().map(|r| Outcome {
            line: r.line,
            status: 201,
            id: Some(r.id),
            errors: None,
        }));
        out.sort_by_key(|o| o.line);
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests;
