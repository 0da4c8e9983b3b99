//! `/api/v1/jobs`: the history of background job runs (warm, refresh, purge, import), per-kind
//! statistics, and retrying a failed run.

use chrono::{DateTime, Utc};
use entity::job_runs;
use jobs::{Enqueued, RunFilter, RunStatus};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::common::PageInfo;
use crate::error::ApiError;
use crate::state::AppState;

/// Cursor key of job pages.
const CURSOR_KEY: &str = "job";

/// A job kind, as a filter.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum JobKindParam {
    /// Start-up warm.
    Warm,
    /// Refresh (scheduled or on demand).
    Refresh,
    /// Purge of stale entries and old records.
    Purge,
    /// Import of SkillMeat's collections and groups.
    Import,
}

impl JobKindParam {
    /// The registered kind's name.
    pub fn name(self) -> &'static str {
        use crate::jobs::{import::ImportJob, purge::PurgeJob, refresh::RefreshJob, warm::WarmJob};
        match self {
            JobKindParam::Warm => WarmJob::KIND_NAME,
            JobKindParam::Refresh => RefreshJob::KIND_NAME,
            JobKindParam::Purge => PurgeJob::KIND_NAME,
            JobKindParam::Import => ImportJob::KIND_NAME,
        }
    }
}

/// A job status, as a filter.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RunStatusParam {
    /// Waiting for a worker.
    Queued,
    /// Running, or waiting for its next attempt.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Every attempt failed.
    Failed,
    /// Cancelled before or while it ran.
    Cancelled,
}

impl From<RunStatusParam> for RunStatus {
    fn from(s: RunStatusParam) -> Self {
        match s {
            RunStatusParam::Queued => RunStatus::Queued,
            RunStatusParam::Running => RunStatus::Running,
            RunStatusParam::Succeeded => RunStatus::Succeeded,
            RunStatusParam::Failed => RunStatus::Failed,
            RunStatusParam::Cancelled => RunStatus::Cancelled,
        }
    }
}

/// Job endpoints.
pub struct JobsApi {
    /// Shared state.
    pub state: AppState,
}

/// One run of a background job.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobRun {
    /// Job id.
    pub id: i64,
    /// `warm`, `refresh`, `purge` or `import`.
    pub kind: String,
    /// `startup`, `schedule`, `manual` or `watch` (the file watcher).
    pub trigger: String,
    /// `all`, `collection:<name>`, `artifact:<type:name>` or `project:<id>` (the watcher saw a
    /// project's deployed files change).
    pub scope: String,
    /// Everything in scope is re-read, changed or not.
    pub force: bool,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The failed or cancelled job this one retries.
    pub retry_of: Option<i64>,
    /// The server instance that ran its latest attempt (see `GET /api/v1/instances`).
    pub instance: Option<String>,
    /// When a cancel was asked for.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub enqueued_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds of the finishing attempt.
    pub duration_ms: Option<i64>,
    /// Artifacts looked at.
    pub checked: i64,
    /// Artifacts re-read because they changed (or `force`).
    pub refreshed: i64,
    /// Artifacts added to the cache.
    pub added: i64,
    /// Artifacts (or, for a purge, cache entries) removed.
    pub removed: i64,
    /// Artifacts that could not be read; the run still succeeds.
    pub errors: i64,
    /// Why the run (or its latest attempt) failed.
    pub error: Option<String>,
    /// Further counts and the per-artifact error messages.
    pub details: Option<serde_json::Value>,
}

/// One page of job runs.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobList {
    /// Newest first.
    pub items: Vec<JobRun>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A queued (or already active) job.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobAccepted {
    /// The job; poll `GET /api/v1/jobs/{id}` for its progress.
    pub job: JobRun,
    /// True when a job of the same kind and scope was already queued or running and is
    /// returned instead of a new one.
    pub deduplicated: bool,
}

/// Figures of one job kind.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobKindStats {
    /// `warm`, `refresh`, `purge` or `import`.
    pub kind: String,
    /// Runs on record (finished records are purged after `jobs.retention_days`).
    pub runs: u64,
    /// Runs that succeeded.
    pub succeeded: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Runs queued or running now.
    pub active: u64,
    /// succeeded / (succeeded + failed), 0 to 1; null before any run finished.
    pub success_rate: Option<f64>,
    /// Median duration of the latest successful runs, in milliseconds.
    pub p50_duration_ms: Option<u64>,
    /// 95th percentile duration of the latest successful runs, in milliseconds.
    pub p95_duration_ms: Option<u64>,
    /// The newest run.
    pub last_run: Option<JobRun>,
    /// When the schedule queues the next run; null when this kind is not scheduled.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Figures of every job kind.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobStats {
    /// One entry per kind: warm, refresh, purge, import.
    pub kinds: Vec<JobKindStats>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListJobsResponse {
    /// The runs.
    #[oai(status = 200)]
    Ok(Json<JobList>),
}

/// Get outcomes.
#[derive(ApiResponse)]
pub enum GetJobResponse {
    /// The run.
    #[oai(status = 200)]
    Ok(Json<JobRun>),
}

/// Stats outcomes.
#[derive(ApiResponse)]
pub enum JobStatsResponse {
    /// Per-kind figures.
    #[oai(status = 200)]
    Ok(Json<JobStats>),
}

/// Outcomes of queueing a job.
#[derive(ApiResponse)]
pub enum JobAcceptedResponse {
    /// Queued (or an identical job was already queued or running); it runs in the background.
    #[oai(status = 202)]
    Accepted(Json<JobAccepted>),
}

