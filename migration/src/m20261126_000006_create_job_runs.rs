//! Job history: one row per run of a background job (warm, refresh, purge), kept for the
//! dashboard and for single-flight checks across server instances.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Id,
    Kind,
    Trigger,
    Scope,
    Force,
    Status,
    ActiveKey,
    ScheduleKey,
    RetryOf,
    Attempts,
    MaxAttempts,
    EnqueuedAt,
    StartedAt,
    HeartbeatAt,
    FinishedAt,
    DurationMs,
    Checked,
    Refreshed,
    Added,
    Removed,
    Errors,
    Error,
    Details,
    Instance,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobRuns::Table)
                    .if_not_exists()
                    .col(big_integer(JobRuns::Id).primary_key().auto_increment())
                    .col(string(JobRuns::Kind))
                    .col(string(JobRuns::Trigger))
                    .col(string(JobRuns::Scope))
                    .col(boolean(JobRuns::Force).default(false))
                    .col(string(JobRuns::Status))
                    // Set while queued or running, NULL once finished: its unique index makes
                    // "one active run per kind and scope" hold across server instances.
                    .col(string_null(JobRuns::ActiveKey).unique_key())
                    // Set on scheduled runs to the schedule slot, so N instances enqueue one run.
                    .col(string_null(JobRuns::ScheduleKey).unique_key())
                    .col(big_integer_null(JobRuns::RetryOf))
                    .col(integer(JobRuns::Attempts).default(0))
                    .col(integer(JobRuns::MaxAttempts))
                    .col(timestamp_with_time_zone(JobRuns::EnqueuedAt))
                    .col(timestamp_with_time_zone_null(JobRuns::StartedAt))
                    // Written while an attempt runs; an active run whose heartbeat stops is
                    // recorded as abandoned.
                    .col(timestamp_with_time_zone(JobRuns::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(JobRuns::FinishedAt))
                    .col(big_integer_null(JobRuns::DurationMs))
                    .col(big_integer(JobRuns::Checked).default(0))
                    .col(big_integer(JobRuns::Refreshed).default(0))
                    .col(big_integer(JobRuns::Added).default(0))
                    .col(big_integer(JobRuns::Removed).default(0))
                    .col(big_integer(JobRuns::Errors).default(0))
                    .col(text_null(JobRuns::Error))
                    .col(json_null(JobRuns::Details))
                    .col(string_null(JobRuns::Instance))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_runs_kind_status")
                    .table(JobRuns::Table)
                    .col(JobRuns::Kind)
                    .col(JobRuns::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_runs_finished_at")
                    .table(JobRuns::Table)
                    .col(JobRuns::FinishedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobRuns::Table).to_owned())
            .await
    }
}
