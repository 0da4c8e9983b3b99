//! `/api/v1/cache`: status, on-demand refresh and purge (queued as background jobs), clear,
//! and invalidation of one entry.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::artifacts::parse_id;
use super::jobs::JobAcceptedResponse;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use jobs::Trigger;

use crate::jobs::purge::PurgeJob;
use crate::jobs::refresh::RefreshJob;
use crate::scope::Scope;

/// Cache endpoints.
pub struct CacheApi {
    /// Shared state.
    pub state: AppState,
}

/// Counts and ages of the artifact cache.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CacheStatusBody {
    /// Cached artifacts.
    pub entries: u64,
    /// Entries past their TTL, waiting for the next refresh (lists still serve them; a detail
    /// read re-validates one at once).
    pub stale_count: u64,
    /// Bytes of cached data.
    pub bytes: u64,
    /// Reads served from the cache since start.
    pub hits: u64,
    /// Reads that went to the source since start.
    pub misses: u64,
    /// hits / (hits + misses), 0 to 1.
    pub hit_rate: f64,
    /// Oldest entry's write time.
    pub oldest_entry: Option<DateTime<Utc>>,
    /// Newest entry's write time.
    pub newest_entry: Option<DateTime<Utc>>,
    /// Last completed full refresh; null while the cache is cold.
    pub last_full_sync: Option<DateTime<Utc>>,
    /// Cache schema version.
    pub schema_version: Option<String>,
    /// TTL of new entries, in seconds.
    pub ttl_secs: u64,
    /// When the newest refresh or warm finished (successfully or not).
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// True while a refresh or warm is queued or running.
    pub refreshing: bool,
    /// When the schedule queues the next refresh; null when the schedule is off.
    pub next_refresh_at: Option<DateTime<Utc>>,
}

/// What to refresh; `{}` refreshes everything.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RefreshRequest {
    /// `all` (default), `collection` (needs `collection`) or `artifact` (needs `artifact_id`).
    pub scope: Option<String>,
    /// The collection to refresh, with `scope = collection`.
    pub collection: Option<String>,
    /// The artifact to refresh, `type:name`, with `scope = artifact`.
    pub artifact_id: Option<String>,
    /// Re-read (re-hash) everything in scope even when its files look unchanged.
    #[oai(default)]
    pub force: bool,
}

/// Result of clearing the cache.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CacheCleared {
    /// Entries dropped.
    pub cleared: u64,
}

/// Status outcomes.
#[derive(ApiResponse)]
pub enum CacheStatusResponse {
    /// The status.
    #[oai(status = 200)]
    Ok(Json<CacheStatusBody>),
}

/// Clear outcomes.
#[derive(ApiResponse)]
pub enum ClearCacheResponse {
    /// Every entry was dropped; the next read refills the cache.
    #[oai(status = 200)]
    Ok(Json<CacheCleared>),
}