impl JobAcceptedResponse {
    /// The response for an enqueue outcome.
    pub fn from_enqueued(enqueued: Enqueued) -> Result<Self, ApiError> {
        let (run, deduplicated) = match enqueued {
            Enqueued::New(run) => (run, false),
            Enqueued::Existing(run) => (run, true),
            // Only the schedule passes a slot; an API call never gets here.
            Enqueued::SlotTaken => {
                return Err(ApiError::conflict("This schedule slot was already queued"));
            }
        };
        Ok(Self::Accepted(Json(JobAccepted {
            job: to_job_run(run),
            deduplicated,
        })))
    }
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// List job runs
    ///
    /// Every warm, refresh, purge and import run, newest first, with its trigger, status, times,
    /// counts and error. Filter by `kind` and `status`.
    #[oai(path = "/api/v1/jobs", method = "get", operation_id = "list_jobs")]
    async fn list(
        &self,
        /// Only this kind.
        kind: Query<Option<JobKindParam>>,
        /// Only this status.
        status: Query<Option<RunStatusParam>>,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
    ) -> Result<ListJobsResponse, ApiError> {
        let filter = RunFilter {
            kind: kind.0.map(|k| k.name().to_string()),
            status: status.0.map(RunStatus::from),
        };
        let before = match after.0.as_deref() {
            None => None,
            Some(raw) => {
                let (key, id) = crate::paging::decode_pair(raw)
                    .ok_or_else(|| ApiError::bad_request(crate::paging::bad_cursor()))?;
                match (key.as_str(), id.parse::<i64>()) {
                    (CURSOR_KEY, Ok(id)) => Some(id),
                    _ => return Err(ApiError::bad_request(crate::paging::bad_cursor())),
                }
            }
        };
        let limit = limit.0.unwrap_or(50);
        let (mut rows, total_count) = self
            .state
            .jobs
            .history()
            .list(&filter, before, limit + 1)
            .await?;
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let end_cursor = rows
            .last()
            .map(|r| crate::paging::encode_pair(CURSOR_KEY, &r.id.to_string()));
        Ok(ListJobsResponse::Ok(Json(JobList {
            items: rows.into_iter().map(to_job_run).collect(),
            page_info: PageInfo {
                has_next_page,
                has_previous_page: after.0.is_some(),
                end_cursor,
                total_count,
            },
        })))
    }

    /// Job statistics
    ///
    /// Per kind: runs, success rate, p50/p95 duration, the last run and the next scheduled run.
    #[oai(
        path = "/api/v1/jobs/stats",
        method = "get",
        operation_id = "job_stats"
    )]
    async fn stats(&self) -> Result<JobStatsResponse, ApiError> {
        let stats = self
            .state
            .jobs
            .history()
            .stats(&crate::jobs::ALL_KINDS)
            .await?;
        let mut kinds = Vec::with_capacity(stats.len());
        for s in stats {
            kinds.push(JobKindStats {
                next_run_at: self.state.jobs.next_run_at(&s.kind).await,
                kind: s.kind,
                runs: s.runs,
                succeeded: s.succeeded,
                failed: s.failed,
                active: s.active,
                success_rate: s.success_rate,
                p50_duration_ms: s.p50_duration_ms,
                p95_duration_ms: s.p95_duration_ms,
                last_run: s.last_run.map(to_job_run),
            });
        }
        Ok(JobStatsResponse::Ok(Json(JobStats { kinds })))
    }

    /// Get a job run
    ///
    /// Its status, attempts, times, counts, and error when it failed.
    #[oai(path = "/api/v1/jobs/:id", method = "get", operation_id = "get_job")]
    async fn get(
        &self,
        /// Job id.
        id: Path<i64>,
    ) -> Result<GetJobResponse, ApiError> {
        let run = self
            .state
            .jobs
            .history()
            .get(id.0)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Job {} not found", id.0)))?;
        Ok(GetJobResponse::Ok(Json(to_job_run(run))))
    }

    /// Retry a failed job
    ///
    /// Queues a new run with the failed one's kind, scope and force (its `retry_of` names the
    /// failed run). Only failed runs can be retried (409 otherwise). When a run of the same
    /// kind and scope is already active, that one is returned.
    #[oai(
        path = "/api/v1/jobs/:id/retry",
        method = "post",
        operation_id = "retry_job"
    )]
    async fn retry(
        &self,
        /// Id of a failed job.
        id: Path<i64>,
    ) -> Result<JobAcceptedResponse, ApiError> {
        let enqueued = self.state.jobs.retry(id.0).await?;
        JobAcceptedResponse::from_enqueued(enqueued)
    }
}

/// The API shape of a history row.
pub fn to_job_run(r: job_runs::Model) -> JobRun {
    JobRun {
        id: r.id,
        kind: r.kind,
        trigger: r.trigger,
        scope: r.scope,
        force: r.force,
        status: r.status,
        attempts: r.attempts,
        max_attempts: r.max_attempts,
        retry_of: r.retry_of,
        instance: r.instance,
        cancel_requested_at: r.cancel_requested_at,
        enqueued_at: r.enqueued_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        duration_ms: r.duration_ms,
        checked: r.checked,
        refreshed: r.refreshed,
        added: r.added,
        removed: r.removed,
        errors: r.errors,
        error: r.error,
        details: r.details,
    }
}
