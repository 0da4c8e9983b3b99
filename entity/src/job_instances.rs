//! `job_instances`: every server instance that ran the job workers, with its heartbeat.

use sea_orm::entity::prelude::*;

/// One instance.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "job_instances")]
pub struct Model {
    /// The instance's name (the one on the runs it ran).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The server's version.
    pub version: String,
    /// When it started.
    pub started_at: DateTimeUtc,
    /// Its last sign of life.
    pub heartbeat_at: DateTimeUtc,
    /// When it stopped cleanly; `None` while running (or after a crash).
    pub stopped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
