//! Job control: schedules that can be paused or given another interval (shared by every
//! instance), the server instances with their heartbeats, and cancellation of a run.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobSchedules {
    Table,
    Kind,
    Paused,
    IntervalSecs,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobInstances {
    Table,
    Id,
    Host,
    Version,
    StartedAt,
    HeartbeatAt,
    StoppedAt,
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    CancelRequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobSchedules::Table)
                    .if_not_exists()
                    .col(string(JobSchedules::Kind).primary_key())
                    .col(boolean(JobSchedules::Paused).default(false))
                    // None: the configured interval.
                    .col(big_integer_null(JobSchedules::IntervalSecs))
                    .col(timestamp_with_time_zone(JobSchedules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobInstances::Table)
                    .if_not_exists()
                    .col(string(JobInstances::Id).primary_key())
                    .col(string(JobInstances::Host))
                    .col(string(JobInstances::Version))
                    .col(timestamp_with_time_zone(JobInstances::StartedAt))
                    .col(timestamp_with_time_zone(JobInstances::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(JobInstances::StoppedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(JobRuns::Table)
                    .add_column(timestamp_with_time_zone_null(JobRuns::CancelRequestedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(JobRuns::Table)
                    .drop_column(JobRuns::CancelRequestedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(JobInstances::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(JobSchedules::Table).to_owned())
            .await
    }
}
