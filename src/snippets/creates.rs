//! `POST /snippets` and forks, coalesced: creates that wait at the same
//! moment share one multi-row INSERT, so one statement and one commit (one
//! WAL flush) serve up to `BATCH_MAX` of them. PostgreSQL's own CPU per
//! row falls from 340 to 157 µs at 8 rows a statement, durable commits
//! included (bench/pgcost.py, docs/performance.md "Coalesced creates").
//!
//! As for lookups (lookups.rs), a few leaders at a time: a create queues
//! its row and, when fewer than `leaders_max` lead, starts one. A leader
//! is a task of its own (a request that goes away cannot cancel an insert
//! that others wait on): it checks out one connection and inserts what is
//! queued, batch after batch, until the queue is empty. No timer: a lone
//! create is inserted at once, and batches grow only when creates arrive
//! faster than inserts commit. A create is answered after its batch
//! committed, so a 201 is as durable as before.
//!
//! A failing row must not fail its neighbours: when a batch's statement is
//! refused by PostgreSQL (nothing of it is written then), its unchecked
//! rows go in again together and each checked row alone, with its own
//! answer. A quota-checked row's owner column is `owner_quota_admit_after(…)`
//! (migration 2026-12-05-000001): it takes the owner's quota lock, sums the
//! usage committed so far and adds the rows of the same owner ahead of it
//! in the statement, which the sum cannot see yet (the usage trigger runs
//! after the statement). Rows are in owner order, so two batches lock
//! owners in the same order (no deadlock) and one owner's rows are adjacent.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use diesel_async::RunQueryDsl;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::error::SnippetError;
use super::model::{Snippet, SnippetInput, Visibility};
use super::quota;
use crate::config::Quota;
use crate::db::{DbConn, DbPool};

/// Rows per statement: enough to absorb a busy queue (at 64 connections
/// and 2 leaders, batches of ~20 form), few enough that a refused batch's
/// one-by-one retry stays short.
const BATCH_MAX: usize = 32;

/// One snippet to create, resolved from the caller and the input by
/// `Snippets::insert` (service.rs).
#[derive(Clone, Debug)]
pub struct NewRow {
    pub id: Uuid,
    pub input: SnippetInput,
    pub owner: Option<String>,
    pub visibility: Visibility,
    pub forked_from: Option<(Uuid, i64)>,
    /// The owner's limits when its quota is checked (not for admins, not in
    /// open mode).
    pub checked: Option<Quota>,
}

/// Where the rows go: PostgreSQL ([`DbInserter`]), or a fake in the unit
/// tests (creates/tests.rs), as lookups.rs' `Loader`.
pub trait Inserter: Send + Sync + 'static {
    type Conn: Send;
    /// One connection, kept by a leader for its batches.
    fn checkout(&self) -> impl Future<Output = Result<Self::Conn, SnippetError>> + Send;
    /// One statement for all of `rows`: stored whole (returned in any
    /// order) or refused whole.
    fn insert(
        &self,
        conn: &mut Self::Conn,
        rows: &[&NewRow],
    ) -> impl Future<Output = Result<Vec<Snippet>, diesel::result::Error>> + Send;
}

/// PostgreSQL through the pool.
pub struct DbInserter(pub DbPool);

impl Inserter for DbInserter {
    type Conn = DbConn<'static>;

    async fn checkout(&self) -> Result<DbConn<'static>, SnippetError> {
        Ok(self.0.get_owned().await?)
    }

    async fn insert(
        &self,
        c: &mut DbConn<'static>,
        rows: &[&NewRow],
    ) -> Result<Vec<Snippet>, diesel::result::Error> {
        InsertRows::new(rows).load::<Snippet>(c).await
    }
}

pub struct Creates<I: Inserter = DbInserter> {
    inner: Arc<Inner<I>>,
}

struct Inner<I: Inserter> {
    inserter: I,
    leaders_max: usize,
    state: Mutex<State>,
    /// Creates per statement (`snippetd_create_batch_size`).
    batch_size: ::metrics::Histogram,
}

#[derive(Default)]
struct State {
    leaders: usize,
    queue: VecDeque<Pending>,
}

struct Pending {
    row: NewRow,
    tx: oneshot::Sender<Result<Snippet, SnippetError>>,
}

impl Creates {
    pub fn new(pool: DbPool) -> Creates {
        // As many as lookups lead (a quarter of the pool, at least 2): the
        // rest of the pool stays free for reads and other writes.
        Creates::with_inserter(pool.batch_queries(), DbInserter(pool))
    }
}

impl<I: Inserter> Creates<I> {
    pub fn with_inserter(leaders_max: usize, inserter: I) -> Creates<I> {
        Creates {
            inner: Arc::new(Inner {
                inserter,
                leaders_max,
                state: Mutex::default(),
                batch_size: ::metrics::histogram!(crate::metrics::CREATE_BATCH),
            }),
        }
    }

    /// Inserts `row` (in some batch) and returns it as stored.
    pub async fn create(&self, row: NewRow) -> Result<Snippet, SnippetError> {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut st = self.inner.state();
            st.queue.push_back(Pending { row, tx });
            st.leaders < self.inner.leaders_max && {
                st.leaders += 1;
                true
            }
        };
        if lead {
            tokio::spawn(Inner::lead(self.inner.clone()));
        }
        rx.await.unwrap_or_else(|_| {
            Err(SnippetError::Internal(
                "the insert of this snippet was abandoned (its leader panicked)".into(),
            ))
        })
    }
}

