//! Unit tests of snippets/creates.rs: the coalescer against a fake
//! inserter (no database), in paused time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use time::OffsetDateTime;

/// Stores every row it is given, after `delay`, except that a statement
/// holding a row titled "refused" is refused whole (a check violation),
/// and one holding "lost" loses its connection. Records each statement.
#[derive(Default)]
struct Fake {
    delay: Duration,
    statements: Mutex<Vec<Vec<String>>>,
    checkouts: AtomicUsize,
    no_connection: bool,
}

impl Inserter for Arc<Fake> {
    type Conn = ();

    async fn checkout(&self) -> Result<(), SnippetError> {
        self.checkouts.fetch_add(1, Ordering::SeqCst);
        if self.no_connection {
            return Err(SnippetError::Unavailable("no connection".into()));
        }
        Ok(())
    }

    async fn insert(&self, _: &mut (), rows: &[&NewRow]) -> Result<Vec<Snippet>, DieselError> {
        tokio::time::sleep(self.delay).await;
        let titles: Vec<String> = rows.iter().map(|r| r.input.title.clone()).collect();
        self.statements.lock().unwrap().push(titles.clone());
        let refuse =
            |kind, why: &str| Err(DieselError::DatabaseError(kind, Box::new(why.to_string())));
        if titles.iter().any(|t| t == "lost") {
            return refuse(DatabaseErrorKind::ClosedConnection, "connection closed");
        }
        if titles.iter().any(|t| t == "refused") {
            return refuse(DatabaseErrorKind::CheckViolation, "check violated");
        }
        Ok(rows.iter().map(|r| stored(r)).collect())
    }
}

fn stored(r: &NewRow) -> Snippet {
    let t = OffsetDateTime::UNIX_EPOCH;
    Snippet {
        id: r.id,
        title: r.input.title.clone(),
        language: r.input.language.clone(),
        code: r.input.code.clone(),
        description: None,
        tags: vec![],
        created_at: t,
        updated_at: t,
        version: 1,
        owner: r.owner.clone(),
        expires_at: None,
        visibility: r.visibility,
        forked_from_id: None,
        forked_from_version: None,
    }
}

fn row(title: &str, owner: &str) -> NewRow {
    NewRow {
        id: Uuid::now_v7(),
        input: SnippetInput {
            title: title.into(),
            language: "l".into(),
            code: "c".into(),
            description: None,
            tags: vec![],
            visibility: None,
            expiry: Default::default(),
        },
        owner: Some(owner.into()),
        visibility: Visibility::Public,
        forked_from: None,
        checked: None,
    }
}

/// `n` creates at the same moment, their answers in order.
async fn at_once(
    c: &Arc<Creates<Arc<Fake>>>,
    rows: Vec<NewRow>,
) -> Vec<Result<Snippet, SnippetError>> {
    let tasks: Vec<_> = rows
        .into_iter()
        .map(|r| {
            let c = c.clone();
            tokio::spawn(async move { c.create(r).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Creates that wait while one statement runs share the next: one leader,
/// 12 creates, a lone first statement and then one of the 11 others.
#[tokio::test(start_paused = true)]
async fn creates_that_wait_together_share_one_statement() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(10),
        ..Fake::default()
    });
    let c = Arc::new(Creates::with_inserter(1, fake.clone()));
    let answers = at_once(&c, (0..12).map(|i| row(&format!("s{i}"), "a")).collect()).await;
    assert!(answers.iter().all(Result::is_ok));
    let sizes: Vec<usize> = fake
        .statements
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 12);
    assert!(sizes.len() <= 3, "coalesced: {sizes:?}");
    assert_eq!(
        AtomicUsize::load(&fake.checkouts, Ordering::SeqCst),
        1,
        "one leader, one connection"
    );
    // Each create gets its own row back.
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.as_ref().unwrap().title, format!("s{i}"));
    }
}

/// A statement PostgreSQL refuses fails none of its neighbours: the
/// unchecked rows go in again together, the refused row fails alone.
#[tokio::test(start_paused = true)]
async fn a_refused_row_fails_alone() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(10),
        ..Fake::default()
    });
    let c = Arc::new(Creates::with_inserter(1, fake.clone()));
    let mut rows: Vec<NewRow> = (0..6).map(|i| row(&format!("s{i}"), "a")).collect();
    rows.insert(3, row("refused", "a"));
    let answers = at_once(&c, rows).await;
    let failed: Vec<usize> = (0..answers.len())
        .filter(|i| answers[*i].is_err())
        .collect();
    assert_eq!(failed, [3], "{answers:?}");
    assert!(matches!(answers[3], Err(SnippetError::Internal(_))));
    // Every good row was stored exactly once.
    let stored: Vec<String> = fake
        .statements
        .lock()
        .unwrap()
        .iter()
        .filter(|s| !s.contains(&"refused".to_string()))
        .flatten()
        .cloned()
        .collect();
    assert_eq!(stored.len(), 6, "{stored:?}");
}

/// A lost connection answers its statement's creates 503 (whether it
/// committed is unknown) and the leader gives the connection up; the
/// creates after it get a new leader and a new connection.
#[tokio::test(start_paused = true)]
async fn a_lost_connection_is_a_503_and_a_new_connection() {
    let fake = Arc::new(Fake::default());
    let c = Arc::new(Creates::with_inserter(1, fake.clone()));
    let r = c.create(row("lost", "a")).await;
    assert!(matches!(r, Err(SnippetError::Unavailable(_))), "{r:?}");
    assert!(c.create(row("after", "a")).await.is_ok());
    assert_eq!(AtomicUsize::load(&fake.checkouts, Ordering::SeqCst), 2);
}

/// No connection: every queued create is answered at once with the
/// error, none waits for a check-out of its own.
#[tokio::test(start_paused = true)]
async fn no_connection_answers_the_whole_queue() {
    let fake = Arc::new(Fake {
        no_connection: true,
        ..Fake::default()
    });
    let c = Arc::new(Creates::with_inserter(1, fake.clone()));
    let answers = at_once(&c, (0..5).map(|i| row(&format!("s{i}"), "a")).collect()).await;
    assert!(answers
        .iter()
        .all(|a| matches!(a, Err(SnippetError::Unavailable(_)))));
    assert!(AtomicUsize::load(&fake.checkouts, Ordering::SeqCst) <= 5);
    assert!(fake.statements.lock().unwrap().is_empty());
}

/// A batch is in owner order, so two leaders lock owners' quotas in the
/// same order (no deadlock), and one owner's rows are adjacent.
#[tokio::test(start_paused = true)]
async fn a_batch_is_in_owner_order() {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(10),
        ..Fake::default()
    });
    let c = Arc::new(Creates::with_inserter(1, fake.clone()));
    let owners = ["c", "a", "b", "a", "c", "b", "a"];
    let rows = owners.iter().map(|o| row(&format!("{o}-x"), o)).collect();
    let answers = at_once(&c, rows).await;
    assert!(answers.iter().all(Result::is_ok));
    for s in fake.statements.lock().unwrap().iter() {
        let mut sorted = s.clone();
        sorted.sort();
        assert_eq!(*s, sorted, "owner order within a statement");
    }
}
