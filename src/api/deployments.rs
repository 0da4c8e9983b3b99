//! `/api/v1/deployments`: deploy, undeploy and update artifacts in projects, and the dashboard
//! (list with filters, summary).

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::common::DeletedResponse;
use super::common::{PageInfo, SortOrder, comma_list};
use crate::deploy::{
    DeployRequest, DeploymentFilter, DeploymentSort, DeploymentStatus, StatusCounts,
};
use crate::error::ApiError;
use crate::source::ArtifactType;
use crate::state::AppState;

/// Deployment endpoints.
pub struct DeploymentsApi {
    /// Shared state.
    pub state: AppState,
}

/// One artifact deployed into one project profile.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Deployment {
    /// 32 hex characters.
    pub id: String,
    /// The project.
    pub project_id: String,
    /// The project's folder.
    pub project_path: String,
    /// `type:name`.
    pub artifact_id: String,
    /// Type.
    pub artifact_type: String,
    /// Name.
    pub artifact_name: String,
    /// `claude_code`, `codex`, `gemini` or `cursor`.
    pub profile: String,
    /// The profile's folder, e.g. `.claude`.
    pub profile_root: String,
    /// Path of the copy relative to the profile folder.
    pub artifact_path: String,
    /// The collection it came from.
    pub from_collection: String,
    /// When it was deployed.
    pub deployed_at: DateTime<Utc>,
    /// synced, modified, outdated, conflict or missing.
    pub status: String,
    /// Hash recorded at deploy time.
    pub recorded_hash: String,
    /// Hash of the project copy at the last check (null: missing).
    pub local_hash: Option<String>,
    /// Hash of the collection's copy at the last check (null: no longer in a collection).
    pub collection_hash: Option<String>,
    /// When the status was computed.
    pub status_checked_at: DateTime<Utc>,
    /// True when its artifact is in no collection any more (deleted): the copy stays in the
    /// project, untracked by any collection.
    pub orphaned: bool,
}

impl From<entity::deployments::Model> for Deployment {
    fn from(d: entity::deployments::Model) -> Self {
        Self {
            id: d.id,
            project_id: d.project_id,
            project_path: d.project_path,
            artifact_id: d.artifact_id,
            artifact_type: d.artifact_type,
            artifact_name: d.artifact_name,
            profile: d.profile,
            profile_root: d.profile_root,
            artifact_path: d.artifact_path,
            from_collection: d.from_collection,
            deployed_at: d.deployed_at,
            status: d.status,
            recorded_hash: d.recorded_hash,
            local_hash: d.local_hash,
            orphaned: d.collection_hash.is_none(),
            collection_hash: d.collection_hash,
            status_checked_at: d.status_checked_at,
        }
    }
}

/// Deployment counts per status.
#[derive(Debug, Object, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct DeploymentCounts {
    /// All deployments.
    pub total: u64,
    /// Up to date.
    pub synced: u64,
    /// Changed in the project.
    pub modified: u64,
    /// Changed in the collection.
    pub outdated: u64,
    /// Changed in both.
    pub conflict: u64,
    /// Files gone from the project.
    pub missing: u64,
}

impl From<StatusCounts> for DeploymentCounts {
    fn from(c: StatusCounts) -> Self {
        Self {
            total: c.total,
            synced: c.synced,
            modified: c.modified,
            outdated: c.outdated,
            conflict: c.conflict,
            missing: c.missing,
        }
    }
}

/// A deploy request.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateDeployment {
    /// `type:name`.
    pub artifact_id: String,
    /// A registered project (or give `project_path`).
    pub project_id: Option<String>,
    /// An absolute project folder; registered on first use.
    pub project_path: Option<String>,
    /// `claude_code` (default), `codex`, `gemini` or `cursor`.
    pub profile: Option<String>,
    /// Replace an existing deployment (default false).
    pub overwrite: Option<bool>,
    /// Path inside the profile folder (default `<type folder>/<name>`); no `..`, not absolute.
    pub dest_path: Option<String>,
}

/// One page of deployments.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeploymentList {
    /// Deployments.
    pub items: Vec<Deployment>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A count per key.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct KeyCount {
    /// The key (a type).
    pub key: String,
    /// How many.
    pub count: u64,
}

