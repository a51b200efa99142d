//! The search budget: searches (lists with `tag` or `q`) run at most
//! `SEARCH_CONCURRENCY` at once and queue behind each other for at most
//! `DB_POOL_TIMEOUT_MS`, before they take a pooled connection. A search
//! that meets two common filters that rarely meet can hold a connection for
//! a long time; without the budget a few of them took every connection and
//! id lookups and writes got 503 (docs/performance.md, "Search at a
//! million rows"). With it, the rest of the pool is always theirs.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::SnippetError;
use crate::metrics as m;

pub struct Searches {
    slots: Semaphore,
    wait: Duration,
    /// `snippetd_search_queued_total`: searches that found every slot taken.
    queued: ::metrics::Counter,
    /// `snippetd_search_rejected_total`: those still waiting after `wait` (503).
    rejected: ::metrics::Counter,
}

impl Searches {
    pub fn new(slots: u32, wait: Duration) -> Searches {
        Searches {
            slots: Semaphore::new(slots as usize),
            wait,
            queued: ::metrics::counter!(m::SEARCH_QUEUED),
            rejected: ::metrics::counter!(m::SEARCH_REJECTED),
        }
    }

    /// A slot, held until the permit drops (after the search's last query).
    /// Waiters are served in arrival order (tokio's semaphore is fair).
    pub async fn slot(&self) -> Result<SemaphorePermit<'_>, SnippetError> {
        if let Ok(p) = self.slots.try_acquire() {
            return Ok(p);
        }
        self.queued.increment(1);
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            // The semaphore is never closed; treat it as busy all the same.
            Ok(Err(_)) | Err(_) => {
                self.rejected.increment(1);
                Err(SnippetError::Unavailable(
                    "too many searches in progress; try again shortly".into(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_budget_queues_then_rejects() {
        let s = Searches::new(1, Duration::from_millis(50));
        let held = s.slot().await.unwrap();
        assert!(matches!(s.slot().await, Err(SnippetError::Unavailable(_))));
        drop(held);
        assert!(s.slot().await.is_ok());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_slot_when_it_is_released() {
        let s = std::sync::Arc::new(Searches::new(1, Duration::from_secs(5)));
        let held = s.slot().await.unwrap();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.slot().await.map(drop).is_ok() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }
}
