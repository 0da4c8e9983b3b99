//! `/api/v1/schedules`: the scheduled job kinds, paused, resumed or re-timed on every instance.

use chrono::{DateTime, Utc};
use jobs::ScheduleInfo;
use jobs::schedules::ScheduleChange;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::error::ApiError;
use crate::state::AppState;

/// Schedule endpoints.
pub struct SchedulesApi {
    /// Shared state.
    pub state: AppState,
}

/// A scheduled job kind.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Schedule {
    /// The job kind (`refresh`, `purge`, `upstream`).
    pub kind: String,
    /// Seconds between runs now.
    pub interval_secs: u64,
    /// Seconds between runs as configured (`cache.refresh_interval_secs`,
    /// `jobs.purge_interval_secs`, `upstream.check_interval_secs`).
    pub configured_interval_secs: u64,
    /// No scheduled run is queued while true (runs asked for by hand still run).
    pub paused: bool,
    /// When the next scheduled run is queued; absent while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When it was last changed here.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every schedule.
#[derive(Debug, Object)]
pub struct ScheduleList {
    /// In registration order.
    pub items: Vec<Schedule>,
}

/// A change to a schedule; fields left out stay as they are.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScheduleUpdate {
    /// Pause (true) or resume (false).
    pub paused: Option<bool>,
    /// Seconds between runs, 10 to 315360000 (ten years); 0 goes back to the configured
    /// interval.
    pub interval_secs: Option<u64>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListSchedulesResponse {
    /// The schedules.
    #[oai(status = 200)]
    Ok(Json<ScheduleList>),
}

/// Update outcomes.
#[derive(ApiResponse)]
pub enum UpdateScheduleResponse {
    /// The schedule as it is now.
    #[oai(status = 200)]
    Ok(Json<Schedule>),
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl SchedulesApi {
    /// List schedules
    ///
    /// Each scheduled job kind with its interval, whether it is paused, and its next run.
    #[oai(
        path = "/api/v1/schedules",
        method = "get",
        operation_id = "list_schedules"
    )]
    async fn list(&self) -> Result<ListSchedulesResponse, ApiError> {
        let items = self.state.jobs.schedules().await?;
        Ok(ListSchedulesResponse::Ok(Json(ScheduleList {
            items: items.into_iter().map(to_schedule).collect(),
        })))
    }

    /// Pause, resume or re-time a schedule
    ///
    /// Stored in the database, so every instance follows within a heartbeat: while paused no
    /// scheduled run of the kind is queued. 404 for a kind without a schedule; 422 for an
    /// interval under 10 seconds or over ten years; an empty body is 400.
    #[oai(
        path = "/api/v1/schedules/:kind",
        method = "patch",
        operation_id = "update_schedule"
    )]
    async fn update(
        &self,
        /// The job kind.
        kind: Path<String>,
        body: Json<ScheduleUpdate>,
    ) -> Result<UpdateScheduleResponse, ApiError> {
        let body = body.0;
        if body.paused.is_none() && body.interval_secs.is_none() {
            return Err(ApiError::bad_request(
                "give `paused`, `interval_secs`, or both",
            ));
        }
        let change = ScheduleChange {
            paused: body.paused,
            interval: body
                .interval_secs
                .map(|secs| (secs > 0).then(|| std::time::Duration::from_secs(secs))),
        };
        let schedule = self.state.jobs.change_schedule(&kind.0, change).await?;
        Ok(UpdateScheduleResponse::Ok(Json(to_schedule(schedule))))
    }
}

fn to_schedule(s: ScheduleInfo) -> Schedule {
    Schedule {
        kind: s.kind,
        interval_secs: s.interval.as_secs(),
        configured_interval_secs: s.configured.as_secs(),
        paused: s.paused,
        next_run_at: s.next_run_at,
        updated_at: s.updated_at,
    }
}
