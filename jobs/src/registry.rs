//! The job kinds a program registers with the runner: for each, its payload type, the async
//! function that does the work, and when it is queued by itself (at start, on a schedule).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entity::job_runs;
use futures::future::BoxFuture;

use crate::{BoxError, RunReport, RunStatus};

/// A job's payload: what one run is asked to do. It is stored on the run's row as a scope (what
/// it covers; one run per kind and scope is queued or running at a time) and a `force` flag,
/// and rebuilt from them when an attempt starts, so a retry or another instance runs the same.
pub trait Payload: Sized + Send + 'static {
    /// The kind's name: stored on runs, shown in the history, the queue's name.
    const KIND: &'static str;

    /// What this run covers, as stored (`all` when it covers everything).
    fn scope(&self) -> String;

    /// Whether it redoes work it would otherwise skip. A forced request that meets a queued,
    /// unforced run of its scope makes that run forced.
    fn force(&self) -> bool {
        false
    }

    /// The payload of a stored run.
    fn from_run(scope: &str, force: bool) -> Result<Self, BoxError>;
}

/// A run changing state, for a program's live events and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The run.
    pub run_id: i64,
    /// Its kind.
    pub kind: String,
    /// Its scope, as stored.
    pub scope: String,
    /// `Running` when an attempt starts, `Succeeded` or `Failed` when the run ends.
    pub status: RunStatus,
    /// How long the run took (when it ended).
    pub duration: Option<Duration>,
}

type Handler =
    Arc<dyn Fn(&job_runs::Model) -> BoxFuture<'static, Result<RunReport, BoxError>> + Send + Sync>;

type Observer = Arc<dyn Fn(&Transition) + Send + Sync>;

/// A payload that is queued by itself, stored the way [`Payload`] stores it.
#[derive(Debug, Clone)]
pub(crate) struct Automatic {
    pub kind: &'static str,
    pub scope: String,
    pub force: bool,
}

impl Automatic {
    fn of<P: Payload>(payload: &P) -> Self {
        Self {
            kind: P::KIND,
            scope: payload.scope(),
            force: payload.force(),
        }
    }
}

/// The registered kinds; built once, then handed to [`crate::JobRunner::new`].
#[derive(Clone, Default)]
pub struct Registry {
    handlers: Vec<(&'static str, Handler)>,
    pub(crate) at_start: Vec<Automatic>,
    pub(crate) schedules: Vec<(Automatic, Duration)>,
    pub(crate) observers: Vec<Observer>,
}

impl Registry {
    /// Registers the kind of `P`: each run calls `run` with its payload and `services`.
    pub fn register<P, S, F, Fut>(mut self, services: S, run: F) -> Self
    where
        P: Payload,
        S: Clone + Send + Sync + 'static,
        F: Fn(P, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RunReport, BoxError>> + Send + 'static,
    {
        let handler: Handler =
            Arc::new(
                move |row: &job_runs::Model| match P::from_run(&row.scope, row.force) {
                    Ok(payload) => Box::pin(run(payload, services.clone())),
                    Err(e) => Box::pin(async move { Err(e) }),
                },
            );
        self.handlers.retain(|(kind, _)| *kind != P::KIND);
        self.handlers.push((P::KIND, handler));
        self
    }

    /// Queues `payload` each time the runner starts.
    pub fn at_start<P: Payload>(mut self, payload: P) -> Self {
        self.at_start.push(Automatic::of(&payload));
        self
    }

    /// Queues `payload` every `period` (`None`: never), in wall-clock slots every instance
    /// shares, so N instances queue one run per slot.
    pub fn every<P: Payload>(mut self, period: Option<Duration>, payload: P) -> Self {
        if let Some(period) = period {
            self.schedules.push((Automatic::of(&payload), period));
        }
        self
    }

    /// Calls `observer` at every [`Transition`] of every run (keep it quick: it runs on the
    /// worker).
    pub fn observe(mut self, observer: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// The registered kinds, in registration order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.iter().map(|(kind, _)| *kind)
    }

    /// How often `kind` is scheduled, if it is.
    pub fn period(&self, kind: &str) -> Option<Duration> {
        self.schedules
            .iter()
            .find(|(auto, _)| auto.kind == kind)
            .map(|(_, every)| *every)
    }

    pub(crate) fn handler(&self, kind: &str) -> Option<&Handler> {
        self.handlers
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, h)| h)
    }

    pub(crate) fn notify(&self, transition: &Transition) {
        for observer in &self.observers {
            observer(transition);
        }
    }
}
