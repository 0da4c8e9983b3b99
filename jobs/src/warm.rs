//! The start-up warm: re-validate and pre-load what was read in the last day, then fill whatever
//! the sources have that the cache lacks. Queued once per start; the server answers meanwhile.

use apalis::prelude::{Attempt, Data};
use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::runner::JobContext;

/// Queue name of warm jobs.
pub const QUEUE: &str = "warm";

/// Payload of a warm job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmJob {
    /// The `job_runs` row this run writes to.
    pub run_id: i64,
}

/// Runs one attempt of a warm.
pub async fn warm(job: WarmJob, ctx: Data<JobContext>, attempt: Attempt) -> Result<(), BoxError> {
    let work = ctx.work.clone();
    ctx.execute(job.run_id, attempt.current(), |_| async move {
        work.warm().await
    })
    .await
}
