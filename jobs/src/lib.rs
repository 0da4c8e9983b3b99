//! Job plumbing on apalis: queue set-up, the runner, the history of runs (`job_runs`),
//! schedules, retries, heartbeats and the reaper, for whatever job kinds a program registers.
//!
//! A kind is a payload ([`Payload`]: what a run covers, stored on its row) and one async
//! function the program registers ([`Registry::register`]); this crate names no kind and
//! interprets no scope. Every run is recorded in the `job_runs` table ([`history`]), which
//! also makes "one active run per kind and scope" hold across server instances.

pub mod cancel;
pub mod control;
pub mod history;
pub mod instances;
pub mod queue;
pub mod registry;
pub mod runner;
pub mod schedule;
pub mod schedules;
mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An error retrying cannot mend (bad input, a name clash): the run is recorded as failed at
/// once instead of being retried.
#[derive(Debug)]
pub struct Permanent(pub BoxError);

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Permanent {}

pub use cancel::{CancelFlag, Progress, current_cancel_flag, current_progress};
pub use control::{CancelOutcome, RunPoint, StateCounts};
pub use history::{Enqueued, JobHistory, KindStats, RunFilter};
pub use instances::InstanceInfo;
pub use queue::{QueueError, QueueStore};
pub use registry::{Payload, Registry, Transition};
pub use runner::{JobError, JobRunner, RunnerSettings};
pub use schedules::ScheduleInfo;

/// The moment `age` ago; `None` when that is before the earliest representable time, so
/// nothing can be that old.
pub fn older_than(age: Duration) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
}

/// Any error a job's work may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Queued when the server started.
    Startup,
    /// Queued by the schedule.
    Schedule,
    /// Asked for through the API or the UI (including retries).
    Manual,
    /// Queued by the file watcher after files changed.
    Watch,
}

impl Trigger {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Watch => "watch",
        }
    }
}

/// Where a run ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// An attempt is running (or failed and waits for its retry).
    Running,
    /// Finished; its counts are final.
    Succeeded,
    /// Every attempt failed; `error` says why.
    Failed,
    /// Cancelled: never started, or stopped at its next step with the counts it had.
    Cancelled,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// True once the run can no longer change.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// What one run did; stored on its history row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Items looked at.
    pub checked: u64,
    /// Items redone because they changed (or `force`).
    pub refreshed: u64,
    /// Items added.
    pub added: u64,
    /// Items removed.
    pub removed: u64,
    /// Items that could not be read; the run still succeeds.
    pub errors: u64,
    /// Further counts and the per-item error messages, shown as they are.
    pub details: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
    }
}
