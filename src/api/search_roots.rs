//! `/api/v1/search-roots`: the folders searched for projects (configured and added).

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::common::DeletedResponse;
use super::projects::{Project, to_project};
use crate::deploy::SearchRoot;
use crate::error::ApiError;
use crate::state::AppState;

/// Search root endpoints.
pub struct SearchRootsApi {
    /// Shared state.
    pub state: AppState,
}

/// A folder searched for projects (`deploy.search_depth` levels deep).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SearchRootItem {
    /// Id of a root added here; absent for a configured one (`deploy.search_roots`).
    pub id: Option<String>,
    /// The folder.
    pub path: String,
    /// True when it comes from the configuration.
    pub configured: bool,
    /// Whether the folder exists (missing ones are skipped).
    pub exists: bool,
    /// When it was added.
    pub added_at: Option<DateTime<Utc>>,
}

/// Every search root.
#[derive(Debug, Object)]
pub struct SearchRootList {
    /// Configured ones first, then added ones by path.
    pub items: Vec<SearchRootItem>,
}

/// A folder to search.
#[derive(Debug, Object)]
pub struct AddSearchRoot {
    /// Absolute path (`~` expanded) of an existing folder inside `deploy.allowed_roots`.
    pub path: String,
}

/// An added root and what searching it found.
#[derive(Debug, Object)]
pub struct AddedSearchRoot {
    /// The root.
    pub root: SearchRootItem,
    /// Projects found there that were not known, with their recorded deployments read.
    pub projects_found: Vec<Project>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListSearchRootsResponse {
    /// The roots.
    #[oai(status = 200)]
    Ok(Json<SearchRootList>),
}

/// Add outcomes.
#[derive(ApiResponse)]
pub enum AddSearchRootResponse {
    /// Added and searched.
    #[oai(status = 201)]
    Created(Json<AddedSearchRoot>),
}

#[OpenApi(tag = "ApiTags::Deployments")]
impl SearchRootsApi {
    /// List search roots
    ///
    /// The folders searched for projects with SkillMeat deployment records: the configured
    /// `deploy.search_roots` (by default `~/projects`, `~/dev`, `~/workspace`, `~/src`) and the
    /// ones added here.
    #[oai(
        path = "/api/v1/search-roots",
        method = "get",
        operation_id = "list_search_roots"
    )]
    async fn list(&self) -> Result<ListSearchRootsResponse, ApiError> {
        let items = self.state.deployments.search_roots().await?;
        Ok(ListSearchRootsResponse::Ok(Json(SearchRootList {
            items: items.into_iter().map(to_item).collect(),
        })))
    }

    /// Add a search root
    ///
    /// Searches the folder at once (and at every refresh from now on) and reads the deployments
    /// of the projects found. The folder must exist (400) inside `deploy.allowed_roots` (403);
    /// a folder searched already is 409.
    #[oai(
        path = "/api/v1/search-roots",
        method = "post",
        operation_id = "add_search_root"
    )]
    async fn add(&self, body: Json<AddSearchRoot>) -> Result<AddSearchRootResponse, ApiError> {
        let (root, found) = self.state.deployments.add_search_root(&body.0.path).await?;
        let counts = self
            .state
            .deployments
            .deployment_counts(&found.iter().map(|p| p.id.clone()).collect::<Vec<_>>())
            .await?;
        Ok(AddSearchRootResponse::Created(Json(AddedSearchRoot {
            root: to_item(root),
            projects_found: found
                .into_iter()
                .map(|p| {
                    let n = counts.get(&p.id).copied().unwrap_or(0);
                    to_project(p, n)
                })
                .collect(),
        })))
    }

    /// Remove a search root
    ///
    /// Stops searching a folder added here; projects found there stay known. Configured roots
    /// are changed in the configuration (404 here).
    #[oai(
        path = "/api/v1/search-roots/:id",
        method = "delete",
        operation_id = "remove_search_root"
    )]
    async fn remove(
        &self,
        /// The added root's id.
        id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state.deployments.remove_search_root(&id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}

fn to_item(r: SearchRoot) -> SearchRootItem {
    SearchRootItem {
        id: r.id,
        path: r.path,
        configured: r.configured,
        exists: r.exists,
        added_at: r.added_at,
    }
}
