//! `POST /api/v1/artifacts/import`: an artifact into a collection from a folder or file on the
//! server's machine (written at once, 201) or from a git repository (a `git-import` job,
//! waited for boundedly: 201 when it finished in time, 202 with the job otherwise).

use std::time::Duration;

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Union};

use super::ApiTags;
use super::artifact_detail::{ArtifactDetail, artifact_detail};
use super::job_wait::{enqueued_run, wait_for, wait_of};
use super::jobs::{JobAccepted, JobRun, to_job_run};
use crate::authoring::{AuthoringError, GitImport, PathImport, Written};
use crate::error::{ApiError, ErrorBody};
use crate::jobs::git_import::GitImportJob;
use crate::source::{ArtifactId, ArtifactType};
use crate::state::AppState;

/// Default wait for a git import.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Artifact import endpoints.
pub struct ArtifactImportApi {
    /// Shared state.
    pub state: AppState,
}

/// From a folder (a skill, hook or MCP server) or a `.md` file (a command or agent).
#[derive(Debug, Object)]
pub struct PathImportBody {
    /// Absolute path on the server's machine, inside `deploy.allowed_roots` (`~` expanded).
    pub path: String,
    /// The collection folder to import into (created when missing); `default` when absent.
    pub collection: Option<String>,
    /// skill, command, agent, hook or mcp; inferred as SkillMeat infers it when absent.
    #[oai(rename = "type")]
    pub artifact_type: Option<String>,
    /// The name; the folder's name (or the file's without `.md`) when absent.
    pub name: Option<String>,
    /// Replace an artifact of the same type and name in the collection (409 otherwise).
    #[oai(default)]
    pub overwrite: bool,
}

/// From a git repository, fetched shallowly.
#[derive(Debug, Object)]
pub struct GitImportBody {
    /// `https://...`, `ssh://...`, `git@host:owner/repo.git` or `file:///...`.
    pub url: String,
    /// Branch, tag or full commit id; the repository's HEAD when absent.
    #[oai(rename = "ref")]
    pub git_ref: Option<String>,
    /// The folder or `.md` file in the repository; its top when absent.
    pub path: Option<String>,
    /// The collection folder to import into (created when missing); `default` when absent.
    pub collection: Option<String>,
    /// skill, command, agent, hook or mcp; inferred when absent.
    #[oai(rename = "type")]
    pub artifact_type: Option<String>,
    /// The name; the path's last part (or the repository's name) when absent.
    pub name: Option<String>,
    /// Replace an artifact of the same type and name in the collection (409 otherwise).
    #[oai(default)]
    pub overwrite: bool,
}

/// Where to import from, named by `source`.
#[derive(Debug, Union)]
#[oai(discriminator_name = "source")]
pub enum ImportRequest {
    /// A folder or file on the server's machine.
    #[oai(mapping = "path")]
    Path(PathImportBody),
    /// A git repository.
    #[oai(mapping = "git")]
    Git(GitImportBody),
}

/// An imported (or created) artifact.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportedArtifact {
    /// `type:name`.
    pub id: String,
    /// The collection it was written into.
    pub collection: String,
    /// Its path in that collection.
    pub path: String,
    /// SkillMeat's content hash, as recorded in `collection.lock`.
    pub content_hash: String,
    /// The commit it came from (git imports).
    pub resolved_sha: Option<String>,
    /// The artifact as now served.
    pub artifact: Option<ArtifactDetail>,
    /// The job that ran the import (git imports).
    pub job: Option<JobRun>,
}

/// Import outcomes.
// Built once per request and moved straight into the response: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum ImportResponse {
    /// Imported; `Location` is the artifact's URL.
    #[oai(status = 201)]
    Created(
        Json<ImportedArtifact>,
        /// The artifact's URL.
        #[oai(header = "Location")]
        String,
    ),
    /// The git import is still running: follow the job.
    #[oai(status = 202)]
    Accepted(Json<JobAccepted>),
    /// The git repository could not be reached or read within `artifacts.git_timeout_secs`.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
}

/// The artifact written, as the import and create operations answer it.
pub async fn imported(
    state: &AppState,
    written: Written,
    job: Option<JobRun>,
) -> Result<(ImportedArtifact, String), ApiError> {
    let artifact = artifact_detail(state, &written.artifact_id)
        .await?
        .map(|read| read.detail);
    let location = artifact_url(&written.artifact_id);
    Ok((
        ImportedArtifact {
            id: written.artifact_id.to_string(),
            collection: written.collection,
            path: written.path,
            content_hash: written.content_hash,
            resolved_sha: written.resolved_sha,
            artifact,
            job,
        },
        location,
    ))
}

/// `/api/v1/artifacts/<id>`.
pub fn artifact_url(id: &ArtifactId) -> String {
    format!("/api/v1/artifacts/{id}")
}

