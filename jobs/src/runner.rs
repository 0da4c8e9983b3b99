//! The job runner: records runs, pushes them to the queue, and runs the workers, the schedule
//! and the start-up warm inside the server process until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, watch};

use crate::history::{Enqueued, JobHistory, NewRun};
use crate::purge::PurgeJob;
use crate::queue::{QueueError, QueueStore};
use crate::refresh::RefreshJob;
use crate::warm::WarmJob;
use crate::{BoxError, JobKind, JobWork, RunReport, RunStatus, Scope, Trigger, schedule};

/// How the runner behaves; built by the server from its settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Attempts per run before it is recorded as failed (at least 1).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles per attempt (with jitter) up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    /// Longest wait between attempts.
    pub retry_backoff_max: Duration,
    /// Period of the scheduled refresh; `None` disables it.
    pub refresh_every: Option<Duration>,
    /// Period of the scheduled purge; `None` disables it.
    pub purge_every: Option<Duration>,
    /// Cache entries neither read nor refreshed for this long are purged; `None` keeps them.
    pub purge_cache_after: Option<Duration>,
    /// Finished job records (and queue entries) older than this are purged; `None` keeps them.
    pub retention: Option<Duration>,
    /// Worker and run heartbeat: a worker silent for two heartbeats is dead and its jobs are
    /// re-queued; a running run silent for six is recorded as abandoned.
    pub heartbeat: Duration,
    /// How often idle workers look for new jobs.
    pub poll_interval: Duration,
    /// Longest one attempt may run; also how long a run may stay queued before it is
    /// recorded as abandoned (its queue entry lost).
    pub run_timeout: Duration,
    /// Queue a warm when the runner starts.
    pub warm_on_start: bool,
    /// How long running jobs get to finish on shutdown before they are left for the next start.
    pub shutdown_grace: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retry_backoff: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(60),
            refresh_every: Some(Duration::from_secs(300)),
            purge_every: Some(Duration::from_secs(3600)),
            purge_cache_after: Some(Duration::from_secs(7 * 86_400)),
            retention: Some(Duration::from_secs(7 * 86_400)),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            run_timeout: Duration::from_secs(1800),
            warm_on_start: true,
            shutdown_grace: Duration::from_secs(10),
        }
    }
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
    /// Only failed runs can be retried.
    #[error("Job {id} is {status}; only a failed job can be retried")]
    NotRetryable {
        /// The run.
        id: i64,
        /// Its status.
        status: String,
    },
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct JobContext {
    /// The history table.
    pub history: JobHistory,
    /// The server's side of the work.
    pub work: Arc<dyn JobWork>,
    /// The queue.
    pub store: QueueStore,
    /// The runner's settings.
    pub settings: Arc<RunnerSettings>,
    /// This process's name in worker names and on history rows.
    pub instance: Arc<str>,
    /// Wakes this process's idle workers when it queues a job, so they need not wait for their
    /// next poll (warm, refresh, purge).
    pub wakers: Arc<[Notify; 3]>,
}

impl JobContext {
    fn waker(&self, kind: JobKind) -> &Notify {
        &self.wakers[kind as usize]
    }
}

