//! The artifact cache: the `cached_artifacts` table in front of the artifact sources.
//!
//! Reads of one artifact go through [`CacheService::get_or_fill`]: a fresh row is a hit; a miss or
//! an expired row consults the source once (single flight per id, so a burst of requests for a
//! cold entry reads the source once) and stores the result. [`CacheService::sync_all`] is the
//! refresh: it compares each listed item's fingerprint with the cached one and re-reads only what
//! changed. The cache holds nothing that is not in a source: clearing it loses nothing.

pub mod background;
mod changes;
pub mod listing;
pub mod metrics;
mod read;
mod refresh;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::{cache_meta, cached_artifacts};
use futures::StreamExt;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;

pub use metrics::CacheMetrics;

pub use crate::scope::Scope;
use crate::source::{ArtifactId, ArtifactSource, SourceArtifact, SourceError, SourceItem};

/// Version of the cache tables' layout; stored in `cache_meta` so a mismatch can be detected.
pub const CACHE_SCHEMA_VERSION: &str = "1";
/// `cache_meta` key of the schema version.
pub const META_SCHEMA_VERSION: &str = "schema_version";
/// `cache_meta` key of the last completed full refresh (absent: the cache is cold).
pub const META_LAST_FULL_SYNC: &str = "last_full_sync";
/// `cache_meta` key of the collection names seen by the last full refresh (JSON list).
pub const META_COLLECTIONS: &str = "collections";
/// A hit refreshes `last_accessed` at most this often, so reads do not turn into writes.
const ACCESS_TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);
/// How long read access times are collected before they are written in one statement.
const TOUCH_FLUSH_DELAY: Duration = Duration::from_millis(200);
/// Ids per statement when bumping expiry in bulk.
const BULK_CHUNK: usize = 400;
/// Rows per insert statement when a refresh writes fresh reads.
const WRITE_BATCH: usize = 20;
/// Source reads a refresh keeps in flight: half the cores (at least one), so a forced refresh
/// leaves CPU for the requests it runs beside.
fn read_parallelism() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

/// A failure inside the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The refresh scope names nothing the sources have, or is malformed.
    #[error("{0}")]
    Scope(String),
    /// A cached row could not be (de)serialised.
    #[error("cached data is not valid: {0}")]
    Data(#[from] serde_json::Error),
}

/// A cached artifact and how it was served.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The row (its `data` is moved into `artifact`).
    pub row: cached_artifacts::Model,
    /// The record stored in the row.
    pub artifact: SourceArtifact,
    /// True when served without consulting the source.
    pub hit: bool,
}

/// What a full refresh did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncReport {
    /// Items the source listed.
    pub listed: u64,
    /// New rows.
    pub added: u64,
    /// Rows re-read because their fingerprint changed (or `force`).
    pub updated: u64,
    /// Rows whose fingerprint matched: nothing read.
    pub unchanged: u64,
    /// Unchanged rows whose TTL had expired: expiry extended (a subset of `unchanged`).
    pub revalidated: u64,
    /// Warm only: entries read in the last day that the sources still have, re-validated first.
    pub recent_revalidated: u64,
    /// Rows dropped because the source no longer has them.
    pub removed: u64,
    /// Per-artifact failures, as `id: message`.
    pub errors: Vec<String>,
    /// Wall time.
    pub duration_ms: u64,
    /// True when this call waited for a refresh that was already running and reused it.
    pub coalesced: bool,
    /// True when the job running it was cancelled: it stopped before its next artifact, and
    /// nothing was dropped for not being listed.
    pub cancelled: bool,
    /// Ids of the added rows (for live events).
    #[serde(skip)]
    pub added_ids: Vec<String>,
    /// Ids of the re-read rows.
    #[serde(skip)]
    pub updated_ids: Vec<String>,
    /// Ids of the dropped rows.
    #[serde(skip)]
    pub removed_ids: Vec<String>,
}

impl SyncReport {
    /// Takes over what another pass changed (not what it listed or found unchanged: the warm's
    /// passes overlap).
    fn absorb_changes(&mut self, other: SyncReport) {
        self.added += other.added;
        self.updated += other.updated;
        self.removed += other.removed;
        self.revalidated += other.revalidated;
        self.errors.extend(other.errors);
        self.added_ids.extend(other.added_ids);
        self.updated_ids.extend(other.updated_ids);
        self.removed_ids.extend(other.removed_ids);
    }
}

