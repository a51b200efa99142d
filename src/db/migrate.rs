//! Embedded diesel migrations, applied through `AsyncConnectionWrapper` (no
//! libpq) under a PostgreSQL advisory lock, so that tasks starting together
//! apply each migration exactly once.
//!
//! The lock is a session lock: it needs a real session, not a
//! transaction-mode pooler (RDS Proxy, pgbouncer in transaction mode).
//!
//! With an application role (`APP_DB_USERNAME`), the same locked session
//! then creates or updates that role and its grants: see [`app_role`].

use diesel::sql_types::{Bool, Text};
use diesel::QueryableByName;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbError;
use crate::config::AppRole;

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

/// Applies every pending migration, then (with `app`) creates or updates
/// the application role and its grants; returns the versions it applied.
pub async fn run(conn: AsyncPgConnection, app: Option<AppRole>) -> Result<Vec<String>, DbError> {
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
            .map_err(|e| DbError::Migration(e.to_string()))
            .and_then(|applied| match &app {
                Some(app) => app_role::ensure(&mut conn, app).map(|()| applied),
                None => Ok(applied),
            });
        // Closing the session releases the lock too; unlock explicitly so a
        // pooled session never keeps it.
        let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"));
        result
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

/// The least-privilege role `serve` connects as (docs/deploy.md, "Database
/// roles"): it may read and write the application's rows and nothing else.
/// No DDL (no CREATE on schema public: PostgreSQL 15+ no longer grants that
/// to PUBLIC, https://www.postgresql.org/docs/release/15.0/, and it is
/// checked below), no TRUNCATE, no other schema, not the owner of anything
/// and not a member of the migrating role.
///
/// Grants are re-applied on every `migrate`, in the session that has just
/// migrated, rather than with `ALTER DEFAULT PRIVILEGES`: default privileges
/// only cover objects created by the role that set them, so a table created
/// by any other role would be missed silently, and they leave `pg_default_acl`
/// entries that stop a later `DROP ROLE`. Re-granting makes the rights match
/// the schema each time; the role's privileges are first revoked, so a
/// right granted by hand does not linger.
mod app_role {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{Array, Bool, Text};
    use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_async::AsyncPgConnection;
    use secrecy::ExposeSecret;

    use super::DbError;
    use crate::config::AppRole;

    type Conn = AsyncConnectionWrapper<AsyncPgConnection>;

    /// Run in order after CREATE/ALTER ROLE; `%I` is the role.
    const PRIVILEGES: &[&str] = &[
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I",
        "REVOKE CREATE ON SCHEMA public FROM %I",
        "GRANT USAGE ON SCHEMA public TO %I",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I",
        // `serve` reads the applied versions (it refuses a stale schema);
        // only `migrate` writes them.
        "REVOKE INSERT, UPDATE, DELETE ON TABLE __diesel_schema_migrations FROM %I",
    ];

    #[derive(QueryableByName)]
    struct Sql {
        #[diesel(sql_type = Text)]
        sql: String,
    }

    #[derive(QueryableByName)]
    struct Existing {
        #[diesel(sql_type = Bool)]
        privileged: bool,
        #[diesel(sql_type = Bool)]
        owner_member: bool,
    }

    #[derive(QueryableByName)]
    struct Flag {
        #[diesel(sql_type = Bool)]
        flag: bool,
    }

    /// A statement with its identifiers and literals quoted by the server's
    /// own `format()` (`%I`, `%L`), from bound parameters: no quoting here.
    fn statement(conn: &mut Conn, template: &str, args: &[&str]) -> QueryResult<String> {
        diesel::sql_query("SELECT format($1, VARIADIC $2) AS sql")
            .bind::<Text, _>(template)
            .bind::<Array<Text>, _>(args)
            .get_result::<Sql>(conn)
            .map(|r| r.sql)
    }

    fn apply(conn: &mut Conn, app: &AppRole) -> Result<&'static str, String> {
        let user = app.user.as_str();
        let existing = diesel::sql_query(
            "SELECT (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls) \
             AS privileged, pg_has_role(rolname, current_user, 'MEMBER') AS owner_member \
             FROM pg_roles WHERE rolname = $1",
        )
        .bind::<Text, _>(user)
        .get_results::<Existing>(conn)
        .map_err(|e| e.to_string())?;
        if let Some(role) = existing.first() {
            if role.privileged {
                return Err("the role exists with SUPERUSER, CREATEROLE, CREATEDB, \
                            REPLICATION or BYPASSRLS; refusing to use it as the application role"
                    .into());
            }
            if role.owner_member {
                return Err(
                    "the role is a member of the migrating role, so it could act as \
                            the schema owner; revoke that membership"
                        .into(),
                );
            }
        }
        // Hashed here, as psql's \password does: the server (and a
        // log_statement = 'ddl' log) only ever sees the SCRAM verifier.
        let verifier =
            postgres_protocol::password::scram_sha_256(app.password.expose_secret().as_bytes());
        let (template, done) = if existing.is_empty() {
            ("CREATE ROLE %I LOGIN PASSWORD %L", "created")
        } else {
            ("ALTER ROLE %I LOGIN PASSWORD %L", "password set")
        };
        conn.transaction(|c| {
            let role = statement(c, template, &[user, &verifier])?;
            c.batch_execute(&role)?;
            for t in PRIVILEGES {
                let grant = statement(c, t, &[user])?;
                c.batch_execute(&grant)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .map_err(|e| e.to_string())?;
        Ok(done)
    }

    pub(super) fn ensure(conn: &mut Conn, app: &AppRole) -> Result<(), DbError> {
        let done = apply(conn, app).map_err(|e| {
            let hint = if e.contains("permission denied") {
                " (the migrating role needs CREATEROLE, as the RDS master user has)"
            } else {
                ""
            };
            DbError::Migration(format!("application role {:?}: {e}{hint}", app.user))
        })?;
        log::info!(
            "application role {:?}: {done}; SELECT, INSERT, UPDATE, DELETE granted on the tables of schema public",
            app.user
        );
        let can_create =
            diesel::sql_query("SELECT has_schema_privilege($1, 'public', 'CREATE') AS flag")
                .bind::<Text, _>(&app.user)
                .get_result::<Flag>(conn)
                .map(|f| f.flag)
                .unwrap_or(false);
        if can_create {
            log::warn!(
                "application role {:?} can still CREATE in schema public (granted to PUBLIC \
                 before PostgreSQL 15): run REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                app.user
            );
        }
        Ok(())
    }
}
