//! `/api/v1/instances`: the server instances running job workers, with their heartbeats and
//! the jobs they are running.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::jobs::{JobRun, to_job_run};
use crate::error::ApiError;
use crate::state::AppState;

/// Instance endpoints.
pub struct InstancesApi {
    /// Shared state.
    pub state: AppState,
}

/// One server instance.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Instance {
    /// Its name (the `instance` on the runs it ran).
    pub id: String,
    /// The machine it runs on.
    pub host: String,
    /// The server's version.
    pub version: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it stopped cleanly.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Silent for over three heartbeats without having stopped (crashed, or cut off).
    pub stale: bool,
    /// True for the instance answering this request.
    pub current: bool,
    /// The jobs it is running.
    pub running: Vec<JobRun>,
}

/// The instances.
#[derive(Debug, Object)]
pub struct InstanceList {
    /// Heard from in the last day, newest first.
    pub items: Vec<Instance>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListInstancesResponse {
    /// The instances.
    #[oai(status = 200)]
    Ok(Json<InstanceList>),
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl InstancesApi {
    /// List server instances
    ///
    /// Every instance heard from in the last day: host, version, start, last heartbeat, the
    /// jobs it is running, and whether it went silent (`stale`).
    #[oai(
        path = "/api/v1/instances",
        method = "get",
        operation_id = "list_instances"
    )]
    async fn list(&self) -> Result<ListInstancesResponse, ApiError> {
        let me = self.state.jobs.instance().to_string();
        let items = self
            .state
            .jobs
            .instances()
            .await?
            .into_iter()
            .map(|i| Instance {
                current: i.instance.id == me,
                id: i.instance.id,
                host: i.instance.host,
                version: i.instance.version,
                started_at: i.instance.started_at,
                heartbeat_at: i.instance.heartbeat_at,
                stopped_at: i.instance.stopped_at,
                stale: i.stale,
                running: i.running.into_iter().map(to_job_run).collect(),
            })
            .collect();
        Ok(ListInstancesResponse::Ok(Json(InstanceList { items })))
    }
}
