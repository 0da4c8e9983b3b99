//! The read path: cache hits (access times written off the response path), a miss read
//! through the source once with single flight per artifact, and the writes that keep single
//! entries current (set, invalidate, clear).

use super::*;

impl CacheService {
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
    pub(super) async fn store_rows(
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

    pub(super) async fn fill_locked(
        &self,
        id: &ArtifactId,
        key: &str,
    ) -> Result<Option<Lookup>, CacheError> {
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

    /// Counts a read answered from the memory tier ([`crate::memo`]) as the hit it stands for,
    /// and marks row `row_id` as read as a hit would.
    pub fn note_memo_hit(&self, row_id: i64, last_accessed: DateTime<Utc>) {
        self.inner.metrics.hits.inc();
        if Utc::now() - last_accessed > ACCESS_TOUCH_INTERVAL {
            self.touch_later(row_id);
        }
    }

    pub(super) async fn serve_hit(
        &self,
        mut row: cached_artifacts::Model,
    ) -> Result<Lookup, CacheError> {
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
    pub(super) fn touch_later(&self, id: i64) {
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
    pub(super) async fn extend(
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

    pub(super) fn fill_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .fill_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string()).or_default().clone()
    }

    /// Forgets a key's lock once nobody else holds or waits on it, so the map stays small.
    pub(super) fn release_fill_lock(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
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
}
