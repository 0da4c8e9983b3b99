//! The purge: drop cache entries neither read nor confirmed by a refresh for
//! `cache.purge_after_days`, finished job records older than `jobs.retention_days`, and the
//! queue's own finished entries of the same age, and trash entries older than
//! `trash.keep_days`. A setting of 0 days keeps that kind forever (but empties the trash).

use std::time::Duration;

use ::jobs::{BoxError, Payload, RunReport};
use serde_json::json;

use super::JobServices;

/// What the purge keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct PurgeSettings {
    /// Cache entries neither read nor refreshed for this long are purged; `None` keeps them.
    pub cache_after: Option<Duration>,
    /// Finished job records (and queue entries) older than this are purged; `None` keeps them.
    pub retention: Option<Duration>,
}

impl PurgeSettings {
    /// What the settings keep (0 days: everything).
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let days = |d: u64| (d > 0).then(|| Duration::from_secs(d.saturating_mul(86_400)));
        Self {
            cache_after: days(settings.cache.purge_after_days),
            retention: days(settings.jobs.retention_days),
        }
    }
}

/// Payload of a purge: it always covers everything.
#[derive(Debug, Clone, Copy)]
pub struct PurgeJob;

impl PurgeJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "purge";
}

impl Payload for PurgeJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        "all".into()
    }

    fn from_run(_scope: &str, _force: bool) -> Result<Self, BoxError> {
        Ok(PurgeJob)
    }
}

/// Purges stale cache entries, old job records, old queue entries, instances long silent and
/// deployment snapshots no record points at.
pub async fn purge(_job: PurgeJob, services: JobServices) -> Result<RunReport, BoxError> {
    let settings = services.purge;
    let cache_removed = match settings.cache_after {
        Some(age) => services.cache.purge_stale(age).await?,
        None => 0,
    };
    let (runs_removed, queue_entries_removed, instances_removed) = match settings
        .retention
        .and_then(|age| Some((age, ::jobs::older_than(age)?)))
    {
        Some((age, cutoff)) => (
            services.history.delete_finished_before(cutoff).await?,
            services.store.vacuum_older_than(age).await?,
            ::jobs::instances::forget_before(services.history.db(), cutoff).await?,
        ),
        None => (0, 0, 0),
    };
    let snapshots_removed = services.deployments.purge_snapshots().await?;
    let trash_removed = services.authoring.purge_trash().await?;
    Ok(RunReport {
        removed: cache_removed,
        details: json!({
            "cache_entries_removed": cache_removed,
            "job_runs_removed": runs_removed,
            "queue_entries_removed": queue_entries_removed,
            "instances_removed": instances_removed,
            "snapshots_removed": snapshots_removed,
            "trash_entries_removed": trash_removed,
        }),
        ..Default::default()
    })
}