/// Deployments of one project.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProjectCount {
    /// Project id.
    pub project_id: String,
    /// Project folder.
    pub project: String,
    /// How many.
    pub count: u64,
}

/// Deployments of one artifact.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactCount {
    /// `type:name`.
    pub artifact_id: String,
    /// How many.
    pub count: u64,
}

/// The dashboard summary.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeploymentSummary {
    /// All deployments.
    pub total: u64,
    /// Per status.
    pub by_status: DeploymentCounts,
    /// Per artifact type.
    pub by_type: Vec<KeyCount>,
    /// Per project, most first.
    pub by_project: Vec<ProjectCount>,
    /// Per artifact, most first.
    pub by_artifact: Vec<ArtifactCount>,
    /// Newest status check.
    pub last_updated: Option<DateTime<Utc>>,
}

/// Sort field of the dashboard list.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "snake_case")]
pub enum DeploymentSortField {
    /// By `type:name`.
    #[default]
    Artifact,
    /// By project folder.
    Project,
    /// By deploy time.
    DeployedAt,
    /// By status.
    Status,
}

/// Deploy outcomes.
#[derive(ApiResponse)]
pub enum DeployResponse {
    /// Deployed.
    #[oai(status = 201)]
    Created(Json<Deployment>),
    /// An existing deployment was replaced (`overwrite=true`).
    #[oai(status = 200)]
    Replaced(Json<Deployment>),
}

