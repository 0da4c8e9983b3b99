//! Controlling runs from outside: cancelling one (a queued run never starts; a running one
//! stops at its next step and keeps the counts it had), the counts per state for the
//! dashboard, and the runs a batch action covers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_runs;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::history::{JobHistory, RunFilter, with_report};
use crate::runner::JobError;
use crate::{RunReport, RunStatus};

/// What a cancel did.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// It was queued: recorded as cancelled, and it will never run.
    Cancelled(job_runs::Model),
    /// It is running: asked to stop at its next step (recorded as cancelled then).
    Stopping(job_runs::Model),
    /// It had finished already; nothing changed.
    Finished(job_runs::Model),
}

/// How many runs are in each state now, and how long the oldest queued one has waited.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateCounts {
    /// Waiting for a worker.
    pub queued: u64,
    /// An attempt is running.
    pub running: u64,
    /// An attempt failed and the next one waits for its backoff.
    pub retrying: u64,
    /// Finished successfully.
    pub succeeded: u64,
    /// Every attempt failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// When the oldest queued run was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

/// kind, status, queued, finished, duration: the columns a [`RunPoint`] is made of.
type PointRow = (
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
);

/// One run as the charts need it.
#[derive(Debug, Clone)]
pub struct RunPoint {
    /// Its kind.
    pub kind: String,
    /// Its status.
    pub status: String,
    /// When it finished (or was queued, while active).
    pub at: DateTime<Utc>,
    /// How long it ran, once finished.
    pub duration_ms: Option<i64>,
}

impl JobHistory {
    /// Cancels run `id`; `None` when there is no such run.
    pub async fn request_cancel(&self, id: i64) -> Result<Option<CancelOutcome>, DbErr> {
        use job_runs::Column as C;
        let now = Utc::now();
        // A queued run is cancelled at once; the worker skips its queue entry.
        let res = job_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Cancelled.as_str()))
            .col_expr(C::ActiveKey, Expr::value(Option::<String>::None))
            .col_expr(C::FinishedAt, Expr::value(now))
            .col_expr(C::CancelRequestedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Queued.as_str()))
            .exec(self.db())
            .await?;
        if res.rows_affected == 1 {
            return Ok(self.get(id).await?.map(CancelOutcome::Cancelled));
        }
        job_runs::Entity::update_many()
            .col_expr(C::CancelRequestedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .filter(C::CancelRequestedAt.is_null())
            .exec(self.db())
            .await?;
        Ok(self.get(id).await?.map(|run| {
            if RunStatus::parse(&run.status).is_some_and(RunStatus::is_finished) {
                CancelOutcome::Finished(run)
            } else {
                CancelOutcome::Stopping(run)
            }
        }))
    }

    /// True when a cancel of run `id` was asked for.
    pub async fn cancel_requested(&self, id: i64) -> Result<bool, DbErr> {
        Ok(self
            .get(id)
            .await?
            .is_some_and(|run| run.cancel_requested_at.is_some()))
    }

    /// Records a run that stopped because it was cancelled, with the counts it had.
    pub async fn finish_cancelled(
        &self,
        id: i64,
        report: &RunReport,
        duration: Duration,
    ) -> Result<(), DbErr> {
        use job_runs::Column as C;
        let update = job_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Cancelled.as_str()))
            .col_expr(C::ActiveKey, Expr::value(Option::<String>::None))
            .col_expr(C::FinishedAt, Expr::value(Utc::now()))
            .col_expr(C::DurationMs, Expr::value(duration.as_millis() as i64));
        with_report(update, report)
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// The number of runs in each state.
    pub async fn state_counts(&self) -> Result<StateCounts, DbErr> {
        use job_runs::Column as C;
        let rows: Vec<(String, bool, i64)> = job_runs::Entity::find()
            .select_only()
            .column(C::Status)
            .column_as(C::Error.is_not_null(), "retrying")
            .column_as(Expr::cust("COUNT(*)"), "n")
            .group_by(C::Status)
            .group_by(Expr::col(C::Error).is_not_null())
            .into_tuple()
            .all(self.db())
            .await?;
        let mut counts = StateCounts::default();
        for (status, has_error, n) in rows {
            let n = n as u64;
            match RunStatus::parse(&status) {
                Some(RunStatus::Queued) => counts.queued += n,
                Some(RunStatus::Running) if has_error => counts.retrying += n,
                Some(RunStatus::Running) => counts.running += n,
                Some(RunStatus::Succeeded) => counts.succeeded += n,
                Some(RunStatus::Failed) => counts.failed += n,
                Some(RunStatus::Cancelled) => counts.cancelled += n,
                None => {}
            }
        }
        counts.oldest_queued_at = job_runs::Entity::find()
            .select_only()
            .column(C::EnqueuedAt)
            .filter(C::Status.eq(RunStatus::Queued.as_str()))
            .order_by_asc(C::EnqueuedAt)
            .into_tuple::<DateTime<Utc>>()
            .one(self.db())
            .await?;
        Ok(counts)
    }

    /// The ids of the runs matching `filter`, newest first, at most `limit`.
    pub async fn matching_ids(&self, filter: &RunFilter, limit: u64) -> Result<Vec<i64>, DbErr> {
        use job_runs::Column as C;
        let mut query = job_runs::Entity::find().select_only().column(C::Id);
        if let Some(kind) = &filter.kind {
            query = query.filter(C::Kind.eq(kind.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(C::Status.eq(status.as_str()));
        }
        query
            .order_by_desc(C::Id)
            .limit(limit)
            .into_tuple()
            .all(self.db())
            .await
    }

    /// Runs queued since `since`, for the charts.
    pub async fn points_since(&self, since: DateTime<Utc>) -> Result<Vec<RunPoint>, DbErr> {
        use job_runs::Column as C;
        let rows: Vec<PointRow> = job_runs::Entity::find()
            .select_only()
            .column(C::Kind)
            .column(C::Status)
            .column(C::EnqueuedAt)
            .column(C::FinishedAt)
            .column(C::DurationMs)
            .filter(C::EnqueuedAt.gte(since))
            .into_tuple()
            .all(self.db())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, status, enqueued, finished, duration_ms)| RunPoint {
                kind,
                status,
                at: finished.unwrap_or(enqueued),
                duration_ms,
            })
            .collect())
    }
}

impl crate::runner::JobRunner {
    /// Cancels run `id`: a queued run is recorded as cancelled and never runs; a running one
    /// is asked to stop at its next step (at once on this instance, at its next heartbeat on
    /// another). A finished run is not cancellable.
    pub async fn cancel(&self, id: i64) -> Result<CancelOutcome, JobError> {
        let outcome = self
            .ctx
            .history
            .request_cancel(id)
            .await?
            .ok_or(JobError::NotFound(id))?;
        match &outcome {
            CancelOutcome::Finished(run) => Err(JobError::NotCancellable {
                id,
                status: run.status.clone(),
            }),
            CancelOutcome::Stopping(_) => {
                if let Some(flag) = self.ctx.running.lock().expect("running runs").get(&id) {
                    flag.set();
                }
                Ok(outcome)
            }
            CancelOutcome::Cancelled(run) => {
                self.ctx.transition(run, RunStatus::Cancelled, None);
                Ok(outcome)
            }
        }
    }
}
