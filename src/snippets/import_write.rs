//! Import, batch by batch: checked lines inserted in one transaction
//! each; a batch that meets a constraint is tried again line by line so
//! that only the offending line fails.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::error::SnippetError;
use super::error::Usage;
use super::quota;
use crate::auth::Caller;
use crate::config::Quota;
use crate::db::schema::snippet_revisions::dsl as rv;
use crate::db::schema::snippets::dsl as s;
use crate::db::DbPool;

use super::import_check::{NewRow, Outcome};

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

/// Inserts `rows` in one transaction (92 lines, one function on purpose:
/// the quota check, the snippets' INSERT and the history's INSERTs must
/// share the transaction's connection and its outcome).
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
