//! Live events: what changed, as one typed enum ([`ServerEvent`], the only place event names
//! and payloads are defined), published by the services that made the change, kept in a
//! bounded log per instance ([`bus`]) for `GET /api/v1/events`, and carried to the other
//! instances on PostgreSQL ([`relay`]).

pub mod bus;
pub mod relay;

use serde::{Deserialize, Serialize};

pub use bus::{EVENT_LOG_CAPACITY, EventBus, LoggedEvent, StreamSlot, Subscription};

/// Per-item events one refresh or scan may publish; beyond that it publishes one `resync`.
pub const MAX_ITEM_EVENTS_PER_RUN: usize = 500;

/// Everything the server tells live clients. Serialised with its name in `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum ServerEvent {
    /// A refresh found a new artifact.
    #[serde(rename = "artifact.added")]
    ArtifactAdded {
        /// `type:name`.
        artifact_id: String,
    },
    /// A refresh found an artifact's files changed.
    #[serde(rename = "artifact.changed")]
    ArtifactChanged {
        /// `type:name`.
        artifact_id: String,
    },
    /// A refresh found an artifact gone.
    #[serde(rename = "artifact.removed")]
    ArtifactRemoved {
        /// `type:name`.
        artifact_id: String,
    },
    /// The cache was cleared.
    #[serde(rename = "cache.cleared")]
    CacheCleared {},
    /// An attempt of a job run started.
    #[serde(rename = "job.started")]
    JobStarted {
        /// The run.
        job_id: i64,
        /// Its kind.
        job_kind: String,
        /// Its scope.
        scope: String,
    },
    /// A job run ended.
    #[serde(rename = "job.finished")]
    JobFinished {
        /// The run.
        job_id: i64,
        /// Its kind.
        job_kind: String,
        /// `succeeded` or `failed`.
        status: String,
        /// How long it took.
        duration_ms: u64,
    },
    /// An artifact was deployed into a project (or its copy updated).
    #[serde(rename = "deployment.deployed")]
    Deployed {
        /// The deployment.
        deployment_id: String,
        /// Its project.
        project_id: String,
        /// `type:name`.
        artifact_id: String,
        /// Its status now.
        status: String,
    },
    /// A deployment was removed from its project.
    #[serde(rename = "deployment.undeployed")]
    Undeployed {
        /// The deployment.
        deployment_id: String,
        /// Its project.
        project_id: String,
        /// `type:name`.
        artifact_id: String,
    },
    /// A deployment's project copy was written back into its collection.
    #[serde(rename = "deployment.pushed")]
    DeploymentPushed {
        /// The deployment.
        deployment_id: String,
        /// Its project.
        project_id: String,
        /// `type:name`.
        artifact_id: String,
        /// The collection's content hash now.
        content_hash: String,
    },
    /// The collection's version was merged into a deployment's project copy.
    #[serde(rename = "deployment.merged")]
    DeploymentMerged {
        /// The deployment.
        deployment_id: String,
        /// Its project.
        project_id: String,
        /// `type:name`.
        artifact_id: String,
        /// Its status now (`synced`, or `modified` when local edits remain on top).
        status: String,
    },
    /// A deployment's status changed (a refresh or a scan saw it).
    #[serde(rename = "deployment.status_changed")]
    DeploymentStatusChanged {
        /// The deployment.
        deployment_id: String,
        /// Its project.
        project_id: String,
        /// `type:name`.
        artifact_id: String,
        /// The new status.
        status: String,
        /// The previous status (empty when first seen).
        previous_status: String,
    },
    /// A collection was created, renamed, deleted, or its members changed.
    #[serde(rename = "collection.changed")]
    CollectionChanged {
        /// The collection.
        collection_id: String,
    },
    /// A collection's groups changed: one created, changed, deleted, reordered, or its
    /// members changed.
    #[serde(rename = "groups.changed")]
    GroupsChanged {
        /// The collection.
        collection_id: String,
    },
    /// Too much changed at once, or the client missed events: reload what you show, then
    /// carry on.
    #[serde(rename = "resync")]
    Resync {
        /// Why.
        reason: String,
    },
}

