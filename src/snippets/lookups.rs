//! `GET /snippets/{id}`, coalesced: lookups that wait at the same time share
//! one `WHERE id = ANY($1)` query (a lookup alone is `WHERE id = $1`), so
//! one connection check-out, one round trip and one statement execution
//! serve up to `BATCH_MAX` requests (docs/performance.md: the per-query cost
//! is most of an id lookup's CPU).
//!
//! A few lookups at a time lead: each checks out a connection, takes every
//! lookup queued meanwhile into its query, and answers them. The others
//! queue; when a leader is done it hands its place to the oldest queued
//! lookup. There is no timer and no extra task: a lone request runs its own
//! query in its own task, with no added wait, and batches grow only when
//! lookups arrive faster than queries return. Each query starts after every
//! lookup in it arrived, so a lookup still sees every write that was
//! answered before it was sent.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;
use uuid::Uuid;

use super::{access, store, Snippet, SnippetError};
use crate::auth::Caller;
use crate::db::{DbConn, DbPool};

/// Where lookups get their rows: the database in production, a fake in the
/// unit tests below (hand-off, cancellation and error fan-out, without a
/// database).
pub trait Loader: Send + Sync + 'static {
    type Conn: Send;
    /// One connection (for the whole batch).
    fn checkout(&self) -> impl Future<Output = Result<Self::Conn, SnippetError>> + Send;
    /// The snippets among `ids` (any order; missing ones left out).
    fn fetch(
        &self,
        conn: &mut Self::Conn,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<Snippet>, SnippetError>> + Send;
}

/// PostgreSQL through the pool.
pub struct DbLoader(pub DbPool);

impl Loader for DbLoader {
    type Conn = DbConn<'static>;

    async fn checkout(&self) -> Result<DbConn<'static>, SnippetError> {
        Ok(self.0.get_owned().await?)
    }

    async fn fetch(
        &self,
        c: &mut DbConn<'static>,
        ids: &[Uuid],
    ) -> Result<Vec<Snippet>, SnippetError> {
        match ids {
            [id] => store::find(c, *id).await.map(Vec::from_iter),
            _ => {
                // Always BATCH_MAX ids (the index scan drops the repeats).
                // The generic plan is costed for an array of 10, dearer than
                // a custom plan for a few ids, so PostgreSQL would plan the
                // statement again on every execution; against 32 ids the
                // generic plan wins and is kept after five executions
                // (pg_prepared_statements.generic_plans).
                let mut ids = ids.to_vec();
                ids.resize(BATCH_MAX, ids[0]);
                store::find_many(c, &ids).await
            }
        }
    }
}

/// Ids per query: enough to absorb a busy queue, small enough that one
/// index probe per id stays a sub-millisecond statement.
const BATCH_MAX: usize = 32;

pub struct Lookups<L: Loader = DbLoader> {
    loader: L,
    leaders_max: usize,
    state: Mutex<State>,
    /// Lookups answered per query (`snippetd_lookup_batch_size`).
    batch_size: ::metrics::Histogram,
}

#[derive(Default)]
struct State {
    /// Lookups leading now, plus those handed a place and not yet awake.
    leaders: usize,
    queue: VecDeque<Waiter>,
}

struct Waiter {
    id: Uuid,
    tx: oneshot::Sender<Msg>,
}

enum Msg {
    /// Boxed: a snippet row is large next to `Lead`.
    Done(Box<Result<Option<Snippet>, SnippetError>>),
    /// A leader's place, already counted in `leaders`.
    Lead,
}

impl Lookups<DbLoader> {
    pub fn new(pool: DbPool) -> Lookups {
        Lookups::with_loader(pool.batch_queries(), DbLoader(pool))
    }
}

