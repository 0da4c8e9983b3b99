//! Cancelling a running job: the worker gives each run a [`CancelFlag`], sets it when a cancel
//! is asked for (here, or on another instance, seen at the next heartbeat), and the job's work
//! checks it between steps through [`current_cancel_flag`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the run was asked to stop; cheap to clone and to check.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// True once a cancel was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks the run to stop.
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a running job last said of its progress (e.g. objects received of a git fetch); the
/// worker writes it into the run's `details` at each heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<std::sync::Mutex<Option<serde_json::Value>>>);

impl Progress {
    /// Replaces the progress shown on the run.
    pub fn report(&self, value: serde_json::Value) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
    }

    /// The progress not yet written, if any.
    pub(crate) fn take(&self) -> Option<serde_json::Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

tokio::task_local! {
    static CURRENT: CancelFlag;
    static PROGRESS: Progress;
}

/// Where the job run this task works for reports its progress (outside a job, nowhere). Take
/// it before handing work to other tasks or threads, which do not inherit it.
pub fn current_progress() -> Progress {
    PROGRESS.try_with(Clone::clone).unwrap_or_default()
}

/// The flag of the job run this task works for; outside a job, a flag that is never set. Take
/// it before handing work to other tasks, which do not inherit it.
pub fn current_cancel_flag() -> CancelFlag {
    CURRENT.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `work` with `flag` as its [`current_cancel_flag`] and `progress` as its
/// [`current_progress`].
pub(crate) async fn with_flag<F: std::future::Future>(
    flag: CancelFlag,
    progress: Progress,
    work: F,
) -> F::Output {
    CURRENT.scope(flag, PROGRESS.scope(progress, work)).await
}
