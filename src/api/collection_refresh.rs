//! SkillMeat's cache-refresh calls on user collections, answered as its CLI expects: `sync-pull`
//! calls `POST /api/v1/user-collections/refresh-cache` after writing into a collection, and
//! `add`, `collection refresh` and others call the one of a collection. The refresh is queued
//! like any other and waited for, boundedly; one that takes longer answers 202 with the job.

use std::time::Duration;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::job_wait::{enqueued_run, wait_for, wait_of};
use super::jobs::{JobAccepted, JobRun, to_job_run};
use crate::error::ApiError;
use crate::jobs::refresh::RefreshJob;
use crate::scope::Scope;
use crate::state::AppState;
use jobs::{RunStatus, Trigger};

/// Default wait of the refresh of everything (`sync-pull` waits for it).
const DEFAULT_WAIT_ALL: Duration = Duration::from_secs(10);
/// Default wait of one collection's refresh: SkillMeat's CLI gives that call 3 s.
const DEFAULT_WAIT_ONE: Duration = Duration::from_millis(2500);

/// SkillMeat-compatible refresh endpoints.
pub struct CollectionRefreshApi {
    /// Shared state.
    pub state: AppState,
}

/// A finished refresh, in SkillMeat's words and ours.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CacheRefreshed {
    /// True when the refresh succeeded (SkillMeat's field).
    pub success: bool,
    /// User collections whose artifacts the refresh covered (SkillMeat's field).
    pub collections_refreshed: u64,
    /// Cache entries added or re-read because their files changed (SkillMeat's field).
    pub total_updated: u64,
    /// Artifacts found unchanged (SkillMeat's field).
    pub total_skipped: u64,
    /// What went wrong, per artifact or for the run (SkillMeat's field).
    pub errors: Vec<String>,
    /// How long the refresh ran, in seconds (SkillMeat's field).
    pub duration_seconds: f64,
    /// The collection asked for (`POST .../{id}/refresh-cache`; SkillMeat's field).
    pub collection_id: Option<String>,
    /// `total_updated` under SkillMeat's per-collection name.
    pub updated_count: Option<u64>,
    /// `total_skipped` under SkillMeat's per-collection name.
    pub skipped_count: Option<u64>,
    /// The refresh job run (ours): counts, times, scope.
    pub job: JobRun,
}

/// Refresh outcomes.
#[derive(ApiResponse)]
pub enum CacheRefreshResponse {
    /// The refresh finished within the wait.
    #[oai(status = 200)]
    Finished(Json<CacheRefreshed>),
    /// Still running after the wait: poll `GET /api/v1/jobs/{id}`.
    #[oai(status = 202)]
    Accepted(Json<JobAccepted>),
}

#[OpenApi(tag = "ApiTags::Collections")]
impl CollectionRefreshApi {
    /// Refresh the cache of every collection (SkillMeat-compatible)
    ///
    /// Queues a refresh of everything (or joins the one queued) and waits for it, 10 s by
    /// default (`wait_secs`, 0 to 60): 200 with SkillMeat's fields (`success`, `total_updated`,
    /// `collections_refreshed`, ...) and the job, or 202 with the job when it takes longer.
    /// SkillMeat's `sync-pull` calls this after writing a project's edits into a collection.
    #[oai(
        path = "/api/v1/user-collections/refresh-cache",
        method = "post",
        operation_id = "refresh_collections_cache"
    )]
    async fn refresh_all(
        &self,
        /// Seconds to wait for the refresh, 0 to 60 (default 10).
        #[oai(validator(maximum(value = "60")))]
        wait_secs: Query<Option<u64>>,
    ) -> Result<CacheRefreshResponse, ApiError> {
        let collections = self.state.collections.count().await?;
        let wait = wait_of(wait_secs.0, DEFAULT_WAIT_ALL);
        self.refresh(Scope::All, wait, collections, None).await
    }

    /// Refresh the cache of one collection (SkillMeat-compatible)
    ///
    /// `id` is the collection's id or name. When the data home has a collection folder of that
    /// name, only it is refreshed; otherwise everything is (a user collection gathers
    /// artifacts from any folder). Waits 2.5 s by default (SkillMeat's CLI gives this call
    /// 3 s), then answers as the refresh of everything does, with SkillMeat's per-collection
    /// fields (`collection_id`, `updated_count`, `skipped_count`) too.
    #[oai(
        path = "/api/v1/user-collections/:id/refresh-cache",
        method = "post",
        operation_id = "refresh_collection_cache"
    )]
    async fn refresh_one(
        &self,
        /// Collection id or name.
        id: Path<String>,
        /// Seconds to wait for the refresh, 0 to 60 (default 2.5).
        #[oai(validator(maximum(value = "60")))]
        wait_secs: Query<Option<u64>>,
    ) -> Result<CacheRefreshResponse, ApiError> {
        let collection = self.state.collections.find_by_id_or_name(&id.0).await?;
        let folders = self.state.cache.source().collections().await?;
        let scope = [&collection.name, &collection.id]
            .into_iter()
            .find(|n| folders.contains(n))
            .map(|n| Scope::Collection(n.clone()))
            .unwrap_or(Scope::All);
        let wait = wait_of(wait_secs.0, DEFAULT_WAIT_ONE);
        self.refresh(scope, wait, 1, Some(id.0)).await
    }
}

impl CollectionRefreshApi {
    async fn refresh(
        &self,
        scope: Scope,
        wait: Duration,
        collections: u64,
        collection_id: Option<String>,
    ) -> Result<CacheRefreshResponse, ApiError> {
        let jobs = &self.state.jobs;
        let enqueued = jobs
            .enqueue(
                RefreshJob {
                    scope,
                    force: false,
                },
                Trigger::Manual,
            )
            .await?;
        let (run, deduplicated) = enqueued_run(enqueued)?;
        let (run, finished) = wait_for(jobs, run, wait).await?;
        if !finished {
            return Ok(CacheRefreshResponse::Accepted(Json(JobAccepted {
                job: to_job_run(run),
                deduplicated,
            })));
        }
        let updated = (run.added + run.refreshed) as u64;
        let skipped = (run.checked as u64).saturating_sub(updated + run.errors as u64);
        let mut errors: Vec<String> = run
            .details
            .as_ref()
            .and_then(|d| d.get("error_messages"))
            .and_then(|m| m.as_array())
            .map(|m| {
                m.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        errors.extend(run.error.clone());
        let per_collection = collection_id.is_some();
        Ok(CacheRefreshResponse::Finished(Json(CacheRefreshed {
            success: run.status == RunStatus::Succeeded.as_str(),
            collections_refreshed: collections,
            total_updated: updated,
            total_skipped: skipped,
            errors,
            duration_seconds: run.duration_ms.unwrap_or(0) as f64 / 1000.0,
            collection_id,
            updated_count: per_collection.then_some(updated),
            skipped_count: per_collection.then_some(skipped),
            job: to_job_run(run),
        })))
    }
}
