//! The purge: drop cache entries neither read nor confirmed by a refresh for
//! `cache.purge_after_days`, finished job records older than `jobs.retention_days`, and the
//! queue's own finished entries of the same age.

use apalis::prelude::{Attempt, Data};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::BoxError;
use crate::runner::JobContext;

/// Queue name of purge jobs.
pub const QUEUE: &str = "purge";

/// Payload of a purge job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeJob {
    /// The `job_runs` row this run writes to.
    pub run_id: i64,
}

/// Runs one attempt of a purge.
pub async fn purge(job: PurgeJob, ctx: Data<JobContext>, attempt: Attempt) -> Result<(), BoxError> {
    let inner = ctx.clone();
    ctx.execute(job.run_id, attempt.current(), async move {
        let settings = &inner.settings;
        let mut report = inner.work.purge_cache(settings.purge_cache_after).await?;
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(settings.retention).unwrap_or(chrono::Duration::MAX);
        let runs_removed = inner.history.delete_finished_before(cutoff).await?;
        let queue_entries_removed = inner.store.vacuum_older_than(settings.retention).await?;
        let mut details = match report.details.take() {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        details.insert("job_runs_removed".into(), json!(runs_removed));
        details.insert("queue_entries_removed".into(), json!(queue_entries_removed));
        report.details = serde_json::Value::Object(details);
        Ok(report)
    })
    .await
}
