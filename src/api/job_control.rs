//! Controlling and watching jobs: cancel one run, retry or cancel many (by ids or by filter),
//! the counts per state, and the figures behind the dashboard's charts.

use chrono::{DateTime, Utc};
use jobs::{CancelOutcome, Enqueued, JobError, RunFilter, RunStatus};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::jobs::{JobKindParam, JobRun, RunStatusParam, to_job_run};
use crate::error::ApiError;
use crate::jobs::charts::{self, Window};
use crate::state::AppState;

/// Most runs one batch action covers.
pub const MAX_BATCH: u64 = 1000;

/// Job control endpoints.
pub struct JobControlApi {
    /// Shared state.
    pub state: AppState,
}

/// A cancelled run.
#[derive(Debug, Object)]
pub struct CancelledJob {
    /// The run as it is now.
    pub job: JobRun,
    /// `cancelled` (it was queued and will never run) or `stopping` (it is running and stops
    /// at its next step, then reads `cancelled` with the counts it had).
    pub outcome: String,
}

/// The runs a batch action covers: listed ids, or every run matching a filter.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobSelection {
    /// These runs.
    pub ids: Option<Vec<i64>>,
    /// Or every run matching this filter (at most 1,000, newest first).
    pub filter: Option<JobFilterBody>,
}

/// A filter over runs, as the list takes it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobFilterBody {
    /// Only this kind.
    pub kind: Option<JobKindParam>,
    /// Only this status.
    pub status: Option<RunStatusParam>,
}

/// A run a batch action left alone, and why.
#[derive(Debug, Object)]
pub struct SkippedJob {
    /// The run.
    pub id: i64,
    /// Why.
    pub reason: String,
}

/// What a batch action did.
#[derive(Debug, Object)]
pub struct BatchResult {
    /// Runs the selection named.
    pub matched: u64,
    /// Runs acted on: for a cancel the cancelled or stopping runs, for a retry the new runs.
    pub done: Vec<i64>,
    /// Runs left alone, with the reason.
    pub skipped: Vec<SkippedJob>,
}

/// How many runs are in each state now.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobOverview {
    /// Waiting for a worker.
    pub queued: u64,
    /// Running.
    pub running: u64,
    /// Running again after a failed attempt, or waiting for that attempt's backoff.
    pub retrying: u64,
    /// Succeeded (on record: finished runs are purged after `jobs.retention_days`).
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// When the oldest queued run was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// How long it has waited, in seconds.
    pub oldest_queued_age_secs: Option<i64>,
}

/// The span of the charts.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum ChartWindow {
    /// The last hour, in 5-minute buckets.
    #[default]
    Hour,
    /// The last day, in 1-hour buckets.
    Day,
}

/// Runs that ended in one bucket, by status.
#[derive(Debug, Object)]
pub struct ChartBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Succeeded runs.
    pub succeeded: u64,
    /// Failed runs.
    pub failed: u64,
    /// Cancelled runs.
    pub cancelled: u64,
    /// Runs still queued or running that were queued in it.
    pub active: u64,
}

/// Durations of one kind's finished runs in the window.
#[derive(Debug, Object)]
pub struct ChartDurations {
    /// The kind.
    pub kind: String,
    /// Finished runs.
    pub runs: u64,
    /// Median, in milliseconds.
    pub p50_ms: u64,
    /// 95th percentile, in milliseconds.
    pub p95_ms: u64,
}

/// The figures behind the dashboard's charts.
#[derive(Debug, Object)]
pub struct JobCharts {
    /// `hour` or `day`.
    pub window: String,
    /// Bucket length in seconds.
    pub bucket_secs: i64,
    /// Oldest first, empty ones included.
    pub buckets: Vec<ChartBucket>,
    /// Per kind.
    pub durations: Vec<ChartDurations>,
}

/// Cancel outcomes.
#[derive(ApiResponse)]
pub enum CancelJobResponse {
    /// Cancelled, or asked to stop.
    #[oai(status = 200)]
    Ok(Json<CancelledJob>),
}

