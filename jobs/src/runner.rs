//! The job runner: records runs, pushes them to the queue, and runs the workers of every
//! registered kind, the schedules and the start-up jobs inside the program until shutdown.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::HasherRng;
use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::prelude::{
    BackendExt, Monitor, PollSnapshot, PollStrategy, RetryPolicy, Strategy, WorkerBuilder,
    WorkerBuilderExt,
};
use apalis_postgres::{PostgresStorage, Pubsub};
use apalis_sqlite::SqliteStorage;
use chrono::{DateTime, Utc};
use entity::job_runs;
use sea_orm::DbErr;
use tokio::sync::{Notify, watch};

use crate::history::{Enqueued, JobHistory, NewRun};
use crate::instances;
use crate::queue::{QueueError, QueueStore};
use crate::registry::{Automatic, Registry};
use crate::worker::{JobContext, QueuedRun, run_queued};
use crate::{Payload, RunStatus, Trigger};

/// How the runner behaves; built by the program from its settings (there is no default: the
/// program's configuration is the one place these values come from).
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Attempts per run before it is recorded as failed (at least 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per attempt (with jitter) up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    /// Longest wait between attempts.
    pub retry_backoff_max: Duration,
    /// Worker and run heartbeat: a worker silent for two heartbeats is dead and its jobs are
    /// re-queued; a running run silent for six is recorded as abandoned.
    pub heartbeat: Duration,
    /// How often idle workers look for new jobs.
    pub poll_interval: Duration,
    /// Longest one attempt may run; also how long a run may stay queued before it is
    /// recorded as abandoned (its queue entry lost).
    pub run_timeout: Duration,
    /// How long running jobs get to finish on shutdown before they are left for the next start.
    pub shutdown_grace: Duration,
    /// The program's version, shown with this instance.
    pub version: String,
}

/// A failure to queue or find a run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The history table failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// No run has this id.
    #[error("Job {0} not found")]
    NotFound(i64),
    /// The kind has no schedule.
    #[error("Job kind '{0}' is not scheduled")]
    NotScheduled(String),
    /// A schedule change is not acceptable.
    #[error("{0}")]
    BadSchedule(String),
    /// The run has finished: it cannot be cancelled.
    #[error("Job {id} is {status}; only a queued or running job can be cancelled")]
    NotCancellable {
        /// The run.
        id: i64,
        /// Its status.
        status: String,
    },
    /// Only failed or cancelled runs can be retried.
    #[error("Job {id} is {status}; only a failed or cancelled job can be retried")]
    NotRetryable {
        /// The run.
        id: i64,
        /// Its status.
        status: String,
    },
}

