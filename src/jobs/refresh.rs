//! The refresh: re-read only entries whose TTL expired or whose stat fingerprint changed (every
//! entry in scope with `force`), add new artifacts, drop vanished ones, let the default
//! collection adopt the new ones, and recompute deployment statuses. Queued by the schedule, on demand (`POST /api/v1/cache/refresh`) and by the file
//! watcher; a project scope re-reads that project's deployment records only.

use ::jobs::{BoxError, Payload, RunReport};
use serde_json::json;

use super::JobServices;
use crate::cache::SyncReport;
use crate::deploy::DeployRefreshReport;
use crate::scope::Scope;

/// Per-artifact error messages kept on a run's record; the count is always exact.
const MAX_ERROR_MESSAGES: usize = 100;

/// Payload of a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshJob {
    /// What to refresh.
    pub scope: Scope,
    /// Re-read everything in scope even when its files look unchanged.
    pub force: bool,
}

impl RefreshJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "refresh";

    /// A refresh of everything, re-reading only what changed (the scheduled one).
    pub fn everything() -> Self {
        Self {
            scope: Scope::All,
            force: false,
        }
    }
}

impl Payload for RefreshJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        self.scope.key()
    }

    fn force(&self) -> bool {
        self.force
    }

    fn from_run(scope: &str, force: bool) -> Result<Self, BoxError> {
        let scope =
            Scope::from_key(scope).ok_or_else(|| format!("'{scope}' is not a refresh scope"))?;
        Ok(Self { scope, force })
    }
}

/// Runs one refresh.
pub async fn refresh(job: RefreshJob, services: JobServices) -> Result<RunReport, BoxError> {
    if let Scope::Project(id) = &job.scope {
        return refresh_project(&services, id).await;
    }
    let report = services.cache.refresh(&job.scope, job.force).await?;
    after_cache_change(&services, report).await
}

/// Artifacts a refresh must have listed for its memory to be given back afterwards.
const TRIM_AFTER_LISTED: u64 = 500;

/// After the cache changed: new artifacts into the default collection, and the deployment
/// statuses that compare against the cache. (Each service says what it changed itself.)
pub async fn after_cache_change(
    services: &JobServices,
    report: SyncReport,
) -> Result<RunReport, BoxError> {
    if report.cancelled {
        // Stopped on request: what was read is kept; nothing else is brought up to date.
        return Ok(to_run_report(
            report,
            json!({ "skipped": "the job was cancelled" }),
        ));
    }
    services.collections.adopt_into_default().await?;
    let deployments = match services.deployments.refresh_all().await {
        Ok(r) => deployment_details(r),
        // The cache part succeeded; a deployment problem is reported, not fatal.
        Err(e) => json!({ "error": crate::error::error_chain(&e) }),
    };
    // A large refresh leaves much freed memory behind; a small one is not worth the walk.
    if report.listed >= TRIM_AFTER_LISTED {
        crate::memory::release_free_memory();
    }
    Ok(to_run_report(report, deployments))
}

/// A project's records and statuses (a project scope: the watcher saw its files change).
async fn refresh_project(services: &JobServices, id: &str) -> Result<RunReport, BoxError> {
    let project = services.deployments.project(id).await?;
    let changes = services.deployments.scan_project(&project).await?;
    let report = DeployRefreshReport {
        projects: 1,
        status_changed: changes.len() as u64,
        changes,
        ..Default::default()
    };
    let checked = report.projects;
    Ok(RunReport {
        checked,
        details: json!({ "deployments": deployment_details(report) }),
        ..Default::default()
    })
}

fn deployment_details(r: DeployRefreshReport) -> serde_json::Value {
    json!({
        "projects": r.projects,
        "discovered": r.discovered,
        "deployments": r.deployments,
        "status_changed": r.status_changed,
        "errors": r.errors,
    })
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

/// Queues a refresh of `scope` for changes the file watcher saw. `change` names the change (a
/// digest of the changed paths' state), so instances that saw the same burst queue it once,
/// while a later change of the same files is a new job. A refresh of the scope already queued
/// or running is returned instead (the watcher queues again once a running one finished, since
/// it may have read the files before they changed).
pub async fn enqueue_watched(
    runner: &::jobs::JobRunner,
    scope: Scope,
    change: &str,
) -> Result<::jobs::Enqueued, ::jobs::JobError> {
    let key = format!("watch:{}:{change}", scope.key());
    runner
        .enqueue_once(
            RefreshJob {
                scope,
                force: false,
            },
            ::jobs::Trigger::Watch,
            key,
        )
        .await
}
