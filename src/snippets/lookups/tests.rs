//! Unit tests of snippets/lookups.rs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

#[test]
fn a_quarter_of_the_pool_at_least_two_at_most_the_pool() {
    let c: Vec<usize> = [1, 2, 3, 8, 10, 32]
        .map(crate::db::DbPool::batch_queries_for)
        .into();
    assert_eq!(c, [1, 2, 2, 2, 3, 8]);
}

fn snippet(id: Uuid) -> Snippet {
    let t = time::OffsetDateTime::UNIX_EPOCH;
    Snippet {
        id,
        title: id.to_string(),
        language: "x".into(),
        code: "x".into(),
        description: None,
        tags: vec![],
        created_at: t,
        updated_at: t,
        version: 1,
        owner: Some("a".into()),
        expires_at: None,
        // Ids ending in 5 are private.
        visibility: if id.as_u128() % 10 == 5 {
            crate::snippets::Visibility::Private
        } else {
            crate::snippets::Visibility::Public
        },
        forked_from_id: None,
        forked_from_version: None,
    }
}

/// A private snippet fetched in a batch shared with its owner is still
/// a 404 for everyone else, however the batch was formed.
#[tokio::test(start_paused = true)]
async fn get_for_hides_private_rows_from_others() {
    use crate::auth::{Scope, Scopes};
    let (l, _) = lookups(
        1,
        Fake {
            delay: Duration::from_millis(5),
            ..Fake::default()
        },
    );
    let owner = Caller::Owner {
        handle: "a".into(),
        token_id: Uuid::nil(),
        scopes: Scopes::of(&[Scope::SnippetsRead]),
        expires_at: None,
    };
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let l = l.clone();
            let who = if n % 2 == 0 {
                owner.clone()
            } else {
                Caller::Anonymous
            };
            tokio::spawn(async move { (l.get_for(&who, Uuid::from_u128(5)).await, n) })
        })
        .collect();
    for t in tasks {
        let (r, n) = t.await.unwrap();
        if n % 2 == 0 {
            assert!(r.is_ok());
        } else {
            assert!(matches!(r, Err(SnippetError::NotFound)));
        }
    }
}

/// A database stand-in: checkouts and fetches each take `delay`
/// (virtual time), ids ending in 0 do not exist, and it records how
/// many fetches ran, the largest batch and the most at once.
#[derive(Default)]
struct Fake {
    delay: Duration,
    fail: bool,
    fetches: AtomicUsize,
    largest: AtomicUsize,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl Loader for Arc<Fake> {
    type Conn = ();

    async fn checkout(&self) -> Result<(), SnippetError> {
        tokio::time::sleep(self.delay).await;
        if self.fail {
            Err(SnippetError::Unavailable("pool timed out".into()))
        } else {
            Ok(())
        }
    }

    async fn fetch(&self, _: &mut (), ids: &[Uuid]) -> Result<Vec<Snippet>, SnippetError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.largest.fetch_max(ids.len(), Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(ids
            .iter()
            .filter(|id| id.as_u128() % 10 != 0)
            .map(|id| snippet(*id))
            .collect())
    }
}

fn lookups(leaders: usize, fake: Fake) -> (Arc<Lookups<Arc<Fake>>>, Arc<Fake>) {
    let fake = Arc::new(fake);
    (Arc::new(Lookups::with_loader(leaders, fake.clone())), fake)
}

type Task = tokio::task::JoinHandle<Result<Snippet, SnippetError>>;

/// One spawned lookup per id in `ids`, each after `delay(n)`.
fn spawn_all(
    l: &Arc<Lookups<Arc<Fake>>>,
    ids: std::ops::RangeInclusive<u128>,
    delay: fn(u128) -> Duration,
) -> Vec<Task> {
    ids.map(|n| {
        let l = l.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay(n)).await;
            l.get(Uuid::from_u128(n)).await
        })
    })
    .collect()
}

fn at_once(_: u128) -> Duration {
    Duration::ZERO
}

#[tokio::test(start_paused = true)]
async fn queued_lookups_share_a_query_and_each_gets_its_own_row() {
    let (l, fake) = lookups(
        1,
        Fake {
            delay: Duration::from_millis(10),
            ..Fake::default()
        },
    );
    for (n, t) in (1..=20u128).zip(spawn_all(&l, 1..=20, at_once)) {
        match t.await.unwrap() {
            Ok(s) => assert_eq!(s.id, Uuid::from_u128(n)),
            Err(SnippetError::NotFound) => assert_eq!(n % 10, 0),
            Err(e) => panic!("{n}: {e}"),
        }
    }
    // The first leads; everything that queued while it waited for its
    // connection goes into its query.
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(fake.largest.load(Ordering::SeqCst), 20);
    assert_eq!(fake.most_at_once.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_checkout_answers_the_whole_queue_at_once() {
    let (l, fake) = lookups(
        1,
        Fake {
            delay: Duration::from_millis(10),
            fail: true,
            ..Fake::default()
        },
    );
    let tasks = spawn_all(&l, 1..=8, at_once);
    let started = tokio::time::Instant::now();
    for t in tasks {
        assert!(matches!(
            t.await.unwrap(),
            Err(SnippetError::Unavailable(_))
        ));
    }
    // Two checkouts (the first leader's, then one for the rest), not
    // one timeout per lookup.
    assert!(
        started.elapsed() <= Duration::from_millis(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_hands_its_place_on() {
    let (l, _fake) = lookups(
        1,
        Fake {
            delay: Duration::from_millis(50),
            ..Fake::default()
        },
    );
    let leader = spawn_all(&l, 1..=1, at_once).remove(0);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let followers = spawn_all(&l, 2..=6, at_once);
    tokio::time::sleep(Duration::from_millis(1)).await;
    // The leader's request is cancelled mid-checkout (client gone).
    leader.abort();
    for (n, f) in (2..=6u128).zip(followers) {
        let r = tokio::time::timeout(Duration::from_secs(1), f).await;
        assert_eq!(r.unwrap().unwrap().unwrap().id, Uuid::from_u128(n));
    }
    assert_eq!(l.state().leaders, 0, "every place was given back");
}

#[tokio::test(start_paused = true)]
async fn at_most_leaders_max_queries_at_once_and_every_place_returns() {
    let (l, fake) = lookups(
        3,
        Fake {
            delay: Duration::from_millis(5),
            ..Fake::default()
        },
    );
    let spread = |n: u128| Duration::from_micros((n * 37 % 400) as u64);
    for (n, t) in (1..=500u128).zip(spawn_all(&l, 1..=500, spread)) {
        let r = t.await.unwrap();
        if n % 10 != 0 {
            assert_eq!(r.unwrap().id, Uuid::from_u128(n));
        }
    }
    assert!(fake.most_at_once.load(Ordering::SeqCst) <= 3);
    assert!(fake.largest.load(Ordering::SeqCst) <= BATCH_MAX);
    assert_eq!(l.state().leaders, 0);
    assert!(l.state().queue.is_empty());
}
