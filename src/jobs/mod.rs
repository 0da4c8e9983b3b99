//! The server's background jobs, each a payload struct plus one async function that calls the
//! services: [`warm`] (at start-up), [`refresh`] (on a schedule, on demand, after file
//! changes) and [`purge`] (on a schedule). The `jobs` crate is only the plumbing (queue,
//! runner, history, schedules, retries); [`registry`] registers each kind there in one line.

pub mod charts;
pub mod git_import;
pub mod import;
pub mod purge;
pub mod refresh;
pub mod upstream;
pub mod warm;

use crate::cache::CacheService;
use crate::collections::CollectionService;
use crate::config::Settings;
use crate::deploy::DeployService;
use crate::events::{EventBus, ServerEvent};

/// The services the jobs call; cheap to clone.
#[derive(Clone)]
pub struct JobServices {
    /// The artifact cache.
    pub cache: CacheService,
    /// Collections (new artifacts join the default collection).
    pub collections: CollectionService,
    /// Deployments, whose statuses follow the cache.
    pub deployments: DeployService,
    /// Imports, upstream checks and pulls, the trash.
    pub authoring: crate::authoring::AuthoringService,
    /// Where live events go.
    pub events: EventBus,
    /// The job history (the purge trims it).
    pub history: ::jobs::JobHistory,
    /// The queue (the purge trims its finished entries).
    pub store: ::jobs::QueueStore,
    /// What the purge keeps.
    pub purge: purge::PurgeSettings,
}

/// Every job kind with its schedule, and the live events and metrics of their runs.
/// `import_at_start` queues the import of SkillMeat's organisation (its first start on a
/// SkillMeat home).
pub fn registry(
    services: JobServices,
    settings: &Settings,
    import_at_start: bool,
) -> ::jobs::Registry {
    let observer = services.clone();
    let registry = ::jobs::Registry::default()
        .register(services.clone(), warm::warm)
        .register(services.clone(), refresh::refresh)
        .register(services.clone(), import::import)
        .register(services.clone(), git_import::git_import)
        .register(services.clone(), upstream::check)
        .register(services.clone(), upstream::update)
        .register(services, purge::purge)
        .at_start(warm::WarmJob);
    let registry = if import_at_start {
        registry.at_start(import::ImportJob)
    } else {
        registry
    };
    registry
        .every(settings.refresh_every(), refresh::RefreshJob::everything())
        .every(settings.purge_every(), purge::PurgeJob)
        .every(settings.upstream_every(), upstream::UpstreamCheckJob(None))
        .observe(move |t| observer.job_transition(t))
}

impl JobServices {
    /// A run's start or end as a live event and, at the end, in the metrics.
    fn job_transition(&self, t: &::jobs::Transition) {
        use ::jobs::RunStatus;
        if t.status == RunStatus::Running {
            self.events.publish(ServerEvent::JobStarted {
                job_id: t.run_id,
                job_kind: t.kind.clone(),
                scope: t.scope.clone(),
            });
            return;
        }
        let duration = t.duration.unwrap_or_default();
        let metrics = self.cache.metrics();
        metrics
            .job_runs
            .get_or_create(&vec![
                ("kind".to_string(), t.kind.clone()),
                ("status".to_string(), t.status.as_str().to_string()),
            ])
            .inc();
        metrics
            .job_duration
            .get_or_create(&vec![("kind".to_string(), t.kind.clone())])
            .observe(duration.as_secs_f64());
        self.events.publish(ServerEvent::JobFinished {
            job_id: t.run_id,
            job_kind: t.kind.clone(),
            status: t.status.as_str().into(),
            duration_ms: duration.as_millis() as u64,
        });
    }
}

/// The kinds whose runs change what the cache holds (the refresh button waits for them).
pub const CACHE_KINDS: [&str; 2] = [warm::WarmJob::KIND_NAME, refresh::RefreshJob::KIND_NAME];

/// Every kind, in display order.
pub const ALL_KINDS: [&str; 7] = [
    warm::WarmJob::KIND_NAME,
    refresh::RefreshJob::KIND_NAME,
    purge::PurgeJob::KIND_NAME,
    import::ImportJob::KIND_NAME,
    git_import::GitImportJob::KIND_NAME,
    upstream::UpstreamCheckJob::KIND_NAME,
    upstream::UpstreamUpdateJob::KIND_NAME,
];
