//! Deployments: copies of artifacts in project folders, SkillMeat's record files, and their
//! status (spec section 4, with its [rec] fixes).
//!
//! A project's `<profile root>/.skillmeat-deployed.toml` is the truth; the `deployments` table
//! mirrors it with a computed status, so the dashboard never hashes a tree on a list request.
//! Statuses are recomputed by the refresh (a stat fingerprint decides whether the project copy
//! must be re-hashed) and on demand for one deployment.
//!
//! Deploys copy into a temp folder inside the profile root and rename it into place, so a crash
//! or a failed copy never leaves half an artifact; the record is written after the rename.

mod diff;
mod fs;
pub mod lock;
mod merge;
mod operations;
mod projects;
mod push;
mod query;
pub mod record;
pub mod roots;
mod scan;
mod search_roots;
pub mod snapshots;
pub mod three_way;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entity::{cached_artifacts, deployments, projects as project_rows};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::cache::listing::escape_like;
use crate::cache::{CacheError, CacheService};
use crate::db::{is_unique_violation, new_id};
use crate::source::filesystem::safe_relative;
use crate::source::hash;
use crate::source::{ArtifactId, ArtifactType, SourceError, printable};
pub use diff::{DeploymentDiff, DiffAgainst, FileChange, FileDiff};
pub use fs::{default_artifact_path, owned_path};
pub use merge::MergeOutcome;
pub use push::PushOutcome;
use record::{NewRecord, RECORD_FILE};
pub use roots::ProjectRoots;
pub use search_roots::SearchRoot;

use fs::*;

use crate::events::{EventBus, MAX_ITEM_EVENTS_PER_RUN, ServerEvent};

/// `cache_meta` key changed on every write to the deployment rows.
pub const META_DEPLOYMENTS_VERSION: &str = "deployments_version";

/// Where an agent platform keeps its files in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// Claude Code: `.claude` (the default).
    ClaudeCode,
    /// Codex: `.codex`.
    Codex,
    /// Gemini: `.gemini`.
    Gemini,
    /// Cursor: `.cursor`.
    Cursor,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 4] = [
        Profile::ClaudeCode,
        Profile::Codex,
        Profile::Gemini,
        Profile::Cursor,
    ];

    /// The id written in records.
    pub fn id(self) -> &'static str {
        match self {
            Profile::ClaudeCode => "claude_code",
            Profile::Codex => "codex",
            Profile::Gemini => "gemini",
            Profile::Cursor => "cursor",
        }
    }

    /// The folder in the project.
    pub fn root(self) -> &'static str {
        match self {
            Profile::ClaudeCode => ".claude",
            Profile::Codex => ".codex",
            Profile::Gemini => ".gemini",
            Profile::Cursor => ".cursor",
        }
    }

    /// The profile whose folder this is (`.claude` is `claude_code`, ...).
    pub fn for_folder(folder: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.root() == folder)
    }

    /// Parses a profile id.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.id() == raw)
            .ok_or_else(|| {
                format!(
                    "unknown profile '{}'; allowed: claude_code, codex, gemini, cursor",
                    printable(raw)
                )
            })
    }
}

/// A deployment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    /// Project copy = recorded = collection.
    Synced,
    /// The project copy changed locally.
    Modified,
    /// The collection changed since the deploy.
    Outdated,
    /// Both changed.
    Conflict,
    /// The record is there, the files are not.
    Missing,
}

impl DeploymentStatus {
    /// Every status, in display order.
    pub const ALL: [DeploymentStatus; 5] = [
        DeploymentStatus::Synced,
        DeploymentStatus::Modified,
        DeploymentStatus::Outdated,
        DeploymentStatus::Conflict,
        DeploymentStatus::Missing,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Synced => "synced",
            DeploymentStatus::Modified => "modified",
            DeploymentStatus::Outdated => "outdated",
            DeploymentStatus::Conflict => "conflict",
            DeploymentStatus::Missing => "missing",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "unknown status '{}'; allowed: synced, modified, outdated, conflict, missing",
                    printable(raw)
                )
            })
    }

    /// Three-way comparison of the recorded hash with the project copy and the collection copy.
    /// A copy equal to the collection's is synced whatever the record says (SkillMeat's
    /// `sync-pull` makes them equal without rewriting the record).
    pub fn compute(recorded: &str, local: Option<&str>, collection: Option<&str>) -> Self {
        let Some(local) = local else {
            return DeploymentStatus::Missing;
        };
        if collection == Some(local) {
            return DeploymentStatus::Synced;
        }
        let local_changed = local != recorded;
        // An artifact the collection no longer has cannot be newer there.
        let collection_changed = collection.is_some_and(|c| c != recorded);
        match (local_changed, collection_changed) {
            (false, false) => DeploymentStatus::Synced,
            (true, false) => DeploymentStatus::Modified,
            (false, true) => DeploymentStatus::Outdated,
            (true, true) => DeploymentStatus::Conflict,
        }
    }
}

/// A failure of a deployment operation.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 403: the project is not inside `deploy.allowed_roots`.
    #[error("{0}")]
    OutsideRoots(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// A file operation failed (500; the cause is logged).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeployError {
    let context = context.into();
    move |source| DeployError::Io { context, source }
}

