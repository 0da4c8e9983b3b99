//! The refresh: compare each source item's stat fingerprint with the cached one and re-read
//! only what changed (every item with `force`), add new artifacts, drop vanished ones; by
//! scope (everything, one collection, one artifact), the start-up warm and the purge.

use super::*;

/// What a read skipped because the job was cancelled reports instead of an error.
const CANCELLED: &str = "cancelled";

impl CacheService {
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

    pub(super) async fn refresh_scope(
        &self,
        scope: &Scope,
        force: bool,
    ) -> Result<SyncReport, CacheError> {
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

    pub(super) async fn timed(
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
    pub(super) async fn run_sync(
        &self,
        force: bool,
        only_if_cold: bool,
    ) -> Result<SyncReport, CacheError> {
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
        // A cancelled pass is not one a waiting caller may reuse.
        if !report.as_ref().is_ok_and(|r| r.cancelled) {
            self.inner.sync_generation.fetch_add(1, Ordering::SeqCst);
        }
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
    pub(super) async fn sync_locked(
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
        // Set when the job running this refresh is cancelled: no artifact is read after that.
        let cancel = jobs::current_cancel_flag();
        for chunk in to_read.chunks(WRITE_BATCH) {
            if cancel.is_set() {
                break;
            }
            let cancel = cancel.clone();
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
                            let cancel = cancel.clone();
                            async move {
                                if cancel.is_set() {
                                    return (item, is_new, Err(CANCELLED.to_string()));
                                }
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
                    // Not read: the job was cancelled.
                    Err(e) if e == CANCELLED => {}
                    Err(e) => {
                        tracing::warn!(artifact_id = %item.artifact_id, error = %e, "refresh could not read artifact");
                        report.errors.push(format!("{}: {e}", item.artifact_id));
                    }
                }
            }
            self.store_rows(fresh).await?;
        }
        if cancel.is_set() {
            report.cancelled = true;
            return Ok(report);
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
    pub(super) async fn refresh_one(
        &self,
        id: &ArtifactId,
        force: bool,
    ) -> Result<SyncReport, CacheError> {
        let key = id.to_string();
        let lock = self.fill_lock(&key);
        let result = {
            let _guard = lock.lock().await;
            self.refresh_one_locked(id, &key, force).await
        };
        self.release_fill_lock(&key, lock);
        result
    }

    pub(super) async fn refresh_one_locked(
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
    pub(super) async fn extend_many(&self, ids: &[String]) -> Result<(), CacheError> {
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
}
