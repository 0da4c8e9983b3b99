//! The server instances running job workers: each records itself at start, beats every
//! heartbeat, and says when it stopped, so the dashboard lists them with the runs they are
//! working on and marks the ones that went silent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{job_instances, job_runs};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use crate::RunStatus;
use tokio::sync::watch;

/// An instance as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    /// The row.
    pub instance: job_instances::Model,
    /// Silent for more than three heartbeats without having stopped.
    pub stale: bool,
    /// The runs it is running now.
    pub running: Vec<job_runs::Model>,
}

/// Records this instance as started.
pub(crate) async fn register(
    db: &DatabaseConnection,
    id: &str,
    version: &str,
) -> Result<(), DbErr> {
    let now = Utc::now();
    job_instances::Entity::insert(job_instances::ActiveModel {
        id: Set(id.to_string()),
        host: Set(host_name()),
        version: Set(version.to_string()),
        started_at: Set(now),
        heartbeat_at: Set(now),
        stopped_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(job_instances::Column::Id)
            .update_columns([
                job_instances::Column::HeartbeatAt,
                job_instances::Column::StoppedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records that this instance is alive.
pub(crate) async fn beat(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    job_instances::Entity::update_many()
        .col_expr(job_instances::Column::HeartbeatAt, Expr::value(Utc::now()))
        .filter(job_instances::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records that this instance stopped.
pub(crate) async fn stopped(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    job_instances::Entity::update_many()
        .col_expr(job_instances::Column::StoppedAt, Expr::value(Utc::now()))
        .filter(job_instances::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Instances heard from since `since`, newest first, with their running runs; `heartbeat` is
/// the interval they beat at.
pub async fn list(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
    heartbeat: Duration,
) -> Result<Vec<InstanceInfo>, DbErr> {
    let rows = job_instances::Entity::find()
        .filter(job_instances::Column::HeartbeatAt.gte(since))
        .order_by_desc(job_instances::Column::StartedAt)
        .all(db)
        .await?;
    let running = job_runs::Entity::find()
        .filter(job_runs::Column::Status.eq(RunStatus::Running.as_str()))
        .order_by_asc(job_runs::Column::Id)
        .all(db)
        .await?;
    let silent = chrono::Duration::from_std(heartbeat * 3).unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|instance| InstanceInfo {
            stale: instance.stopped_at.is_none() && Utc::now() - instance.heartbeat_at > silent,
            running: running
                .iter()
                .filter(|r| r.instance.as_deref() == Some(instance.id.as_str()))
                .cloned()
                .collect(),
            instance,
        })
        .collect())
}

/// Forgets instances not heard from since `cutoff`; returns how many.
pub async fn forget_before(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(job_instances::Entity::delete_many()
        .filter(job_instances::Column::HeartbeatAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

/// This machine's name, as the system reports it.
fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl crate::runner::JobRunner {
    /// The instances heard from in the last day, with the runs each is running.
    pub async fn instances(&self) -> Result<Vec<InstanceInfo>, DbErr> {
        let since = Utc::now() - chrono::Duration::days(1);
        list(self.ctx.history.db(), since, self.ctx.settings.heartbeat).await
    }

    /// This process's instance name.
    pub fn instance(&self) -> &str {
        &self.ctx.instance
    }

    /// Beats this instance's heartbeat until shutdown.
    pub(crate) async fn instance_loop(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.ctx.settings.heartbeat) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if let Err(e) = beat(self.ctx.history.db(), &self.ctx.instance).await {
                tracing::warn!(error = %e, "could not record this instance's heartbeat");
            }
        }
    }
}