/// Invalidate outcomes.
#[derive(ApiResponse)]
pub enum InvalidateResponse {
    /// The entry was dropped; the next read of it goes to the source.
    #[oai(status = 204)]
    Invalidated,
    /// The cache holds no entry with this id.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

impl CacheApi {
    /// Checks a refresh request and turns it into a scope.
    async fn scope_of(&self, req: &RefreshRequest) -> Result<Scope, ApiError> {
        match req.scope.as_deref().unwrap_or("all") {
            "all" => Ok(Scope::All),
            "collection" => {
                let name = req.collection.as_deref().unwrap_or("").trim();
                if name.is_empty() {
                    return Err(ApiError::unprocessable(
                        "scope 'collection' needs the collection's name in `collection`",
                    ));
                }
                let known = self.state.cache.source().collections().await?;
                if !known.iter().any(|c| c == name) {
                    return Err(ApiError::not_found(format!(
                        "Collection '{name}' not found in the data home"
                    )));
                }
                Ok(Scope::Collection(name.to_string()))
            }
            "artifact" => {
                let raw = req.artifact_id.as_deref().unwrap_or("").trim();
                if raw.is_empty() {
                    return Err(ApiError::unprocessable(
                        "scope 'artifact' needs the artifact's id (type:name) in `artifact_id`",
                    ));
                }
                // An id the sources no longer have is fine: its refresh drops the entry.
                Ok(Scope::Artifact(parse_id(raw)?.to_string()))
            }
            other => Err(ApiError::unprocessable(format!(
                "Unknown scope '{other}'; allowed: all, collection, artifact"
            ))),
        }
    }
}

#[OpenApi(tag = "ApiTags::Cache")]
impl CacheApi {
    /// Cache status
    ///
    /// Entries, bytes, hits, misses, hit rate, oldest and newest entry, stale entries, and the
    /// refresh schedule: last refresh, whether one is running, when the next is due.
    #[oai(
        path = "/api/v1/cache/status",
        method = "get",
        operation_id = "cache_status"
    )]
    async fn status(&self) -> Result<CacheStatusResponse, ApiError> {
        let s = self.state.cache.status().await?;
        let jobs = &self.state.jobs;
        let last_refresh = jobs.last_finished(&crate::jobs::CACHE_KINDS).await?;
        let refreshing = jobs.any_active(&crate::jobs::CACHE_KINDS).await?;
        Ok(CacheStatusResponse::Ok(Json(CacheStatusBody {
            entries: s.entries,
            stale_count: s.expired_entries,
            bytes: s.bytes,
            hits: s.hits,
            misses: s.misses,
            hit_rate: s.hit_rate,
            oldest_entry: s.oldest_entry,
            newest_entry: s.newest_entry,
            last_full_sync: s.last_full_sync,
            schema_version: s.schema_version,
            ttl_secs: s.ttl_secs,
            last_refresh_at: last_refresh.and_then(|r| r.finished_at),
            refreshing,
            next_refresh_at: jobs.next_run_at(RefreshJob::KIND_NAME).await,
        })))
    }

    /// Refresh now
    ///
    /// Queues a refresh of everything, one collection or one artifact and returns 202 with the
    /// job at once; poll `GET /api/v1/jobs/{id}` for its status and counts. When a refresh of
    /// the same scope is already queued or running, that job is returned (`deduplicated`).
    #[oai(
        path = "/api/v1/cache/refresh",
        method = "post",
        operation_id = "refresh_cache"
    )]
    async fn refresh(&self, body: Json<RefreshRequest>) -> Result<JobAcceptedResponse, ApiError> {
        let req = body.0;
        let scope = self.scope_of(&req).await?;
        let enqueued = self
            .state
            .jobs
            .enqueue(
                RefreshJob {
                    scope,
                    force: req.force,
                },
                Trigger::Manual,
            )
            .await?;
        JobAcceptedResponse::from_enqueued(enqueued)
    }

    /// Purge stale entries now
    ///
    /// Queues a purge (202 with the job): cache entries neither read nor refreshed for
    /// `cache.purge_after_days`, and finished job records older than `jobs.retention_days`.
    #[oai(
        path = "/api/v1/cache/purge",
        method = "post",
        operation_id = "purge_cache"
    )]
    async fn purge(&self) -> Result<JobAcceptedResponse, ApiError> {
        let enqueued = self.state.jobs.enqueue(PurgeJob, Trigger::Manual).await?;
        JobAcceptedResponse::from_enqueued(enqueued)
    }

    /// Clear the cache
    ///
    /// Drops every cached artifact. Nothing else is touched (collections, groups, deployments
    /// live in their own tables); the next read refills the cache from the sources.
    #[oai(
        path = "/api/v1/cache/clear",
        method = "post",
        operation_id = "clear_cache"
    )]
    async fn clear(&self) -> Result<ClearCacheResponse, ApiError> {
        let cleared = self.state.cache.clear().await?;
        tracing::info!(cleared, "cache cleared");
        Ok(ClearCacheResponse::Ok(Json(CacheCleared { cleared })))
    }

    /// Invalidate one cache entry
    ///
    /// Drops the entry of one artifact (`type:name`); its next read goes to the source.
    #[oai(
        path = "/api/v1/cache/:id",
        method = "delete",
        operation_id = "invalidate_cache_entry"
    )]
    async fn invalidate(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
    ) -> Result<InvalidateResponse, ApiError> {
        let id = parse_id(&id.0)?;
        if self.state.cache.invalidate(&id.to_string()).await? {
            Ok(InvalidateResponse::Invalidated)
        } else {
            Ok(InvalidateResponse::NotFound(Json(ErrorBody {
                code: "not_found".into(),
                detail: format!("No cache entry for '{id}'"),
                conflicts: None,
            })))
        }
    }
}