/// Counts and ages of the cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStatus {
    /// Rows.
    pub entries: u64,
    /// Rows past their TTL.
    pub expired_entries: u64,
    /// Bytes of cached JSON.
    pub bytes: u64,
    /// Hits since start.
    pub hits: u64,
    /// Misses since start.
    pub misses: u64,
    /// hits / (hits + misses); 0 when nothing was read.
    pub hit_rate: f64,
    /// Oldest `last_updated`.
    pub oldest_entry: Option<DateTime<Utc>>,
    /// Newest `last_updated`.
    pub newest_entry: Option<DateTime<Utc>>,
    /// Last completed full refresh.
    pub last_full_sync: Option<DateTime<Utc>>,
    /// Stored cache schema version.
    pub schema_version: Option<String>,
    /// TTL applied to new rows.
    pub ttl_secs: u64,
}

/// The cache service, shared by handlers (cheap to clone).
#[derive(Clone)]
pub struct CacheService {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    source: Arc<dyn ArtifactSource>,
    ttl: Duration,
    metrics: Arc<CacheMetrics>,
    fill_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where the refresh's source reads run (threads at a lower CPU priority).
    background: background::BackgroundReads,
    /// Rows read since the last access-time flush.
    pending_touches: Mutex<PendingTouches>,
    sync_lock: tokio::sync::Mutex<()>,
    sync_generation: AtomicU64,
    /// Where the cache says what changed.
    events: crate::events::EventBus,
}

