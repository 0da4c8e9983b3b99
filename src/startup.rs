//! Building the application: one builder shared by `main` and the tests.
//!
//! [`build_state`] connects and migrates the database and wires the cache to its sources;
//! [`build_routes`] turns a state into the full route tree; [`Application`] binds the listener
//! and serves until a shutdown signal, letting in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{EndpointExt, IntoResponse, Request, Route, Server, get};

use crate::api;
use crate::cache::CacheService;
use crate::collections::CollectionService;
use crate::config::Settings;
use crate::db::{self, DbOpenError};
use crate::deploy::DeployService;
use crate::error::render_poem_error;
use crate::source::composite::CompositeSource;
use crate::source::git::GitSource;
use crate::source::{ArtifactSource, FilesystemSource};
use crate::state::AppState;
use crate::watcher::{FileWatcher, WatchState, WatchStatus};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] DbOpenError),
    /// The cache tables could not be prepared.
    #[error("preparing the cache: {0}")]
    Cache(#[from] crate::cache::CacheError),
    /// The job queue could not be opened.
    #[error(transparent)]
    Queue(#[from] jobs::QueueError),
    /// The default collection could not be ensured.
    #[error("preparing the default collection: {0}")]
    Collections(#[source] sea_orm::DbErr),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Connects and migrates the database and builds the shared state over the data home's
/// filesystem collections.
pub async fn build_state(settings: Settings) -> Result<AppState, StartupError> {
    let source: Arc<dyn ArtifactSource> =
        Arc::new(FilesystemSource::new(settings.data_home_path()));
    build_state_with_source(settings, source).await
}

/// `source` with the configured git repositories (`sources.git`) beside it.
fn with_git_sources(
    settings: &Settings,
    source: Arc<dyn ArtifactSource>,
) -> Arc<dyn ArtifactSource> {
    if settings.sources.git.is_empty() {
        return source;
    }
    let timeout = Duration::from_secs(settings.artifacts.git_timeout_secs);
    let git = settings
        .sources
        .git
        .iter()
        .map(|g| GitSource::new(g, &settings.data_home_path(), timeout))
        .collect();
    Arc::new(CompositeSource::new(source, git))
}

/// [`build_state`] over any artifact source (another source kind, or a fault-injecting wrapper
/// in tests), with the configured git sources beside it.
pub async fn build_state_with_source(
    settings: Settings,
    source: Arc<dyn ArtifactSource>,
) -> Result<AppState, StartupError> {
    crate::git::set_timeouts(Duration::from_secs(settings.artifacts.git_timeout_secs));
    let source = with_git_sources(&settings, source);
    let url = settings.database_url();
    let db = db::open_and_migrate(&url).await?;
    let events = crate::events::EventBus::new();
    let cache = CacheService::new(
        db.clone(),
        source,
        Duration::from_secs(settings.cache.ttl_secs),
        events.clone(),
    );
    cache.check_schema_version().await?;
    let collections = CollectionService::new(
        db.clone(),
        cache.clone(),
        settings.data_home_path(),
        events.clone(),
    );
    collections
        .ensure_default()
        .await
        .map_err(StartupError::Collections)?;
    if let Err(e) = collections.recover_groups_from_manifests().await {
        tracing::warn!(error = %e, "could not restore groups from collection.toml");
    }
    let search_roots = settings.search_roots();
    let deployments = DeployService::new(
        db.clone(),
        cache.clone(),
        search_roots,
        settings.deploy.search_depth,
        crate::deploy::ProjectRoots::new(settings.allowed_roots()),
        crate::deploy::snapshots::SnapshotStore::new(&settings.data_home_path()),
        events.clone(),
    );
    let authoring = crate::authoring::AuthoringService::new(
        settings.data_home_path(),
        settings.authoring(),
        cache.clone(),
        collections.clone(),
        deployments.clone(),
    );
    // The first start on a SkillMeat home brings its collections and groups over, once.
    let import_at_start = crate::import::first_start_due(&collections)
        .await
        .map_err(StartupError::Collections)?;
    let store = jobs::QueueStore::open(&settings.jobs_url(), crate::jobs::ALL_KINDS.len()).await?;
    let history = jobs::JobHistory::new(db.clone());
    let services = crate::jobs::JobServices {
        cache: cache.clone(),
        collections: collections.clone(),
        deployments: deployments.clone(),
        authoring: authoring.clone(),
        events: events.clone(),
        history: history.clone(),
        store: store.clone(),
        purge: crate::jobs::purge::PurgeSettings::from_settings(&settings),
    };
    let jobs = jobs::JobRunner::new(
        history,
        store,
        crate::jobs::registry(services, &settings, import_at_start),
        settings.runner_settings(),
    );
    let keys = Arc::new(crate::security::Keys::from_settings(&settings.auth));
    let sessions = crate::security::SessionStore::new(
        db.clone(),
        keys,
        Duration::from_secs(settings.auth.session_ttl_secs),
    );
    // Sessions of a key that changed end here, as do expired ones.
    if let Err(e) = sessions.forget_stale().await {
        tracing::warn!(error = %e, "could not remove stale browser sessions");
    }
    let hot = crate::memo::HotReads::new(&url, &db);
    Ok(AppState {
        db,
        cache,
        collections,
        deployments,
        authoring,
        jobs,
        events,
        watch_status: WatchStatus::new(if settings.watch.enabled {
            WatchState::Starting
        } else {
            WatchState::Off
        }),
        settings: Arc::new(settings),
        sessions,
        sign_in_limiter: Arc::new(crate::security::SignInLimiter::new()),
        hot,
    })
}

/// Starts the file watcher (when `watch.enabled`) until `stop` turns true.
pub fn start_watcher(
    state: &AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !state.settings.watch.enabled {
        return None;
    }
    let watcher = FileWatcher::new(
        state.settings.data_home_path(),
        Duration::from_millis(state.settings.watch.debounce_ms),
        state.jobs.clone(),
        state.deployments.clone(),
        state.cache.clone(),
        state.watch_status.clone(),
    );
    Some(tokio::spawn(watcher.run(stop)))
}

/// The whole route tree: API, Swagger UI at `/docs`, the spec at `/openapi.json`, `/metrics`,
/// and the web UI (`/`, `/jobs`, fragments and assets under `/ui`), behind the request guard
/// (host and cross-site checks), the key check, and the security headers.
pub fn build_routes(state: AppState) -> BoxEndpoint<'static> {
    let service = api::service(&state);
    let settings = state.settings.clone();
    let body_limit = settings.server.body_limit_bytes as usize;
    let keys_enabled = state.sessions.keys().enabled();
    // With a key, the spec declares it, so Swagger UI's "Authorize" button can send it.
    let spec = api::spec::published(&service.spec(), keys_enabled);
    let docs = crate::ui::swagger::routes(&service.swagger_ui_html());
    let sessions = state.sessions.clone();
    let routes = crate::ui::mount(Route::new())
        .at(
            "/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                spec.clone()
                    .with_content_type("application/json; charset=utf-8")
            })),
        )
        .nest("/docs", docs)
        .at("/metrics", get(api::metrics::metrics))
        // Lets a client send a file path with raw slashes; same logic as the OpenAPI operation.
        .at(
            "/api/v1/artifacts/:id/files/*path",
            get(raw_file_path).put(raw_put_file).delete(raw_delete_file),
        )
        // The OpenAPI operations live under /api and /health; everything else is the UI.
        .nest_no_strip("/api", service)
        .nest_no_strip("/health", api::service(&state))
        .data(state)
        .before(move |req| limit_body(req, body_limit));
    let routes = crate::security::RequireKey::new(
        routes,
        sessions,
        crate::security::SessionCookie::from_settings(&settings),
    );
    // CORS only for the configured origins; without any, no CORS headers at all.
    let routes = crate::security::cors::with_cors(routes, settings.server.cors_origins.clone());
    let guard = crate::security::RequestGuard::from_settings(&settings);
    routes
        .before(move |req| {
            let checked = guard.check(&req).map_err(poem::Error::from);
            async move { checked.map(|()| req) }
        })
        .with(crate::access_log::AccessLog)
        .catch_all_error(render_poem_error)
        .map(|mut resp| async move {
            crate::security::headers::add_security_headers(&mut resp);
            resp
        })
        .boxed()
}