/// Get/update outcomes.
#[derive(ApiResponse)]
pub enum GetDeploymentResponse {
    /// The deployment.
    #[oai(status = 200)]
    Ok(Json<Deployment>),
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListDeploymentsResponse {
    /// A page of deployments.
    #[oai(status = 200)]
    Ok(Json<DeploymentList>),
}

/// Summary outcomes.
#[derive(ApiResponse)]
pub enum SummaryResponse {
    /// The summary.
    #[oai(status = 200)]
    Ok(Json<DeploymentSummary>),
}

#[OpenApi(tag = "ApiTags::Deployments")]
impl DeploymentsApi {
    /// Deploy an artifact into a project
    ///
    /// Copies the artifact's files into `<project>/<profile folder>/<type folder>/...` (through a
    /// temp folder and a rename) and writes SkillMeat's `.skillmeat-deployed.toml` record.
    /// Already deployed without `overwrite`: 409. Unknown artifact or project: 404. A destination
    /// that would leave the project: 400, nothing written.
    #[oai(
        path = "/api/v1/deployments",
        method = "post",
        operation_id = "deploy_artifact"
    )]
    async fn deploy(&self, body: Json<CreateDeployment>) -> Result<DeployResponse, ApiError> {
        let b = body.0;
        let (row, replaced) = self
            .state
            .deployments
            .deploy(DeployRequest {
                artifact_id: b.artifact_id,
                project_id: b.project_id,
                project_path: b.project_path,
                profile: b.profile,
                overwrite: b.overwrite.unwrap_or(false),
                dest_path: b.dest_path,
            })
            .await?;
        Ok(if replaced {
            DeployResponse::Replaced(Json(row.into()))
        } else {
            DeployResponse::Created(Json(row.into()))
        })
    }

    /// List deployments across projects
    ///
    /// The dashboard list: stored statuses (no hashing on this path), filters applied before
    /// paging.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/deployments",
        method = "get",
        operation_id = "list_deployments"
    )]
    async fn list(
        &self,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Statuses, comma-separated: synced, modified, outdated, conflict, missing.
        status: Query<Option<String>>,
        /// Project id or folder path.
        project: Query<Option<String>>,
        /// `type:name`.
        artifact_id: Query<Option<String>>,
        /// Types, comma-separated.
        #[oai(name = "type")]
        artifact_type: Query<Option<String>>,
        /// Profile id.
        profile: Query<Option<String>>,
        /// Case-insensitive part of the artifact name.
        search: Query<Option<String>>,
        /// Sort field (default artifact).
        sort: Query<Option<DeploymentSortField>>,
        /// Sort direction (default asc).
        order: Query<Option<SortOrder>>,
    ) -> Result<ListDeploymentsResponse, ApiError> {
        let mut filter = DeploymentFilter {
            project: project.0,
            artifact_id: artifact_id.0,
            profile: profile.0,
            search: search.0,
            ..Default::default()
        };
        for raw in comma_list(status.0.as_deref()) {
            filter
                .statuses
                .push(DeploymentStatus::parse(&raw).map_err(ApiError::bad_request)?);
        }
        for raw in comma_list(artifact_type.0.as_deref()) {
            filter
                .types
                .push(raw.parse::<ArtifactType>().map_err(ApiError::bad_request)?);
        }
        let sort = match sort.0.unwrap_or_default() {
            DeploymentSortField::Artifact => DeploymentSort::Artifact,
            DeploymentSortField::Project => DeploymentSort::Project,
            DeploymentSortField::DeployedAt => DeploymentSort::DeployedAt,
            DeploymentSortField::Status => DeploymentSort::Status,
        };
        let has_previous_page = after.0.is_some();
        let page = self
            .state
            .deployments
            .list(
                &filter,
                sort,
                matches!(order.0, Some(SortOrder::Desc)),
                limit.0.unwrap_or(50),
                after.0.as_deref(),
            )
            .await?;
        Ok(ListDeploymentsResponse::Ok(Json(DeploymentList {
            items: page.items.into_iter().map(Into::into).collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page,
                end_cursor: page.end_cursor,
                total_count: page.total_count,
            },
        })))
    }

    /// Deployment summary
    ///
    /// Totals by status, type, project and artifact, for the dashboard's badges.
    #[oai(
        path = "/api/v1/deployments/summary",
        method = "get",
        operation_id = "deployment_summary"
    )]
    async fn summary(&self) -> Result<SummaryResponse, ApiError> {
        let s = self.state.deployments.summary().await?;
        Ok(SummaryResponse::Ok(Json(DeploymentSummary {
            total: s.by_status.total,
            by_status: s.by_status.into(),
            by_type: s
                .by_type
                .into_iter()
                .map(|(key, count)| KeyCount { key, count })
                .collect(),
            by_project: s
                .by_project
                .into_iter()
                .map(|(project_id, project, count)| ProjectCount {
                    project_id,
                    project,
                    count,
                })
                .collect(),
            by_artifact: s
                .by_artifact
                .into_iter()
                .map(|(artifact_id, count)| ArtifactCount { artifact_id, count })
                .collect(),
            last_updated: s.last_updated,
        })))
    }

    /// Get a deployment
    ///
    /// The stored status; `recheck=true` recomputes it from the files first.
    #[oai(
        path = "/api/v1/deployments/:id",
        method = "get",
        operation_id = "get_deployment"
    )]
    async fn get(
        &self,
        /// Deployment id.
        id: Path<String>,
        /// Recompute the status now.
        recheck: Query<Option<bool>>,
    ) -> Result<GetDeploymentResponse, ApiError> {
        let row = self
            .state
            .deployments
            .get(&id.0, recheck.0.unwrap_or(false))
            .await?;
        Ok(GetDeploymentResponse::Ok(Json(row.into())))
    }

    /// Undeploy
    ///
    /// Removes the deployed files and the record (404 when not deployed).
    #[oai(
        path = "/api/v1/deployments/:id",
        method = "delete",
        operation_id = "undeploy_artifact"
    )]
    async fn undeploy(
        &self,
        /// Deployment id.
        id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state.deployments.undeploy(&id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Update a deployment to the latest version
    ///
    /// Re-copies the collection's current version. A project copy with local modifications is
    /// refused with 409 unless `?force=true`.
    #[oai(
        path = "/api/v1/deployments/:id/update",
        method = "post",
        operation_id = "update_deployment"
    )]
    async fn update(
        &self,
        /// Deployment id.
        id: Path<String>,
        /// Overwrite local modifications (default false).
        force: Query<Option<bool>>,
    ) -> Result<GetDeploymentResponse, ApiError> {
        let force = force.0.unwrap_or(false);
        let row = self.state.deployments.update(&id.0, force).await?;
        Ok(GetDeploymentResponse::Ok(Json(row.into())))
    }
}
