//! Opening the server's database (SQLite or PostgreSQL, chosen by the URL) and migrating it.
//!
//! SQLite files get WAL, foreign keys and a busy timeout so concurrent writers wait instead of
//! failing. A database that holds tables but not our migration ledger is somebody else's (for
//! example SkillMeat's own `cache.db`): it is refused, never migrated or overwritten.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

use crate::config::{DatabaseKind, database_kind, redact_url};

/// How long a SQLite writer waits for the lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbOpenError {
    /// The URL names an engine we do not support.
    #[error("database url '{0}' has an unknown scheme; allowed: sqlite://<path> or postgres://...")]
    UnknownScheme(String),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder {path} for the database: {source}")]
    CreateDir {
        /// The folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database holds tables that are not ours.
    #[error(
        "the database at {url} is not a skillmeat-server database (it has tables such as {tables} \
         but no seaql_migrations); refusing to touch it. Point database.url at a new file or an \
         empty database"
    )]
    NotOurs {
        /// Where.
        url: String,
        /// Some of the foreign tables.
        tables: String,
    },
    /// Connecting or migrating failed.
    #[error("database at {url}: {source}")]
    Db {
        /// Where.
        url: String,
        /// The cause.
        #[source]
        source: DbErr,
    },
}

/// Connects to the database at `url`, creating a SQLite file and its folders when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbOpenError> {
    connect_pool(url, POOL_SIZE).await
}

/// Each SQLite connection's page cache, in KiB as SQLite takes it (negative).
const SQLITE_CACHE_KIB: i64 = -512;
/// Prepared statements each SQLite connection keeps.
const SQLITE_STATEMENTS: usize = 32;

/// Connections in the server's pool on SQLite (one writer at a time; readers share).
const POOL_SIZE: u32 = 8;

/// A connection of its own for schema changes: a pool of one, to be closed afterwards.
///
/// SQLite migrations run outside a transaction (sea-orm-migration wraps only PostgreSQL's), so
/// on a pool their statements spread over several connections. sqlx leaves a `fetch_one`'s
/// statement open until that connection runs its next one, and a connection with an open
/// statement still sees the schema from before another connection's `DROP TABLE`: a
/// `CREATE TABLE IF NOT EXISTS` there is skipped and the `CREATE INDEX` after it fails with
/// "index ... already exists" (seen once under load; `migrations::
/// schema_changes_never_meet_a_pooled_connection_with_an_old_schema` reproduces it on a pool).
/// One connection sees every change it made itself.
pub async fn connect_for_migrations(url: &str) -> Result<DatabaseConnection, DbOpenError> {
    connect_pool(url, 1).await
}

async fn connect_pool(url: &str, sqlite_pool_size: u32) -> Result<DatabaseConnection, DbOpenError> {
    let kind = database_kind(url).map_err(|_| DbOpenError::UnknownScheme(redact_url(url)))?;
    let mut opts = ConnectOptions::new(url.to_string());
    // A request waits this long for a connection. SQLite waits only for its own pool (busy
    // writers); PostgreSQL may be gone, and then a quick 503 beats a hung request.
    let acquire = if kind == DatabaseKind::Sqlite { 30 } else { 5 };
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(acquire));
    if kind == DatabaseKind::Sqlite {
        if let Some(path) = sqlite_file(url)
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            {
                std::fs::create_dir_all(parent).map_err(|source| DbOpenError::CreateDir {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
        // The file is created on first use; every pooled connection gets the same pragmas.
        // A local file cannot drop a pooled connection the way a network can, so skip the ping
        // sqlx would otherwise send before handing out each connection (a round trip per query).
        opts.max_connections(sqlite_pool_size)
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    // Each connection keeps its own copy of the pages it read (2 MB by default)
                    // and of the statements it prepared (100 by default): about 3 MB of the
                    // server's resident memory at the defaults. The system's page cache holds
                    // the file anyway, and the hot reads are answered from memory
                    // (`crate::memo`) without SQL.
                    .pragma("cache_size", SQLITE_CACHE_KIB.to_string())
                    .statement_cache_capacity(SQLITE_STATEMENTS)
            });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts)
        .await
        .map_err(|source| DbOpenError::Db {
            url: redact_url(url),
            source,
        })
}

/// The file behind a `sqlite://` URL, if it names one (not `:memory:`).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let opts = SqliteConnectOptions::from_str(url).ok()?;
    let path = opts.get_filename();
    (path.as_os_str() != ":memory:" && !path.as_os_str().is_empty()).then(|| path.to_path_buf())
}

/// Refuses a database that has tables but no `seaql_migrations` ledger.
pub async fn ensure_ours(db: &DatabaseConnection, url: &str) -> Result<(), DbOpenError> {
    let tables = list_tables(db).await.map_err(|source| DbOpenError::Db {
        url: redact_url(url),
        source,
    })?;
    owned(url, tables)
}

/// Ours when empty or when it holds our migration ledger.
fn owned(url: &str, tables: Vec<String>) -> Result<(), DbOpenError> {
    if tables.is_empty() || tables.iter().any(|t| t == "seaql_migrations") {
        return Ok(());
    }
    Err(DbOpenError::NotOurs {
        url: redact_url(url),
        tables: tables.into_iter().take(5).collect::<Vec<_>>().join(", "),
    })
}

async fn list_tables(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect()
}

/// Looks into an existing SQLite file read-only, before any pragma (WAL rewrites the header)
/// could change a database that turns out not to be ours.
pub async fn preflight_sqlite(url: &str) -> Result<(), DbOpenError> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    match jobs::queue::read_sqlite_tables(&path).await {
        Ok(None) => Ok(()),
        Ok(Some(tables)) => owned(url, tables),
        Err(reason) => Err(DbOpenError::Db {
            url: redact_url(url),
            source: DbErr::Custom(reason),
        }),
    }
}

/// Connects, checks ownership and applies every pending migration (on a connection of its
/// own, see [`connect_for_migrations`]); returns the server's pool.
pub async fn open_and_migrate(url: &str) -> Result<DatabaseConnection, DbOpenError> {
    if database_kind(url) == Ok(DatabaseKind::Sqlite) {
        preflight_sqlite(url).await?;
    }
    let db_err = |source| DbOpenError::Db {
        url: redact_url(url),
        source,
    };
    let schema = connect_for_migrations(url).await?;
    ensure_ours(&schema, url).await?;
    Migrator::up(&schema, None).await.map_err(db_err)?;
    schema.close().await.map_err(db_err)?;
    connect(url).await
}

/// `COUNT(*)` of a query's rows. SeaORM's paginator counts over a subquery that selects every
/// column; this lets the database answer from an index.
pub async fn count_rows<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
) -> Result<u64, DbErr> {
    use sea_orm::{QuerySelect, sea_query::Expr};
    let n: Option<i64> = select
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.unwrap_or(0) as u64)
}

/// A cheap round trip, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

/// Is this a unique-constraint violation?
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Starts a write transaction that holds the write lock from its first statement (SQLite
/// `BEGIN IMMEDIATE`; on PostgreSQL callers lock the rows they change with `lock_exclusive`).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A new 32-hex-character id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
