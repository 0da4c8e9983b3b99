//! Waiting, boundedly, for a queued job to finish: operations that queue work answer with the
//! result when it came quickly and with the job (202) when it did not.

use std::time::{Duration, Instant};

use entity::job_runs;
use jobs::{Enqueued, RunStatus};

use crate::error::ApiError;

/// Longest wait a client may ask for (`?wait_secs=`).
pub const MAX_WAIT_SECS: u64 = 60;

/// The wait a client asked for (capped), else `default`.
pub fn wait_of(asked: Option<u64>, default: Duration) -> Duration {
    asked
        .map(|s| Duration::from_secs(s.min(MAX_WAIT_SECS)))
        .unwrap_or(default)
}

/// The run an enqueue gave and whether it was one already queued.
pub fn enqueued_run(enqueued: Enqueued) -> Result<(job_runs::Model, bool), ApiError> {
    match enqueued {
        Enqueued::New(run) => Ok((run, false)),
        Enqueued::Existing(run) => Ok((run, true)),
        Enqueued::SlotTaken => Err(ApiError::conflict("This schedule slot was already queued")),
    }
}

/// Polls `run` until it finished or `wait` passed; returns it as last seen and whether it
/// finished.
pub async fn wait_for(
    jobs: &jobs::JobRunner,
    mut run: job_runs::Model,
    wait: Duration,
) -> Result<(job_runs::Model, bool), ApiError> {
    let deadline = Instant::now() + wait;
    loop {
        if RunStatus::parse(&run.status).is_some_and(|s| s.is_finished()) {
            return Ok((run, true));
        }
        if Instant::now() >= deadline {
            return Ok((run, false));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(now) = jobs.history().get(run.id).await? {
            run = now;
        }
    }
}
