//! Persistence, on SQLite (the default: one file under the data folder, WAL mode, busy
//! connections wait instead of failing) or PostgreSQL (`DATABASE_URL=postgres://…`, for
//! several replicas). Queries go through sqlx's `Any` driver, so each is written once:
//! `$N` placeholders (which SQLite accepts too) and SQL both databases speak; the few
//! places where they differ ask [`Store::kind`]. Each database has its own migrations
//! (`migrations/sqlite/`, `migrations/postgres/`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Executor};
use tracing::info;

use crate::{EngineError, Result};

mod coordination;
mod copy;
mod releases;

pub(crate) use coordination::Turn;
pub use copy::CopyReport;
pub use releases::{
    ApplicationRecord, ApplicationResult, EventRecord, NewApproval, NewRelease, NewStep,
    ReleaseFilter, ReleaseRecord, StepRecord,
};

/// How long a statement waits for a locked SQLite database before giving up. Writers
/// are short, so a wait this long only expires when something is really stuck.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The advisory lock that orders event writes on PostgreSQL ("PROMEVNT" in ASCII).
const EVENT_ORDER_LOCK: i64 = 0x50524f4d45564e54;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a store talks to, for status pages and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// The same database for web sessions, through the typed pool `tower-sessions`' stores
/// take.
#[derive(Clone, Debug)]
pub enum SessionPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The database handle: a connection pool with migrations applied.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    kind: DatabaseKind,
    sessions: SessionPool,
}

/// Timestamps are stored as RFC 3339 text in UTC: sortable, readable, and the same in
/// SQLite and PostgreSQL.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// Opens the database named by `url` (`sqlite:…` or `postgres://…`), or
    /// `<data_dir>/promenade.db` when there is no URL, creating the folder and the
    /// SQLite file on first start, and applies the migrations.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        match url {
            Some(url) if is_postgres(url) => Self::open_postgres(url).await,
            Some(url) => Self::open_sqlite(sqlite_options(url)?).await,
            None => {
                let file = private_data_dir(data_dir).map_err(|source| EngineError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                Self::open_sqlite(SqliteConnectOptions::new().filename(file)).await
            }
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        // Creates the file, turns WAL on (it stays on) and migrates, with sqlx's own
        // SQLite options; the shared pool then opens the same file through `Any`.
        // Migrations run on a connection of their own with foreign keys off: a table
        // others refer to can only be rebuilt (SQLite's way to change a constraint)
        // without them cascading the old table's drop.
        let migrating = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().foreign_keys(false))
            .await?;
        let migrated = SQLITE_MIGRATIONS.run(&migrating).await;
        migrating.close().await;
        migrated?;
        let sessions = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await?;
        let url = format!("sqlite://{}", options.get_filename().display());
        let timeout = SQLITE_BUSY_TIMEOUT.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            // An in-process database cannot drop a connection: pinging one before every
            // query would only double each query's round trips to its worker thread.
            .test_before_acquire(false)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    // Per connection: what `SqliteConnectOptions` would have set.
                    connection
                        .execute(&*format!(
                            "PRAGMA busy_timeout = {timeout}; PRAGMA foreign_keys = ON; \
                             PRAGMA synchronous = NORMAL;"
                        ))
                        .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        info!(database = "sqlite", "database ready, migrations applied");
        Ok(Self {
            pool,
            kind: DatabaseKind::Sqlite,
            sessions: SessionPool::Sqlite(sessions),
        })
    }

    async fn open_postgres(url: &str) -> Result<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| EngineError::UnsupportedDatabase {
                url: promenade_model::redact::url(url),
                reason: e.to_string(),
            })?;
        let sessions = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        // sqlx takes an advisory lock while migrating: replicas starting together wait
        // for the first one instead of racing it.
        POSTGRES_MIGRATIONS.run(&sessions).await?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        info!(database = "postgres", "database ready, migrations applied");
        Ok(Self {
            pool,
            kind: DatabaseKind::Postgres,
            sessions: SessionPool::Postgres(sessions),
        })
    }

    /// A connection for `LISTEN` (PostgreSQL only): how replicas hear of each other's
    /// changes at once.
    pub(crate) async fn listener(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        let SessionPool::Postgres(pool) = &self.sessions else {
            return Ok(None);
        };
        let options = pool.connect_options();
        let listen = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with((*options).clone());
        Ok(Some(
            sqlx::postgres::PgListener::connect_with(&listen).await?,
        ))
    }

    /// The pool web sessions use: the same database, typed for `tower-sessions`.
    pub(crate) fn session_pool(&self) -> &SessionPool {
        &self.sessions
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// Succeeds when the database answers a query: the readiness probe.
    pub(crate) async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The migrations applied so far, newest last.
    pub(crate) async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let versions: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        Ok(versions.into_iter().map(|(v,)| v).collect())
    }

    /// Closes every connection; later calls fail. Used by graceful shutdown.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
        match &self.sessions {
            SessionPool::Sqlite(pool) => pool.close().await,
            SessionPool::Postgres(pool) => pool.close().await,
        }
    }
}

