//! The database's data version: a token that changes whenever any connection, of this
//! instance or another, commits a change, read so that a request never trusts a token older
//! than itself.
//!
//! - SQLite: `PRAGMA data_version` on a read-only connection of its own (the pragma ignores
//!   the asking connection's own commits, so it must not be one of the pool's), asked in place
//!   by each request: it reads SQLite's shared WAL index, no disk and no thread hop. A
//!   reconnect starts a new generation, so tokens of two connections never compare equal.
//! - PostgreSQL: the current snapshot (`pg_current_snapshot()`): equal snapshots see exactly
//!   the same committed transactions. That is a round trip, so it is **coalesced**: a request
//!   needs a probe that *started after it arrived* (so every commit it could know of is
//!   counted); one probe runs at a time, and requests arriving while it runs wait for the next
//!   one, which then answers all of them. Under load one probe serves many requests.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// A PostgreSQL probe that takes longer than this counts as failed (the caller then reads
/// uncached).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the SQLite probe waits for a lock (only while SQLite recovers a WAL) before the
/// read goes uncached.
const SQLITE_PROBE_BUSY: Duration = Duration::from_millis(100);

/// An opaque version; equal tokens mean no commit in between.
pub type Token = Arc<str>;

/// The shared data-version probe; cheap to clone.
#[derive(Clone)]
pub struct DataVersion {
    inner: Arc<Inner>,
}

struct Inner {
    probe: Probe,
    /// The newest version a probe returned.
    latest: Mutex<Option<Token>>,
    state: Mutex<ProbeState>,
    /// `(probe number, its result)` of the newest finished PostgreSQL probe.
    done: tokio::sync::watch::Sender<(u64, Option<Token>)>,
}

#[derive(Default)]
struct ProbeState {
    /// Probes started so far (the running one included).
    started: u64,
    running: bool,
    /// A request arrived while a probe ran: start another when it ends.
    wanted: bool,
}

enum Probe {
    /// A read-only connection of its own, asked in place: the pragma reads SQLite's shared
    /// WAL index, a matter of microseconds, so every request probes for itself.
    Sqlite {
        path: PathBuf,
        /// The connection and its generation (bumped on each reconnect).
        conn: Mutex<(u64, Option<Connection>)>,
    },
    /// A round trip to the server: shared by the requests that arrive together.
    Postgres(DatabaseConnection),
    /// No shared view of changes (an in-memory SQLite database): nothing is ever memoised.
    None,
}

impl DataVersion {
    /// The probe for the database at `url` whose pool is `db`.
    pub fn new(url: &str, db: &DatabaseConnection) -> Self {
        let probe = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => Probe::Postgres(db.clone()),
            sea_orm::DatabaseBackend::Sqlite => match crate::db::sqlite_file(url) {
                Some(path) => Probe::Sqlite {
                    path,
                    conn: Mutex::new((0, None)),
                },
                None => Probe::None,
            },
            _ => Probe::None,
        };
        Self {
            inner: Arc::new(Inner {
                probe,
                latest: Mutex::new(None),
                state: Mutex::new(ProbeState::default()),
                done: tokio::sync::watch::channel((0, None)).0,
            }),
        }
    }

    /// The version as of now (a probe started after this call); `None` when it cannot be
    /// known, and then nothing may be served from memory.
    pub async fn current(&self) -> Option<Token> {
        match &self.inner.probe {
            Probe::Sqlite { path, conn } => self.probe_sqlite(path, conn),
            Probe::Postgres(_) => self.shared_probe().await,
            Probe::None => None,
        }
    }

    /// The newest version any probe returned (to refuse storing results read before it).
    pub fn latest(&self) -> Option<Token> {
        lock(&self.inner.latest).clone()
    }

    fn probe_sqlite(
        &self,
        path: &PathBuf,
        conn: &Mutex<(u64, Option<Connection>)>,
    ) -> Option<Token> {
        let mut guard = lock(conn);
        let (generation, slot) = &mut *guard;
        if slot.is_none() {
            *generation += 1;
            *slot = open_probe(path)
                .map_err(
                    |e| tracing::warn!(error = %e, "data version probe: cannot open the database"),
                )
                .ok();
        }
        let connection = slot.as_ref()?;
        let version = connection.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0));
        match version {
            Ok(v) => {
                let token: Token = format!("{generation}:{v}").into();
                // Recorded under the connection's lock, so `latest` only moves forward.
                *lock(&self.inner.latest) = Some(token.clone());
                Some(token)
            }
            Err(e) => {
                tracing::warn!(error = %e, "data version probe failed; reconnecting");
                *slot = None;
                None
            }
        }
    }

    /// One PostgreSQL probe for every request that arrived before it started.
    async fn shared_probe(&self) -> Option<Token> {
        let mut done = self.inner.done.subscribe();
        let needed = {
            let mut s = lock(&self.inner.state);
            let needed = s.started + 1;
            if s.running {
                s.wanted = true;
            } else {
                s.running = true;
                s.started = needed;
                // Its own task: a request that goes away mid-probe must not strand the others.
                tokio::spawn(self.clone().run_probes(needed));
            }
            needed
        };
        let result = done.wait_for(|(n, _)| *n >= needed).await;
        result.ok().and_then(|r| r.1.clone())
    }

    async fn run_probes(self, mut number: u64) {
        loop {
            let token = tokio::time::timeout(PROBE_TIMEOUT, self.probe_postgres())
                .await
                .ok()
                .flatten();
            let mut s = lock(&self.inner.state);
            *lock(&self.inner.latest) = token.clone();
            self.inner.done.send_replace((number, token));
            if !s.wanted {
                s.running = false;
                return;
            }
            s.wanted = false;
            s.started += 1;
            number = s.started;
        }
    }

    async fn probe_postgres(&self) -> Option<Token> {
        let Probe::Postgres(db) = &self.inner.probe else {
            return None;
        };
        let row = db
            .query_one_raw(Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_current_snapshot()::text AS v",
            ))
            .await
            .map_err(|e| tracing::warn!(error = %e, "data version probe failed"))
            .ok()??;
        row.try_get::<String>("", "v").ok().map(Into::into)
    }
}

/// A read-only connection that never holds a transaction open between probes.
fn open_probe(path: &PathBuf) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(SQLITE_PROBE_BUSY)?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
