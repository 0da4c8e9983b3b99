//! Schedules users can change: pause a scheduled kind or give it another interval, stored in
//! the database so every instance's scheduler follows (it looks again at least every
//! heartbeat).

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_schedules;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};

use crate::runner::{JobError, JobRunner};
use crate::schedule;

/// Shortest interval a schedule may be given.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

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
            && interval < MIN_INTERVAL
        {
            return Err(JobError::BadSchedule(format!(
                "interval_secs must be at least {}",
                MIN_INTERVAL.as_secs()
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
