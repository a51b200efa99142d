//! Snippet expiry: `expiresAt` (an RFC 3339 time) or `expiresIn` (seconds)
//! on a write, at least [`MIN_AHEAD`] ahead and at most `MAX_EXPIRY_SECONDS`.
//!
//! Whether a snippet has expired is decided by the database's clock, in
//! the query that reads or writes it: every query on `snippets` filters
//! with [`Live`], one SQL fragment, so a GET by id, a list and a write agree
//! at every instant (no clock of ours races theirs). The [`sweep`] deletes
//! expired rows later, in bounded batches, only to reclaim space: nothing
//! depends on it having run.

use std::time::Duration;

use diesel::expression::{is_aggregate, ValidGrouping};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::{SnippetError, Violation};
use super::model::{ExpiryChange, SnippetInput};
use super::validate;
use crate::db::Connector;

/// The soonest an expiry may be: a shorter one is a typo more often than
/// a wish, and would be gone before the client could read it back.
pub const MIN_AHEAD: Duration = Duration::from_secs(60);

/// Takes `expiresAt` and `expiresIn` out of a request body (POST, PUT or a
/// merge patch) and checks them; the rest of the body is then validated by
/// the JSON Schema as before. Both schemas list the two fields for the
/// published contract; the checks that need the clock and the configured
/// maximum are here. A body that is not an object is left to the schema.
pub fn take(
    body: &mut Value,
    max: Duration,
    now: OffsetDateTime,
) -> Result<ExpiryChange, Vec<Violation>> {
    let Some(obj) = body.as_object_mut() else {
        return Ok(ExpiryChange::Keep);
    };
    let at = obj.remove("expiresAt");
    let within = obj.remove("expiresIn");
    let bad = |pointer: &str, detail: String| {
        Err(vec![Violation {
            pointer: pointer.into(),
            detail,
        }])
    };
    let (pointer, ahead) = match (at, within) {
        (None, None) => return Ok(ExpiryChange::Keep),
        (Some(_), Some(_)) => {
            return bad("/expiresIn", "give expiresAt or expiresIn, not both".into())
        }
        (Some(Value::Null), None) => return Ok(ExpiryChange::Clear),
        (Some(Value::String(s)), None) => match OffsetDateTime::parse(&s, &Rfc3339) {
            Ok(t) => ("/expiresAt", t - now),
            Err(_) => {
                return bad(
                    "/expiresAt",
                    "must be an RFC 3339 date-time, e.g. 2027-01-31T12:00:00Z".into(),
                )
            }
        },
        (Some(_), None) => return bad("/expiresAt", "must be of type string or null".into()),
        (None, Some(v)) => match v.as_i64() {
            Some(secs) => ("/expiresIn", time::Duration::seconds(secs)),
            None => return bad("/expiresIn", "must be of type integer".into()),
        },
    };
    if ahead < MIN_AHEAD {
        return bad(
            pointer,
            format!("must be at least {} seconds ahead", MIN_AHEAD.as_secs()),
        );
    }
    if ahead > max {
        return bad(
            pointer,
            format!(
                "must be at most {} seconds ahead (MAX_EXPIRY_SECONDS)",
                max.as_secs()
            ),
        );
    }
    // Milliseconds, as the JSON shows it: what a client reads back is what
    // is stored.
    let t = now + ahead;
    let t = t - time::Duration::nanoseconds(i64::from(t.nanosecond() % 1_000_000));
    Ok(ExpiryChange::At(t))
}

/// A POST or PUT body validated into an input with its expiry: the
/// violations of both checks together in one 422.
pub fn input(mut body: Value, max: Duration) -> Result<SnippetInput, SnippetError> {
    let change = take(&mut body, max, OffsetDateTime::now_utc());
    match (validate::input(body), change) {
        (Ok(mut input), Ok(change)) => {
            input.expiry = change;
            Ok(input)
        }
        (Err(SnippetError::Invalid(mut v)), Err(w)) => {
            v.extend(w);
            v.sort();
            Err(SnippetError::Invalid(v))
        }
        (Err(e), _) => Err(e),
        (Ok(_), Err(w)) => Err(SnippetError::Invalid(w)),
    }
}

/// `(expires_at IS NULL OR expires_at > now())`: the snippet has not
/// expired, by the database's clock. Every query on `snippets` uses this
/// one fragment (lookups, lists, writes, and anything added later, such as
/// revisions or export); it renders fixed SQL, so its query stays a cached
/// prepared statement.
#[derive(Debug, Clone, Copy)]
pub struct Live;

impl Expression for Live {
    type SqlType = Bool;
}
impl<QS> AppearsOnTable<QS> for Live {}
impl<QS> SelectableExpression<QS> for Live {}
impl ValidGrouping<()> for Live {
    type IsAggregate = is_aggregate::Never;
}
impl QueryId for Live {
    type QueryId = Live;
    const HAS_STATIC_QUERY_ID: bool = true;
}
impl QueryFragment<Pg> for Live {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(LIVE_SQL);
        Ok(())
    }
}

