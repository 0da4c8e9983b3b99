//! The purge: drop cache entries neither read nor confirmed by a refresh for
//! `cache.purge_after_days`, finished job records older than `jobs.retention_days`, and the
//! queue's own finished entries of the same age. A setting of 0 days keeps that kind forever.

use apalis::prelude::{Attempt, Data};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::runner::JobContext;
use crate::{BoxError, RunReport};

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
    ctx.execute(job.run_id, attempt.current(), |_| async move {
        let settings = &inner.settings;
        let mut report = match settings.purge_cache_after {
            Some(age) => inner.work.purge_cache(age).await?,
            None => RunReport::default(),
        };
        let (runs_removed, queue_entries_removed) = match settings.retention {
            Some(age) => match crate::older_than(age) {
                Some(cutoff) => (
                    inner.history.delete_finished_before(cutoff).await?,
                    inner.store.vacuum_older_than(age).await?,
                ),
                None => (0, 0),
            },
            None => (0, 0),
        };
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
