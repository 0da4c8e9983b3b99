//! `POST /api/v1/deployments/{id}/push` and `/merge`: acting on drift. Push writes a project
//! copy's edits back into the collection; merge brings the collection's newer version into the
//! project copy, keeping its edits.

use std::collections::{BTreeMap, HashMap};

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::deployments::Deployment;
use crate::deploy::three_way::{Conflict, Side};
use crate::deploy::{MergeOutcome, PushOutcome};
use crate::error::{ApiError, ConflictFile, ConflictHunk};
use crate::state::AppState;

/// Push and merge endpoints.
pub struct DeploymentActionsApi {
    /// Shared state.
    pub state: AppState,
}

/// Another deployment of the pushed artifact whose status changed.
#[derive(Debug, Object)]
pub struct OtherDeployment {
    /// The deployment.
    pub deployment_id: String,
    /// Its project.
    pub project_id: String,
    /// Its status now (`outdated` unless it was edited too).
    pub status: String,
}

/// What a push did.
#[derive(Debug, Object)]
pub struct PushResult {
    /// The deployment, now `synced`.
    pub deployment: Deployment,
    /// False when the collection already held the project copy's content.
    pub pushed: bool,
    /// The artifact's other deployments whose status changed.
    pub other_deployments: Vec<OtherDeployment>,
}

/// Which side a conflicting file is settled with.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Resolution {
    /// The project copy's version of the file.
    Ours,
    /// The collection's version of the file.
    Theirs,
}

/// A merge request; `{}` merges and stops at conflicts.
#[derive(Debug, Object)]
pub struct MergeRequest {
    /// Per file path (inside the artifact), the side to keep where both changed it in ways
    /// that do not combine.
    pub resolve: Option<HashMap<String, Resolution>>,
}

/// How one file came out of a merge.
#[derive(Debug, Object)]
pub struct MergedFile {
    /// Path inside the artifact.
    pub path: String,
    /// `unchanged`, `kept` (changed in the project only), `taken` (changed in the collection
    /// only), `merged` (both, combined), `resolved_ours` or `resolved_theirs`.
    pub outcome: String,
}

/// What a merge did.
#[derive(Debug, Object)]
pub struct MergeResult {
    /// The deployment: its base is now the collection's version, so it is `synced`, or
    /// `modified` when project edits remain on top.
    pub deployment: Deployment,
    /// False when the project copy already was the merge's result.
    pub written: bool,
    /// Every file of any side.
    pub files: Vec<MergedFile>,
}

/// Push outcomes.
#[derive(ApiResponse)]
pub enum PushResponse {
    /// Pushed (or nothing to push).
    #[oai(status = 200)]
    Ok(Json<PushResult>),
}

/// Merge outcomes.
#[derive(ApiResponse)]
pub enum MergeResponse {
    /// Merged and written into the project.
    #[oai(status = 200)]
    Ok(Json<MergeResult>),
}

#[OpenApi(tag = "ApiTags::Deployments")]
impl DeploymentActionsApi {
    /// Push a project copy into the collection
    ///
    /// Writes the deployment's project copy back into its collection: the artifact's folder
    /// (or file) is replaced in one atomic step and `collection.lock` records the new content
    /// hash, as SkillMeat's `sync-pull` does. The cache is refreshed with it, this deployment
    /// is `synced`, and the artifact's other deployments turn `outdated`. 409 when the
    /// collection changed since this copy was deployed (merge first), or when the copy is
    /// missing.
    #[oai(
        path = "/api/v1/deployments/:id/push",
        method = "post",
        operation_id = "push_deployment"
    )]
    async fn push(
        &self,
        /// Deployment id.
        id: Path<String>,
    ) -> Result<PushResponse, ApiError> {
        let outcome = self.state.deployments.push(&id.0).await?;
        Ok(PushResponse::Ok(Json(to_push_result(outcome))))
    }

    /// Merge the collection's version into a project copy
    ///
    /// Three-way merge, file by file, of what was deployed (the base), the project copy
    /// ("ours") and the collection's current version ("theirs"). A file changed on one side
    /// takes that side; text changed on both is combined line by line. A clean merge is
    /// written into the project in one atomic step and the deployment's base becomes the
    /// collection's version. Changes that overlap answer 409 `merge_conflict` with the files
    /// and hunks in `conflicts`, and nothing is written; send `resolve` to settle them per
    /// file. 409 too when no base is kept (a copy already edited when this server first saw
    /// it): diff, then push or update instead.
    #[oai(
        path = "/api/v1/deployments/:id/merge",
        method = "post",
        operation_id = "merge_deployment"
    )]
    async fn merge(
        &self,
        /// Deployment id.
        id: Path<String>,
        body: Json<MergeRequest>,
    ) -> Result<MergeResponse, ApiError> {
        let resolve: BTreeMap<String, Side> = body
            .0
            .resolve
            .unwrap_or_default()
            .into_iter()
            .map(|(path, r)| {
                let side = match r {
                    Resolution::Ours => Side::Ours,
                    Resolution::Theirs => Side::Theirs,
                };
                (path, side)
            })
            .collect();
        match self.state.deployments.merge(&id.0, &resolve).await? {
            MergeOutcome::Merged {
                deployment,
                files,
                written,
            } => Ok(MergeResponse::Ok(Json(MergeResult {
                deployment: (*deployment).into(),
                written,
                files: files
                    .into_iter()
                    .map(|(path, outcome)| MergedFile {
                        path,
                        outcome: outcome.as_str().into(),
                    })
                    .collect(),
            }))),
            MergeOutcome::Conflicts(conflicts) => {
                let paths: Vec<&str> = conflicts.iter().map(|c| c.path.as_str()).collect();
                Err(ApiError::merge_conflict(
                    format!(
                        "Both sides changed {} in ways that do not combine; nothing was written. \
                         Send resolve with \"ours\" (the project copy) or \"theirs\" (the \
                         collection) for each",
                        paths.join(", ")
                    ),
                    conflicts.into_iter().map(to_conflict_file).collect(),
                ))
            }
        }
    }
}

fn to_push_result(o: PushOutcome) -> PushResult {
    PushResult {
        deployment: o.deployment.into(),
        pushed: o.pushed,
        other_deployments: o
            .others
            .into_iter()
            .map(|c| OtherDeployment {
                deployment_id: c.deployment_id,
                project_id: c.project_id,
                status: c.to,
            })
            .collect(),
    }
}

fn to_conflict_file(c: Conflict) -> ConflictFile {
    ConflictFile {
        path: c.path,
        reason: c.reason,
        hunks: c
            .hunks
            .into_iter()
            .map(|h| ConflictHunk {
                line: h.line,
                ours: h.ours,
                base: h.base,
                theirs: h.theirs,
            })
            .collect(),
    }
}