impl<L: Loader> Lookups<L> {
    pub fn with_loader(leaders_max: usize, loader: L) -> Lookups<L> {
        Lookups {
            loader,
            leaders_max,
            state: Mutex::default(),
            batch_size: ::metrics::histogram!(crate::metrics::LOOKUP_BATCH),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned queue is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The snippet `id` as `caller` may see it: another owner's private
    /// snippet is `NotFound`, the same answer as an id that never existed.
    ///
    /// The one place a read by id checks visibility after fetching rather
    /// than in SQL: the query is shared by whichever lookups wait at the
    /// same time, whoever their callers, so it cannot carry one caller's
    /// filter. Fetch and check are in this one function so that no caller
    /// of `Lookups` can get a row without the check; docs/architecture.md
    /// says why this is the one exception to "filter in SQL".
    pub async fn get_for(&self, caller: &Caller, id: Uuid) -> Result<Snippet, SnippetError> {
        let s = self.get(id).await?;
        if access::can_read(caller, s.owner.as_deref(), s.visibility) {
            Ok(s)
        } else {
            Err(SnippetError::NotFound)
        }
    }

    /// Unchecked: only for [`Lookups::get_for`] and the unit tests below.
    async fn get(&self, id: Uuid) -> Result<Snippet, SnippetError> {
        let mut retry = false;
        loop {
            let rx = {
                let mut st = self.state();
                if st.leaders < self.leaders_max {
                    st.leaders += 1;
                    None
                } else {
                    let (tx, rx) = oneshot::channel();
                    // A lookup whose leader gave up goes back to the front.
                    let w = Waiter { id, tx };
                    if retry {
                        st.queue.push_front(w);
                    } else {
                        st.queue.push_back(w);
                    }
                    Some(rx)
                }
            };
            let leading = match rx {
                None => true,
                Some(rx) => {
                    let mut waiting = Waiting {
                        lookups: self,
                        rx: Some(rx),
                    };
                    let msg = waiting.rx.as_mut().expect("set above").await;
                    waiting.rx = None;
                    match msg {
                        Ok(Msg::Done(r)) => return (*r)?.ok_or(SnippetError::NotFound),
                        Ok(Msg::Lead) => true,
                        // The leader that took this lookup was cancelled.
                        Err(_) => false,
                    }
                }
            };
            if leading {
                let _place = Leading(self);
                return self.lead(id).await?.ok_or(SnippetError::NotFound);
            }
            retry = true;
        }
    }

    /// One query for `id` and the lookups queued once a connection is held.
    async fn lead(&self, id: Uuid) -> Result<Option<Snippet>, SnippetError> {
        let mut conn = self.loader.checkout().await;
        // When the pool failed, every queued lookup gets the error now
        // instead of waiting a check-out timeout each.
        let limit = if conn.is_ok() {
            BATCH_MAX - 1
        } else {
            usize::MAX
        };
        let mut batch = Vec::new();
        {
            let mut st = self.state();
            while batch.len() < limit {
                match st.queue.pop_front() {
                    // Its request timed out or its client left.
                    Some(w) if w.tx.is_closed() => {}
                    Some(w) => batch.push(w),
                    None => break,
                }
            }
        }
        if conn.is_ok() {
            self.batch_size.record((batch.len() + 1) as f64);
        }
        // Borrowed, not moved out: a second copy of the connection (464
        // bytes) would stay in this future's state (`-Zprint-type-sizes`).
        let result = match &mut conn {
            Ok(c) => {
                let mut ids: Vec<Uuid> = batch.iter().map(|w| w.id).collect();
                ids.push(id);
                self.loader.fetch(c, &ids).await
            }
            Err(e) => Err(e.clone()),
        };
        // Back to the pool before the answers go out.
        drop(conn);
        for w in batch {
            let answer = match &result {
                Ok(rows) => Ok(rows.iter().find(|s| s.id == w.id).cloned()),
                Err(e) => Err(e.clone()),
            };
            let _ = w.tx.send(Msg::Done(Box::new(answer)));
        }
        Ok(result?.into_iter().find(|s| s.id == id))
    }

    /// Gives back a leader's place and hands it on.
    fn release(&self) {
        let mut st = self.state();
        st.leaders -= 1;
        self.promote(&mut st);
    }

    /// Hands free places to the oldest queued lookups still waiting.
    fn promote(&self, st: &mut State) {
        while st.leaders < self.leaders_max {
            let Some(w) = st.queue.pop_front() else {
                return;
            };
            if w.tx.send(Msg::Lead).is_ok() {
                st.leaders += 1;
            }
        }
    }
}

/// A leader's place, given back (and handed on) however the lookup ends,
/// including its request being cancelled mid-query.
struct Leading<'a, L: Loader>(&'a Lookups<L>);

impl<L: Loader> Drop for Leading<'_, L> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A queued lookup. If its request is cancelled after it was handed a
/// place but before it woke, the place is handed on.
struct Waiting<'a, L: Loader> {
    lookups: &'a Lookups<L>,
    rx: Option<oneshot::Receiver<Msg>>,
}

impl<L: Loader> Drop for Waiting<'_, L> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // After close() nothing more can be sent: what is there is final.
            rx.close();
            if let Ok(Msg::Lead) = rx.try_recv() {
                self.lookups.release();
            }
        }
    }
}

#[cfg(test)]
mod tests;
