//! What every handler shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::cache::CacheService;
use crate::collections::CollectionService;
use crate::config::Settings;
use crate::deploy::DeployService;

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// The server's database.
    pub db: DatabaseConnection,
    /// The artifact cache (and, through it, the sources).
    pub cache: CacheService,
    /// Collections, memberships and groups.
    pub collections: CollectionService,
    /// Projects and deployments.
    pub deployments: DeployService,
    /// Imports, edits, deletes and upstream pulls of artifacts.
    pub authoring: crate::authoring::AuthoringService,
    /// The background job runner (queue, history, schedule).
    pub jobs: jobs::JobRunner,
    /// Live events for `GET /api/v1/events`.
    pub events: crate::events::EventBus,
    /// What the file watcher is doing.
    pub watch_status: crate::watcher::WatchStatus,
    /// Browser sessions (and the keys they are checked against).
    pub sessions: crate::security::SessionStore,
    /// Failed sign-ins per client address.
    pub sign_in_limiter: Arc<crate::security::SignInLimiter>,
    /// Finished answers of the hottest reads, kept while the data is unchanged.
    pub hot: crate::memo::HotReads,
}

impl AppState {
    /// The services the background jobs call (the same the registered jobs got).
    pub fn job_services(&self) -> crate::jobs::JobServices {
        crate::jobs::JobServices {
            cache: self.cache.clone(),
            collections: self.collections.clone(),
            deployments: self.deployments.clone(),
            authoring: self.authoring.clone(),
            events: self.events.clone(),
            history: self.jobs.history().clone(),
            store: self.jobs.store().clone(),
            purge: crate::jobs::purge::PurgeSettings::from_settings(&self.settings),
        }
    }
}
