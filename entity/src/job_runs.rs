//! `job_runs`: the history of background job runs (warm, refresh, purge, import) with their
//! counts.

use sea_orm::entity::prelude::*;

/// One run of a background job.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_runs")]
pub struct Model {
    /// Run id, also the public job id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `warm`, `refresh`, `purge` or `import`.
    pub kind: String,
    /// `startup`, `schedule` or `manual`.
    pub trigger: String,
    /// `all`, `collection:<name>` or `artifact:<type:name>`.
    pub scope: String,
    /// Re-read everything in scope, changed or not.
    pub force: bool,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// `<kind>:<scope>` while queued or running (unique), NULL once finished.
    #[sea_orm(unique)]
    pub active_key: Option<String>,
    /// `<kind>:<slot>` on scheduled runs (unique), so several instances enqueue one run.
    #[sea_orm(unique)]
    pub schedule_key: Option<String>,
    /// The failed or cancelled run this one retries.
    pub retry_of: Option<i64>,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before the run is recorded as failed.
    pub max_attempts: i32,
    /// When it was queued.
    pub enqueued_at: DateTimeUtc,
    /// When its latest attempt started.
    pub started_at: Option<DateTimeUtc>,
    /// Last sign of life: queued, started, or still running (written every heartbeat).
    pub heartbeat_at: DateTimeUtc,
    /// When it finished.
    pub finished_at: Option<DateTimeUtc>,
    /// Milliseconds of the finishing attempt.
    pub duration_ms: Option<i64>,
    /// Items looked at.
    pub checked: i64,
    /// Items re-read because they changed (or `force`).
    pub refreshed: i64,
    /// Items added.
    pub added: i64,
    /// Items removed.
    pub removed: i64,
    /// Items that could not be read (the run still succeeds).
    pub errors: i64,
    /// Why the run (or its latest attempt) failed.
    pub error: Option<String>,
    /// The full report: further counts and per-item error messages.
    pub details: Option<Json>,
    /// The server instance that ran the latest attempt.
    pub instance: Option<String>,
    /// When a cancel was asked for while it ran; its worker stops it at the next step.
    pub cancel_requested_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
