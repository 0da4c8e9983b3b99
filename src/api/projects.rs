//! `/api/v1/projects`: project folders whose deployments are tracked.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::common::DeletedResponse;
use super::common::PageInfo;
use crate::error::ApiError;
use crate::state::AppState;
use poem_openapi::param::Query;

/// Project endpoints.
pub struct ProjectsApi {
    /// Shared state.
    pub state: AppState,
}

/// A project folder.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Project {
    /// 32 hex characters.
    pub id: String,
    /// The folder's name.
    pub name: String,
    /// Canonical absolute path.
    pub path: String,
    /// True when registered by a user, false when found by discovery.
    pub registered: bool,
    /// Deployments in it.
    pub deployment_count: u64,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
    /// When its records were last read.
    pub last_scanned_at: Option<DateTime<Utc>>,
}

/// One page of projects.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ProjectList {
    /// By path.
    pub items: Vec<Project>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A folder to register.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RegisterProject {
    /// Absolute path of an existing folder (`~` is expanded).
    pub path: String,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListProjectsResponse {
    /// The projects.
    #[oai(status = 200)]
    Ok(Json<ProjectList>),
}

/// Register outcomes.
#[derive(ApiResponse)]
pub enum RegisterProjectResponse {
    /// Registered; its deployment records were read.
    #[oai(status = 201)]
    Created(Json<Project>),
}

/// Get outcomes.
#[derive(ApiResponse)]
pub enum GetProjectResponse {
    /// The project.
    #[oai(status = 200)]
    Ok(Json<Project>),
}

#[OpenApi(tag = "ApiTags::Deployments")]
impl ProjectsApi {
    /// List projects
    ///
    /// Registered and discovered project folders, by path, with their deployment counts.
    #[oai(
        path = "/api/v1/projects",
        method = "get",
        operation_id = "list_projects"
    )]
    async fn list(
        &self,
        /// Page size, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
    ) -> Result<ListProjectsResponse, ApiError> {
        let (rows, has_next_page, total_count) = self
            .state
            .deployments
            .list_projects(limit.0.unwrap_or(50), after.0.as_deref())
            .await?;
        let end_cursor = rows
            .last()
            .map(|(p, _)| crate::paging::encode_pair(&p.path, &p.id));
        Ok(ListProjectsResponse::Ok(Json(ProjectList {
            items: rows.into_iter().map(|(p, n)| to_project(p, n)).collect(),
            page_info: PageInfo {
                has_next_page,
                has_previous_page: after.0.is_some(),
                end_cursor,
                total_count,
            },
        })))
    }

    /// Register a project
    ///
    /// The path must be absolute and an existing folder (400 otherwise); registered once (409).
    /// Its existing SkillMeat deployment records are read at once.
    #[oai(
        path = "/api/v1/projects",
        method = "post",
        operation_id = "register_project"
    )]
    async fn register(
        &self,
        body: Json<RegisterProject>,
    ) -> Result<RegisterProjectResponse, ApiError> {
        let project = self
            .state
            .deployments
            .register_project(&body.0.path)
            .await?;
        let count = self.count(&project.id).await?;
        Ok(RegisterProjectResponse::Created(Json(to_project(
            project, count,
        ))))
    }

    /// Get a project
    #[oai(
        path = "/api/v1/projects/:id",
        method = "get",
        operation_id = "get_project"
    )]
    async fn get(
        &self,
        /// Project id.
        id: Path<String>,
    ) -> Result<GetProjectResponse, ApiError> {
        let project = self.state.deployments.project(&id.0).await?;
        let count = self.count(&project.id).await?;
        Ok(GetProjectResponse::Ok(Json(to_project(project, count))))
    }

    /// Forget a project
    ///
    /// Drops the project and its deployment rows; its files and records are untouched (a
    /// discovered project comes back at the next refresh).
    #[oai(
        path = "/api/v1/projects/:id",
        method = "delete",
        operation_id = "delete_project"
    )]
    async fn delete(
        &self,
        /// Project id.
        id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state.deployments.delete_project(&id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}

impl ProjectsApi {
    async fn count(&self, project_id: &str) -> Result<u64, ApiError> {
        Ok(self
            .state
            .deployments
            .deployment_counts(&[project_id.to_string()])
            .await?
            .remove(project_id)
            .unwrap_or(0))
    }
}

pub(crate) fn to_project(p: entity::projects::Model, deployment_count: u64) -> Project {
    Project {
        id: p.id,
        name: p.name,
        path: p.path,
        registered: p.registered,
        deployment_count,
        created_at: p.created_at,
        last_scanned_at: p.last_scanned_at,
    }
}
