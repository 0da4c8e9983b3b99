//! The apalis queue's storage: its own SQLite file by default, or PostgreSQL (schema `apalis`).
//!
//! apalis sets its own pragmas on the SQLite connections it is given (`synchronous = OFF` among
//! them), which is why the queue never shares the server's SQLite file.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::{PgPool, PostgresStorage};
use apalis_sqlite::{SqlitePool, SqliteStorage};
use sea_orm::sqlx;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Tables apalis-sqlite creates; a file holding any other table is not a job queue. SQLite's
/// own tables (`sqlite_sequence`, and `sqlite_stat1`/`sqlite_stat4`, which `PRAGMA optimize`
/// or `ANALYZE` add to any file) are never a sign of another owner.
const APALIS_SQLITE_TABLES: &[&str] = &["Jobs", "Workers", "_sqlx_migrations"];

/// A failure of the queue storage.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The URL is neither `sqlite:` nor `postgres:` (only its scheme is kept: the rest may
    /// hold a password).
    #[error("jobs.url must start with sqlite:// or postgres://, got a '{0}' URL")]
    BadUrl(String),
    /// The file exists but is not a job queue (or not a database at all).
    #[error(
        "{path} is not a skillmeat-server job queue ({reason}); it was left untouched. Point jobs.url (SKILLMEAT_JOBS__URL) at another file"
    )]
    NotOurs {
        /// The file.
        path: String,
        /// What was found.
        reason: String,
    },
    /// The database failed.
    #[error("job queue database: {0}")]
    Sql(#[from] sqlx::Error),
    /// apalis's set-up failed.
    #[error("setting up the job queue: {0}")]
    Setup(String),
    /// A push failed.
    #[error("queueing a job: {0}")]
    Push(String),
}

/// Where queued jobs live.
#[derive(Clone, Debug)]
pub enum QueueStore {
    /// A SQLite file of its own.
    Sqlite(SqlitePool),
    /// A PostgreSQL database (tables in schema `apalis`).
    Postgres(PgPool),
}

impl QueueStore {
    /// Opens the queue at `url` for `kinds` job kinds and creates or upgrades apalis's tables.
    /// A SQLite file that is not a job queue is refused without being written.
    pub async fn open(url: &str, kinds: usize) -> Result<Self, QueueError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Each kind's worker keeps one connection for LISTEN; four more serve the polls,
            // pushes and acknowledgements (fewer starved the queue for the pool's timeout).
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(kinds as u32 + 4)
                .connect(url)
                .await?;
            PostgresStorage::setup(&pool)
                .await
                .map_err(|e| QueueError::Setup(e.to_string()))?;
            return Ok(QueueStore::Postgres(pool));
        }
        if !url.starts_with("sqlite:") {
            let scheme = url.split_once(':').map_or("unknown", |(s, _)| s);
            return Err(QueueError::BadUrl(scheme.to_string()));
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(30));
        let path = options.get_filename().to_path_buf();
        if path.as_os_str() != ":memory:" {
            preflight(&path).await?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| QueueError::NotOurs {
                    path: parent.display().to_string(),
                    reason: format!("cannot create the folder: {e}"),
                })?;
            }
        }
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SqliteStorage::setup(&pool)
            .await
            .map_err(|e| QueueError::Setup(e.to_string()))?;
        Ok(QueueStore::Sqlite(pool))
    }

    /// Queues one job on `queue`, allowing `max_attempts` attempts.
    pub async fn push<T>(
        &self,
        queue: &str,
        payload: T,
        max_attempts: u32,
    ) -> Result<(), QueueError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
    {
        let task = TaskBuilder::new(payload)
            .max_attempts(max_attempts.max(1) as usize)
            .build();
        let pushed = match self {
            QueueStore::Sqlite(pool) => {
                let mut storage = SqliteStorage::<T>::new(pool)
                    .with_config(apalis_sqlite::Config::default().queue(queue));
                storage.push_task(task).await.map_err(|e| e.to_string())
            }
            QueueStore::Postgres(pool) => {
                let mut storage = PostgresStorage::<T>::new(pool)
                    .with_config(apalis_postgres::Config::default().queue(queue));
                storage.push_task(task).await.map_err(|e| e.to_string())
            }
        };
        pushed.map_err(QueueError::Push)
    }

    /// Checks the queue database answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            QueueStore::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            QueueStore::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Deletes finished queue entries older than `age` (the history lives in `job_runs`).
    pub async fn vacuum_older_than(&self, age: Duration) -> Result<u64, QueueError> {
        let Some(cutoff) = crate::older_than(age) else {
            return Ok(0);
        };
        let done = match self {
            QueueStore::Sqlite(pool) => sqlx::query(
                "DELETE FROM Jobs WHERE (status = 'Done' OR (status IN ('Failed', 'Killed') AND attempts >= max_attempts)) AND done_at IS NOT NULL AND done_at < ?",
            )
            .bind(cutoff.timestamp())
            .execute(pool)
            .await?
            .rows_affected(),
            QueueStore::Postgres(pool) => sqlx::query(
                "DELETE FROM apalis.jobs WHERE (status = 'Done' OR (status IN ('Failed', 'Killed') AND attempts >= max_attempts)) AND done_at IS NOT NULL AND done_at < $1",
            )
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            QueueStore::Sqlite(pool) => pool.close().await,
            QueueStore::Postgres(pool) => pool.close().await,
        }
    }
}

/// The tables of an existing SQLite file, read without changing it (opened read-only, before
/// any pragma could rewrite its header): `Ok(None)` when there is no file or it is empty,
/// `Err` with the reason when it is not a SQLite database. SQLite's own tables (`sqlite_*`)
/// are left out. Both the server's database and the job queue check their files with it.
pub async fn read_sqlite_tables(path: &Path) -> Result<Option<Vec<String>>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if meta.len() == 0 {
        return Ok(None);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(PathBuf::from(path))
        .read_only(true);
    let mut conn = sqlx::ConnectOptions::connect(&options)
        .await
        .map_err(|e| e.to_string())?;
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(Some(
        tables
            .into_iter()
            .map(|(name,)| name)
            .filter(|name| !name.starts_with("sqlite_"))
            .collect(),
    ))
}

/// Refuses an existing file that is not a SQLite database or holds tables apalis did not
/// create; a refused file stays byte-identical.
async fn preflight(path: &Path) -> Result<(), QueueError> {
    let not_ours = |reason: String| QueueError::NotOurs {
        path: path.display().to_string(),
        reason,
    };
    let Some(tables) = read_sqlite_tables(path).await.map_err(not_ours)? else {
        return Ok(());
    };
    let foreign: Vec<String> = tables
        .into_iter()
        .filter(|name| !APALIS_SQLITE_TABLES.contains(&name.as_str()))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(not_ours(format!(
            "it holds other tables: {}",
            foreign.join(", ")
        )))
    }
}
