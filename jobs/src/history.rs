//! The `job_runs` table: one row per run, written by the handlers as attempts start and finish,
//! read by the dashboard endpoints.
//!
//! Single flight rides on two unique columns: `active_key` (`<kind>:<scope>`, set while a run
//! is queued or running) and `schedule_key` (`<kind>:<slot>` on scheduled runs). A second
//! insert for the same scope, from this or another server instance, fails on the index and
//! gets the existing run instead.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_runs;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};

use crate::{RunReport, RunStatus, Trigger};

/// Sets a finished run's counts and details from its report.
pub(crate) fn with_report(
    update: sea_orm::UpdateMany<job_runs::Entity>,
    report: &RunReport,
) -> sea_orm::UpdateMany<job_runs::Entity> {
    use job_runs::Column as C;
    update
        .col_expr(C::Checked, Expr::value(report.checked as i64))
        .col_expr(C::Refreshed, Expr::value(report.refreshed as i64))
        .col_expr(C::Added, Expr::value(report.added as i64))
        .col_expr(C::Removed, Expr::value(report.removed as i64))
        .col_expr(C::Errors, Expr::value(report.errors as i64))
        .col_expr(C::Details, Expr::value(report.details.clone()))
}

/// Longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 4000;
/// Successful runs per kind that the duration percentiles look at.
const STATS_WINDOW: u64 = 1000;

/// Job history over the server's database; cheap to clone.
#[derive(Clone)]
pub struct JobHistory {
    db: DatabaseConnection,
}

/// A run to record.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// What it does (a registered kind).
    pub kind: String,
    /// Why it starts.
    pub trigger: Trigger,
    /// What it covers, as its payload stores it.
    pub scope: String,
    /// Redo work it would otherwise skip.
    pub force: bool,
    /// Attempts before it is recorded as failed.
    pub max_attempts: u32,
    /// A key that only one run may ever carry: the schedule slot of a scheduled run, or the
    /// change a run was queued for, so instances that saw it queue one run.
    pub schedule_key: Option<String>,
    /// The failed run it retries.
    pub retry_of: Option<i64>,
}

/// The outcome of recording a run.
#[derive(Debug, Clone)]
pub enum Enqueued {
    /// A new run was recorded; it still has to be pushed to the queue.
    New(job_runs::Model),
    /// A run of the same kind and scope is already queued or running: this one.
    Existing(job_runs::Model),
    /// Another instance already queued this schedule slot.
    SlotTaken,
}

/// Filters of [`JobHistory::list`].
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this status.
    pub status: Option<RunStatus>,
}

/// Per-kind figures for the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct KindStats {
    /// The kind.
    pub kind: String,
    /// Runs recorded (all statuses).
    pub runs: u64,
    /// Runs that succeeded.
    pub succeeded: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Runs queued or running now.
    pub active: u64,
    /// succeeded / (succeeded + failed); None before anything finished.
    pub success_rate: Option<f64>,
    /// Median duration of the latest 1,000 successful runs, in milliseconds.
    pub p50_duration_ms: Option<u64>,
    /// 95th percentile duration of the latest 1,000 successful runs, in milliseconds.
    pub p95_duration_ms: Option<u64>,
    /// The newest run.
    pub last_run: Option<job_runs::Model>,
}