/// A stream that yields each time `notify` is notified.
fn wake_stream(
    notify: Arc<Notify>,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = ()> + Send + Sync>> {
    Box::pin(futures::stream::unfold(notify, |notify| async move {
        notify.notified().await;
        Some(((), notify))
    }))
}

/// The runner: queue runs, look them up, and run everything in the background.
#[derive(Clone)]
pub struct JobRunner {
    pub(crate) ctx: JobContext,
}

impl JobRunner {
    /// A runner recording into `history`, queueing into `store`, running `registry`'s kinds.
    pub fn new(
        history: JobHistory,
        store: QueueStore,
        registry: Registry,
        settings: RunnerSettings,
    ) -> Self {
        let started = Utc::now().timestamp_millis();
        let instance = format!("{}-{}", std::process::id(), started);
        let wakers = registry
            .kinds()
            .map(|kind| (kind, Arc::new(Notify::new())))
            .collect();
        Self {
            ctx: JobContext {
                history,
                registry: Arc::new(registry),
                store,
                settings: Arc::new(settings),
                instance: instance.into(),
                wakers: Arc::new(wakers),
                running: Default::default(),
            },
        }
    }

    /// The history table.
    pub fn history(&self) -> &JobHistory {
        &self.ctx.history
    }

    /// The queue.
    pub fn store(&self) -> &QueueStore {
        &self.ctx.store
    }

    /// The settings.
    pub fn settings(&self) -> &RunnerSettings {
        &self.ctx.settings
    }

    /// The registered kinds.
    pub fn registry(&self) -> &Registry {
        &self.ctx.registry
    }

    /// Records and queues a run of `payload`. When a run of the same kind and scope is already
    /// queued or running, that one is returned instead (`Enqueued::Existing`).
    pub async fn enqueue<P: Payload>(
        &self,
        payload: P,
        trigger: Trigger,
    ) -> Result<Enqueued, JobError> {
        self.enqueue_run(self.new_run(&payload, trigger, None))
            .await
    }

    /// Like [`JobRunner::enqueue`], for a run that only one of several instances should queue:
    /// `key` names what the run is for (a change they all saw), and a second run with the same
    /// key is never recorded (`Enqueued::SlotTaken`).
    pub async fn enqueue_once<P: Payload>(
        &self,
        payload: P,
        trigger: Trigger,
        key: String,
    ) -> Result<Enqueued, JobError> {
        self.enqueue_run(self.new_run(&payload, trigger, Some(key)))
            .await
    }

    fn new_run<P: Payload>(&self, payload: &P, trigger: Trigger, key: Option<String>) -> NewRun {
        NewRun {
            kind: P::KIND.to_string(),
            trigger,
            scope: payload.scope(),
            force: payload.force(),
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: key,
            retry_of: None,
        }
    }

    /// Queues a new run with the same kind, scope and force as failed run `id`.
    pub async fn retry(&self, id: i64) -> Result<Enqueued, JobError> {
        let run = self
            .ctx
            .history
            .get(id)
            .await?
            .ok_or(JobError::NotFound(id))?;
        if run.status != RunStatus::Failed.as_str() && run.status != RunStatus::Cancelled.as_str() {
            return Err(JobError::NotRetryable {
                id,
                status: run.status,
            });
        }
        self.enqueue_run(NewRun {
            kind: run.kind,
            trigger: Trigger::Manual,
            scope: run.scope,
            force: run.force,
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: None,
            retry_of: Some(id),
        })
        .await
    }

    async fn enqueue_run(&self, new: NewRun) -> Result<Enqueued, JobError> {
        let kind = new.kind.clone();
        let enqueued = self.ctx.history.enqueue(new).await?;
        if let Enqueued::New(run) = &enqueued {
            let pushed = self
                .ctx
                .store
                .push(
                    &kind,
                    QueuedRun { run_id: run.id },
                    self.ctx.settings.max_attempts,
                )
                .await;
            if let Err(e) = pushed {
                self.ctx
                    .history
                    .fail(run.id, &format!("could not be queued: {e}"), None)
                    .await?;
                return Err(e.into());
            }
            if let Some(waker) = self.ctx.waker(&kind) {
                waker.notify_one();
            }
        }
        Ok(enqueued)
    }

    /// When the schedule next queues a run of `kind` (None: not scheduled, or paused).
    pub async fn next_run_at(&self, kind: &str) -> Option<DateTime<Utc>> {
        self.schedule(kind).await.ok().flatten()?.next_run_at
    }

    /// True while a run of any of `kinds` is queued or running.
    pub async fn any_active(&self, kinds: &[&str]) -> Result<bool, DbErr> {
        for kind in kinds {
            if !self.ctx.history.active(kind).await?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The newest finished run of any of `kinds`.
    pub async fn last_finished(&self, kinds: &[&str]) -> Result<Option<job_runs::Model>, DbErr> {
        let mut newest: Option<job_runs::Model> = None;
        for kind in kinds {
            if let Some(run) = self.ctx.history.last_finished(kind).await?
                && newest
                    .as_ref()
                    .is_none_or(|n| run.finished_at > n.finished_at)
            {
                newest = Some(run);
            }
        }
        Ok(newest)
    }

    /// Runs the workers and the schedules (and queues the start-up jobs) until `shutdown`
    /// turns true; running jobs then get `shutdown_grace` to finish, after which what is left
    /// is re-queued by the next start.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        for auto in self.ctx.registry.at_start.clone() {
            let kind = auto.kind;
            match self.enqueue_automatic(auto, Trigger::Startup, None).await {
                Ok(Enqueued::New(run)) => {
                    tracing::info!(run_id = run.id, kind, "start-up job queued")
                }
                Ok(_) => tracing::info!(kind, "a start-up job is already queued"),
                Err(e) => {
                    tracing::error!(kind, error = %error_chain(&e), "could not queue a start-up job")
                }
            }
        }
        // After the start-up jobs are queued: callers look for them as soon as the server runs.
        let db = self.ctx.history.db().clone();
        if let Err(e) =
            instances::register(&db, &self.ctx.instance, &self.ctx.settings.version).await
        {
            tracing::warn!(error = %e, "could not record this instance");
        }
        let mut schedules = vec![
            tokio::spawn(self.clone().reap_loop(shutdown.clone())),
            tokio::spawn(self.clone().instance_loop(shutdown.clone())),
        ];
        for (auto, every) in self.ctx.registry.schedules.clone() {
            schedules.push(tokio::spawn(self.clone().schedule_loop(
                auto,
                every,
                shutdown.clone(),
            )));
        }
        let monitor = self.monitor();
        let mut stop = shutdown.clone();
        let signal = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok(())
        };
        if let Err(e) = monitor.run_with_signal(signal).await {
            tracing::error!(error = %e, "job workers stopped with an error");
        }
        for s in schedules {
            s.abort();
        }
        if let Err(e) = instances::stopped(&db, &self.ctx.instance).await {
            tracing::warn!(error = %e, "could not record that this instance stopped");
        }
        tracing::info!("job workers stopped");
    }

    /// Queues the scheduled run of `kind` for schedule slot `slot`, unless another instance
    /// already did (`Enqueued::SlotTaken`) or a run of the same kind and scope is active.
    /// `None` when `kind` is not scheduled.
    pub async fn enqueue_scheduled(
        &self,
        kind: &str,
        slot: i64,
    ) -> Option<Result<Enqueued, JobError>> {
        let (auto, _) = self
            .ctx
            .registry
            .schedules
            .iter()
            .find(|(auto, _)| auto.kind == kind)?
            .clone();
        let key = format!("{kind}:{slot}");
        Some(
            self.enqueue_automatic(auto, Trigger::Schedule, Some(key))
                .await,
        )
    }

    pub(crate) async fn enqueue_automatic(
        &self,
        auto: Automatic,
        trigger: Trigger,
        key: Option<String>,
    ) -> Result<Enqueued, JobError> {
        self.enqueue_run(NewRun {
            kind: auto.kind.to_string(),
            trigger,
            scope: auto.scope,
            force: auto.force,
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: key,
            retry_of: None,
        })
        .await
    }

    /// Every few heartbeats, records as abandoned the active runs nobody is working on (see
    /// [`JobHistory::reap_abandoned`]). A running job beats every heartbeat; a killed worker's
    /// job is re-queued by apalis after two missed beats and beats again when it restarts, so
    /// six missed beats mean its queue entry is gone too.
    async fn reap_loop(self, mut shutdown: watch::Receiver<bool>) {
        let running_lease = (self.ctx.settings.heartbeat * 6).max(Duration::from_secs(30));
        let queued_lease = self.ctx.settings.run_timeout;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(running_lease) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if let Err(e) = self
                .ctx
                .history
                .reap_abandoned(running_lease, queued_lease)
                .await
            {
                tracing::warn!(error = %e, "could not check for abandoned jobs");
            }
        }
    }

    /// One worker per registered kind, on the queue named after it.
    fn monitor(&self) -> Monitor {
        let mut monitor = Monitor::new().shutdown_timeout(self.ctx.settings.shutdown_grace);
        for kind in self.ctx.registry.kinds() {
            let ctx = self.ctx.clone();
            let waker = ctx.waker(kind).unwrap_or_default();
            let poll = ctx.settings.poll_interval;
            let heartbeat = ctx.settings.heartbeat;
            monitor = match ctx.store.clone() {
                QueueStore::Sqlite(pool) => monitor.register(move |restart| {
                    let config = apalis_sqlite::Config::default()
                        .queue(kind)
                        .heartbeat_interval(heartbeat);
                    let backend = SqliteStorage::<QueuedRun>::new(&pool)
                        .with_config(config)
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(wake_stream(waker.clone()))
                                .interval(poll),
                        ));
                    worker(&ctx, kind, restart)
                        .backend(backend)
                        .data(ctx.clone())
                        .retry(retry_policy(&ctx.settings))
                        .build(run_queued)
                }),
                QueueStore::Postgres(pool) => monitor.register(move |restart| {
                    let config = apalis_postgres::Config::default()
                        .queue(kind)
                        .heartbeat_interval(heartbeat);
                    let backend = PostgresStorage::<QueuedRun>::new(&pool)
                        .with_config(config)
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(Pubsub::new(pool.clone(), kind.into()))
                                .stream(wake_stream(waker.clone()))
                                .interval(poll),
                        ));
                    worker(&ctx, kind, restart)
                        .backend(backend)
                        .data(ctx.clone())
                        .retry(retry_policy(&ctx.settings))
                        .build(run_queued)
                }),
            };
        }
        monitor
    }
}