/// A stream that yields each time `notify` is notified.
fn wake_stream(
    wakers: Arc<[Notify; 3]>,
    kind: JobKind,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = ()> + Send + Sync>> {
    Box::pin(futures::stream::unfold(wakers, move |wakers| async move {
        wakers[kind as usize].notified().await;
        Some(((), wakers))
    }))
}

impl JobContext {
    /// Runs one attempt of run `run_id` and records its outcome: success with its report, a
    /// failed attempt (returned as an error so the retry layer tries again after its backoff),
    /// or the final failure. `work` gets the run's row (its scope and force as stored). While it
    /// runs, the row's heartbeat is written every `heartbeat`. A queue entry whose run already
    /// finished is skipped.
    pub async fn execute<W, F>(&self, run_id: i64, attempt: usize, work: W) -> Result<(), BoxError>
    where
        W: FnOnce(job_runs::Model) -> F,
        F: Future<Output = Result<RunReport, BoxError>> + Send,
    {
        let Some(run) = self.history.start_attempt(run_id, &self.instance).await? else {
            tracing::info!(run_id, "queue entry of a finished or unknown job skipped");
            return Ok(());
        };
        let kind = JobKind::parse(&run.kind).unwrap_or(JobKind::Refresh);
        tracing::info!(run_id, kind = %kind, scope = %run.scope, attempt, "job started");
        self.work.job_started(run_id, kind, &run.scope);
        let started = Instant::now();
        let timeout = self.settings.run_timeout;
        let heartbeat = self.settings.heartbeat;
        let history = self.history.clone();
        let beating = tokio::spawn(async move {
            loop {
                tokio::time::sleep(heartbeat).await;
                if let Err(e) = history.beat(run_id).await {
                    tracing::warn!(run_id, error = %e, "could not record a job heartbeat");
                }
            }
        });
        let outcome = match tokio::time::timeout(timeout, work(run.clone())).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("timed out after {} s", timeout.as_secs()).into()),
        };
        beating.abort();
        let elapsed = started.elapsed();
        match outcome {
            Ok(report) => {
                self.history.succeed(run_id, &report, elapsed).await?;
                self.work
                    .job_finished(run_id, kind, RunStatus::Succeeded, elapsed);
                tracing::info!(
                    run_id,
                    kind = %kind,
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
                if run.attempts >= run.max_attempts {
                    self.history.fail(run_id, &message, Some(elapsed)).await?;
                    self.work
                        .job_finished(run_id, kind, RunStatus::Failed, elapsed);
                    tracing::error!(run_id, kind = %kind, attempts = run.attempts, error = %message, "job failed");
                } else {
                    self.history.attempt_failed(run_id, &message).await?;
                    tracing::warn!(run_id, kind = %kind, attempt = run.attempts, max_attempts = run.max_attempts, error = %message, "job attempt failed; retrying");
                }
                Err(err)
            }
        }
    }
}

/// The runner: queue runs, look them up, and run everything in the background.
#[derive(Clone)]
pub struct JobRunner {
    ctx: JobContext,
}

