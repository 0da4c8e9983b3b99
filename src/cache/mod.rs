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

    /// The row for `artifact_id` when present and not expired.
    pub async fn get(
        &self,
        artifact_id: &str,
    ) -> Result<Option<cached_artifacts::Model>, CacheError> {
        let row = self.find(artifact_id).await?;
        Ok(row.filter(|r| r.expires_at > Utc::now()))
    }

    /// Stores a fresh read of an artifact (insert or replace), with the configured TTL.
    pub async fn set(
        &self,
        artifact: &SourceArtifact,
    ) -> Result<cached_artifacts::Model, CacheError> {
        self.store_rows(vec![row_for(artifact, Utc::now(), self.inner.ttl)?])
            .await?;
        let id = &artifact.item.artifact_id;
        self.find(id)
            .await?
            .ok_or_else(|| CacheError::Db(DbErr::RecordNotFound(id.clone())))
    }

    /// Stores rows in one statement (insert or replace each).
    async fn store_rows(
        &self,
        models: Vec<cached_artifacts::ActiveModel>,
    ) -> Result<(), CacheError> {
        if models.is_empty() {
            return Ok(());
        }
        use cached_artifacts::Column as C;
        cached_artifacts::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(C::ArtifactId)
                    .update_columns([
                        C::ArtifactType,
                        C::Name,
                        C::Collection,
                        C::Collections,
                        C::Description,
                        C::Tags,
                        C::Tools,
                        C::SearchText,
                        C::Data,
                        C::DataBytes,
                        C::ContentHash,
                        C::Fingerprint,
                        C::SourceModifiedAt,
                        C::LastUpdated,
                        C::LastAccessed,
                        C::TtlSecs,
                        C::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await?;
        Ok(())
    }

    /// Whether the cache has an entry for `artifact_id` (expired or not).
    pub async fn contains(&self, artifact_id: &str) -> Result<bool, CacheError> {
        Ok(self.find(artifact_id).await?.is_some())
    }

    /// Drops one entry; true when there was one.
    pub async fn invalidate(&self, artifact_id: &str) -> Result<bool, CacheError> {
        let res = cached_artifacts::Entity::delete_many()
            .filter(cached_artifacts::Column::ArtifactId.eq(artifact_id))
            .exec(self.db())
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Drops every entry and marks the cache cold, so the next read refills it.
    pub async fn clear(&self) -> Result<u64, CacheError> {
        let res = cached_artifacts::Entity::delete_many()
            .exec(self.db())
            .await?;
        cache_meta::Entity::delete_by_id(META_LAST_FULL_SYNC.to_string())
            .exec(self.db())
            .await?;
        self.inner
            .events
            .publish(crate::events::ServerEvent::CacheCleared {});
        Ok(res.rows_affected)
    }

    /// Drops expired entries; returns how many.
    pub async fn cleanup(&self) -> Result<u64, CacheError> {
        let res = cached_artifacts::Entity::delete_many()
            .filter(cached_artifacts::Column::ExpiresAt.lt(Utc::now()))
            .exec(self.db())
            .await?;
        Ok(res.rows_affected)
    }

    /// Reads one artifact through the cache. `Ok(None)` when no source has it.
    pub async fn get_or_fill(&self, id: &ArtifactId) -> Result<Option<Lookup>, CacheError> {
        let key = id.to_string();
        if let Some(row) = self.get(&key).await? {
            return self.serve_hit(row).await.map(Some);
        }
        let lock = self.fill_lock(&key);
        let result = {
            let _guard = lock.lock().await;
            self.fill_locked(id, &key).await
        };
        self.release_fill_lock(&key, lock);
        result
    }

    async fn fill_locked(&self, id: &ArtifactId, key: &str) -> Result<Option<Lookup>, CacheError> {
        // Someone else may have filled it while we waited for the lock.
        let existing = self.find(key).await?;
        if let Some(row) = existing.clone().filter(|r| r.expires_at > Utc::now()) {
            return self.serve_hit(row).await.map(Some);
        }
        self.inner.metrics.misses.inc();
        tracing::debug!(artifact_id = key, "cache miss");
        let Some(item) = self.inner.source.locate(id).await? else {
            if existing.is_some() {
                self.invalidate(key).await?;
            }
            return Ok(None);
        };
        // Unchanged on disk (same stat fingerprint): extend the entry without re-reading it.
        if let Some(row) = existing.filter(|r| r.fingerprint == item.fingerprint) {
            let row = self.extend(row).await?;
            let artifact = serde_json::from_value(row.data.clone())?;
            return Ok(Some(Lookup {
                row,
                artifact,
                hit: false,
            }));
        }
        self.inner.metrics.source_reads.inc();
        let Some(artifact) = self.inner.source.read(&item).await? else {
            self.invalidate(key).await?;
            return Ok(None);
        };
        let row = self.set(&artifact).await?;
        Ok(Some(Lookup {
            row,
            artifact,
            hit: false,
        }))
    }

    async fn serve_hit(&self, mut row: cached_artifacts::Model) -> Result<Lookup, CacheError> {
        self.inner.metrics.hits.inc();
        tracing::debug!(artifact_id = %row.artifact_id, "cache hit");
        if Utc::now() - row.last_accessed > ACCESS_TOUCH_INTERVAL {
            self.touch_later(row.id);
        }
        // The record moves out of the row (no copy); callers read it from `artifact`.
        let artifact = serde_json::from_value(std::mem::take(&mut row.data))?;
        Ok(Lookup {
            row,
            artifact,
            hit: true,
        })
    }

    /// Records a read of row `id` off the response path: ids are collected and written by one
    /// task in one statement, so a burst of reads (or a refresh holding SQLite's write lock)
    /// never makes a reader wait for a write.
    fn touch_later(&self, id: i64) {
        let mut pending = self
            .inner
            .pending_touches
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pending.ids.insert(id);
        if pending.flush_scheduled {
            return; // the scheduled flush takes this id too
        }
        pending.flush_scheduled = true;
        drop(pending);
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(TOUCH_FLUSH_DELAY).await;
            let ids: Vec<i64> = {
                let mut pending = this
                    .inner
                    .pending_touches
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                pending.flush_scheduled = false;
                pending.ids.drain().collect()
            };
            let now = Utc::now();
            for chunk in ids.chunks(BULK_CHUNK) {
                let touched = cached_artifacts::Entity::update_many()
                    .col_expr(cached_artifacts::Column::LastAccessed, Expr::value(now))
                    .filter(cached_artifacts::Column::Id.is_in(chunk.iter().copied()))
                    .exec(this.db())
                    .await;
                if let Err(e) = touched {
                    tracing::debug!(error = %e, "could not record cache entries' access times");
                }
            }
        });
    }

    /// Pushes a row's expiry out by one TTL from now.
    async fn extend(
        &self,
        mut row: cached_artifacts::Model,
    ) -> Result<cached_artifacts::Model, CacheError> {
        let now = Utc::now();
        let expires =
            now + chrono::Duration::from_std(self.inner.ttl).unwrap_or(chrono::Duration::MAX);
        cached_artifacts::Entity::update_many()
            .col_expr(cached_artifacts::Column::LastUpdated, Expr::value(now))
            .col_expr(cached_artifacts::Column::ExpiresAt, Expr::value(expires))
            .col_expr(cached_artifacts::Column::LastAccessed, Expr::value(now))
            .filter(cached_artifacts::Column::Id.eq(row.id))
            .exec(self.db())
            .await?;
        row.last_updated = now;
        row.expires_at = expires;
        row.last_accessed = now;
        Ok(row)
    }

    fn fill_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .fill_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string()).or_default().clone()
    }

    /// Forgets a key's lock once nobody else holds or waits on it, so the map stays small.
    fn release_fill_lock(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut map = self
            .inner
            .fill_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        drop(lock);
        if map.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(key);
        }
    }

    /// Fills a cold cache (never refreshed, or cleared) with one full refresh; a no-op otherwise.
    pub async fn ensure_populated(&self) -> Result<(), CacheError> {
        if self.meta(META_LAST_FULL_SYNC).await?.is_none() {
            self.run_sync(false, true).await?;
        }
        Ok(())
    }

    /// The full refresh: list the source, re-read only new or changed items (all with `force`),
    /// extend expired unchanged ones, drop vanished ones. Only one runs at a time in this
    /// process; a caller that waited for a running refresh reuses it instead of starting another.
    pub async fn sync_all(&self, force: bool) -> Result<SyncReport, CacheError> {
        self.run_sync(force, false).await
    }

    /// A refresh of one scope: everything, one collection, or one artifact; what it changed
    /// is published as live events.
    pub async fn refresh(&self, scope: &Scope, force: bool) -> Result<SyncReport, CacheError> {
        let report = self.refresh_scope(scope, force).await?;
        self.announce(&report);
        Ok(report)
    }

    async fn refresh_scope(&self, scope: &Scope, force: bool) -> Result<SyncReport, CacheError> {
        match scope {
            Scope::All => self.sync_all(force).await,
            Scope::Collection(name) => {
                let _guard = self.inner.sync_lock.lock().await;
                self.timed(self.sync_locked(force, Some(name))).await
            }
            Scope::Artifact(raw) => {
                let id = ArtifactId::parse(raw).map_err(CacheError::Scope)?;
                self.timed(self.refresh_one(&id, force)).await
            }
            Scope::Project(_) => Err(CacheError::Scope(
                "a project scope refreshes deployments, not the cache".into(),
            )),
        }
    }

    /// The start-up warm: re-validates the entries read in the last day first (so the ones in
    /// use are current soonest), then runs a full refresh, which fills whatever the cache lacks.
    pub async fn warm(&self) -> Result<SyncReport, CacheError> {
        let since = Utc::now() - chrono::Duration::hours(24);
        let recent: Vec<String> = cached_artifacts::Entity::find()
            .select_only()
            .column(cached_artifacts::Column::ArtifactId)
            .filter(cached_artifacts::Column::LastAccessed.gt(since))
            .order_by_desc(cached_artifacts::Column::LastAccessed)
            .into_tuple()
            .all(self.db())
            .await?;
        let mut recent_report = SyncReport::default();
        let mut recent_found = 0;
        for raw in &recent {
            let Ok(id) = ArtifactId::parse(raw) else {
                continue;
            };
            let one = self.refresh_one(&id, false).await?;
            recent_found += one.listed;
            recent_report.absorb_changes(one);
        }
        let mut report = self.run_sync(false, false).await?;
        // The full pass listed the recent entries again (found unchanged by then): count only
        // what the first pass did to them.
        report.recent_revalidated = recent_found;
        report.absorb_changes(recent_report);
        self.announce(&report);
        Ok(report)
    }

    /// Drops entries neither read nor confirmed by a refresh for `older_than` (an entry whose
    /// artifact is still in a source is confirmed by every refresh, so with the schedule on
    /// only entries of unreachable sources age out). Returns how many.
    pub async fn purge_stale(&self, older_than: Duration) -> Result<u64, CacheError> {
        let Some(cutoff) = jobs::older_than(older_than) else {
            return Ok(0);
        };
        // Expired and not extended since: no refresh confirmed it (a refresh extends only
        // expired entries, so an entry within its TTL counts as confirmed however long the TTL).
        let res = cached_artifacts::Entity::delete_many()
            .filter(cached_artifacts::Column::LastAccessed.lt(cutoff))
            .filter(cached_artifacts::Column::LastUpdated.lt(cutoff))
            .filter(cached_artifacts::Column::ExpiresAt.lt(Utc::now()))
            .exec(self.db())
            .await?;
        Ok(res.rows_affected)
    }

    async fn timed(
        &self,
        work: impl std::future::Future<Output = Result<SyncReport, CacheError>>,
    ) -> Result<SyncReport, CacheError> {
        let started = Instant::now();
        let mut report = work.await?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// `only_if_cold`: skip when a full refresh has completed since the cache was last cleared
    /// (checked under the lock, so a burst of cold reads fills the cache once).
    async fn run_sync(&self, force: bool, only_if_cold: bool) -> Result<SyncReport, CacheError> {
        let seen_generation = self.inner.sync_generation.load(Ordering::SeqCst);
        let _guard = self.inner.sync_lock.lock().await;
        let reused = if only_if_cold {
            self.meta(META_LAST_FULL_SYNC).await?.is_some()
        } else {
            !force && self.inner.sync_generation.load(Ordering::SeqCst) != seen_generation
        };
        if reused {
            return Ok(SyncReport {
                coalesced: true,
                ..Default::default()
            });
        }
        let started = Instant::now();
        let report = self.sync_locked(force, None).await;
        self.inner.sync_generation.fetch_add(1, Ordering::SeqCst);
        let mut report = report?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        self.inner.metrics.syncs.inc();
        tracing::info!(
            listed = report.listed,
            added = report.added,
            updated = report.updated,
            unchanged = report.unchanged,
            revalidated = report.revalidated,
            removed = report.removed,
            errors = report.errors.len(),
            duration_ms = report.duration_ms,
            "cache refreshed"
        );
        Ok(report)
    }

    /// One refresh pass over every item, or over one collection's items. Reads run a few at a
    /// time and are written in batches.
    async fn sync_locked(
        &self,
        force: bool,
        collection: Option<&str>,
    ) -> Result<SyncReport, CacheError> {
        let mut collections = self.inner.source.collections().await?;
        if let Some(name) = collection
            && !collections.iter().any(|c| c == name)
        {
            return Err(CacheError::Scope(format!("no collection named '{name}'")));
        }
        let mut items = self.inner.source.list().await?;
        if let Some(name) = collection {
            items.retain(|i| i.collections.iter().any(|c| c == name));
        }
        let mut report = SyncReport {
            listed: items.len() as u64,
            ..Default::default()
        };
        let mut cached_query = cached_artifacts::Entity::find()
            .select_only()
            .column(cached_artifacts::Column::ArtifactId)
            .column(cached_artifacts::Column::Fingerprint)
            .column(cached_artifacts::Column::ExpiresAt)
            .column(cached_artifacts::Column::Collections);
        let stored_name = collection.map(|name| name.replace('/', "_"));
        if let Some(name) = &stored_name {
            // A prefilter only: LIKE treats `_` as a wildcard and ignores case on SQLite, so
            // membership is checked exactly below.
            cached_query = cached_query
                .filter(cached_artifacts::Column::Collections.like(format!("%/{name}/%")));
        }
        let cached: HashMap<String, (String, DateTime<Utc>)> = cached_query
            .into_tuple::<(String, String, DateTime<Utc>, String)>()
            .all(self.db())
            .await?
            .into_iter()
            .filter(|(_, _, _, member_of)| match &stored_name {
                Some(name) => member_of.split('/').any(|c| c == name),
                None => true,
            })
            .map(|(id, fp, exp, _)| (id, (fp, exp)))
            .collect();
        let now = Utc::now();
        let mut expired_unchanged = Vec::new();
        let mut listed_ids = HashSet::new();
        let mut to_read = Vec::new();
        for item in items {
            listed_ids.insert(item.artifact_id.clone());
            match cached.get(&item.artifact_id) {
                Some((fp, expires)) if *fp == item.fingerprint && !force => {
                    report.unchanged += 1;
                    // A stat says unchanged: no re-read. Only an expired entry is written
                    // (its expiry extended), so an unchanged tree costs no writes at all.
                    if *expires <= now {
                        expired_unchanged.push(item.artifact_id.clone());
                    }
                }
                // Counted as updated or added once the read succeeds.
                Some(_) => to_read.push((item, false)),
                None => to_read.push((item, true)),
            }
        }
        report.revalidated = expired_unchanged.len() as u64;
        for chunk in to_read.chunks(WRITE_BATCH) {
            let source = self.inner.source.clone();
            let batch = chunk.to_vec();
            let ttl = self.inner.ttl;
            // Read, hash and encode on the low-priority runtime; only the insert runs here.
            let reads: Vec<ReadOutcome> = self
                .inner
                .background
                .run(async move {
                    futures::stream::iter(batch)
                        .map(|(item, is_new)| {
                            let source = source.clone();
                            async move {
                                let row = match source.read(&item).await {
                                    Ok(Some(artifact)) => row_for(&artifact, Utc::now(), ttl)
                                        .map(Some)
                                        .map_err(|e| e.to_string()),
                                    Ok(None) => Ok(None),
                                    Err(e) => Err(e.to_string()),
                                };
                                (item, is_new, row)
                            }
                        })
                        .buffer_unordered(read_parallelism())
                        .collect()
                        .await
                })
                .await
                .map_err(|e| CacheError::Source(SourceError::Task(e)))?;
            let mut fresh = Vec::with_capacity(reads.len());
            for (item, is_new, row) in reads {
                self.inner.metrics.source_reads.inc();
                match row {
                    Ok(Some(row)) => {
                        if is_new {
                            report.added += 1;
                            report.added_ids.push(item.artifact_id.clone());
                        } else {
                            report.updated += 1;
                            report.updated_ids.push(item.artifact_id.clone());
                        }
                        fresh.push(row);
                    }
                    // Gone between the listing and the read: as if it had not been listed,
                    // so its entry is dropped below instead of being served on.
                    Ok(None) => {
                        listed_ids.remove(&item.artifact_id);
                    }
                    Err(e) => {
                        tracing::warn!(artifact_id = %item.artifact_id, error = %e, "refresh could not read artifact");
                        report.errors.push(format!("{}: {e}", item.artifact_id));
                    }
                }
            }
            self.store_rows(fresh).await?;
        }
        self.extend_many(&expired_unchanged).await?;
        let vanished: Vec<String> = cached
            .into_keys()
            .filter(|id| !listed_ids.contains(id))
            .collect();
        for chunk in vanished.chunks(BULK_CHUNK) {
            let res = cached_artifacts::Entity::delete_many()
                .filter(cached_artifacts::Column::ArtifactId.is_in(chunk.iter().cloned()))
                .exec(self.db())
                .await?;
            report.removed += res.rows_affected;
            report.removed_ids.extend(chunk.iter().cloned());
        }
        if collection.is_none() {
            collections.sort();
            self.set_meta(META_COLLECTIONS, &serde_json::to_string(&collections)?)
                .await?;
            self.set_meta(META_LAST_FULL_SYNC, &Utc::now().to_rfc3339())
                .await?;
        }
        Ok(report)
    }

    /// Refreshes one artifact: dropped when its source no longer has it, re-read when its stat
    /// fingerprint changed (or `force`), its expiry extended when it expired unchanged.
    async fn refresh_one(&self, id: &ArtifactId, force: bool) -> Result<SyncReport, CacheError> {
        let key = id.to_string();
        let lock = self.fill_lock(&key);
        let result = {
            let _guard = lock.lock().await;
            self.refresh_one_locked(id, &key, force).await
        };
        self.release_fill_lock(&key, lock);
        result
    }

    async fn refresh_one_locked(
        &self,
        id: &ArtifactId,
        key: &str,
        force: bool,
    ) -> Result<SyncReport, CacheError> {
        let mut report = SyncReport::default();
        let existing = self.find(key).await?;
        let Some(item) = self.inner.source.locate(id).await? else {
            if existing.is_some() && self.invalidate(key).await? {
                report.removed = 1;
                report.removed_ids.push(key.to_string());
            }
            return Ok(report);
        };
        report.listed = 1;
        match existing {
            Some(row) if row.fingerprint == item.fingerprint && !force => {
                report.unchanged = 1;
                if row.expires_at <= Utc::now() {
                    report.revalidated = 1;
                    self.extend_many(std::slice::from_ref(&row.artifact_id))
                        .await?;
                }
                return Ok(report);
            }
            Some(_) => report.updated = 1,
            None => report.added = 1,
        }
        self.inner.metrics.source_reads.inc();
        match self.inner.source.read(&item).await {
            Ok(Some(artifact)) => {
                self.store_rows(vec![row_for(&artifact, Utc::now(), self.inner.ttl)?])
                    .await?;
                if report.added == 1 {
                    report.added_ids.push(key.to_string());
                } else {
                    report.updated_ids.push(key.to_string());
                }
            }
            Ok(None) => {
                (report.updated, report.added) = (0, 0);
                if self.invalidate(key).await? {
                    report.removed = 1;
                    report.removed_ids.push(key.to_string());
                }
            }
            Err(e) => {
                (report.updated, report.added) = (0, 0);
                report.errors.push(format!("{key}: {e}"));
            }
        }
        Ok(report)
    }

    /// Pushes the expiry of unchanged entries out by one TTL from now.
    async fn extend_many(&self, ids: &[String]) -> Result<(), CacheError> {
        let now = Utc::now();
        let expires =
            now + chrono::Duration::from_std(self.inner.ttl).unwrap_or(chrono::Duration::MAX);
        for chunk in ids.chunks(BULK_CHUNK) {
            cached_artifacts::Entity::update_many()
                .col_expr(cached_artifacts::Column::LastUpdated, Expr::value(now))
                .col_expr(cached_artifacts::Column::ExpiresAt, Expr::value(expires))
                .filter(cached_artifacts::Column::ArtifactId.is_in(chunk.iter().cloned()))
                .exec(self.db())
                .await?;
        }
        Ok(())
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