/// A type named by a request, 400 when it is not one.
pub fn parse_type(raw: Option<&str>) -> Result<Option<ArtifactType>, ApiError> {
    raw.map(|t| t.parse::<ArtifactType>().map_err(ApiError::bad_request))
        .transpose()
}

fn git_failure(err: AuthoringError) -> Result<ImportResponse, ApiError> {
    match err {
        AuthoringError::Git(detail) => Ok(ImportResponse::BadGateway(Json(ErrorBody {
            code: "git_error".into(),
            detail,
            conflicts: None,
        }))),
        other => Err(other.into()),
    }
}

#[OpenApi(tag = "ApiTags::Artifacts")]
impl ArtifactImportApi {
    /// Import an artifact into a collection
    ///
    /// `{"source": "path", "path": "/home/me/skills/canvas"}` copies a folder or `.md` file;
    /// `{"source": "git", "url": "https://github.com/me/skills.git", "ref": "main", "path":
    /// "skills/canvas"}` fetches it from a git repository as a `git-import` job. Written in
    /// SkillMeat's format (files under `collections/<c>/<type>s/<name>`, an `[[artifacts]]`
    /// entry in `collection.toml`, the content hash in `collection.lock`), atomically. A name
    /// already in the collection is 409 unless `overwrite`; links out of the source are
    /// refused; more than `artifacts.max_files` files or `artifacts.max_total_bytes` bytes is
    /// 413. A git import waits up to `wait_secs` (default 10, at most 60) and answers 202 with
    /// the job when it takes longer.
    #[oai(
        path = "/api/v1/artifacts/import",
        method = "post",
        operation_id = "import_artifact"
    )]
    async fn import_artifact(
        &self,
        body: Json<ImportRequest>,
        /// Seconds to wait for a git import before answering 202 with its job.
        #[oai(validator(maximum(value = "60")))]
        wait_secs: Query<Option<u64>>,
    ) -> Result<ImportResponse, ApiError> {
        let state = &self.state;
        match body.0 {
            ImportRequest::Path(b) => {
                let written = state
                    .authoring
                    .import_path(PathImport {
                        path: b.path,
                        collection: b.collection.unwrap_or_else(|| "default".into()),
                        artifact_type: parse_type(b.artifact_type.as_deref())?,
                        name: b.name,
                        overwrite: b.overwrite,
                    })
                    .await?;
                let (body, location) = imported(state, written, None).await?;
                Ok(ImportResponse::Created(Json(body), location))
            }
            ImportRequest::Git(b) => {
                let request = GitImport {
                    url: b.url,
                    git_ref: b.git_ref.unwrap_or_else(|| "HEAD".into()),
                    path: b.path.unwrap_or_default(),
                    collection: b.collection.unwrap_or_else(|| "default".into()),
                    artifact_type: parse_type(b.artifact_type.as_deref())?,
                    name: b.name,
                    overwrite: b.overwrite,
                };
                // Unreachable repositories and unknown refs are told at once, not by a job.
                if let Err(e) = state.authoring.preflight_git(&request).await {
                    return git_failure(e);
                }
                let enqueued = state
                    .jobs
                    .enqueue(GitImportJob(request), jobs::Trigger::Manual)
                    .await?;
                let (run, deduplicated) = enqueued_run(enqueued)?;
                let (run, finished) =
                    wait_for(&state.jobs, run, wait_of(wait_secs.0, DEFAULT_WAIT)).await?;
                if !finished {
                    return Ok(ImportResponse::Accepted(Json(JobAccepted {
                        job: to_job_run(run),
                        deduplicated,
                    })));
                }
                if let Some(failure) = job_failure(&run) {
                    return git_failure(failure);
                }
                let written = written_of(&run)?;
                let (body, location) = imported(state, written, Some(to_job_run(run))).await?;
                Ok(ImportResponse::Created(Json(body), location))
            }
        }
    }
}

/// Why a finished run did not succeed, as the error its work returned.
pub fn job_failure(run: &entity::job_runs::Model) -> Option<AuthoringError> {
    if run.status == jobs::RunStatus::Succeeded.as_str() {
        return None;
    }
    let message = run.error.clone().unwrap_or_else(|| run.status.clone());
    Some(AuthoringError::from_job_message(&message))
}

/// What a finished git import or upstream update wrote, from its run's details.
pub fn written_of(run: &entity::job_runs::Model) -> Result<Written, ApiError> {
    let details = run.details.clone().unwrap_or_default();
    let text = |k: &str| details.get(k).and_then(|v| v.as_str()).map(String::from);
    let id = text("artifact_id")
        .and_then(|i| ArtifactId::parse(&i).ok())
        .ok_or_else(|| ApiError::conflict("the import job's record does not name its artifact"))?;
    Ok(Written {
        artifact_id: id,
        collection: text("collection").unwrap_or_default(),
        path: text("path").unwrap_or_default(),
        content_hash: text("content_hash").unwrap_or_default(),
        resolved_sha: text("resolved_sha"),
    })
}
