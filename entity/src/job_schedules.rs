//! `job_schedules`: what users changed about a scheduled job kind (paused, another interval),
//! read by every instance's scheduler.

use sea_orm::entity::prelude::*;

/// One scheduled kind's overrides.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_schedules")]
pub struct Model {
    /// The job kind.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// No scheduled run is queued while true.
    pub paused: bool,
    /// The interval in seconds; `None` keeps the configured one.
    pub interval_secs: Option<i64>,
    /// When it was last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