impl ServerEvent {
    /// The event's name (the SSE `event:`), as its serde tag gives it.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or_default()
    }

    /// One event of each kind (with empty values), for listing the names.
    pub fn one_of_each() -> Vec<ServerEvent> {
        let id = String::new;
        vec![
            ServerEvent::ArtifactAdded { artifact_id: id() },
            ServerEvent::ArtifactChanged { artifact_id: id() },
            ServerEvent::ArtifactRemoved { artifact_id: id() },
            ServerEvent::CacheCleared {},
            ServerEvent::JobStarted {
                job_id: 0,
                job_kind: id(),
                scope: id(),
            },
            ServerEvent::JobFinished {
                job_id: 0,
                job_kind: id(),
                status: id(),
                duration_ms: 0,
            },
            ServerEvent::Deployed {
                deployment_id: id(),
                project_id: id(),
                artifact_id: id(),
                status: id(),
            },
            ServerEvent::Undeployed {
                deployment_id: id(),
                project_id: id(),
                artifact_id: id(),
            },
            ServerEvent::DeploymentPushed {
                deployment_id: id(),
                project_id: id(),
                artifact_id: id(),
                content_hash: id(),
            },
            ServerEvent::DeploymentMerged {
                deployment_id: id(),
                project_id: id(),
                artifact_id: id(),
                status: id(),
            },
            ServerEvent::DeploymentStatusChanged {
                deployment_id: id(),
                project_id: id(),
                artifact_id: id(),
                status: id(),
                previous_status: id(),
            },
            ServerEvent::CollectionChanged {
                collection_id: id(),
            },
            ServerEvent::GroupsChanged {
                collection_id: id(),
            },
            ServerEvent::Resync { reason: id() },
        ]
    }

    /// `{"JobStarted": "job.started", ...}`: each variant's name, for the page script (which
    /// reads every event name from this map, see `ui::layout`).
    pub fn names_for_script() -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = Self::one_of_each()
            .into_iter()
            .map(|e| {
                let debug = format!("{e:?}");
                let variant = debug
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (variant, serde_json::Value::String(e.name()))
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a variant is added without a place in `one_of_each`'s order.
    fn position(e: &ServerEvent) -> usize {
        match e {
            ServerEvent::ArtifactAdded { .. } => 0,
            ServerEvent::ArtifactChanged { .. } => 1,
            ServerEvent::ArtifactRemoved { .. } => 2,
            ServerEvent::CacheCleared {} => 3,
            ServerEvent::JobStarted { .. } => 4,
            ServerEvent::JobFinished { .. } => 5,
            ServerEvent::Deployed { .. } => 6,
            ServerEvent::Undeployed { .. } => 7,
            ServerEvent::DeploymentPushed { .. } => 8,
            ServerEvent::DeploymentMerged { .. } => 9,
            ServerEvent::DeploymentStatusChanged { .. } => 10,
            ServerEvent::CollectionChanged { .. } => 11,
            ServerEvent::GroupsChanged { .. } => 12,
            ServerEvent::Resync { .. } => 13,
        }
    }

    #[test]
    fn every_variant_is_listed_once_with_a_distinct_name() {
        let all = ServerEvent::one_of_each();
        let positions: Vec<usize> = all.iter().map(position).collect();
        assert_eq!(positions, (0..all.len()).collect::<Vec<_>>());
        let mut names: Vec<String> = all.iter().map(ServerEvent::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(
            ServerEvent::names_for_script()["JobStarted"],
            serde_json::json!("job.started")
        );
    }

    #[test]
    fn events_round_trip_through_json() {
        for e in ServerEvent::one_of_each() {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<ServerEvent>(&json).unwrap(), e);
        }
    }
}