/// [`Live`] as text, for hand-written SQL.
pub const LIVE_SQL: &str = "(expires_at IS NULL OR expires_at > now())";

/// Deletes up to `batch` expired snippets; returns how many. The rows are
/// picked through the partial index `snippets_expires_at_idx` (due rows
/// only, oldest expiry first) and locked with `SKIP LOCKED`, so a sweep
/// never waits on a row a request holds, two sweepers (two tasks) never
/// take the same rows, and each statement holds its locks for one batch.
/// The `owner_usage` trigger counts the deletions.
pub const SWEEP_SQL: &str = "DELETE FROM snippets WHERE id IN (\
     SELECT id FROM snippets WHERE expires_at <= now() \
     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)";

pub async fn sweep(c: &mut AsyncPgConnection, batch: i64) -> Result<usize, SnippetError> {
    Ok(diesel::sql_query(SWEEP_SQL)
        .bind::<BigInt, _>(batch)
        .execute(c)
        .await?)
}

/// Rows per sweep statement: a few milliseconds of locks and WAL.
pub const SWEEP_BATCH: i64 = 500;
/// Pause between sweeps once nothing is due.
const SWEEP_IDLE: Duration = Duration::from_secs(30);

/// The sweeper of `serve`: full batches follow each other at once, then
/// it waits [`SWEEP_IDLE`]; an error is logged and retried after the
/// pause. Returns when `stop` changes (or its sender is gone), between
/// batches: a statement in flight completes, so no batch is cut short.
///
/// It sweeps over a connection of its own, opened for each round and
/// closed when nothing more is due, never one of the request pool's: when
/// the table is locked or the database is slow, a sweep waits up to the
/// statement timeout, and it must not hold one of the connections the
/// requests are queueing for (tests/faults.rs, pool exhaustion, pool of 2).
pub async fn sweeper(db: Connector, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut conn: Option<AsyncPgConnection> = None;
    loop {
        let round = async {
            let c = match &mut conn {
                Some(c) => c,
                None => conn.insert(db.connect().await.map_err(|e| e.to_string())?),
            };
            sweep(c, SWEEP_BATCH).await.map_err(|e| e.to_string())
        };
        let pause = match round.await {
            Ok(n) => {
                if n > 0 {
                    log::info!(target: "snippetd::expiry", "deleted {n} expired snippet(s)");
                }
                if n as i64 == SWEEP_BATCH {
                    Duration::ZERO
                } else {
                    conn = None;
                    SWEEP_IDLE
                }
            }
            Err(e) => {
                log::warn!(target: "snippetd::expiry", "sweeping expired snippets failed: {e}");
                conn = None;
                SWEEP_IDLE
            }
        };
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MAX: Duration = Duration::from_secs(86_400);

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn take_from(v: Value) -> Result<ExpiryChange, Vec<Violation>> {
        let mut v = v;
        let r = take(&mut v, MAX, now());
        assert!(v.get("expiresAt").is_none() && v.get("expiresIn").is_none());
        r
    }

    #[test]
    fn bounds_and_forms() {
        let at = |secs| ExpiryChange::At(now() + time::Duration::seconds(secs));
        assert_eq!(take_from(json!({"title": "x"})), Ok(ExpiryChange::Keep));
        assert_eq!(
            take_from(json!({"expiresAt": null})),
            Ok(ExpiryChange::Clear)
        );
        assert_eq!(take_from(json!({"expiresIn": 60})), Ok(at(60)));
        assert_eq!(take_from(json!({"expiresIn": 86_400})), Ok(at(86_400)));
        assert_eq!(
            take_from(json!({"expiresAt": "2027-01-15T10:00:00+01:00"})),
            Ok(ExpiryChange::At(
                OffsetDateTime::from_unix_timestamp(1_800_000_000 + 3600).unwrap()
            ))
        );
        for bad in [
            json!({"expiresIn": 59}),
            json!({"expiresIn": 86_401}),
            json!({"expiresIn": -5}),
            json!({"expiresIn": 1.5}),
            json!({"expiresIn": "60"}),
            json!({"expiresAt": "tomorrow"}),
            json!({"expiresAt": 1_800_000_100}),
            json!({"expiresAt": "2027-01-15T08:00:59Z"}),
            json!({"expiresAt": null, "expiresIn": 120}),
            json!({"expiresAt": "2027-01-15T08:00:00Z", "expiresIn": 120}),
        ] {
            assert!(take_from(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn kept_to_the_millisecond() {
        let mut v = json!({"expiresAt": "2027-01-15T10:00:00.123456789Z"});
        let Ok(ExpiryChange::At(t)) = take(&mut v, MAX, now()) else {
            panic!()
        };
        assert_eq!(t.nanosecond(), 123_000_000);
    }
}