impl JobHistory {
    /// History over `db` (migrated: the `job_runs` table exists).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Records a queued run, unless one of the same kind and scope is active (then that one is
    /// returned) or, for a scheduled run, its slot was taken by another instance.
    pub async fn enqueue(&self, new: NewRun) -> Result<Enqueued, DbErr> {
        let active_key = format!("{}:{}", new.kind, new.scope);
        // Two tries: the active run may finish between our failed insert and the lookup.
        for _ in 0..2 {
            let row = job_runs::ActiveModel {
                kind: Set(new.kind.clone()),
                trigger: Set(new.trigger.as_str().into()),
                scope: Set(new.scope.clone()),
                force: Set(new.force),
                status: Set(RunStatus::Queued.as_str().into()),
                active_key: Set(Some(active_key.clone())),
                schedule_key: Set(new.schedule_key.clone()),
                retry_of: Set(new.retry_of),
                attempts: Set(0),
                max_attempts: Set(Ord::max(new.max_attempts, 1) as i32),
                enqueued_at: Set(Utc::now()),
                heartbeat_at: Set(Utc::now()),
                checked: Set(0),
                refreshed: Set(0),
                added: Set(0),
                removed: Set(0),
                errors: Set(0),
                ..Default::default()
            };
            // In a transaction of its own: SQLite reports an INSERT ... RETURNING as done from
            // its row even when the commit then fails (a full disk); a separate COMMIT shows it.
            let inserted = async {
                let txn = self.db.begin().await?;
                let model = row.insert(&txn).await?;
                txn.commit().await?;
                Ok::<_, DbErr>(model)
            }
            .await;
            match inserted {
                Ok(model) => return Ok(Enqueued::New(model)),
                Err(e) if is_unique_violation(&e) => {
                    if let Some(slot) = &new.schedule_key {
                        let taken = job_runs::Entity::find()
                            .filter(job_runs::Column::ScheduleKey.eq(slot.as_str()))
                            .one(&self.db)
                            .await?;
                        if taken.is_some() {
                            return Ok(Enqueued::SlotTaken);
                        }
                    }
                    if let Some(existing) = job_runs::Entity::find()
                        .filter(job_runs::Column::ActiveKey.eq(active_key.as_str()))
                        .one(&self.db)
                        .await?
                    {
                        return Ok(Enqueued::Existing(
                            self.upgrade_force(existing, new.force).await?,
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(DbErr::Custom(format!(
            "could not record a {} run: its scope stayed busy",
            new.kind
        )))
    }

    /// A forced request that meets a queued, unforced run of its scope makes that run forced
    /// (its handler reads `force` from the row when it starts). A run already running keeps
    /// what it started with; the caller sees `force: false` on the returned run.
    async fn upgrade_force(
        &self,
        existing: job_runs::Model,
        force: bool,
    ) -> Result<job_runs::Model, DbErr> {
        if !force || existing.force || existing.status != RunStatus::Queued.as_str() {
            return Ok(existing);
        }
        use job_runs::Column as C;
        let res = job_runs::Entity::update_many()
            .col_expr(C::Force, Expr::value(true))
            .filter(C::Id.eq(existing.id))
            .filter(C::Status.eq(RunStatus::Queued.as_str()))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Ok(existing);
        }
        Ok(self.get(existing.id).await?.unwrap_or(existing))
    }

    /// One run.
    pub async fn get(&self, id: i64) -> Result<Option<job_runs::Model>, DbErr> {
        job_runs::Entity::find_by_id(id).one(&self.db).await
    }

    /// Marks an attempt as started; `None` when the run is unknown or already finished (a
    /// stale queue entry, which is then skipped).
    pub async fn start_attempt(
        &self,
        id: i64,
        instance: &str,
    ) -> Result<Option<job_runs::Model>, DbErr> {
        use job_runs::Column as C;
        let res = job_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Running.as_str()))
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .col_expr(C::StartedAt, Expr::value(Utc::now()))
            .col_expr(C::HeartbeatAt, Expr::value(Utc::now()))
            .col_expr(C::Instance, Expr::value(instance))
            .filter(C::Id.eq(id))
            .filter(C::Status.is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        self.get(id).await
    }

    /// Records that run `id` is still making progress.
    pub async fn beat(&self, id: i64) -> Result<(), DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::update_many()
            .col_expr(C::HeartbeatAt, Expr::value(Utc::now()))
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Shows `progress` in a running run's `details` (`{"progress": ...}`).
    pub async fn set_progress(&self, id: i64, progress: serde_json::Value) -> Result<(), DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::update_many()
            .col_expr(
                C::Details,
                Expr::value(serde_json::json!({ "progress": progress })),
            )
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records a successful finish with the run's report (unless the run was meanwhile
    /// recorded as abandoned: a finished run never changes).
    pub async fn succeed(
        &self,
        id: i64,
        report: &RunReport,
        duration: Duration,
    ) -> Result<(), DbErr> {
        use job_runs::Column as C;
        let update = job_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Succeeded.as_str()))
            .col_expr(C::ActiveKey, Expr::value(Option::<String>::None))
            .col_expr(C::FinishedAt, Expr::value(Utc::now()))
            .col_expr(C::DurationMs, Expr::value(duration.as_millis() as i64))
            .col_expr(C::Error, Expr::value(Option::<String>::None));
        with_report(update, report)
            .filter(C::Id.eq(id))
            .filter(C::Status.is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records a failed attempt that will be retried: the run stays active.
    pub async fn attempt_failed(&self, id: i64, error: &str) -> Result<(), DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::update_many()
            .col_expr(C::Error, Expr::value(truncate(error)))
            .filter(C::Id.eq(id))
            .filter(C::Status.eq(RunStatus::Running.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records the run as failed for good.
    pub async fn fail(
        &self,
        id: i64,
        error: &str,
        duration: Option<Duration>,
    ) -> Result<(), DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::update_many()
            .col_expr(C::Status, Expr::value(RunStatus::Failed.as_str()))
            .col_expr(C::ActiveKey, Expr::value(Option::<String>::None))
            .col_expr(C::FinishedAt, Expr::value(Utc::now()))
            .col_expr(
                C::DurationMs,
                Expr::value(duration.map(|d| d.as_millis() as i64)),
            )
            .col_expr(C::Error, Expr::value(truncate(error)))
            .filter(C::Id.eq(id))
            .filter(C::Status.is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A page of runs, newest first, and the total matching the filter.
    pub async fn list(
        &self,
        filter: &RunFilter,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<job_runs::Model>, u64), DbErr> {
        use job_runs::Column as C;
        let mut query = job_runs::Entity::find();
        if let Some(kind) = &filter.kind {
            query = query.filter(C::Kind.eq(kind.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(C::Status.eq(status.as_str()));
        }
        let total = query.clone().count(&self.db).await?;
        if let Some(before) = before_id {
            query = query.filter(C::Id.lt(before));
        }
        let rows = query
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows, total))
    }

    /// Per-kind counts, success rate, duration percentiles and the newest run, for `kinds`.
    pub async fn stats(&self, kinds: &[&str]) -> Result<Vec<KindStats>, DbErr> {
        use job_runs::Column as C;
        let counts: Vec<(String, String, i64)> = job_runs::Entity::find()
            .select_only()
            .column(C::Kind)
            .column(C::Status)
            .column_as(C::Id.count(), "n")
            .group_by(C::Kind)
            .group_by(C::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut by_kind: HashMap<(String, String), u64> = HashMap::new();
        for (kind, status, n) in counts {
            by_kind.insert((kind, status), n as u64);
        }
        let count = |kind: &str, status: RunStatus| {
            by_kind
                .get(&(kind.to_string(), status.as_str().to_string()))
                .copied()
                .unwrap_or(0)
        };
        let mut out = Vec::new();
        for &kind in kinds {
            let succeeded = count(kind, RunStatus::Succeeded);
            let failed = count(kind, RunStatus::Failed);
            let active = count(kind, RunStatus::Queued) + count(kind, RunStatus::Running);
            let mut durations: Vec<i64> = job_runs::Entity::find()
                .select_only()
                .column(C::DurationMs)
                .filter(C::Kind.eq(kind))
                .filter(C::Status.eq(RunStatus::Succeeded.as_str()))
                .filter(C::DurationMs.is_not_null())
                .order_by_desc(C::Id)
                .limit(STATS_WINDOW)
                .into_tuple::<Option<i64>>()
                .all(&self.db)
                .await?
                .into_iter()
                .flatten()
                .collect();
            durations.sort_unstable();
            let last_run = job_runs::Entity::find()
                .filter(C::Kind.eq(kind))
                .order_by_desc(C::Id)
                .one(&self.db)
                .await?;
            out.push(KindStats {
                kind: kind.to_string(),
                runs: succeeded + failed + active,
                succeeded,
                failed,
                active,
                success_rate: (succeeded + failed > 0)
                    .then(|| succeeded as f64 / (succeeded + failed) as f64),
                p50_duration_ms: percentile(&durations, 50),
                p95_duration_ms: percentile(&durations, 95),
                last_run,
            });
        }
        Ok(out)
    }

    /// The newest finished run of a kind.
    pub async fn last_finished(&self, kind: &str) -> Result<Option<job_runs::Model>, DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::find()
            .filter(C::Kind.eq(kind))
            .filter(C::FinishedAt.is_not_null())
            .order_by_desc(C::FinishedAt)
            .one(&self.db)
            .await
    }

    /// Runs of a kind queued or running now.
    pub async fn active(&self, kind: &str) -> Result<Vec<job_runs::Model>, DbErr> {
        use job_runs::Column as C;
        job_runs::Entity::find()
            .filter(C::Kind.eq(kind))
            .filter(C::ActiveKey.is_not_null())
            .order_by_asc(C::Id)
            .all(&self.db)
            .await
    }

    /// Deletes finished runs older than `cutoff`; returns how many.
    pub async fn delete_finished_before(&self, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        use job_runs::Column as C;
        let res = job_runs::Entity::delete_many()
            .filter(C::FinishedAt.lt(cutoff))
            .filter(C::Status.is_in([RunStatus::Succeeded.as_str(), RunStatus::Failed.as_str()]))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }

    /// Records as failed the active runs that lost their worker and their queue entry: running
    /// ones whose heartbeat is older than `running_lease`, queued ones untouched for longer
    /// than `queued_lease` (their queue entry was lost, e.g. the queue file was deleted), so
    /// their scope is free again. Returns how many.
    pub async fn reap_abandoned(
        &self,
        running_lease: Duration,
        queued_lease: Duration,
    ) -> Result<u64, DbErr> {
        use job_runs::Column as C;
        let mut reaped = 0;
        for (status, lease) in [
            (RunStatus::Running, running_lease),
            (RunStatus::Queued, queued_lease),
        ] {
            let Some(cutoff) = crate::older_than(lease) else {
                continue;
            };
            let stale = job_runs::Entity::find()
                .filter(C::Status.eq(status.as_str()))
                .filter(C::HeartbeatAt.lt(cutoff))
                .all(&self.db)
                .await?;
            for run in stale {
                let msg = format!(
                    "abandoned: {} with no sign of life for {} s (its worker and its queue entry are gone)",
                    status.as_str(),
                    lease.as_secs()
                );
                tracing::warn!(run_id = run.id, kind = %run.kind, "{msg}");
                self.fail(run.id, &msg, None).await?;
                reaped += 1;
            }
        }
        Ok(reaped)
    }
}

/// The `p`th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(Ord::max(sorted[rank - 1], 0) as u64)
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX_ERROR_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// True when a statement failed on a unique index.
fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
