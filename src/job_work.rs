//! The server's side of the background jobs: what warm, refresh and purge do to the cache and
//! the deployments. The `jobs` crate runs these through apalis and records each run.

use std::time::Duration;

use jobs::{BoxError, JobKind, JobWork, RunReport, RunStatus, Scope};
use serde_json::json;

use crate::cache::{CacheService, SyncReport};
use crate::deploy::DeployService;

/// Per-artifact error messages kept on a run's record; the count is always exact.
const MAX_ERROR_MESSAGES: usize = 100;

/// Cache and deployment work for the job runner.
pub struct ServerJobWork {
    /// The cache.
    pub cache: CacheService,
    /// Deployments, whose statuses are recomputed after each refresh.
    pub deployments: DeployService,
}

impl ServerJobWork {
    /// After the cache changed, the deployment statuses that compare against it.
    async fn refresh_deployments(&self, report: SyncReport) -> RunReport {
        let deployments = match self.deployments.refresh_all().await {
            Ok(r) => json!({
                "projects": r.projects,
                "discovered": r.discovered,
                "deployments": r.deployments,
                "status_changed": r.status_changed,
                "errors": r.errors,
            }),
            // The cache part succeeded; a deployment problem is reported, not fatal.
            Err(e) => json!({ "error": crate::error::error_chain(&e) }),
        };
        to_run_report(report, deployments)
    }
}

fn to_run_report(report: SyncReport, deployments: serde_json::Value) -> RunReport {
    let errors = report.errors.len() as u64;
    let messages: Vec<&String> = report.errors.iter().take(MAX_ERROR_MESSAGES).collect();
    RunReport {
        checked: report.listed,
        refreshed: report.updated,
        added: report.added,
        removed: report.removed,
        errors,
        details: json!({
            "unchanged": report.unchanged,
            "revalidated": report.revalidated,
            "recent_revalidated": report.recent_revalidated,
            "coalesced": report.coalesced,
            "error_messages": messages,
            "deployments": deployments,
        }),
    }
}

#[async_trait::async_trait]
impl JobWork for ServerJobWork {
    async fn warm(&self) -> Result<RunReport, BoxError> {
        let report = self.cache.warm().await?;
        Ok(self.refresh_deployments(report).await)
    }

    async fn refresh(&self, scope: &Scope, force: bool) -> Result<RunReport, BoxError> {
        let report = self.cache.refresh(scope, force).await?;
        Ok(self.refresh_deployments(report).await)
    }

    async fn purge_cache(&self, older_than: Duration) -> Result<RunReport, BoxError> {
        let removed = self.cache.purge_stale(older_than).await?;
        Ok(RunReport {
            removed,
            details: json!({ "cache_entries_removed": removed }),
            ..Default::default()
        })
    }

    fn observe(&self, kind: JobKind, status: RunStatus, duration: Duration) {
        let metrics = self.cache.metrics();
        metrics
            .job_runs
            .get_or_create(&vec![
                ("kind".to_string(), kind.as_str().to_string()),
                ("status".to_string(), status.as_str().to_string()),
            ])
            .inc();
        metrics
            .job_duration
            .get_or_create(&vec![("kind".to_string(), kind.as_str().to_string())])
            .observe(duration.as_secs_f64());
    }
}