/// Batch outcomes.
#[derive(ApiResponse)]
pub enum BatchResponse {
    /// Done; `skipped` lists the runs left alone.
    #[oai(status = 200)]
    Ok(Json<BatchResult>),
}

/// Overview outcomes.
#[derive(ApiResponse)]
pub enum OverviewResponse {
    /// The counts.
    #[oai(status = 200)]
    Ok(Json<JobOverview>),
}

/// Chart outcomes.
#[derive(ApiResponse)]
pub enum ChartsResponse {
    /// The figures.
    #[oai(status = 200)]
    Ok(Json<JobCharts>),
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobControlApi {
    /// Cancel a job
    ///
    /// A queued job is recorded as `cancelled` and never runs. A running refresh (or warm)
    /// stops before its next artifact and is recorded as `cancelled` with the counts it had.
    /// A finished job answers 409.
    #[oai(
        path = "/api/v1/jobs/:id/cancel",
        method = "post",
        operation_id = "cancel_job"
    )]
    async fn cancel(
        &self,
        /// Job id.
        id: Path<i64>,
    ) -> Result<CancelJobResponse, ApiError> {
        let (run, outcome) = match self.state.jobs.cancel(id.0).await? {
            CancelOutcome::Cancelled(run) => (run, "cancelled"),
            CancelOutcome::Stopping(run) => (run, "stopping"),
            CancelOutcome::Finished(run) => (run, "finished"),
        };
        Ok(CancelJobResponse::Ok(Json(CancelledJob {
            job: to_job_run(run),
            outcome: outcome.into(),
        })))
    }

    /// Cancel many jobs
    ///
    /// Cancels the listed runs, or every run matching the filter (at most 1,000). Finished
    /// runs are skipped with the reason.
    #[oai(
        path = "/api/v1/jobs/cancel",
        method = "post",
        operation_id = "cancel_jobs"
    )]
    async fn cancel_many(&self, body: Json<JobSelection>) -> Result<BatchResponse, ApiError> {
        let ids = self.selected(body.0).await?;
        let result = batch(ids, |id| async move {
            match self.state.jobs.cancel(id).await {
                Ok(_) => Ok(Acted::Done(id)),
                Err(e @ (JobError::NotCancellable { .. } | JobError::NotFound(_))) => {
                    Ok(Acted::Skipped(e.to_string()))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        Ok(BatchResponse::Ok(Json(result)))
    }

    /// Retry many jobs
    ///
    /// Queues again the listed runs, or every run matching the filter (at most 1,000), that
    /// failed or were cancelled; others are skipped with the reason. A run whose kind and scope
    /// already has one queued or running is not queued twice.
    #[oai(
        path = "/api/v1/jobs/retry",
        method = "post",
        operation_id = "retry_jobs"
    )]
    async fn retry_many(&self, body: Json<JobSelection>) -> Result<BatchResponse, ApiError> {
        let ids = self.selected(body.0).await?;
        let result = batch(ids, |id| async move {
            match self.state.jobs.retry(id).await {
                Ok(Enqueued::New(run)) => Ok(Acted::Done(run.id)),
                Ok(Enqueued::Existing(run)) => Ok(Acted::Skipped(format!(
                    "job {} of the same kind and scope is already active",
                    run.id
                ))),
                Ok(Enqueued::SlotTaken) => Ok(Acted::Skipped("its slot was taken".into())),
                Err(e @ (JobError::NotRetryable { .. } | JobError::NotFound(_))) => {
                    Ok(Acted::Skipped(e.to_string()))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        Ok(BatchResponse::Ok(Json(result)))
    }

    /// Counts per state
    ///
    /// How many runs are queued, running, retrying, succeeded, failed and cancelled, and how
    /// long the oldest queued run has waited (the queue's latency).
    #[oai(
        path = "/api/v1/jobs/overview",
        method = "get",
        operation_id = "job_overview"
    )]
    async fn overview(&self) -> Result<OverviewResponse, ApiError> {
        let c = self.state.jobs.history().state_counts().await?;
        Ok(OverviewResponse::Ok(Json(JobOverview {
            queued: c.queued,
            running: c.running,
            retrying: c.retrying,
            succeeded: c.succeeded,
            failed: c.failed,
            cancelled: c.cancelled,
            oldest_queued_age_secs: c.oldest_queued_at.map(|at| (Utc::now() - at).num_seconds()),
            oldest_queued_at: c.oldest_queued_at,
        })))
    }

    /// Chart figures
    ///
    /// Runs per time bucket by status, and the median and 95th-percentile duration per kind,
    /// over the last hour (5-minute buckets) or day (1-hour buckets).
    #[oai(
        path = "/api/v1/jobs/charts",
        method = "get",
        operation_id = "job_charts"
    )]
    async fn charts(
        &self,
        /// `hour` (default) or `day`.
        window: Query<Option<ChartWindow>>,
    ) -> Result<ChartsResponse, ApiError> {
        let window = match window.0.unwrap_or_default() {
            ChartWindow::Hour => Window::Hour,
            ChartWindow::Day => Window::Day,
        };
        let c = load_charts(&self.state, window).await?;
        let (_, size) = window.spans();
        let count = |b: &charts::Bucket, status: RunStatus| {
            b.by_status.get(status.as_str()).copied().unwrap_or(0)
        };
        Ok(ChartsResponse::Ok(Json(JobCharts {
            window: window.as_str().into(),
            bucket_secs: size.num_seconds(),
            buckets: c
                .buckets
                .iter()
                .map(|b| ChartBucket {
                    start: b.start,
                    succeeded: count(b, RunStatus::Succeeded),
                    failed: count(b, RunStatus::Failed),
                    cancelled: count(b, RunStatus::Cancelled),
                    active: count(b, RunStatus::Queued) + count(b, RunStatus::Running),
                })
                .collect(),
            durations: c
                .durations
                .into_iter()
                .map(|d| ChartDurations {
                    kind: d.kind,
                    runs: d.runs,
                    p50_ms: d.p50_ms,
                    p95_ms: d.p95_ms,
                })
                .collect(),
        })))
    }
}

impl JobControlApi {
    /// The ids a selection names (a filter: at most [`MAX_BATCH`]).
    async fn selected(&self, selection: JobSelection) -> Result<Vec<i64>, ApiError> {
        match (selection.ids, selection.filter) {
            (Some(ids), None) if ids.len() as u64 <= MAX_BATCH => Ok(ids),
            (Some(_), None) => Err(ApiError::unprocessable(format!(
                "at most {MAX_BATCH} ids per request"
            ))),
            (None, Some(f)) => {
                let filter = RunFilter {
                    kind: f.kind.map(|k| k.name().to_string()),
                    status: f.status.map(Into::into),
                };
                Ok(self
                    .state
                    .jobs
                    .history()
                    .matching_ids(&filter, MAX_BATCH)
                    .await?)
            }
            _ => Err(ApiError::bad_request(
                "give either `ids` or `filter`, not both and not neither",
            )),
        }
    }
}

/// What a batch action did to one run.
enum Acted {
    /// Acted on; the id to report (for a retry, the new run's).
    Done(i64),
    /// Left alone, and why.
    Skipped(String),
}

/// Applies `act` to each run once (repeated ids count once), collecting what was done and
/// what was left alone; any other failure ends the batch.
async fn batch<F, Fut>(ids: Vec<i64>, act: F) -> Result<BatchResult, ApiError>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Acted, ApiError>>,
{
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<i64> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
    let mut result = BatchResult {
        matched: ids.len() as u64,
        done: Vec::new(),
        skipped: Vec::new(),
    };
    for id in ids {
        match act(id).await? {
            Acted::Done(done) => result.done.push(done),
            Acted::Skipped(reason) => result.skipped.push(SkippedJob { id, reason }),
        }
    }
    Ok(result)
}

/// The charts of `window`, ending now.
pub async fn load_charts(state: &AppState, window: Window) -> Result<charts::Charts, ApiError> {
    let now = Utc::now();
    let points = state.jobs.history().points_since(window.start(now)).await?;
    Ok(charts::charts(&points, window, now))
}
