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

tokio::task_local! {
    static CURRENT: CancelFlag;
}

/// The flag of the job run this task works for; outside a job, a flag that is never set. Take
/// it before handing work to other tasks, which do not inherit it.
pub fn current_cancel_flag() -> CancelFlag {
    CURRENT.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `work` with `flag` as its [`current_cancel_flag`].
pub(crate) async fn with_flag<F: std::future::Future>(flag: CancelFlag, work: F) -> F::Output {
    CURRENT.scope(flag, work).await
}
