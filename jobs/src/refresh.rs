//! The refresh: re-read only entries whose TTL expired or whose stat fingerprint changed, add
//! new artifacts, drop vanished ones, recompute deployment statuses. Queued by the schedule and
//! on demand (`POST /api/v1/cache/refresh`).

use apalis::prelude::{Attempt, Data};
use serde::{Deserialize, Serialize};

use crate::runner::JobContext;
use crate::{BoxError, Scope};

/// Queue name of refresh jobs.
pub const QUEUE: &str = "refresh";

/// Payload of a refresh job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshJob {
    /// The `job_runs` row this run writes to.
    pub run_id: i64,
    /// What to refresh.
    pub scope: Scope,
    /// Re-read everything in scope, as asked when queued (the run's row is what counts: a later
    /// forced request upgrades a queued run there).
    pub force: bool,
}

/// Runs one attempt of a refresh.
pub async fn refresh(
    job: RefreshJob,
    ctx: Data<JobContext>,
    attempt: Attempt,
) -> Result<(), BoxError> {
    let work = ctx.work.clone();
    // `force` is read from the run's row: a forced request may have upgraded the queued run.
    let RefreshJob {
        run_id,
        scope,
        force: _,
    } = job;
    ctx.execute(run_id, attempt.current(), |run| async move {
        work.refresh(&scope, run.force).await
    })
    .await
}
