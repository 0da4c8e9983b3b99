//! The server's side of the background jobs: what warm, refresh and purge do to the cache and
//! the deployments, and the live events they publish. The `jobs` crate runs these through
//! apalis and records each run.

use std::time::Duration;

use jobs::{BoxError, JobKind, JobWork, RunReport, RunStatus, Scope};
use serde_json::json;

use crate::cache::{CacheService, SyncReport};
use crate::deploy::{DeployRefreshReport, DeployService};
use crate::events::{EventBus, EventSubject, MAX_ARTIFACT_EVENTS_PER_RUN};

/// Per-artifact error messages kept on a run's record; the count is always exact.
const MAX_ERROR_MESSAGES: usize = 100;

/// Cache and deployment work for the job runner.
pub struct ServerJobWork {
    /// The cache.
    pub cache: CacheService,
    /// Deployments, whose statuses are recomputed after each refresh.
    pub deployments: DeployService,
    /// Where live events go.
    pub events: EventBus,
}

impl ServerJobWork {
    /// After the cache changed, the deployment statuses that compare against it.
    async fn refresh_deployments(&self, report: SyncReport) -> RunReport {
        self.publish_artifact_changes(&report);
        let deployments = match self.deployments.refresh_all().await {
            Ok(r) => self.deployment_details(r),
            // The cache part succeeded; a deployment problem is reported, not fatal.
            Err(e) => json!({ "error": crate::error::error_chain(&e) }),
        };
        to_run_report(report, deployments)
    }

    /// A project's records and statuses (a project scope: the watcher saw its files change).
    async fn refresh_project(&self, id: &str) -> Result<RunReport, BoxError> {
        let project = self.deployments.project(id).await?;
        let changes = self.deployments.scan_project(&project).await?;
        let report = DeployRefreshReport {
            projects: 1,
            status_changed: changes.len() as u64,
            changes,
            ..Default::default()
        };
        let checked = report.projects;
        Ok(RunReport {
            checked,
            details: json!({ "deployments": self.deployment_details(report) }),
            ..Default::default()
        })
    }

    fn deployment_details(&self, r: DeployRefreshReport) -> serde_json::Value {
        if r.changes.len() > MAX_ARTIFACT_EVENTS_PER_RUN {
            self.events.publish(
                "resync",
                EventSubject {
                    reason: Some(format!(
                        "{} deployment statuses changed at once",
                        r.changes.len()
                    )),
                    ..Default::default()
                },
            );
        } else {
            for c in &r.changes {
                self.events.publish(
                    "deployment.status_changed",
                    EventSubject {
                        deployment_id: Some(c.deployment_id.clone()),
                        project_id: Some(c.project_id.clone()),
                        artifact_id: Some(c.artifact_id.clone()),
                        status: Some(c.to.clone()),
                        previous_status: Some(c.from.clone()),
                        ..Default::default()
                    },
                );
            }
        }
        json!({
            "projects": r.projects,
            "discovered": r.discovered,
            "deployments": r.deployments,
            "status_changed": r.status_changed,
            "errors": r.errors,
        })
    }

    /// One event per added, changed or removed artifact; a mass change sends one `resync`.
    fn publish_artifact_changes(&self, report: &SyncReport) {
        let total = report.added_ids.len() + report.updated_ids.len() + report.removed_ids.len();
        if total > MAX_ARTIFACT_EVENTS_PER_RUN {
            self.events.publish(
                "resync",
                EventSubject {
                    reason: Some(format!("{total} artifacts changed at once")),
                    ..Default::default()
                },
            );
            return;
        }
        for (event, ids) in [
            ("artifact.added", &report.added_ids),
            ("artifact.changed", &report.updated_ids),
            ("artifact.removed", &report.removed_ids),
        ] {
            for id in ids {
                self.events.publish(
                    event,
                    EventSubject {
                        artifact_id: Some(id.clone()),
                        ..Default::default()
                    },
                );
            }
        }
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
        if let Scope::Project(id) = scope {
            return self.refresh_project(id).await;
        }
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

    fn job_started(&self, run_id: i64, kind: JobKind, scope: &str) {
        self.events.publish(
            "job.started",
            EventSubject {
                job_id: Some(run_id),
                job_kind: Some(kind.as_str().into()),
                scope: Some(scope.into()),
                ..Default::default()
            },
        );
    }

    fn job_finished(&self, run_id: i64, kind: JobKind, status: RunStatus, duration: Duration) {
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
        self.events.publish(
            "job.finished",
            EventSubject {
                job_id: Some(run_id),
                job_kind: Some(kind.as_str().into()),
                status: Some(status.as_str().into()),
                duration_ms: Some(duration.as_millis() as u64),
                ..Default::default()
            },
        );
    }
}
