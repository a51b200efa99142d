//! A test's database on a cluster of tests/common/pg.rs: its environment
//! for the app, psql as administrator, pg_stat_statements counts, locks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::pg::{Cluster, APP_USER, PASSWORD};

/// A number no other cluster or database of this process has used.
pub(super) fn next_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A database name no other test of this process (or another) has used.
pub(super) fn next_name() -> String {
    format!("t_{}_{}", std::process::id(), next_id())
}

pub struct TestDb {
    pub cluster: &'static Cluster,
    pub name: String,
}

impl TestDb {
    pub(super) fn new(cluster: &'static Cluster, name: String) -> TestDb {
        TestDb { cluster, name }
    }

    /// The app's connection, as ECS passes it (DB_* variables), and the
    /// test budgets of the rate limits.
    pub fn env(&self) -> HashMap<String, String> {
        [
            ("DB_HOST", self.cluster.host.clone()),
            ("DB_PORT", self.cluster.port.to_string()),
            ("DB_USERNAME", APP_USER.to_string()),
            ("DB_PASSWORD", PASSWORD.to_string()),
            ("DB_NAME", self.name.clone()),
            ("DB_SSLMODE", "disable".to_string()),
            // The limiter stays in every test's path (its headers, its
            // place in the stack) with budgets that load and fault tests
            // never reach; tests/api/limits/ sets its own.
            ("RATE_LIMIT_READS_PER_MINUTE", "1000000".to_string()),
            ("RATE_LIMIT_WRITES_PER_MINUTE", "1000000".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }

    /// How many times statements whose text is `LIKE pattern` ran in this
    /// database (pg_stat_statements, counted as each one ends); `None` on
    /// an external server (the extension is loaded only in our own clusters).
    pub fn calls(&self, pattern: &str) -> Option<i64> {
        self.statements("calls", pattern)
    }

    /// How many times those statements were planned (our clusters set
    /// `pg_stat_statements.track_planning`): a statement kept prepared
    /// runs on its cached generic plan without one.
    pub fn plans(&self, pattern: &str) -> Option<i64> {
        self.statements("plans", pattern)
    }

    /// Buffers (hit and read) those statements touched.
    pub fn buffers(&self, pattern: &str) -> Option<i64> {
        self.statements("shared_blks_hit + shared_blks_read", pattern)
    }

    fn statements(&self, column: &str, pattern: &str) -> Option<i64> {
        self.cluster.dir.as_ref()?;
        let sql = format!(
            "SELECT coalesce(sum({column}), 0) FROM pg_stat_statements s \
             JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = '{}' AND s.query LIKE '{pattern}'",
            self.name
        );
        Some(
            self.cluster
                .psql("postgres", &sql)
                .trim()
                .parse()
                .expect(column),
        )
    }

    /// Holds the snippets table in ACCESS EXCLUSIVE mode until the returned
    /// lock is released (or dropped); returns once the lock is held.
    pub fn hold_snippets(&self) -> TableLock {
        use std::io::Write;
        let mut session = self.cluster.psql_session(&self.name);
        let stdin = session.stdin.as_mut().expect("piped stdin");
        stdin
            .write_all(b"BEGIN; LOCK TABLE snippets IN ACCESS EXCLUSIVE MODE;\n")
            .expect("write to psql");
        stdin.flush().expect("write to psql");
        self.wait_for_lock();
        TableLock(Some(session))
    }

    /// How many sessions of the app role wait for a lock in this database.
    pub fn lock_waiters(&self) -> usize {
        self.cluster
            .psql(
                "postgres",
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
                     AND wait_event_type = 'Lock'",
                    self.name
                ),
            )
            .trim()
            .parse()
            .expect("a count")
    }

    fn wait_for_lock(&self) {
        let held = format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE d.datname = '{}' AND l.mode = 'AccessExclusiveLock' \
             AND l.locktype = 'relation' AND l.granted",
            self.name
        );
        assert!(
            super::wait_until(std::time::Duration::from_secs(10), || {
                self.cluster.psql("postgres", &held).trim() == "1"
            }),
            "the lock was never taken"
        );
    }

    /// Holds the snippets table in ACCESS EXCLUSIVE mode for `secs` seconds
    /// (every query on it waits); returns once the lock is held, with the
    /// thread that releases it.
    pub fn lock_snippets(&self, secs: u32) -> std::thread::JoinHandle<()> {
        let lock = self.hold_snippets();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(secs.into()));
            lock.release();
        })
    }
}

/// The snippets table held by a psql session (`TestDb::hold_snippets`).
pub struct TableLock(Option<std::process::Child>);

impl TableLock {
    /// Commits the holding transaction: every query that waited goes on.
    pub fn release(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if let Some(mut session) = self.0.take() {
            use std::io::Write;
            if let Some(mut stdin) = session.stdin.take() {
                let _ = stdin.write_all(b"COMMIT;\n");
            } // stdin closed here: psql exits
            let _ = session.wait();
        }
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        self.end();
    }
}