impl CacheService {
    /// A cache over `db`, filled from `source`, with `ttl` for new rows; what its refreshes
    /// change is published on `events`.
    pub fn new(
        db: DatabaseConnection,
        source: Arc<dyn ArtifactSource>,
        ttl: Duration,
        events: crate::events::EventBus,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                source,
                ttl,
                metrics: Arc::new(CacheMetrics::default()),
                fill_locks: Mutex::new(HashMap::new()),
                pending_touches: Mutex::new(PendingTouches::default()),
                background: background::BackgroundReads::new(),
                sync_lock: tokio::sync::Mutex::new(()),
                sync_generation: AtomicU64::new(0),
                events,
            }),
        }
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The source behind the cache.
    pub fn source(&self) -> &Arc<dyn ArtifactSource> {
        &self.inner.source
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<CacheMetrics> {
        &self.inner.metrics
    }

    /// Checks the stored cache schema version. None stored: records ours. A different one: the
    /// cache rows were written by another layout, so they are dropped (nothing else is touched)
    /// and the version is updated; the start-up warm refills them. Returns true on a rebuild.
    pub async fn check_schema_version(&self) -> Result<bool, CacheError> {
        match self.meta(META_SCHEMA_VERSION).await? {
            Some(v) if v == CACHE_SCHEMA_VERSION => Ok(false),
            None => {
                self.set_meta(META_SCHEMA_VERSION, CACHE_SCHEMA_VERSION)
                    .await?;
                Ok(false)
            }
            Some(found) => {
                let dropped = self.clear().await?;
                self.set_meta(META_SCHEMA_VERSION, CACHE_SCHEMA_VERSION)
                    .await?;
                tracing::warn!(
                    found,
                    expected = CACHE_SCHEMA_VERSION,
                    dropped,
                    "cache schema version changed: cache entries dropped, a warm refills them"
                );
                Ok(true)
            }
        }
    }

    /// Counts and ages, for `/api/v1/cache/status` and `/metrics`.
    pub async fn status(&self) -> Result<CacheStatus, CacheError> {
        use cached_artifacts::Column as C;
        let (entries, bytes, oldest, newest): StatusRow = cached_artifacts::Entity::find()
            .select_only()
            .column_as(C::Id.count(), "entries")
            .column_as(C::DataBytes.sum().cast_as(Alias::new("bigint")), "bytes")
            .column_as(C::LastUpdated.min(), "oldest")
            .column_as(C::LastUpdated.max(), "newest")
            .into_tuple()
            .one(self.db())
            .await?
            .unwrap_or((0, None, None, None));
        let expired = cached_artifacts::Entity::find()
            .filter(C::ExpiresAt.lt(Utc::now()))
            .select_only()
            .column_as(C::Id.count(), "n")
            .into_tuple::<i64>()
            .one(self.db())
            .await?
            .unwrap_or(0);
        let hits = self.inner.metrics.hits.get();
        let misses = self.inner.metrics.misses.get();
        let total = hits + misses;
        Ok(CacheStatus {
            entries: entries as u64,
            expired_entries: expired as u64,
            bytes: bytes.unwrap_or(0) as u64,
            hits,
            misses,
            hit_rate: if total == 0 {
                0.0
            } else {
                hits as f64 / total as f64
            },
            oldest_entry: oldest,
            newest_entry: newest,
            last_full_sync: self
                .meta(META_LAST_FULL_SYNC)
                .await?
                .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
                .map(|d| d.with_timezone(&Utc)),
            schema_version: self.meta(META_SCHEMA_VERSION).await?,
            ttl_secs: self.inner.ttl.as_secs(),
        })
    }

    /// Collection names seen by the last full refresh.
    pub async fn known_collections(&self) -> Result<Vec<String>, CacheError> {
        Ok(self
            .meta(META_COLLECTIONS)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    async fn find(&self, artifact_id: &str) -> Result<Option<cached_artifacts::Model>, DbErr> {
        cached_artifacts::Entity::find()
            .filter(cached_artifacts::Column::ArtifactId.eq(artifact_id))
            .one(self.db())
            .await
    }

    /// A `cache_meta` value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, DbErr> {
        Ok(cache_meta::Entity::find_by_id(key.to_string())
            .one(self.db())
            .await?
            .map(|m| m.value))
    }

    /// Writes a `cache_meta` value.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), DbErr> {
        let model = cache_meta::ActiveModel {
            key: Set(key.to_string()),
            value: Set(value.to_string()),
            updated_at: Set(Utc::now()),
        };
        cache_meta::Entity::insert(model)
            .on_conflict(
                OnConflict::column(cache_meta::Column::Key)
                    .update_columns([cache_meta::Column::Value, cache_meta::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await?;
        Ok(())
    }
}

/// Access times waiting to be written.
#[derive(Default)]
struct PendingTouches {
    /// Rows read since the last flush.
    ids: HashSet<i64>,
    /// A flush task is sleeping and will write `ids`.
    flush_scheduled: bool,
}

/// What a refresh's read of one item gave: the item, whether it is new to the cache, and its
/// row (None: gone meanwhile) or the error text.
type ReadOutcome = (
    SourceItem,
    bool,
    Result<Option<cached_artifacts::ActiveModel>, String>,
);

/// The cache row of a fresh read, stamped `now`, expiring one `ttl` later.
fn row_for(
    artifact: &SourceArtifact,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<cached_artifacts::ActiveModel, CacheError> {
    let data = serde_json::to_value(artifact)?;
    let data_bytes = serde_json::to_string(&data)?.len() as i64;
    let item = &artifact.item;
    let description = artifact.metadata.description.clone();
    let search_text = format!(
        "{}\n{}",
        item.name.to_lowercase(),
        description.as_deref().unwrap_or("").to_lowercase()
    );
    let lifetime = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    Ok(cached_artifacts::ActiveModel {
        artifact_id: Set(item.artifact_id.clone()),
        artifact_type: Set(item.artifact_type.as_str().to_string()),
        name: Set(item.name.clone()),
        collection: Set(item.collection.clone()),
        collections: Set(slashed(item.collections.iter().map(String::as_str))),
        description: Set(description),
        tags: Set(slashed(
            artifact.metadata.tags.iter().map(|t| t.to_lowercase()),
        )),
        tools: Set(slashed(
            artifact.metadata.tools.iter().map(|t| t.to_lowercase()),
        )),
        search_text: Set(search_text),
        data: Set(data),
        data_bytes: Set(data_bytes),
        content_hash: Set(artifact.content_hash.clone()),
        fingerprint: Set(item.fingerprint.clone()),
        source_modified_at: Set(item.modified_at),
        last_updated: Set(now),
        last_accessed: Set(now),
        ttl_secs: Set(ttl.as_secs() as i64),
        expires_at: Set(now + lifetime),
        ..Default::default()
    })
}

/// One row of aggregates: entries, bytes, oldest and newest `last_updated`.
type StatusRow = (
    i64,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Joins values as `/a/b/` so `LIKE '%/a/%'` finds one exactly; empty gives `/`.
fn slashed<S: AsRef<str>>(values: impl Iterator<Item = S>) -> String {
    let mut out = String::from("/");
    for v in values {
        out.push_str(&v.as_ref().replace('/', "_"));
        out.push('/');
    }
    out
}
