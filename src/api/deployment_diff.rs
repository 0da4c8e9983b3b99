//! `GET /api/v1/deployments/{id}/diff`: what a deployment's project copy changed, against the
//! collection's current version or against what was deployed.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use crate::deploy::{DeploymentDiff, DiffAgainst, FileDiff};
use crate::error::ApiError;
use crate::state::AppState;

/// Most lines of context a diff may ask for.
const MAX_CONTEXT: u32 = 100;

/// Diff endpoints.
pub struct DeploymentDiffApi {
    /// Shared state.
    pub state: AppState,
}

/// What to compare the project copy with.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum Against {
    /// The collection's current version.
    #[default]
    Collection,
    /// What was deployed (its base); 409 when no snapshot of it is kept.
    Base,
}

/// One file's difference.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FileDifference {
    /// Path inside the artifact.
    pub path: String,
    /// `added` (only in the project copy), `removed` (only in the other side), `modified` or
    /// `unchanged`.
    pub change: String,
    /// Not text: no lines are shown.
    pub binary: bool,
    /// Over 256 KiB on a side: compared, but no lines are shown.
    pub too_large: bool,
    /// Bytes on the other side (collection or base).
    pub other_size: Option<u64>,
    /// Bytes in the project copy.
    pub project_size: Option<u64>,
    /// Unified diff: `-` lines are the other side's, `+` lines the project copy's.
    pub unified: Option<String>,
}

/// Files changed, by kind.
#[derive(Debug, Object)]
pub struct DiffCounts {
    /// Only in the project copy.
    pub added: u64,
    /// Only in the other side.
    pub removed: u64,
    /// Different.
    pub modified: u64,
    /// The same.
    pub unchanged: u64,
}

/// A deployment's differences.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeploymentDifference {
    /// The deployment.
    pub deployment_id: String,
    /// `collection` or `base`.
    pub against: String,
    /// The other side's content hash.
    pub other_hash: Option<String>,
    /// The project copy's content hash (absent when the copy is missing).
    pub project_hash: Option<String>,
    /// True when the content deployed is kept, so `against=base` works.
    pub base_available: bool,
    /// Files per kind of change.
    pub counts: DiffCounts,
    /// Every file of either side, by path.
    pub files: Vec<FileDifference>,
}

/// Diff outcomes.
#[derive(ApiResponse)]
pub enum DiffResponse {
    /// The differences.
    #[oai(status = 200)]
    Ok(Json<DeploymentDifference>),
}

#[OpenApi(tag = "ApiTags::Deployments")]
impl DeploymentDiffApi {
    /// Diff a deployment
    ///
    /// Per file, what the project copy added, removed or modified compared with the
    /// collection's current version (`against=collection`, the default) or with what was
    /// deployed (`against=base`; 409 when no snapshot of it is kept: a copy already edited
    /// when this server first saw it). Text files get a unified diff with `context` lines around
    /// each change (default 3); binary files and files over 256 KiB are marked instead.
    #[oai(
        path = "/api/v1/deployments/:id/diff",
        method = "get",
        operation_id = "diff_deployment"
    )]
    async fn diff(
        &self,
        /// Deployment id.
        id: Path<String>,
        /// `collection` (default) or `base`.
        against: Query<Option<Against>>,
        /// Lines of context around each change, 0 to 100 (default 3).
        #[oai(validator(maximum(value = "100")))]
        context: Query<Option<u32>>,
    ) -> Result<DiffResponse, ApiError> {
        let against = match against.0.unwrap_or_default() {
            Against::Collection => DiffAgainst::Collection,
            Against::Base => DiffAgainst::Base,
        };
        let context = context.0.unwrap_or(3).min(MAX_CONTEXT) as usize;
        let diff = self.state.deployments.diff(&id.0, against, context).await?;
        Ok(DiffResponse::Ok(Json(to_difference(id.0, diff))))
    }
}

fn to_difference(deployment_id: String, d: DeploymentDiff) -> DeploymentDifference {
    let count =
        |c: crate::deploy::FileChange| d.files.iter().filter(|f| f.change == c).count() as u64;
    use crate::deploy::FileChange as C;
    DeploymentDifference {
        deployment_id,
        against: match d.against {
            DiffAgainst::Collection => "collection".into(),
            DiffAgainst::Base => "base".into(),
        },
        counts: DiffCounts {
            added: count(C::Added),
            removed: count(C::Removed),
            modified: count(C::Modified),
            unchanged: count(C::Unchanged),
        },
        other_hash: d.other_hash,
        project_hash: d.project_hash,
        base_available: d.base_available,
        files: d.files.into_iter().map(to_file).collect(),
    }
}

fn to_file(f: FileDiff) -> FileDifference {
    FileDifference {
        path: f.path,
        change: f.change.as_str().into(),
        binary: f.binary,
        too_large: f.too_large,
        other_size: f.other_size,
        project_size: f.project_size,
        unified: f.unified,
    }
}
