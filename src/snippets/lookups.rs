//! `GET /snippets/{id}`, coalesced: lookups that wait at the same time share
//! one `WHERE id = ANY($1)` query, so one connection check-out, one round
//! trip and one statement execution serve up to `BATCH_MAX` requests
//! (docs/performance.md: the per-query cost is most of an id lookup's CPU).
//!
//! There is no timer: a worker takes whatever is queued once it holds a
//! connection, so a lone request costs one query and no added wait, and
//! batches grow only when lookups arrive faster than queries return. Each
//! query starts after every request in its batch arrived, so a lookup still
//! sees every write that was answered before it was sent.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::{store, Snippet, SnippetError};
use crate::db::DbPool;

/// Ids per query: enough to absorb a pool's worth of queued requests, small
/// enough that one index probe per id stays a sub-millisecond statement.
const BATCH_MAX: usize = 32;

/// Lookups waiting for a worker; beyond this, callers wait to enqueue
/// (bounded by the request timeout like any other wait).
const QUEUE_MAX: usize = 4096;

/// Lookup queries in flight at once: a quarter of the pool, at least 2 (one
/// slow query does not stall every lookup), at most the pool. Fewer, fuller
/// batches cost the database less than many small ones: on the bench's
/// 2 cores, 2 or 3 workers served 1.3–1.5 times the requests 10 did, and
/// even 2 workers at 32 ids a query outrun a pool's worth of single lookups
/// (docs/performance.md). The rest of the pool stays free for writes and
/// lists.
fn workers(pool_size: u32) -> usize {
    (pool_size.div_ceil(4).max(2).min(pool_size)) as usize
}

type Reply = oneshot::Sender<Result<Option<Snippet>, SnippetError>>;
type Queue = Arc<Mutex<mpsc::Receiver<(Uuid, Reply)>>>;

/// The handle requests use; the workers stop when the last handle is dropped.
pub struct Lookups {
    tx: mpsc::Sender<(Uuid, Reply)>,
}

impl Lookups {
    /// Starts the workers on the current runtime, each holding at most one
    /// pooled connection at a time.
    pub fn start(pool: DbPool) -> Lookups {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let queue: Queue = Arc::new(Mutex::new(rx));
        for _ in 0..workers(pool.max_size()) {
            tokio::spawn(worker(pool.clone(), queue.clone()));
        }
        Lookups { tx }
    }

    pub async fn get(&self, id: Uuid) -> Result<Snippet, SnippetError> {
        let stopped = || SnippetError::Unavailable("the lookup workers have stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send((id, reply)).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())??
            .ok_or(SnippetError::NotFound)
    }
}

async fn worker(pool: DbPool, queue: Queue) {
    loop {
        // Idle workers wait in turn on the queue; the lock is released
        // as soon as one lookup has been taken.
        let Some(first) = queue.lock().await.recv().await else {
            return;
        };
        let conn = pool.get().await;
        let mut batch = vec![first];
        // Whatever queued meanwhile joins this query. If the lock is taken,
        // an idle worker is waiting on an empty queue: nothing to add. When
        // the pool failed, every queued lookup gets the error now instead of
        // waiting a pool timeout each.
        let limit = if conn.is_ok() { BATCH_MAX } else { QUEUE_MAX };
        if let Ok(mut rx) = queue.try_lock() {
            while batch.len() < limit {
                match rx.try_recv() {
                    Ok(lookup) => batch.push(lookup),
                    Err(_) => break,
                }
            }
        }
        // Requests that timed out or whose client left need no answer.
        batch.retain(|(_, reply)| !reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let result = match conn {
            Ok(mut c) => {
                let mut ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
                ids.sort_unstable();
                ids.dedup();
                store::get_many(&mut c, &ids).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(rows) => {
                for (id, reply) in batch {
                    let _ = reply.send(Ok(rows.iter().find(|s| s.id == id).cloned()));
                }
            }
            Err(e) => {
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_quarter_of_the_pool_at_least_two_at_most_the_pool() {
        let w: Vec<usize> = [1, 2, 3, 8, 10, 32].map(super::workers).into();
        assert_eq!(w, [1, 2, 2, 2, 3, 8]);
    }
}