/// A worker named after its kind, this process and its restart count.
fn worker(
    ctx: &JobContext,
    kind: &str,
    restart: usize,
) -> WorkerBuilder<(), (), apalis::prelude::Identity> {
    WorkerBuilder::new(format!("{kind}-{}-{restart}", ctx.instance).as_str())
}

/// `max_attempts - 1` retries with exponential backoff (and jitter) between them.
fn retry_policy(
    settings: &RunnerSettings,
) -> apalis::layers::retry::BackoffRetryPolicy<apalis::layers::retry::backoff::ExponentialBackoff> {
    let backoff = ExponentialBackoffMaker::new(
        settings.retry_backoff,
        settings.retry_backoff_max.max(settings.retry_backoff),
        0.2,
        HasherRng::default(),
    )
    .expect("backoff bounds are ordered")
    .make_backoff();
    RetryPolicy::retries(settings.max_attempts.saturating_sub(1) as usize).with_backoff(backoff)
}

/// Wraps a poll strategy so it is polled until it returns `Pending` each time, which
/// registers the waker of a freshly armed timer or stream. apalis 1.0's stock strategies return
/// `Ready` without re-arming, so an idle worker could sleep until its next heartbeat (30 s).
#[derive(Debug, Clone)]
pub struct Rearm<S>(pub S);

impl<S: PollStrategy> PollStrategy for Rearm<S> {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        snapshot: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        let mut fired = false;
        for _ in 0..64 {
            match self.0.poll_drive(cx, snapshot) {
                std::task::Poll::Ready(Some(())) => fired = true,
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(None),
                std::task::Poll::Pending => break,
            }
        }
        if fired {
            std::task::Poll::Ready(Some(()))
        } else {
            std::task::Poll::Pending
        }
    }

    fn on_poll(&mut self, snapshot: &PollSnapshot) {
        self.0.on_poll(snapshot)
    }
}

/// An error and its causes on one line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
