//! Embedded diesel migrations, applied through `AsyncConnectionWrapper` (no
//! libpq) under a PostgreSQL advisory lock, so that tasks starting together
//! apply each migration exactly once.
//!
//! The lock is a session lock: it needs a real session, not a
//! transaction-mode pooler (RDS Proxy, pgbouncer in transaction mode).

use diesel::sql_types::{Bool, Text};
use diesel::QueryableByName;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory-lock key: the first 8 bytes of "snippetd" read as an i64.
const LOCK_KEY: i64 = i64::from_be_bytes(*b"snippetd");

/// Versions of the embedded migrations, oldest first.
pub fn embedded_versions() -> Vec<String> {
    diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|ms| ms.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Embedded migrations not yet applied. Reads only: it creates nothing.
pub async fn pending(conn: &mut AsyncPgConnection) -> Result<Vec<String>, DbError> {
    let table: Exists =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
            .get_result(conn)
            .await?;
    let applied: Vec<String> = if table.exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    Ok(embedded_versions()
        .into_iter()
        .filter(|v| !applied.contains(v))
        .collect())
}

/// Applies every pending migration; returns the versions it applied.
pub async fn run(conn: AsyncPgConnection) -> Result<Vec<String>, DbError> {
    // The wrapper blocks on the runtime internally: keep it off the workers.
    tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        // Migrations may take longer than a request's statement timeout, and
        // waiting for another task's migration is expected.
        conn.batch_execute("SET statement_timeout = 0; SET lock_timeout = '10min'")
            .map_err(|e| DbError::Migration(e.to_string()))?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))
            .map_err(|e| DbError::Migration(format!("cannot take the migration lock: {e}")))?;
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| DbError::Migration(e.to_string()));
        // Closing the session releases the lock too; unlock explicitly so a
        // pooled session never keeps it.
        let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"));
        result
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}
