//! Background jobs of skillmeat-server: cache warming at start-up, the scheduled refresh, the
//! stale-entry purge and on-demand refreshes, run on an apalis queue inside the server process.
//!
//! Each job is one file: a payload struct plus a plain async handler ([`warm`], [`refresh`],
//! [`purge`]). The work itself (reading sources, writing the cache) belongs to the server and
//! reaches the handlers through the [`JobWork`] trait, so this crate depends on the entities
//! only. Every run is recorded in the `job_runs` table ([`history`]), which also makes "one
//! active run per kind and scope" hold across server instances.

pub mod history;
pub mod purge;
pub mod queue;
pub mod refresh;
pub mod runner;
pub mod schedule;
pub mod warm;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use history::{Enqueued, JobHistory, KindStats, RunFilter};
pub use queue::{QueueError, QueueStore};
pub use runner::{JobError, JobRunner, RunnerSettings};

/// The moment `age` ago; `None` when that is before the earliest representable time, so
/// nothing can be that old.
pub fn older_than(age: Duration) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
}

/// Any error a job's work may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Start-up warming: re-validate recently read entries, then fill what the cache lacks.
    Warm,
    /// Re-read what expired or changed, add new artifacts, drop vanished ones.
    Refresh,
    /// Drop stale cache entries and old job records.
    Purge,
}

impl JobKind {
    /// Every kind, in display order.
    pub const ALL: [JobKind; 3] = [JobKind::Warm, JobKind::Refresh, JobKind::Purge];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Warm => "warm",
            JobKind::Refresh => "refresh",
            JobKind::Purge => "purge",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// True once the run can no longer change.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// What a refresh covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every source.
    All,
    /// One collection, by name.
    Collection(String),
    /// One artifact, `type:name`.
    Artifact(String),
    /// One project's deployment records and statuses, by project id.
    Project(String),
}

impl Scope {
    /// The stored form: `all`, `collection:<name>`, `artifact:<type:name>`.
    pub fn key(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::Collection(name) => format!("collection:{name}"),
            Scope::Artifact(id) => format!("artifact:{id}"),
            Scope::Project(id) => format!("project:{id}"),
        }
    }

    /// Parses [`Scope::key`]'s form.
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "all" {
            return Some(Scope::All);
        }
        if let Some(name) = key.strip_prefix("collection:") {
            return Some(Scope::Collection(name.to_string()));
        }
        if let Some(id) = key.strip_prefix("project:") {
            return Some(Scope::Project(id.to_string()));
        }
        key.strip_prefix("artifact:")
            .map(|id| Scope::Artifact(id.to_string()))
    }
}

/// What one run did; stored on its history row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Items looked at.
    pub checked: u64,
    /// Items re-read because they changed (or `force`).
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

/// The work behind the jobs, provided by the server.
#[async_trait::async_trait]
pub trait JobWork: Send + Sync + 'static {
    /// Re-validates entries read recently, then fills whatever the sources have that the cache
    /// lacks.
    async fn warm(&self) -> Result<RunReport, BoxError>;

    /// Re-reads what expired or changed in `scope` (everything with `force`), adds new
    /// artifacts, drops vanished ones and recomputes deployment statuses.
    async fn refresh(&self, scope: &Scope, force: bool) -> Result<RunReport, BoxError>;

    /// Drops cache entries neither read nor confirmed by a refresh for `older_than`.
    async fn purge_cache(&self, older_than: Duration) -> Result<RunReport, BoxError>;

    /// Called when an attempt of run `run_id` starts (for live events).
    fn job_started(&self, run_id: i64, kind: JobKind, scope: &str) {
        let _ = (run_id, kind, scope);
    }

    /// Called once per finished run (for metrics and live events).
    fn job_finished(&self, run_id: i64, kind: JobKind, status: RunStatus, duration: Duration) {
        let _ = (run_id, kind, status, duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_round_trip() {
        for scope in [
            Scope::All,
            Scope::Collection("work".into()),
            Scope::Artifact("skill:a:b".into()),
            Scope::Project("0123abcd".into()),
        ] {
            assert_eq!(Scope::from_key(&scope.key()), Some(scope));
        }
        assert_eq!(Scope::from_key("bogus"), None);
    }

    #[test]
    fn names_parse_back() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
    }
}
