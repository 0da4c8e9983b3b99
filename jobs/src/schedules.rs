//! Schedules users can change: pause a scheduled kind or give it another interval, stored in
//! the database so every instance's scheduler follows (it looks again at least every
//! heartbeat).

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_schedules;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};

use crate::registry::Automatic;
use crate::runner::{JobError, JobRunner, error_chain};
use crate::schedule;
use crate::{Enqueued, Trigger};
use tokio::sync::watch;

/// Shortest interval a schedule may be given.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Longest interval a schedule may be given (ten years, as the configuration allows).
pub const MAX_INTERVAL: Duration = Duration::from_secs(315_360_000);

/// A scheduled kind as it runs now.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInfo {
    /// The job kind.
    pub kind: String,
    /// The configured interval.
    pub configured: Duration,
    /// The interval in force (the configured one unless changed).
    pub interval: Duration,
    /// No scheduled run is queued while true.
    pub paused: bool,
    /// When the next scheduled run is queued; `None` while paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When a user last changed it.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A change to a schedule; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChange {
    /// Pause or resume.
    pub paused: Option<bool>,
    /// Another interval (`Some(None)`: back to the configured one).
    pub interval: Option<Option<Duration>>,
}

impl JobRunner {
    /// Every scheduled kind, in registration order.
    pub async fn schedules(&self) -> Result<Vec<ScheduleInfo>, DbErr> {
        let mut out = Vec::new();
        for (auto, configured) in &self.registry().schedules {
            out.push(self.schedule_of(auto.kind, *configured).await?);
        }
        Ok(out)
    }

    /// The schedule of `kind`, or `None` when it is not scheduled.
    pub async fn schedule(&self, kind: &str) -> Result<Option<ScheduleInfo>, DbErr> {
        match self.registry().period(kind) {
            Some(configured) => Ok(Some(self.schedule_of(kind, configured).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn schedule_of(
        &self,
        kind: &str,
        configured: Duration,
    ) -> Result<ScheduleInfo, DbErr> {
        let row = job_schedules::Entity::find_by_id(kind.to_string())
            .one(self.history().db())
            .await?;
        let interval = row
            .as_ref()
            .and_then(|r| r.interval_secs)
            .map(|s| Duration::from_secs(s.max(1) as u64))
            .unwrap_or(configured);
        let paused = row.as_ref().is_some_and(|r| r.paused);
        Ok(ScheduleInfo {
            kind: kind.to_string(),
            configured,
            interval,
            paused,
            next_run_at: (!paused).then(|| schedule::next_slot(Utc::now(), interval).1),
            updated_at: row.map(|r| r.updated_at),
        })
    }

    /// Pauses, resumes or re-times the schedule of `kind` on every instance.
    pub async fn change_schedule(
        &self,
        kind: &str,
        change: ScheduleChange,
    ) -> Result<ScheduleInfo, JobError> {
        let current = self
            .schedule(kind)
            .await?
            .ok_or_else(|| JobError::NotScheduled(kind.to_string()))?;
        if let Some(Some(interval)) = change.interval
            && !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)
        {
            return Err(JobError::BadSchedule(format!(
                "interval_secs must be {} to {}",
                MIN_INTERVAL.as_secs(),
                MAX_INTERVAL.as_secs()
            )));
        }
        let interval = match change.interval {
            Some(new) => new,
            None => (current.interval != current.configured).then_some(current.interval),
        };
        let row = job_schedules::ActiveModel {
            kind: Set(kind.to_string()),
            paused: Set(change.paused.unwrap_or(current.paused)),
            interval_secs: Set(interval.map(|d| d.as_secs() as i64)),
            updated_at: Set(Utc::now()),
        };
        job_schedules::Entity::insert(row)
            .on_conflict(
                OnConflict::column(job_schedules::Column::Kind)
                    .update_columns([
                        job_schedules::Column::Paused,
                        job_schedules::Column::IntervalSecs,
                        job_schedules::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.history().db())
            .await?;
        Ok(self.schedule_of(kind, current.configured).await?)
    }
}

impl JobRunner {
    /// Queues `auto` at every slot of its schedule, as the database says it runs now: paused
    /// slots are skipped, and a changed interval counts from the next look (at least every
    /// heartbeat).
    pub(crate) async fn schedule_loop(
        self,
        auto: Automatic,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let kind = auto.kind;
        let look_again = self.ctx.settings.heartbeat.min(Duration::from_secs(10));
        loop {
            let current = match self.schedule_of(kind, every).await {
                Ok(current) => current,
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "could not read the schedule; using the configured one");
                    ScheduleInfo {
                        kind: kind.to_string(),
                        configured: every,
                        interval: every,
                        paused: false,
                        next_run_at: None,
                        updated_at: None,
                    }
                }
            };
            let (slot, at) = schedule::next_slot(Utc::now(), current.interval);
            let wait = (at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(look_again);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if Utc::now() < at {
                continue;
            }
            match self.schedule_of(kind, every).await {
                Ok(now) if now.paused => {
                    tracing::info!(kind = %kind, "scheduled job skipped: its schedule is paused");
                    continue;
                }
                Ok(now) if now.interval != current.interval => continue,
                _ => {}
            }
            let key = format!("{kind}:{slot}");
            let queued = self
                .enqueue_automatic(auto.clone(), Trigger::Schedule, Some(key))
                .await;
            match queued {
                Ok(Enqueued::New(run)) => {
                    tracing::debug!(run_id = run.id, kind = %kind, "scheduled job queued")
                }
                Ok(Enqueued::Existing(run)) => {
                    tracing::info!(run_id = run.id, kind = %kind, "scheduled job skipped: one is still queued or running")
                }
                Ok(Enqueued::SlotTaken) => {
                    tracing::debug!(kind = %kind, "scheduled job queued by another instance")
                }
                Err(e) => {
                    tracing::error!(kind = %kind, error = %error_chain(&e), "could not queue a scheduled job")
                }
            }
        }
    }
}
