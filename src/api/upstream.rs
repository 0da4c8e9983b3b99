//! `/api/v1/artifacts/{id}/upstream/*`: ask an artifact's git upstream for its newest commit
//! (answered at once) and pull it into the collection (an `upstream-update` job, waited for
//! boundedly).

use std::time::Duration;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::artifact_detail::UpstreamInfo;
use super::artifact_import::{ImportedArtifact, imported, job_failure, written_of};
use super::artifacts::parse_id;
use super::job_wait::{enqueued_run, wait_for, wait_of};
use super::jobs::{JobAccepted, to_job_run};
use crate::authoring::AuthoringError;
use crate::error::{ApiError, ErrorBody};
use crate::jobs::upstream::UpstreamUpdateJob;
use crate::state::AppState;

/// Default wait for an update.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Upstream endpoints.
pub struct UpstreamApi {
    /// Shared state.
    pub state: AppState,
}

/// Check outcomes.
#[derive(ApiResponse)]
pub enum CheckUpstreamResponse {
    /// What the upstream's ref names now.
    #[oai(status = 200)]
    Ok(Json<UpstreamInfo>),
    /// The repository could not be reached or read in time.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
}

/// Update outcomes.
// Built once per request and moved straight into the response: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum UpdateUpstreamResponse {
    /// Pulled: the collection holds the upstream's newest commit.
    #[oai(status = 200)]
    Ok(Json<ImportedArtifact>),
    /// Still running: follow the job.
    #[oai(status = 202)]
    Accepted(Json<JobAccepted>),
    /// The repository could not be reached or read in time.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
}

fn bad_gateway(detail: String) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: "git_error".into(),
        detail,
        conflicts: None,
    })
}

#[OpenApi(tag = "ApiTags::Artifacts")]
impl UpstreamApi {
    /// Check an artifact's upstream for a new commit
    ///
    /// Asks the git repository in the artifact's manifest entry which commit its ref names
    /// now (no objects are fetched), records it, and answers the upstream's state:
    /// `update_available` when it differs from the commit the collection's copy came from.
    /// 409 when the artifact has no git upstream.
    #[oai(
        path = "/api/v1/artifacts/:id/upstream/check",
        method = "post",
        operation_id = "check_artifact_upstream"
    )]
    async fn check_artifact_upstream(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
    ) -> Result<CheckUpstreamResponse, ApiError> {
        let id = parse_id(&id.0)?;
        match self.state.authoring.check_upstream(&id).await {
            Ok(status) => Ok(CheckUpstreamResponse::Ok(Json(status.into()))),
            Err(AuthoringError::Git(d)) => Ok(CheckUpstreamResponse::BadGateway(bad_gateway(d))),
            Err(e) => Err(e.into()),
        }
    }

    /// Pull an artifact's upstream into its collection
    ///
    /// Fetches the upstream ref's newest commit and replaces the collection's copy (an
    /// `upstream-update` job, waited for up to `wait_secs`, default 10; 202 with the job when
    /// longer). The cache is refreshed and the artifact's deployments turn `outdated`. Edits
    /// made in the collection since the last pull are not overwritten: 409 unless `?force=true`.
    #[oai(
        path = "/api/v1/artifacts/:id/upstream/update",
        method = "post",
        operation_id = "update_artifact_from_upstream"
    )]
    async fn update_artifact_from_upstream(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
        /// Overwrite edits made in the collection since the last pull (409 otherwise).
        force: Query<Option<bool>>,
        /// Seconds to wait before answering 202 with the job.
        #[oai(validator(maximum(value = "60")))]
        wait_secs: Query<Option<u64>>,
    ) -> Result<UpdateUpstreamResponse, ApiError> {
        let id = parse_id(&id.0)?;
        let force = force.0.unwrap_or_default();
        let state = &self.state;
        // An artifact without an upstream, or with edits and no force, is told at once.
        state.authoring.preflight_update(&id, force).await?;
        let job = UpstreamUpdateJob {
            artifact_id: id.to_string(),
            force,
        };
        let enqueued = state.jobs.enqueue(job, jobs::Trigger::Manual).await?;
        let (run, deduplicated) = enqueued_run(enqueued)?;
        let (run, finished) =
            wait_for(&state.jobs, run, wait_of(wait_secs.0, DEFAULT_WAIT)).await?;
        if !finished {
            return Ok(UpdateUpstreamResponse::Accepted(Json(JobAccepted {
                job: to_job_run(run),
                deduplicated,
            })));
        }
        if let Some(failure) = job_failure(&run) {
            return match failure {
                AuthoringError::Git(d) => Ok(UpdateUpstreamResponse::BadGateway(bad_gateway(d))),
                other => Err(other.into()),
            };
        }
        let written = written_of(&run)?;
        let (body, _) = imported(state, written, Some(to_job_run(run))).await?;
        Ok(UpdateUpstreamResponse::Ok(Json(body)))
    }
}