#[poem::handler]
async fn raw_file_path(
    poem::web::Path((id, path)): poem::web::Path<(String, String)>,
    poem::web::Data(state): poem::web::Data<&AppState>,
) -> poem::Response {
    use poem::IntoResponse;
    match api::artifacts::read_artifact_file(state, &id, &path).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    }
}

/// `PUT` of a file with raw slashes in its path; same logic as the OpenAPI operation.
#[poem::handler]
async fn raw_put_file(
    poem::web::Path((id, path)): poem::web::Path<(String, String)>,
    poem::web::Data(state): poem::web::Data<&AppState>,
    req: &Request,
    body: poem::Body,
) -> poem::Response {
    use poem::IntoResponse;
    let if_match = if_match(req);
    let parsed = match body.into_bytes().await {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
        Err(_) => None,
    };
    let Some(content) = parsed
        .as_ref()
        .and_then(|v| v.get("content"))
        .and_then(|c| c.as_str())
    else {
        return crate::error::ApiError::bad_request(
            "the body must be JSON: {\"content\": \"<the whole file>\"}",
        )
        .into_response();
    };
    match api::artifact_edit::put_file(state, &id, &path, content.to_string(), if_match.as_deref())
        .await
    {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    }
}

/// `DELETE` of a file with raw slashes in its path; same logic as the OpenAPI operation.
#[poem::handler]
async fn raw_delete_file(
    poem::web::Path((id, path)): poem::web::Path<(String, String)>,
    poem::web::Data(state): poem::web::Data<&AppState>,
    req: &Request,
) -> poem::Response {
    use poem::IntoResponse;
    let if_match = if_match(req);
    match api::artifact_edit::delete_file(state, &id, &path, if_match.as_deref()).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    }
}

