//! What a worker does with a queue entry: find its run, start an attempt, call the kind's
//! registered function under a timeout while heartbeats are written, and record the outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use apalis::prelude::{Attempt, Data};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::cancel::{CancelFlag, Progress, with_flag};
use crate::history::JobHistory;
use crate::queue::QueueStore;
use crate::registry::{Registry, Transition};
use crate::runner::{RunnerSettings, error_chain};
use crate::{BoxError, RunReport, RunStatus};

/// A queue entry: only the run it stands for. The run's row says what to do (kind, scope,
/// force), so a retry, a restart or another instance runs exactly what was recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueuedRun {
    /// The `job_runs` row this entry runs.
    pub run_id: i64,
}

/// What every worker shares; cheap to clone.
#[derive(Clone)]
pub(crate) struct JobContext {
    /// The history table.
    pub history: JobHistory,
    /// The registered kinds.
    pub registry: Arc<Registry>,
    /// The queue.
    pub store: QueueStore,
    /// The runner's settings.
    pub settings: Arc<RunnerSettings>,
    /// This process's name in worker names and on history rows.
    pub instance: Arc<str>,
    /// Wakes this process's idle worker of a kind when it queues a job of that kind, so it
    /// need not wait for its next poll.
    pub wakers: Arc<Vec<(&'static str, Arc<Notify>)>>,
    /// The cancel flags of the runs this process is running, by run id.
    pub running: Arc<std::sync::Mutex<HashMap<i64, CancelFlag>>>,
}

impl JobContext {
    /// The waker of `kind`'s worker.
    pub fn waker(&self, kind: &str) -> Option<Arc<Notify>> {
        self.wakers
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, n)| n.clone())
    }

    pub(crate) fn transition(
        &self,
        run: &entity::job_runs::Model,
        status: RunStatus,
        elapsed: Option<std::time::Duration>,
    ) {
        self.registry.notify(&Transition {
            run_id: run.id,
            kind: run.kind.clone(),
            scope: run.scope.clone(),
            status,
            duration: elapsed,
        });
    }
}

/// The apalis handler of every queue: runs one attempt of the entry's run.
pub(crate) async fn run_queued(
    job: QueuedRun,
    ctx: Data<JobContext>,
    attempt: Attempt,
) -> Result<(), BoxError> {
    execute(&ctx, job.run_id, attempt.current()).await
}

/// Runs one attempt of run `run_id` and records its outcome: success with its report, a failed
/// attempt (returned as an error so the retry layer tries again after its backoff), or the
/// final failure. While it runs, the row's heartbeat is written every `heartbeat`. A queue
/// entry whose run already finished is skipped.
pub(crate) async fn execute(ctx: &JobContext, run_id: i64, attempt: usize) -> Result<(), BoxError> {
    let Some(run) = ctx.history.start_attempt(run_id, &ctx.instance).await? else {
        tracing::info!(run_id, "queue entry of a finished or unknown job skipped");
        return Ok(());
    };
    tracing::info!(run_id, kind = %run.kind, scope = %run.scope, attempt, "job started");
    ctx.transition(&run, RunStatus::Running, None);
    let started = Instant::now();
    let timeout = ctx.settings.run_timeout;
    let heartbeat = ctx.settings.heartbeat;
    let history = ctx.history.clone();
    let flag = CancelFlag::default();
    if run.cancel_requested_at.is_some() {
        flag.set();
    }
    ctx.running
        .lock()
        .expect("running runs")
        .insert(run_id, flag.clone());
    // Each beat also looks for a cancel asked for on another instance.
    let beat_flag = flag.clone();
    let progress = Progress::default();
    let beat_progress = progress.clone();
    let beating = tokio::spawn(async move {
        loop {
            tokio::time::sleep(heartbeat).await;
            if let Some(value) = beat_progress.take()
                && let Err(e) = history.set_progress(run_id, value).await
            {
                tracing::warn!(run_id, error = %e, "could not record a job's progress");
            }
            if let Err(e) = history.beat(run_id).await {
                tracing::warn!(run_id, error = %e, "could not record a job heartbeat");
            }
            if let Ok(true) = history.cancel_requested(run_id).await {
                beat_flag.set();
            }
        }
    });
    let work = match ctx.registry.handler(&run.kind) {
        Some(handler) => handler(&run),
        None => {
            let kind = run.kind.clone();
            Box::pin(async move { Err(format!("no job kind '{kind}' is registered").into()) })
        }
    };
    let outcome = match tokio::time::timeout(timeout, with_flag(flag.clone(), progress, work)).await
    {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("timed out after {} s", timeout.as_secs()).into()),
    };
    beating.abort();
    ctx.running.lock().expect("running runs").remove(&run_id);
    let elapsed = started.elapsed();
    if flag.is_set() || ctx.history.cancel_requested(run_id).await? {
        // Stopped on request: the counts it had, no retry.
        let report = outcome.unwrap_or_else(|_| RunReport::default());
        ctx.history
            .finish_cancelled(run_id, &report, elapsed)
            .await?;
        ctx.transition(&run, RunStatus::Cancelled, Some(elapsed));
        tracing::info!(run_id, kind = %run.kind, checked = report.checked, "job cancelled");
        return Ok(());
    }
    match outcome {
        Ok(report) => {
            ctx.history.succeed(run_id, &report, elapsed).await?;
            ctx.transition(&run, RunStatus::Succeeded, Some(elapsed));
            tracing::info!(
                run_id,
                kind = %run.kind,
                checked = report.checked,
                refreshed = report.refreshed,
                added = report.added,
                removed = report.removed,
                errors = report.errors,
                duration_ms = elapsed.as_millis() as u64,
                "job finished"
            );
            Ok(())
        }
        Err(err) => {
            let message = error_chain(err.as_ref());
            let permanent = err.downcast_ref::<crate::Permanent>().is_some();
            if permanent || run.attempts >= run.max_attempts {
                ctx.history.fail(run_id, &message, Some(elapsed)).await?;
                ctx.transition(&run, RunStatus::Failed, Some(elapsed));
                tracing::error!(run_id, kind = %run.kind, attempts = run.attempts, error = %message, "job failed");
            } else {
                ctx.history.attempt_failed(run_id, &message).await?;
                tracing::warn!(run_id, kind = %run.kind, attempt = run.attempts, max_attempts = run.max_attempts, error = %message, "job attempt failed; retrying");
            }
            Err(err)
        }
    }
}
