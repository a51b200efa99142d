//! The search budget: searches (lists with `tag` or `q`) run at most
//! `SEARCH_CONCURRENCY` at once and queue behind each other for at most
//! `DB_POOL_TIMEOUT_MS`, before they take a pooled connection. A search
//! that meets two common filters that rarely meet can hold a connection for
//! a long time; without the budget a few of them took every connection and
//! id lookups and writes got 503 (docs/performance.md, "Search at a
//! million rows"). With it, the rest of the pool is always theirs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::SnippetError;
use crate::metrics as m;

pub struct Searches {
    slots: Semaphore,
    wait: Duration,
    /// Searches one client (an owner, or an address /64) may run or wait
    /// for at once (`SEARCH_PER_CLIENT`): past it, 429. Without it, one
    /// anonymous client with 10 connections, inside its rate limit, held
    /// every slot and half of everyone's searches got 503 (issue 31).
    per_client: u32,
    /// Searches running or waiting, by client; a client with none is
    /// removed, so the map holds at most `slots + waiters` entries.
    held: Mutex<HashMap<Box<str>, u32>>,
    /// `snippetd_search_queued_total`: searches that found every slot taken.
    queued: ::metrics::Counter,
    /// `snippetd_search_rejected_total`: those still waiting after `wait` (503).
    rejected: ::metrics::Counter,
    /// `snippetd_search_refused_total`: searches of a client already at
    /// its share (429).
    refused: ::metrics::Counter,
}

/// A search slot, held until it drops (after the search's last query).
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
    _share: Share<'a>,
}

/// One of a client's searches, counted until it drops.
struct Share<'a> {
    of: &'a Searches,
    client: Box<str>,
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let mut held = self.of.lock();
        if let Some(n) = held.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

impl Searches {
    /// `per_client` 0: a quarter of the slots, at least 1.
    pub fn new(slots: u32, wait: Duration, per_client: u32) -> Searches {
        Searches {
            slots: Semaphore::new(slots as usize),
            wait,
            per_client: match per_client {
                0 => (slots / 4).max(1),
                n => n,
            },
            held: Mutex::new(HashMap::new()),
            queued: ::metrics::counter!(m::SEARCH_QUEUED),
            rejected: ::metrics::counter!(m::SEARCH_REJECTED),
            refused: ::metrics::counter!(m::SEARCH_REFUSED),
        }
    }

    /// A slot for `client`'s search. A client already running or waiting
    /// for its share gets `Busy` (429) at once; the others wait in arrival
    /// order (tokio's semaphore is fair) for at most `wait`, then 503.
    pub async fn slot(&self, client: &str) -> Result<Slot<'_>, SnippetError> {
        let share = {
            let mut held = self.lock();
            let n = held.entry(client.into()).or_insert(0);
            if *n >= self.per_client {
                drop(held);
                self.refused.increment(1);
                return Err(SnippetError::Busy(
                    "this client's searches already take its share of the search slots; \
                     try again when one has finished"
                        .into(),
                ));
            }
            *n += 1;
            Share {
                of: self,
                client: client.into(),
            }
        };
        if let Ok(p) = self.slots.try_acquire() {
            return Ok(Slot {
                _permit: p,
                _share: share,
            });
        }
        self.queued.increment(1);
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(p)) => Ok(Slot {
                _permit: p,
                _share: share,
            }),
            // The semaphore is never closed; treat it as busy all the same.
            Ok(Err(_)) | Err(_) => {
                self.rejected.increment(1);
                Err(SnippetError::Unavailable(
                    "too many searches in progress; try again shortly".into(),
                ))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, u32>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_budget_queues_then_rejects() {
        let s = Searches::new(1, Duration::from_millis(50), 1);
        let held = s.slot("a").await.unwrap();
        assert!(matches!(
            s.slot("b").await,
            Err(SnippetError::Unavailable(_))
        ));
        drop(held);
        assert!(s.slot("b").await.is_ok());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_slot_when_it_is_released() {
        let s = std::sync::Arc::new(Searches::new(1, Duration::from_secs(5), 1));
        let held = s.slot("a").await.unwrap();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.slot("b").await.map(drop).is_ok() });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn one_client_holds_at_most_its_share() {
        // 8 slots: a quarter each, 2.
        let s = Searches::new(8, Duration::from_millis(50), 0);
        let a1 = s.slot("a").await.unwrap();
        let _a2 = s.slot("a").await.unwrap();
        assert!(matches!(s.slot("a").await, Err(SnippetError::Busy(_))));
        // Everyone else still finds slots.
        let _b = s.slot("b").await.unwrap();
        drop(a1);
        let _a3 = s.slot("a").await.unwrap();
        assert!(matches!(s.slot("a").await, Err(SnippetError::Busy(_))));
        // A client's count goes when its last search does.
        drop(_b);
        assert!(!s.lock().contains_key("b"));
    }
}