fn if_match(req: &Request) -> Option<String> {
    req.headers()
        .get(poem::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// Refuses bodies over the limit with 413: by `Content-Length` when sent, else by reading at
/// most `limit` bytes of the body (chunked or HTTP/2 bodies carry no length).
async fn limit_body(mut req: Request, limit: usize) -> poem::Result<Request> {
    let too_large = || poem::Error::from_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE);
    match req.headers().typed_get::<ContentLength>() {
        Some(ContentLength(len)) if len as usize > limit => Err(too_large()),
        Some(_) => Ok(req),
        None => {
            let bytes = req
                .take_body()
                .into_bytes_limit(limit)
                .await
                .map_err(|_| too_large())?;
            req.set_body(bytes);
            Ok(req)
        }
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    state: AppState,
    acceptor: TcpAcceptor,
    addr: SocketAddr,
}

impl Application {
    /// Builds the state and binds the listen address (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listen = settings.listen.clone();
        let state = build_state(settings).await?;
        let acceptor = TcpListener::bind(listen.clone())
            .into_acceptor()
            .await
            .map_err(|source| StartupError::Bind {
                addr: listen.clone(),
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| StartupError::Bind {
                addr: listen,
                source: std::io::Error::other("no local address"),
            })?;
        Ok(Self {
            state,
            acceptor,
            addr,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts the job runner (start-up warm, schedule, workers) and serves until `shutdown`
    /// resolves; in-flight requests and running jobs then get `server.shutdown_grace_secs` to
    /// finish (a job still running after that is re-queued by the next start).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let collections_dir = self.state.settings.data_home_path().join("collections");
        if !collections_dir.is_dir() {
            tracing::warn!(
                folder = %collections_dir.display(),
                "no collections folder in the data home; the artifact list stays empty until one exists"
            );
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let runner = tokio::spawn(self.state.jobs.clone().run(stop_rx.clone()));
        // On PostgreSQL, events cross instances.
        let relay = (self.state.settings.database_kind() == crate::config::DatabaseKind::Postgres)
            .then(|| {
                crate::events::relay::start(
                    self.state.events.clone(),
                    self.state.db.clone(),
                    self.state.settings.database_url(),
                    stop_rx.clone(),
                )
            });
        let watcher = start_watcher(&self.state, stop_rx.clone());
        // One signal stops everything at once: the HTTP server drains (event streams end) while
        // the workers finish.
        let signal_stop = stop_tx.clone();
        let events = self.state.events.clone();
        let on_signal = tokio::spawn(async move {
            shutdown.await;
            events.close();
            let _ = signal_stop.send(true);
        });
        let grace = Duration::from_secs(self.state.settings.server.shutdown_grace_secs);
        if crate::security::RequestGuard::from_settings(&self.state.settings).accepts_any_host() {
            tracing::warn!(
                "listening on a non-loopback address with no server.allowed_hosts: requests \
                 naming any host are answered; list this server's names in server.allowed_hosts \
                 (SKILLMEAT_SERVER__ALLOWED_HOSTS) to refuse the others"
            );
        }
        tracing::info!(
            address = %self.addr,
            docs = %format!("http://{}/docs", self.addr),
            data_home = %self.state.settings.data_home_path().display(),
            database = %crate::config::redact_url(&self.state.settings.database_url()),
            jobs = %crate::config::redact_url(&self.state.settings.jobs_url()),
            "skillmeat-server listening"
        );
        let store = self.state.jobs.store().clone();
        let idle_timeout = Duration::from_secs(self.state.settings.server.idle_timeout_secs);
        let routes = build_routes(self.state);
        // Building the state and the spec left much freed memory behind.
        crate::memory::release_free_memory();
        let mut http_stop = stop_rx;
        let acceptor = crate::idle::IdleTimeoutAcceptor::new(self.acceptor, idle_timeout);
        let served = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                routes,
                async move {
                    let _ = http_stop.wait_for(|s| *s).await;
                },
                Some(grace),
            )
            .await;
        // Also when the server stopped without a signal (a listener error).
        on_signal.abort();
        let _ = stop_tx.send(true);
        if let Some(watcher) = watcher {
            // It stops at its next await; a watch call stuck in the kernel must not hold us up.
            if tokio::time::timeout(Duration::from_secs(2), watcher)
                .await
                .is_err()
            {
                tracing::warn!("file watcher did not stop in time");
            }
        }
        // The runner enforces the grace itself; the extra second covers its bookkeeping.
        if tokio::time::timeout(grace.saturating_add(Duration::from_secs(1)), runner)
            .await
            .is_err()
        {
            tracing::warn!(
                "job runner did not stop in time; unfinished jobs are re-queued at the next start"
            );
        }
        if let Some(relay) = relay {
            let _ = tokio::time::timeout(Duration::from_secs(2), relay).await;
        }
        store.close().await;
        served
    }
}

/// A future that resolves on SIGINT (Ctrl+C) or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled, so a signal sent right after the server says
/// it is listening is never lost.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutdown signal received; finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown signal received; finishing in-flight requests");
        })
    }
}
