//! Upstream jobs: `upstream` checks artifacts' git upstreams for new commits (all of them on
//! the daily schedule, or one: `artifact:<type:name>`); `upstream-update` pulls one artifact's
//! newest commit into its collection (`force` overwrites edits made since the last pull).

use ::jobs::{BoxError, Payload, RunReport};
use serde_json::json;

use super::JobServices;
use crate::source::ArtifactId;

/// Payload of an upstream check: every artifact (`None`) or one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCheckJob(pub Option<String>);

impl UpstreamCheckJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "upstream";
}

impl Payload for UpstreamCheckJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        match &self.0 {
            None => "all".into(),
            Some(id) => format!("artifact:{id}"),
        }
    }

    fn from_run(scope: &str, _force: bool) -> Result<Self, BoxError> {
        if scope == "all" {
            return Ok(Self(None));
        }
        let id = scope
            .strip_prefix("artifact:")
            .ok_or_else(|| format!("'{scope}' is not an upstream check scope"))?;
        Ok(Self(Some(id.to_string())))
    }
}

/// Checks the upstreams in scope; a failed check is counted, not fatal.
pub async fn check(job: UpstreamCheckJob, services: JobServices) -> Result<RunReport, BoxError> {
    let (checked, failed) = match &job.0 {
        None => services.authoring.check_all_upstreams().await?,
        Some(raw) => {
            let id = ArtifactId::parse(raw)?;
            services.authoring.check_upstream(&id).await?;
            (1, Vec::new())
        }
    };
    Ok(RunReport {
        checked,
        errors: failed.len() as u64,
        details: json!({ "error_messages": failed }),
        ..Default::default()
    })
}

/// Payload of an upstream update of one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUpdateJob {
    /// `type:name`.
    pub artifact_id: String,
    /// Overwrite edits made in the collection since the last pull.
    pub force: bool,
}

impl UpstreamUpdateJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "upstream_update";
}

impl Payload for UpstreamUpdateJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        format!("artifact:{}", self.artifact_id)
    }

    fn force(&self) -> bool {
        self.force
    }

    fn from_run(scope: &str, force: bool) -> Result<Self, BoxError> {
        let id = scope
            .strip_prefix("artifact:")
            .ok_or_else(|| format!("'{scope}' is not an upstream update scope"))?;
        Ok(Self {
            artifact_id: id.to_string(),
            force,
        })
    }
}

/// Pulls the newest commit; the run's details say what it wrote.
pub async fn update(job: UpstreamUpdateJob, services: JobServices) -> Result<RunReport, BoxError> {
    let id = ArtifactId::parse(&job.artifact_id)?;
    let written = services
        .authoring
        .update_from_upstream(&id, job.force)
        .await?;
    Ok(RunReport {
        checked: 1,
        refreshed: 1,
        details: json!({
            "artifact_id": written.artifact_id.to_string(),
            "collection": written.collection,
            "path": written.path,
            "content_hash": written.content_hash,
            "resolved_sha": written.resolved_sha,
        }),
        ..Default::default()
    })
}
