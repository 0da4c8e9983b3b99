//! The HTTP API: one file per resource, gathered here into one OpenAPI service.

pub mod artifact_detail;
pub mod artifact_edit;
pub mod artifact_import;
pub mod artifacts;
pub mod cache;
pub mod collection_refresh;
pub mod common;
pub mod deployment_actions;
pub mod deployment_diff;
pub mod deployments;
pub mod events;
pub mod groups;
pub mod health;
pub mod import;
pub mod instances;
pub mod job_control;
pub mod job_wait;
pub mod jobs;
pub mod metrics;
pub mod projects;
pub mod schedules;
pub mod search_roots;
pub mod spec;
pub mod stored_json;
pub mod trash;
pub mod upstream;
pub mod user_collections;

use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

/// Swagger UI sections.
#[derive(Tags)]
pub enum ApiTags {
    /// Artifacts (skills, commands, agents, hooks, MCP configs), served from the cache.
    Artifacts,
    /// The artifact cache: status, on-demand refresh and purge, clearing and invalidation.
    Cache,
    /// User collections: organise artifacts, move and copy them between collections.
    Collections,
    /// Groups: named, ordered buckets of artifacts inside a collection.
    Groups,
    /// Deployments: artifacts copied into projects, their status, and the dashboard.
    Deployments,
    /// Background jobs: warm, refresh, purge and import runs, their history, statistics and
    /// charts, cancel and retry, schedules and server instances.
    Jobs,
    /// Live events (server-sent events) for the UI.
    Events,
    /// Liveness and readiness probes.
    Health,
}

/// Every resource API as one tuple.
pub type Apis = (
    health::HealthApi,
    // Artifacts, their writes, upstreams and the trash (one element: a tuple holds at most 16).
    (
        artifacts::ArtifactsApi,
        artifact_import::ArtifactImportApi,
        artifact_edit::ArtifactEditApi,
        upstream::UpstreamApi,
        trash::TrashApi,
    ),
    cache::CacheApi,
    user_collections::UserCollectionsApi,
    collection_refresh::CollectionRefreshApi,
    import::ImportApi,
    groups::GroupsApi,
    projects::ProjectsApi,
    search_roots::SearchRootsApi,
    // Deployments and acting on their drift (one element: a tuple holds at most 16).
    (
        deployments::DeploymentsApi,
        deployment_diff::DeploymentDiffApi,
        deployment_actions::DeploymentActionsApi,
    ),
    jobs::JobsApi,
    job_control::JobControlApi,
    schedules::SchedulesApi,
    instances::InstancesApi,
    events::EventsApi,
);

/// The OpenAPI service over every resource.
pub fn service(state: &AppState) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            health::HealthApi {
                state: state.clone(),
            },
            (
                artifacts::ArtifactsApi {
                    state: state.clone(),
                },
                artifact_import::ArtifactImportApi {
                    state: state.clone(),
                },
                artifact_edit::ArtifactEditApi {
                    state: state.clone(),
                },
                upstream::UpstreamApi {
                    state: state.clone(),
                },
                trash::TrashApi {
                    state: state.clone(),
                },
            ),
            cache::CacheApi {
                state: state.clone(),
            },
            user_collections::UserCollectionsApi {
                state: state.clone(),
            },
            collection_refresh::CollectionRefreshApi {
                state: state.clone(),
            },
            import::ImportApi {
                state: state.clone(),
            },
            groups::GroupsApi {
                state: state.clone(),
            },
            projects::ProjectsApi {
                state: state.clone(),
            },
            search_roots::SearchRootsApi {
                state: state.clone(),
            },
            (
                deployments::DeploymentsApi {
                    state: state.clone(),
                },
                deployment_diff::DeploymentDiffApi {
                    state: state.clone(),
                },
                deployment_actions::DeploymentActionsApi {
                    state: state.clone(),
                },
            ),
            jobs::JobsApi {
                state: state.clone(),
            },
            job_control::JobControlApi {
                state: state.clone(),
            },
            schedules::SchedulesApi {
                state: state.clone(),
            },
            instances::InstancesApi {
                state: state.clone(),
            },
            events::EventsApi {
                state: state.clone(),
            },
        ),
        "skillmeat-server",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Organises AI-agent artifacts into collections, tracks deployments and serves them from \
         a persistent cache. Errors share one body: `{\"code\": \"not_found\", \"detail\": \"...\"}`.",
    )
}