/// A deploy request.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// `type:name`.
    pub artifact_id: String,
    /// A registered project.
    pub project_id: Option<String>,
    /// Or a project folder (absolute; registered on first use).
    pub project_path: Option<String>,
    /// Profile id (default `claude_code`).
    pub profile: Option<String>,
    /// Replace an existing deployment.
    pub overwrite: bool,
    /// Path relative to the profile root (default `<type folder>/<name>`).
    pub dest_path: Option<String>,
}

/// Filters of the dashboard list; each list is "any of".
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    /// Statuses.
    pub statuses: Vec<DeploymentStatus>,
    /// Project id or path (resolved to the id before querying).
    pub project: Option<String>,
    /// `type:name`.
    pub artifact_id: Option<String>,
    /// Types.
    pub types: Vec<ArtifactType>,
    /// Profile id.
    pub profile: Option<String>,
    /// Case-insensitive part of the artifact name.
    pub search: Option<String>,
}

/// Sort fields of the dashboard list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeploymentSort {
    /// By `type:name`.
    #[default]
    Artifact,
    /// By project path.
    Project,
    /// By deploy time.
    DeployedAt,
    /// By status name.
    Status,
}

/// One page of deployments.
#[derive(Debug, Clone)]
pub struct DeploymentPage {
    /// Rows.
    pub items: Vec<deployments::Model>,
    /// More follow.
    pub has_next_page: bool,
    /// Cursor of the last row.
    pub end_cursor: Option<String>,
    /// Matching rows in all.
    pub total_count: u64,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// All.
    pub total: u64,
    /// synced.
    pub synced: u64,
    /// modified.
    pub modified: u64,
    /// outdated.
    pub outdated: u64,
    /// conflict.
    pub conflict: u64,
    /// missing.
    pub missing: u64,
}

impl StatusCounts {
    fn add(&mut self, status: &str, n: u64) {
        self.total += n;
        match status {
            "synced" => self.synced += n,
            "modified" => self.modified += n,
            "outdated" => self.outdated += n,
            "conflict" => self.conflict += n,
            "missing" => self.missing += n,
            _ => {}
        }
    }
}

/// The dashboard summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per status (and the total).
    pub by_status: StatusCounts,
    /// Per artifact type.
    pub by_type: Vec<(String, u64)>,
    /// Per project: id, path, count; most first.
    pub by_project: Vec<(String, String, u64)>,
    /// Per artifact: id, count; most first.
    pub by_artifact: Vec<(String, u64)>,
    /// Newest status check.
    pub last_updated: Option<DateTime<Utc>>,
}

/// What a refresh of deployments did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeployRefreshReport {
    /// Projects read.
    pub projects: u64,
    /// Projects found by discovery that were not known.
    pub discovered: u64,
    /// Deployment rows after the refresh.
    pub deployments: u64,
    /// Rows whose status changed.
    pub status_changed: u64,
    /// The changes themselves (for live events).
    #[serde(skip)]
    pub changes: Vec<StatusChange>,
    /// Per-project failures.
    pub errors: Vec<String>,
}

/// A deployment whose status a scan changed.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// The deployment.
    pub deployment_id: String,
    /// Its project.
    pub project_id: String,
    /// Its artifact, `type:name`.
    pub artifact_id: String,
    /// The status before (empty for a deployment seen for the first time).
    pub from: String,
    /// The status now.
    pub to: String,
}

/// Deployments over the database and the project folders; cheap to clone.
#[derive(Clone)]
pub struct DeployService {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    cache: CacheService,
    /// The last summary and the `deployments_version` it was computed at.
    summary_memo: Mutex<Option<(String, Summary)>>,
    search_roots: Vec<PathBuf>,
    search_depth: u32,
    roots: ProjectRoots,
    snapshots: snapshots::SnapshotStore,
    events: EventBus,
    project_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    own_writes: crate::own_writes::OwnWrites,
}

impl DeployService {
    /// A service; `search_roots` are searched `search_depth` levels deep for projects, only
    /// projects inside `roots` are ever touched, and deployed content is kept in `snapshots`.
    pub fn new(
        db: DatabaseConnection,
        cache: CacheService,
        search_roots: Vec<PathBuf>,
        search_depth: u32,
        roots: ProjectRoots,
        snapshots: snapshots::SnapshotStore,
        events: EventBus,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                cache,
                search_roots,
                search_depth,
                roots,
                snapshots,
                events,
                summary_memo: Mutex::new(None),
                project_locks: Mutex::new(HashMap::new()),
                own_writes: Default::default(),
            }),
        }
    }

    /// Says to live clients that `saved`'s status changed from `previous`, and returns the
    /// change.
    fn status_changed(&self, saved: &deployments::Model, previous: String) -> StatusChange {
        self.inner
            .events
            .publish(ServerEvent::DeploymentStatusChanged {
                deployment_id: saved.id.clone(),
                project_id: saved.project_id.clone(),
                artifact_id: saved.artifact_id.clone(),
                status: saved.status.clone(),
                previous_status: previous.clone(),
            });
        StatusChange {
            deployment_id: saved.id.clone(),
            project_id: saved.project_id.clone(),
            artifact_id: saved.artifact_id.clone(),
            from: previous,
            to: saved.status.clone(),
        }
    }

    /// The files this service wrote lately, for the watcher to tell its echoes.
    pub fn own_writes(&self) -> &crate::own_writes::OwnWrites {
        &self.inner.own_writes
    }

    fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }
}
