//! `/api/v1/cache`: status, clear, and invalidation of one entry.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::artifacts::parse_id;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Cache endpoints.
pub struct CacheApi {
    /// Shared state.
    pub state: AppState,
}

/// Counts and ages of the artifact cache.
#[derive(Debug, Object)]
pub struct CacheStatusBody {
    /// Cached artifacts.
    pub entries: u64,
    /// Entries past their TTL (served in lists; a detail read re-validates them).
    pub expired_entries: u64,
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
}

/// Result of clearing the cache.
#[derive(Debug, Object)]
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

#[OpenApi(tag = "ApiTags::Cache")]
impl CacheApi {
    /// Cache status
    ///
    /// Entries, bytes, hits, misses, hit rate, oldest and newest entry.
    #[oai(
        path = "/api/v1/cache/status",
        method = "get",
        operation_id = "cache_status"
    )]
    async fn status(&self) -> Result<CacheStatusResponse, ApiError> {
        let s = self.state.cache.status().await?;
        Ok(CacheStatusResponse::Ok(Json(CacheStatusBody {
            entries: s.entries,
            expired_entries: s.expired_entries,
            bytes: s.bytes,
            hits: s.hits,
            misses: s.misses,
            hit_rate: s.hit_rate,
            oldest_entry: s.oldest_entry,
            newest_entry: s.newest_entry,
            last_full_sync: s.last_full_sync,
            schema_version: s.schema_version,
            ttl_secs: s.ttl_secs,
        })))
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
            })))
        }
    }
}