/// The data folder, readable by the server's user only (0700), and the database file in
/// it, created 0600 before SQLite opens it (its journal files take the same mode) and
/// never through a symbolic link planted in its place.
fn private_data_dir(data_dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let file = data_dir.join("promenade.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        // `create_new` fails on an existing path, a link included, instead of following it.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::symlink_metadata(&file)?.file_type().is_symlink() {
                    return Err(std::io::Error::other(format!(
                        "{} is a symbolic link; the database must be a plain file",
                        file.display()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(data_dir)?;
    Ok(file)
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    if !url.starts_with("sqlite:") {
        return Err(EngineError::UnsupportedDatabase {
            url: promenade_model::redact::url(url),
            reason: "only sqlite: and postgres:// URLs are supported".into(),
        });
    }
    SqliteConnectOptions::from_str(url).map_err(|e| EngineError::UnsupportedDatabase {
        url: promenade_model::redact::url(url),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::release::ReleaseStatus;

    /// The releases table was rebuilt by a migration (0012): an installation made before
    /// keeps its releases, the rows that refer to them, and the cascade between them.
    #[tokio::test]
    async fn upgrading_keeps_releases_and_what_refers_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let older = dir.path().join("older-migrations");
        std::fs::create_dir_all(&older).unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
        for entry in std::fs::read_dir(&all).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().as_ref() < "0012" {
                std::fs::copy(entry.path(), older.join(entry.file_name())).unwrap();
            }
        }
        let before = sqlx::migrate::Migrator::new(older.as_path()).await.unwrap();
        let options = SqliteConnectOptions::new()
            .filename(data.join("promenade.db"))
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        before.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO releases (id, product, flow, status, source, created_by, created_at)
             VALUES ('r1', 'shop', 'standard', 'running', '{}', 'alice', '2026-01-01T00:00:00Z')",
            "INSERT INTO release_steps (release_id, environment, position, depends_on, status, action)
             VALUES ('r1', 'qa', 0, '[]', 'pending', 'commit')",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::open(None, &data).await.unwrap();
        let release = store.release("r1").await.unwrap().unwrap();
        assert_eq!(release.steps.len(), 1);
        assert_eq!(release.created_by, "alice");
        store
            .set_release_status("r1", ReleaseStatus::Superseded, Some("r2"))
            .await
            .unwrap();
        let release = store.release("r1").await.unwrap().unwrap();
        assert_eq!(release.status, ReleaseStatus::Superseded);
        assert_eq!(release.superseded_by.as_deref(), Some("r2"));
        let (problems,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pragma_foreign_key_check")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(problems, 0);
        sqlx::query("DELETE FROM releases WHERE id = 'r1'")
            .execute(&store.pool)
            .await
            .unwrap();
        let (steps,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM release_steps")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(steps, 0, "a release's steps still go with it");
    }

    #[tokio::test]
    async fn first_start_creates_the_data_folder_and_applies_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let store = Store::open(None, &data).await.unwrap();
        assert!(data.join("promenade.db").is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&data), 0o700, "the data folder is the server's alone");
            assert_eq!(mode(&data.join("promenade.db")), 0o600);
        }
        store.ping().await.unwrap();
        let applied = store.applied_migrations().await.unwrap();
        assert_eq!(applied.len(), SQLITE_MIGRATIONS.iter().count());

        // A second start finds the migrations applied and changes nothing.
        store.close().await;
        let again = Store::open(None, &data).await.unwrap();
        assert_eq!(again.applied_migrations().await.unwrap(), applied);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_database_file_replaced_by_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.db");
        std::fs::write(&elsewhere, b"").unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink(&elsewhere, data.join("promenade.db")).unwrap();
        let refused = Store::open(None, &data).await.unwrap_err().to_string();
        assert!(refused.contains("is a symbolic link"), "{refused}");
    }

    #[tokio::test]
    async fn uses_wal_so_readers_do_not_block_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn rejects_urls_of_databases_this_build_does_not_speak() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(
            Some("mysql://admin:hunter2@db.internal/promenade"),
            dir.path(),
        )
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("not supported"), "{message}");
        assert!(!message.contains("hunter2"), "password leaked: {message}");
    }

    #[tokio::test]
    async fn a_closed_store_fails_its_readiness_probe() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        store.close().await;
        assert!(store.ping().await.is_err());
    }
}