impl JobRunner {
    /// A runner recording into `db`'s `job_runs` and queueing into `store`.
    pub fn new(
        db: DatabaseConnection,
        store: QueueStore,
        work: Arc<dyn JobWork>,
        settings: RunnerSettings,
    ) -> Self {
        let started = Utc::now().timestamp_millis();
        let instance = format!("{}-{}", std::process::id(), started);
        Self {
            ctx: JobContext {
                history: JobHistory::new(db),
                work,
                store,
                settings: Arc::new(settings),
                instance: instance.into(),
                wakers: Arc::new([Notify::new(), Notify::new(), Notify::new()]),
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

    /// Records and queues a run. When a run of the same kind and scope is already queued or
    /// running, that one is returned instead (`Enqueued::Existing`).
    pub async fn enqueue(
        &self,
        kind: JobKind,
        trigger: Trigger,
        scope: Scope,
        force: bool,
    ) -> Result<Enqueued, JobError> {
        self.enqueue_run(NewRun {
            kind,
            trigger,
            scope,
            force,
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: None,
            retry_of: None,
        })
        .await
    }

    /// Queues a new run with the same kind, scope and force as failed run `id`.
    pub async fn retry(&self, id: i64) -> Result<Enqueued, JobError> {
        let run = self
            .ctx
            .history
            .get(id)
            .await?
            .ok_or(JobError::NotFound(id))?;
        if run.status != RunStatus::Failed.as_str() {
            return Err(JobError::NotRetryable {
                id,
                status: run.status,
            });
        }
        let kind = JobKind::parse(&run.kind).unwrap_or(JobKind::Refresh);
        self.enqueue_run(NewRun {
            kind,
            trigger: Trigger::Manual,
            scope: Scope::from_key(&run.scope).unwrap_or(Scope::All),
            force: run.force,
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: None,
            retry_of: Some(id),
        })
        .await
    }

    async fn enqueue_run(&self, new: NewRun) -> Result<Enqueued, JobError> {
        let kind = new.kind;
        let scope = new.scope.clone();
        let force = new.force;
        let enqueued = self.ctx.history.enqueue(new).await?;
        if let Enqueued::New(run) = &enqueued {
            let store = &self.ctx.store;
            let attempts = self.ctx.settings.max_attempts;
            let run_id = run.id;
            let pushed = match kind {
                JobKind::Warm => {
                    store
                        .push(crate::warm::QUEUE, WarmJob { run_id }, attempts)
                        .await
                }
                JobKind::Refresh => {
                    store
                        .push(
                            crate::refresh::QUEUE,
                            RefreshJob {
                                run_id,
                                scope,
                                force,
                            },
                            attempts,
                        )
                        .await
                }
                JobKind::Purge => {
                    store
                        .push(crate::purge::QUEUE, PurgeJob { run_id }, attempts)
                        .await
                }
            };
            if let Err(e) = pushed {
                self.ctx
                    .history
                    .fail(run_id, &format!("could not be queued: {e}"), None)
                    .await?;
                return Err(e.into());
            }
            self.ctx.waker(kind).notify_one();
        }
        Ok(enqueued)
    }

    /// When the schedule next queues a run of `kind` (None: not scheduled).
    pub fn next_run_at(&self, kind: JobKind) -> Option<DateTime<Utc>> {
        self.period(kind)
            .map(|every| schedule::next_slot(Utc::now(), every).1)
    }

    fn period(&self, kind: JobKind) -> Option<Duration> {
        match kind {
            JobKind::Refresh => self.ctx.settings.refresh_every,
            JobKind::Purge => self.ctx.settings.purge_every,
            JobKind::Warm => None,
        }
    }

    /// True while a warm or a refresh of any scope is queued or running.
    pub async fn refreshing(&self) -> Result<bool, DbErr> {
        Ok(!self.ctx.history.active(JobKind::Refresh).await?.is_empty()
            || !self.ctx.history.active(JobKind::Warm).await?.is_empty())
    }

    /// The newest finished refresh or warm.
    pub async fn last_refresh(&self) -> Result<Option<job_runs::Model>, DbErr> {
        let refresh = self.ctx.history.last_finished(JobKind::Refresh).await?;
        let warm = self.ctx.history.last_finished(JobKind::Warm).await?;
        Ok(match (refresh, warm) {
            (Some(r), Some(w)) => Some(if w.finished_at > r.finished_at { w } else { r }),
            (r, w) => r.or(w),
        })
    }

    /// Runs the workers and the schedule (and queues the start-up warm) until `shutdown`
    /// turns true; running jobs then get `shutdown_grace` to finish, after which what is left
    /// is re-queued by the next start.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        if self.ctx.settings.warm_on_start {
            match self
                .enqueue(JobKind::Warm, Trigger::Startup, Scope::All, false)
                .await
            {
                Ok(Enqueued::New(run)) => tracing::info!(run_id = run.id, "cache warm queued"),
                Ok(_) => tracing::info!("a cache warm is already queued"),
                Err(e) => {
                    tracing::error!(error = %error_chain(&e), "could not queue the cache warm")
                }
            }
        }
        let mut schedules = vec![tokio::spawn(self.clone().reap_loop(shutdown.clone()))];
        for kind in [JobKind::Refresh, JobKind::Purge] {
            if let Some(every) = self.period(kind) {
                schedules.push(tokio::spawn(self.clone().schedule_loop(
                    kind,
                    every,
                    shutdown.clone(),
                )));
            }
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
        tracing::info!("job workers stopped");
    }

    /// Queues the scheduled run of `kind` for schedule slot `slot`, unless another instance
    /// already did (`Enqueued::SlotTaken`) or a run of the same kind and scope is active.
    pub async fn enqueue_scheduled(&self, kind: JobKind, slot: i64) -> Result<Enqueued, JobError> {
        self.enqueue_run(NewRun {
            kind,
            trigger: Trigger::Schedule,
            scope: Scope::All,
            force: false,
            max_attempts: self.ctx.settings.max_attempts,
            schedule_key: Some(format!("{kind}:{slot}")),
            retry_of: None,
        })
        .await
    }

    /// Queues a refresh of `scope` for changes the file watcher saw. `change` names the change
    /// (a digest of the changed paths' state), so instances that saw the same burst queue it
    /// once, while a later change of the same files is a new job. A refresh of the scope already
    /// queued or running is returned instead (the watcher queues again once a running one
    /// finished, since it may have read the files before they changed).
    pub async fn enqueue_watched(&self, scope: Scope, change: &str) -> Result<Enqueued, JobError> {
        self.enqueue_run(NewRun {
            kind: JobKind::Refresh,
            trigger: Trigger::Watch,
            schedule_key: Some(format!("watch:{}:{change}", scope.key())),
            scope,
            force: false,
            max_attempts: self.ctx.settings.max_attempts,
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

    async fn schedule_loop(
        self,
        kind: JobKind,
        every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let (slot, at) = schedule::next_slot(Utc::now(), every);
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let queued = self.enqueue_scheduled(kind, slot).await;
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

    fn monitor(&self) -> Monitor {
        let ctx = &self.ctx;
        let settings = &ctx.settings;
        let monitor = Monitor::new().shutdown_timeout(settings.shutdown_grace);
        let sqlite_cfg = |queue: &str| {
            apalis_sqlite::Config::default()
                .queue(queue)
                .heartbeat_interval(settings.heartbeat)
        };
        let pg_cfg = |queue: &str| {
            apalis_postgres::Config::default()
                .queue(queue)
                .heartbeat_interval(settings.heartbeat)
        };
        macro_rules! register {
            ($monitor:expr, $queue:expr, $handler:path, $backend:expr) => {{
                let ctx = ctx.clone();
                let make_backend = $backend;
                $monitor.register(move |restart| {
                    let backoff = ExponentialBackoffMaker::new(
                        ctx.settings.retry_backoff,
                        ctx.settings
                            .retry_backoff_max
                            .max(ctx.settings.retry_backoff),
                        0.2,
                        HasherRng::default(),
                    )
                    .expect("backoff bounds are ordered")
                    .make_backoff();
                    WorkerBuilder::new(format!("{}-{}-{}", $queue, ctx.instance, restart).as_str())
                        .backend(make_backend())
                        .data(ctx.clone())
                        .retry(
                            RetryPolicy::retries(
                                ctx.settings.max_attempts.saturating_sub(1) as usize
                            )
                            .with_backoff(backoff),
                        )
                        .build($handler)
                })
            }};
        }
        let poll = settings.poll_interval;
        // One handle per worker factory; each match arm moves its own.
        let (w1, w2, w3) = (ctx.wakers.clone(), ctx.wakers.clone(), ctx.wakers.clone());
        match &ctx.store {
            QueueStore::Sqlite(pool) => {
                let m = monitor;
                let (p1, p2, p3) = (pool.clone(), pool.clone(), pool.clone());
                let (c1, c2, c3) = (
                    sqlite_cfg(crate::warm::QUEUE),
                    sqlite_cfg(crate::refresh::QUEUE),
                    sqlite_cfg(crate::purge::QUEUE),
                );
                let m = register!(m, crate::warm::QUEUE, crate::warm::warm, move || {
                    SqliteStorage::<WarmJob>::new(&p1)
                        .with_config(c1.clone())
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(wake_stream(w1.clone(), JobKind::Warm))
                                .interval(poll),
                        ))
                });
                let m = register!(
                    m,
                    crate::refresh::QUEUE,
                    crate::refresh::refresh,
                    move || {
                        SqliteStorage::<RefreshJob>::new(&p2)
                            .with_config(c2.clone())
                            .poll_with_strategy(Rearm(
                                Strategy::new()
                                    .stream(wake_stream(w2.clone(), JobKind::Refresh))
                                    .interval(poll),
                            ))
                    }
                );
                register!(m, crate::purge::QUEUE, crate::purge::purge, move || {
                    SqliteStorage::<PurgeJob>::new(&p3)
                        .with_config(c3.clone())
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(wake_stream(w3.clone(), JobKind::Purge))
                                .interval(poll),
                        ))
                })
            }
            QueueStore::Postgres(pool) => {
                let m = monitor;
                let (p1, p2, p3) = (pool.clone(), pool.clone(), pool.clone());
                let (c1, c2, c3) = (
                    pg_cfg(crate::warm::QUEUE),
                    pg_cfg(crate::refresh::QUEUE),
                    pg_cfg(crate::purge::QUEUE),
                );
                let m = register!(m, crate::warm::QUEUE, crate::warm::warm, move || {
                    PostgresStorage::<WarmJob>::new(&p1)
                        .with_config(c1.clone())
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(Pubsub::new(p1.clone(), crate::warm::QUEUE.into()))
                                .stream(wake_stream(w1.clone(), JobKind::Warm))
                                .interval(poll),
                        ))
                });
                let m = register!(
                    m,
                    crate::refresh::QUEUE,
                    crate::refresh::refresh,
                    move || {
                        PostgresStorage::<RefreshJob>::new(&p2)
                            .with_config(c2.clone())
                            .poll_with_strategy(Rearm(
                                Strategy::new()
                                    .stream(Pubsub::new(p2.clone(), crate::refresh::QUEUE.into()))
                                    .stream(wake_stream(w2.clone(), JobKind::Refresh))
                                    .interval(poll),
                            ))
                    }
                );
                register!(m, crate::purge::QUEUE, crate::purge::purge, move || {
                    PostgresStorage::<PurgeJob>::new(&p3)
                        .with_config(c3.clone())
                        .poll_with_strategy(Rearm(
                            Strategy::new()
                                .stream(Pubsub::new(p3.clone(), crate::purge::QUEUE.into()))
                                .stream(wake_stream(w3.clone(), JobKind::Purge))
                                .interval(poll),
                        ))
                })
            }
        }
    }
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