impl<I: Inserter> Inner<I> {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned queue is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn lead(self: Arc<Self>) {
        let _place = Place(self.clone());
        let mut conn = match self.inserter.checkout().await {
            Ok(c) => c,
            Err(e) => {
                // Every queued create gets the error now, instead of
                // waiting a check-out timeout each.
                let queued: Vec<Pending> = self.state().queue.drain(..).collect();
                for p in queued {
                    let _ = p.tx.send(Err(e.clone()));
                }
                return;
            }
        };
        loop {
            let batch = self.take();
            if batch.is_empty() {
                return;
            }
            self.batch_size.record(batch.len() as f64);
            if !insert_batch(&self.inserter, &mut conn, batch).await {
                // The connection may be gone: a new leader takes a new one.
                return;
            }
        }
    }

    /// Up to `BATCH_MAX` queued creates, in owner order; creates whose
    /// request went away are dropped.
    fn take(&self) -> Vec<Pending> {
        let mut batch: Vec<Pending> = {
            let mut st = self.state();
            let n = st.queue.len().min(BATCH_MAX);
            st.queue.drain(..n).filter(|p| !p.tx.is_closed()).collect()
        };
        batch.sort_by(|a, b| a.row.owner.cmp(&b.row.owner));
        batch
    }
}

/// Inserts the batch and answers each create; false when the connection
/// should not be used again.
async fn insert_batch<I: Inserter>(i: &I, c: &mut I::Conn, batch: Vec<Pending>) -> bool {
    let batch = match insert_all(i, c, batch).await {
        Ok(()) => return true,
        Err((e, _)) if transient(&e) => return false,
        // Refused by PostgreSQL (a constraint, a quota, a bug): nothing of
        // the statement was written. The usual cause is a checked row over
        // its quota: the unchecked rows go in again together, and each
        // checked row alone, with its own answer.
        Err((_, batch)) => batch,
    };
    let (checked, unchecked): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|p| p.row.checked.is_some());
    let mut usable = true;
    let mut alone = checked;
    if !alone.is_empty() && unchecked.len() > 1 {
        match insert_all(i, c, unchecked).await {
            Ok(()) => {}
            Err((e, _)) if transient(&e) => usable = false,
            Err((_, rest)) => alone.extend(rest),
        }
    } else {
        alone.extend(unchecked);
    }
    for p in alone {
        let r = insert_one(i, c, &p.row).await;
        usable &= !matches!(&r, Err(SnippetError::Unavailable(_)));
        let _ = p.tx.send(r);
    }
    usable
}

/// One statement for the whole batch. Answers every create, unless the
/// statement was refused by PostgreSQL without a lost connection or a
/// timeout: then the batch comes back, unanswered, with the error. After
/// a lost connection or a timeout whether the statement committed is
/// unknown, and each create gets the 503 a lone one would.
async fn insert_all<I: Inserter>(
    i: &I,
    c: &mut I::Conn,
    batch: Vec<Pending>,
) -> Result<(), (diesel::result::Error, Vec<Pending>)> {
    let rows: Vec<&NewRow> = batch.iter().map(|p| &p.row).collect();
    match i.insert(c, &rows).await {
        Ok(stored) => {
            for p in batch {
                let answer = stored
                    .iter()
                    .find(|s| s.id == p.row.id)
                    .cloned()
                    .ok_or_else(|| {
                        SnippetError::Internal("a coalesced insert did not return its row".into())
                    });
                let _ = p.tx.send(answer);
            }
            Ok(())
        }
        Err(e) if batch.len() > 1 && !transient(&e) => Err((e, batch)),
        Err(e) => {
            for p in batch {
                let _ = p.tx.send(Err(refused_or(&e, &p.row)));
            }
            Err((e, Vec::new()))
        }
    }
}

fn transient(e: &diesel::result::Error) -> bool {
    matches!(SnippetError::from(e), SnippetError::Unavailable(_))
}

async fn insert_one<I: Inserter>(
    i: &I,
    c: &mut I::Conn,
    row: &NewRow,
) -> Result<Snippet, SnippetError> {
    match i.insert(c, &[row]).await {
        Ok(mut stored) if stored.len() == 1 => Ok(stored.remove(0)),
        Ok(_) => Err(SnippetError::Internal(
            "an insert of one row did not return it".into(),
        )),
        Err(e) => Err(refused_or(&e, row)),
    }
}

/// The quota refusal of a checked row (403 with its usage), else the error.
fn refused_or(e: &diesel::result::Error, row: &NewRow) -> SnippetError {
    row.checked
        .and_then(|limits| quota::refused(e, limits))
        .unwrap_or_else(|| e.into())
}

/// A leader's place, given back however the leader ends (a panic
/// included); a create queued meanwhile gets a new leader.
struct Place<I: Inserter>(Arc<Inner<I>>);

impl<I: Inserter> Drop for Place<I> {
    fn drop(&mut self) {
        let mut st = self.0.state();
        if st.queue.is_empty() {
            st.leaders -= 1;
        } else {
            // Keep the place for a successor: the queue is not empty.
            drop(st);
            tokio::spawn(Inner::lead(self.0.clone()));
        }
    }
}

mod insert_rows;
use insert_rows::InsertRows;

#[cfg(test)]
mod tests;
