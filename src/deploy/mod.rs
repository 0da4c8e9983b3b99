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

pub mod lock;
pub mod record;
pub mod roots;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entity::{cached_artifacts, deployments, projects};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::cache::listing::escape_like;
use crate::cache::{CacheError, CacheService};
use crate::collections::decode_pair_cursor;
use crate::db::{is_unique_violation, new_id};
use crate::source::filesystem::safe_relative;
use crate::source::hash;
use crate::source::{ArtifactId, ArtifactType, SourceError, printable};
use record::{NewRecord, RECORD_FILE};
pub use roots::ProjectRoots;

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
    pub fn compute(recorded: &str, local: Option<&str>, collection: Option<&str>) -> Self {
        let Some(local) = local else {
            return DeploymentStatus::Missing;
        };
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
    events: EventBus,
    project_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl DeployService {
    /// A service; `search_roots` are searched `search_depth` levels deep for projects, and
    /// only projects inside `roots` are ever touched.
    pub fn new(
        db: DatabaseConnection,
        cache: CacheService,
        search_roots: Vec<PathBuf>,
        search_depth: u32,
        roots: ProjectRoots,
        events: EventBus,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                cache,
                search_roots,
                search_depth,
                roots,
                events,
                summary_memo: Mutex::new(None),
                project_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    // ----- projects -------------------------------------------------------------------------

    /// Registers a project folder (absolute, existing folder) and reads its records. A folder
    /// registered already is a conflict; one found earlier by discovery becomes registered.
    pub async fn register_project(&self, raw_path: &str) -> Result<projects::Model, DeployError> {
        let path = self.inner.roots.project_folder(raw_path)?;
        let key = path.display().to_string();
        if let Some(existing) = projects::Entity::find()
            .filter(projects::Column::Path.eq(key.as_str()))
            .one(self.db())
            .await?
        {
            if existing.registered {
                return Err(DeployError::Conflict(format!(
                    "Project '{key}' is already registered"
                )));
            }
            let mut row: projects::ActiveModel = existing.into();
            row.registered = Set(true);
            let project = row.update(self.db()).await?;
            self.scan_project(&project).await?;
            return self.project(&project.id).await;
        }
        let project = self.insert_project(&path, true).await?;
        self.scan_project(&project).await?;
        self.project(&project.id).await
    }

    async fn insert_project(
        &self,
        path: &Path,
        registered: bool,
    ) -> Result<projects::Model, DeployError> {
        let key = path.display().to_string();
        let row = projects::ActiveModel {
            id: Set(new_id()),
            path: Set(key.clone()),
            name: Set(path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| key.clone())),
            registered: Set(registered),
            created_at: Set(Utc::now()),
            last_scanned_at: Set(None),
        };
        match row.insert(self.db()).await {
            Ok(p) => Ok(p),
            Err(e) if is_unique_violation(&e) => projects::Entity::find()
                .filter(projects::Column::Path.eq(key.as_str()))
                .one(self.db())
                .await?
                .ok_or(DeployError::Db(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// One project, or 404.
    pub async fn project(&self, id: &str) -> Result<projects::Model, DeployError> {
        projects::Entity::find_by_id(id)
            .one(self.db())
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Project '{}' not found", printable(id))))
    }

    /// A page of projects by path, each with its deployment count, and the total.
    pub async fn list_projects(
        &self,
        limit: u64,
        after: Option<&str>,
    ) -> Result<(Vec<(projects::Model, u64)>, bool, u64), DeployError> {
        let total = crate::db::count_rows(self.db(), projects::Entity::find()).await?;
        let mut query = projects::Entity::find();
        if let Some(raw) = after {
            let (path, _) =
                decode_pair_cursor(raw).map_err(|e| DeployError::BadRequest(e.to_string()))?;
            query = query.filter(projects::Column::Path.gt(path));
        }
        let mut rows = query
            .order_by_asc(projects::Column::Path)
            .limit(limit + 1)
            .all(self.db())
            .await?;
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let counts = self
            .deployment_counts(&rows.iter().map(|p| p.id.clone()).collect::<Vec<_>>())
            .await?;
        let page = rows
            .into_iter()
            .map(|p| {
                let n = counts.get(&p.id).copied().unwrap_or(0);
                (p, n)
            })
            .collect();
        Ok((page, has_next_page, total))
    }

    /// Deployment counts of some projects.
    pub async fn deployment_counts(
        &self,
        project_ids: &[String],
    ) -> Result<HashMap<String, u64>, DbErr> {
        Ok(deployments::Entity::find()
            .select_only()
            .column(deployments::Column::ProjectId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(deployments::Column::ProjectId.is_in(project_ids.iter().cloned()))
            .group_by(deployments::Column::ProjectId)
            .into_tuple::<(String, i64)>()
            .all(self.db())
            .await?
            .into_iter()
            .map(|(id, n)| (id, n as u64))
            .collect())
    }

    /// Forgets a project and its deployment rows; its files and records are untouched.
    pub async fn delete_project(&self, id: &str) -> Result<(), DeployError> {
        let res = projects::Entity::delete_by_id(id).exec(self.db()).await?;
        if res.rows_affected == 0 {
            return Err(DeployError::NotFound(format!(
                "Project '{}' not found",
                printable(id)
            )));
        }
        self.bump_version().await?;
        Ok(())
    }

    /// Every known project (registered and discovered).
    pub async fn all_projects(&self) -> Result<Vec<projects::Model>, DeployError> {
        Ok(projects::Entity::find().all(self.db()).await?)
    }

    /// Finds folders under the search roots whose profile roots hold a record file and adds the
    /// unknown ones as discovered projects. Returns how many were new.
    pub async fn discover(&self) -> Result<u64, DeployError> {
        let roots = self.inner.search_roots.clone();
        let depth = self.inner.search_depth;
        let found = tokio::task::spawn_blocking(move || discover_projects(&roots, depth))
            .await
            .map_err(|e| DeployError::Io {
                context: "discovering projects".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut new = 0;
        for path in found {
            if !self.inner.roots.contains(&path) {
                tracing::warn!(project = %path.display(), "a project found by discovery is outside deploy.allowed_roots; skipped");
                continue;
            }
            let key = path.display().to_string();
            if projects::Entity::find()
                .filter(projects::Column::Path.eq(key.as_str()))
                .one(self.db())
                .await?
                .is_none()
            {
                self.insert_project(&path, false).await?;
                new += 1;
            }
        }
        Ok(new)
    }

    /// Discovery, then every project's records re-read and statuses recomputed (only what
    /// changed is re-hashed).
    pub async fn refresh_all(&self) -> Result<DeployRefreshReport, DeployError> {
        let mut report = DeployRefreshReport {
            discovered: self.discover().await?,
            ..Default::default()
        };
        for project in projects::Entity::find().all(self.db()).await? {
            if self.inner.roots.check_known(&project.path).is_err() {
                tracing::warn!(project = %project.path, "a known project is outside deploy.allowed_roots; not read");
                continue;
            }
            report.projects += 1;
            match self.scan_project(&project).await {
                Ok(changes) => {
                    report.status_changed += changes.len() as u64;
                    report.changes.extend(changes);
                }
                Err(e) => {
                    tracing::warn!(project = %project.path, error = %e, "could not read the project's deployments");
                    report.errors.push(format!("{}: {e}", project.path));
                }
            }
        }
        report.deployments = deployments::Entity::find().count(self.db()).await?;
        Ok(report)
    }

    /// Reads a project's record files into rows (new records added, vanished ones dropped) and
    /// recomputes each status. Returns the statuses that changed, and says so to live clients
    /// (one `resync` when too many changed at once).
    pub async fn scan_project(
        &self,
        project: &projects::Model,
    ) -> Result<Vec<StatusChange>, DeployError> {
        let changes = self.scan_project_rows(project).await?;
        let events = &self.inner.events;
        if changes.len() > MAX_ITEM_EVENTS_PER_RUN {
            events.publish(ServerEvent::Resync {
                reason: format!("{} deployment statuses changed at once", changes.len()),
            });
        } else {
            for c in &changes {
                events.publish(ServerEvent::DeploymentStatusChanged {
                    deployment_id: c.deployment_id.clone(),
                    project_id: c.project_id.clone(),
                    artifact_id: c.artifact_id.clone(),
                    status: c.to.clone(),
                    previous_status: c.from.clone(),
                });
            }
        }
        Ok(changes)
    }

    async fn scan_project_rows(
        &self,
        project: &projects::Model,
    ) -> Result<Vec<StatusChange>, DeployError> {
        self.inner.roots.check_known(&project.path)?;
        let _guard = self.lock_project(&project.id).await?;
        let root = PathBuf::from(&project.path);
        let read = tokio::task::spawn_blocking(move || {
            sweep_staging_leftovers(&root);
            read_project_records(&root)
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "reading deployment records".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let existing = deployments::Entity::find()
            .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
            .all(self.db())
            .await?;
        let found = match read {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The project folder is gone: every deployment in it is missing.
                let mut changed = Vec::new();
                for row in existing
                    .iter()
                    .filter(|d| d.status != DeploymentStatus::Missing.as_str())
                {
                    let mut row = row.clone();
                    let from = std::mem::replace(
                        &mut row.status,
                        DeploymentStatus::Missing.as_str().into(),
                    );
                    row.local_hash = None;
                    row.local_fingerprint = None;
                    row.status_checked_at = Utc::now();
                    let saved = self.save(row, true).await?;
                    changed.push(StatusChange {
                        deployment_id: saved.id,
                        project_id: saved.project_id,
                        artifact_id: saved.artifact_id,
                        from,
                        to: saved.status,
                    });
                }
                self.bump_version().await?;
                return Ok(changed);
            }
            Err(e) => {
                return Err(DeployError::Io {
                    context: format!("reading deployment records of {}", project.path),
                    source: e,
                });
            }
        };
        let mut seen = Vec::new();
        let mut identities = std::collections::HashSet::new();
        let mut changed = Vec::new();
        for (profile_root, rec) in found {
            let Ok(artifact_type) = rec.artifact_type.parse::<ArtifactType>() else {
                continue;
            };
            let name = rec.bare_name().to_string();
            let Some(recorded_hash) = rec.hash().map(String::from) else {
                continue;
            };
            let folder_profile = Profile::for_folder(&profile_root)
                .map(|p| p.id().to_string())
                .unwrap_or_else(|| profile_root.trim_start_matches('.').to_string());
            let profile = rec.profile_or(&folder_profile).to_string();
            if !identities.insert((artifact_type, name.clone(), profile.clone())) {
                tracing::warn!(project = %project.path, artifact = %name, profile, "a second record for the same deployment is ignored");
                continue;
            }
            let row = existing.iter().find(|d| {
                d.artifact_type == artifact_type.as_str()
                    && d.artifact_name == name
                    && d.profile == profile
            });
            let mut model = match row {
                Some(r) => r.clone(),
                None => deployments::Model {
                    id: new_id(),
                    project_id: project.id.clone(),
                    project_path: project.path.clone(),
                    artifact_id: format!("{artifact_type}:{name}"),
                    artifact_type: artifact_type.as_str().into(),
                    artifact_name: name.clone(),
                    artifact_name_key: name.to_lowercase(),
                    profile: profile.clone(),
                    profile_root: profile_root.clone(),
                    artifact_path: rec.artifact_path.clone(),
                    from_collection: rec.from_collection.clone(),
                    deployed_at: rec.deployed_at(),
                    recorded_hash: recorded_hash.clone(),
                    local_hash: None,
                    local_fingerprint: None,
                    collection_hash: None,
                    status: String::new(),
                    status_checked_at: Utc::now(),
                },
            };
            // The record may have been rewritten (by us or by SkillMeat) since.
            model.profile_root = profile_root;
            model.artifact_path = rec.artifact_path.clone();
            model.from_collection = rec.from_collection.clone();
            model.deployed_at = rec.deployed_at();
            model.recorded_hash = recorded_hash;
            let before = model.status.clone();
            let model = self.recheck_model(model).await?;
            let status_change = (model.status != before).then(|| before.clone());
            let saved = match self.save(model.clone(), row.is_some()).await {
                Ok(saved) => saved,
                // Another instance scanning the same project inserted this deployment first:
                // take its row.
                Err(e) if row.is_none() && is_unique_violation(&e) => {
                    let theirs = deployments::Entity::find()
                        .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
                        .filter(deployments::Column::ArtifactType.eq(model.artifact_type.as_str()))
                        .filter(deployments::Column::ArtifactName.eq(model.artifact_name.as_str()))
                        .filter(deployments::Column::Profile.eq(model.profile.as_str()))
                        .one(self.db())
                        .await?
                        .ok_or(DeployError::Db(e))?;
                    self.save(
                        deployments::Model {
                            id: theirs.id,
                            ..model
                        },
                        true,
                    )
                    .await?
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(from) = status_change {
                changed.push(StatusChange {
                    deployment_id: saved.id.clone(),
                    project_id: saved.project_id.clone(),
                    artifact_id: saved.artifact_id.clone(),
                    from,
                    to: saved.status.clone(),
                });
            }
            seen.push(saved.id);
        }
        let gone: Vec<String> = existing
            .iter()
            .map(|d| d.id.clone())
            .filter(|id| !seen.contains(id))
            .collect();
        if !gone.is_empty() {
            deployments::Entity::delete_many()
                .filter(deployments::Column::Id.is_in(gone))
                .exec(self.db())
                .await?;
        }
        let mut row: projects::ActiveModel = project.clone().into();
        row.last_scanned_at = Set(Some(Utc::now()));
        row.update(self.db()).await?;
        self.bump_version().await?;
        Ok(changed)
    }

    async fn save(
        &self,
        model: deployments::Model,
        exists: bool,
    ) -> Result<deployments::Model, DbErr> {
        let active: deployments::ActiveModel = model.into();
        let active = active.reset_all();
        if exists {
            active.update(self.db()).await
        } else {
            active.insert(self.db()).await
        }
    }

    /// Recomputes one row's hashes and status from disk and the cache (re-hashing the project
    /// copy only when its stat fingerprint changed).
    async fn recheck_model(
        &self,
        mut model: deployments::Model,
    ) -> Result<deployments::Model, DeployError> {
        let collection_hash: Option<String> = cached_artifacts::Entity::find()
            .select_only()
            .column(cached_artifacts::Column::ContentHash)
            .filter(cached_artifacts::Column::ArtifactId.eq(model.artifact_id.as_str()))
            .into_tuple()
            .one(self.db())
            .await?;
        let project = PathBuf::from(&model.project_path);
        let rel = PathBuf::from(&model.profile_root).join(&model.artifact_path);
        let stored_fp = model.local_fingerprint.clone();
        let stored_hash = model.local_hash.clone();
        let (local_hash, local_fp) = tokio::task::spawn_blocking(move || {
            check_local_copy(&project, &rel, stored_fp.as_deref(), stored_hash.as_deref())
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "hashing a project copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        model.status = DeploymentStatus::compute(
            &model.recorded_hash,
            local_hash.as_deref(),
            collection_hash.as_deref(),
        )
        .as_str()
        .into();
        model.local_hash = local_hash;
        model.local_fingerprint = local_fp;
        model.collection_hash = collection_hash;
        model.status_checked_at = Utc::now();
        Ok(model)
    }

    // ----- deployments ----------------------------------------------------------------------

    /// One deployment; with `recheck` its status is recomputed first (under the project's lock,
    /// so it cannot overwrite a deploy that finishes meanwhile).
    pub async fn get(&self, id: &str, recheck: bool) -> Result<deployments::Model, DeployError> {
        let row = self.find_deployment(id).await?;
        if !recheck {
            return Ok(row);
        }
        // The collection side is re-validated through the cache too.
        if let Ok(artifact_id) = ArtifactId::parse(&row.artifact_id) {
            self.inner.cache.get_or_fill(&artifact_id).await?;
        }
        let _guard = self.lock_project(&row.project_id).await?;
        let row = self.find_deployment(id).await?;
        let model = self.recheck_model(row).await?;
        let saved = self.save(model, true).await?;
        self.bump_version().await?;
        Ok(saved)
    }

    async fn find_deployment(&self, id: &str) -> Result<deployments::Model, DeployError> {
        deployments::Entity::find_by_id(id)
            .one(self.db())
            .await?
            .ok_or_else(|| {
                DeployError::NotFound(format!("Deployment '{}' not found", printable(id)))
            })
    }

    /// Deploys an artifact into a project. Returns the row and whether an existing deployment
    /// was replaced. Everything is validated before anything is written; a project given by path
    /// is registered (and its existing records read) only once the deploy succeeded.
    pub async fn deploy(
        &self,
        req: DeployRequest,
    ) -> Result<(deployments::Model, bool), DeployError> {
        let id = ArtifactId::parse(req.artifact_id.trim()).map_err(DeployError::BadRequest)?;
        let profile = Profile::parse(req.profile.as_deref().unwrap_or("claude_code"))
            .map_err(DeployError::BadRequest)?;
        let (project, new_project_path) = match (&req.project_id, &req.project_path) {
            (Some(_), Some(_)) => {
                return Err(DeployError::BadRequest(
                    "give project_id or project_path, not both".into(),
                ));
            }
            (Some(pid), None) => {
                let project = self.project(pid).await?;
                self.inner.roots.check_known(&project.path)?;
                (Some(project), None)
            }
            (None, Some(path)) => {
                let path = self.inner.roots.project_folder(path)?;
                let key = path.display().to_string();
                match projects::Entity::find()
                    .filter(projects::Column::Path.eq(key.as_str()))
                    .one(self.db())
                    .await?
                {
                    Some(p) => (Some(p), None),
                    None => (None, Some(path)),
                }
            }
            (None, None) => {
                return Err(DeployError::BadRequest(
                    "project_id or project_path is required".into(),
                ));
            }
        };
        let artifact = self.fresh_artifact(&id).await?;
        let default_rel = default_artifact_path(
            id.artifact_type,
            &id.name,
            artifact
                .item
                .is_file
                .then(|| artifact.files[0].path.as_str()),
        );
        let rel = owned_path(req.dest_path.as_deref().unwrap_or(&default_rel), &id.name).ok_or_else(|| {
            DeployError::BadRequest(format!(
                "dest_path '{}' must be a relative path inside the profile folder, at least <folder>/<name>, ending in the artifact's name, without '..'",
                printable(req.dest_path.as_deref().unwrap_or(&default_rel))
            ))
        })?;
        let (project, inserted) = match (project, new_project_path) {
            (Some(p), _) => (p, false),
            (None, Some(path)) => {
                // Checked before registering, so a refused deploy registers nothing.
                ensure_inside_project(&path, &path.join(profile.root()).join(&rel))?;
                (self.insert_project(&path, true).await?, true)
            }
            (None, None) => unreachable!("a project or a path was resolved above"),
        };
        let result = {
            let _guard = self.lock_project(&project.id).await?;
            self.deploy_locked(&project, &id, profile, &artifact, &rel, req.overwrite)
                .await
        };
        match (&result, inserted) {
            (Ok(_), true) => {
                // Records SkillMeat wrote there before show up at once, as with POST /projects.
                self.scan_project(&project).await?;
            }
            (Err(_), true) => {
                projects::Entity::delete_by_id(project.id.as_str())
                    .exec(self.db())
                    .await?;
            }
            _ => {}
        }
        result
    }

    /// The artifact as it is on disk now; the cache entry is refreshed with it.
    async fn fresh_artifact(
        &self,
        id: &ArtifactId,
    ) -> Result<crate::source::SourceArtifact, DeployError> {
        let source = self.inner.cache.source().clone();
        let item = source
            .locate(id)
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Artifact '{id}' not found")))?;
        let artifact = source
            .read(&item)
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Artifact '{id}' not found")))?;
        self.inner.cache.set(&artifact).await?;
        Ok(artifact)
    }

    /// The deploy itself; the caller holds the project's lock.
    async fn deploy_locked(
        &self,
        project: &projects::Model,
        id: &ArtifactId,
        profile: Profile,
        artifact: &crate::source::SourceArtifact,
        rel: &Path,
        overwrite: bool,
    ) -> Result<(deployments::Model, bool), DeployError> {
        let rel_string = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let project_root = PathBuf::from(&project.path);
        let profile_root = project_root.join(profile.root());
        let dest = profile_root.join(rel);
        ensure_inside_project(&project_root, &dest)?;
        let record_file = profile_root.join(RECORD_FILE);
        let records =
            record::read_records(&record_file).map_err(io("reading the deployment record"))?;
        let previous = records.iter().find(|r| {
            r.bare_name() == id.name
                && r.artifact_type == id.artifact_type.as_str()
                && r.profile_or(profile.id()) == profile.id()
        });
        if previous.is_some() && !overwrite {
            return Err(DeployError::Conflict(format!(
                "Artifact '{id}' already deployed. Set overwrite=true to replace."
            )));
        }
        if let Some(other) = records.iter().find(|r| {
            r.artifact_path == rel_string
                && !(r.bare_name() == id.name
                    && r.artifact_type == id.artifact_type.as_str()
                    && r.profile_or(profile.id()) == profile.id())
        }) {
            return Err(DeployError::Conflict(format!(
                "'{rel_string}' holds the deployment of {}:{}; it is not replaced",
                other.artifact_type,
                other.bare_name()
            )));
        }
        let is_own_copy = previous.is_some_and(|r| r.artifact_path == rel_string);
        if !is_own_copy && !overwrite && std::fs::symlink_metadata(&dest).is_ok() {
            return Err(DeployError::Conflict(format!(
                "'{rel_string}' already exists in the project and was not deployed by SkillMeat. Set overwrite=true to replace it."
            )));
        }

        let parent = dest.parent().unwrap_or(&profile_root).to_path_buf();
        let created = first_missing_ancestor(&parent);
        std::fs::create_dir_all(&parent).map_err(io(format!("creating {}", parent.display())))?;
        let undo_created = |created: &Option<PathBuf>| {
            if let Some(dir) = created {
                remove_path(dir);
            }
        };
        if let Err(e) = ensure_inside_project(&project_root, &dest) {
            undo_created(&created);
            return Err(e);
        }
        let staging = parent.join(format!(".skillmeat-tmp-{}", new_id()));
        let deployed_hash = match self
            .copy_into(artifact, &staging, artifact.item.is_file)
            .await
        {
            Ok(h) => h,
            Err(e) => {
                remove_path(&staging);
                undo_created(&created);
                return Err(e);
            }
        };
        if deployed_hash != artifact.content_hash {
            remove_path(&staging);
            undo_created(&created);
            self.inner.cache.invalidate(&id.to_string()).await?;
            return Err(DeployError::Conflict(format!(
                "Artifact '{id}' changed while it was being deployed; try again"
            )));
        }
        if let Err(e) = swap_into_place(&staging, &dest, artifact.item.is_file) {
            undo_created(&created);
            return Err(e);
        }
        // Replacing a deployment that lived elsewhere: its old copy goes, or it would linger
        // untracked.
        if let Some(old) = previous.filter(|r| r.artifact_path != rel_string)
            && let Some(old_rel) = owned_path(&old.artifact_path, &id.name)
        {
            let old_path = profile_root.join(old_rel);
            if ensure_inside_project(&project_root, &old_path).is_ok() {
                remove_path(&old_path);
            }
        }
        let now = Utc::now();
        let rec = NewRecord {
            name: &id.name,
            artifact_type: id.artifact_type.as_str(),
            from_collection: &artifact.item.collection,
            artifact_path: &rel_string,
            content_hash: &deployed_hash,
            profile: profile.id(),
            profile_root: profile.root(),
            deployed_at: now,
        };
        record::upsert_record(&record_file, &rec).map_err(io("writing the deployment record"))?;

        let existing = deployments::Entity::find()
            .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
            .filter(deployments::Column::ArtifactType.eq(id.artifact_type.as_str()))
            .filter(deployments::Column::ArtifactName.eq(id.name.as_str()))
            .filter(deployments::Column::Profile.eq(profile.id()))
            .one(self.db())
            .await?;
        let fingerprint = hash::list_files(&dest)
            .ok()
            .map(|f| hash::fingerprint(&f, ""));
        let model = deployments::Model {
            id: existing
                .as_ref()
                .map(|e| e.id.clone())
                .unwrap_or_else(new_id),
            project_id: project.id.clone(),
            project_path: project.path.clone(),
            artifact_id: id.to_string(),
            artifact_type: id.artifact_type.as_str().into(),
            artifact_name: id.name.clone(),
            artifact_name_key: id.name.to_lowercase(),
            profile: profile.id().into(),
            profile_root: profile.root().into(),
            artifact_path: rel_string,
            from_collection: artifact.item.collection.clone(),
            deployed_at: now,
            recorded_hash: deployed_hash.clone(),
            local_hash: Some(deployed_hash.clone()),
            local_fingerprint: fingerprint,
            collection_hash: Some(deployed_hash),
            status: DeploymentStatus::Synced.as_str().into(),
            status_checked_at: now,
        };
        let saved = self.save(model, existing.is_some()).await?;
        self.bump_version().await?;
        self.inner.events.publish(ServerEvent::Deployed {
            deployment_id: saved.id.clone(),
            project_id: saved.project_id.clone(),
            artifact_id: saved.artifact_id.clone(),
            status: saved.status.clone(),
        });
        Ok((saved, previous.is_some() || existing.is_some()))
    }

    /// Copies an artifact file by file into `staging` and returns the copy's content hash.
    async fn copy_into(
        &self,
        artifact: &crate::source::SourceArtifact,
        staging: &Path,
        is_file: bool,
    ) -> Result<String, DeployError> {
        let source = self.inner.cache.source();
        if is_file {
            source
                .copy_file(&artifact.item, &artifact.files[0].path, staging)
                .await?;
        } else {
            std::fs::create_dir_all(staging).map_err(io("creating the staging folder"))?;
            for f in &artifact.files {
                let target = staging.join(&f.path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io(format!("creating {}", parent.display())))?;
                }
                source.copy_file(&artifact.item, &f.path, &target).await?;
            }
        }
        let staging = staging.to_path_buf();
        tokio::task::spawn_blocking(move || hash::content_hash(&staging))
            .await
            .map_err(|e| DeployError::Io {
                context: "hashing the copy".into(),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(io("hashing the copy"))
    }

    /// Removes a deployment's files and its record; 404 when it is not deployed. Files are only
    /// removed at a path that can belong to the artifact (`<folder>/<name>[.ext]` inside the
    /// project); a record pointing anywhere else loses its record, never someone else's files.
    pub async fn undeploy(&self, id: &str) -> Result<(), DeployError> {
        let project_id = self.find_deployment(id).await?.project_id;
        let _guard = self.lock_project(&project_id).await?;
        let row = self.find_deployment(id).await?;
        self.inner.roots.check_known(&row.project_path)?;
        let project_root = PathBuf::from(&row.project_path);
        let profile_root = project_root.join(&row.profile_root);
        match owned_path(&row.artifact_path, &row.artifact_name) {
            Some(rel) if safe_relative(&row.profile_root).is_some() => {
                let target = profile_root.join(rel);
                if ensure_inside_project(&project_root, &target).is_ok() {
                    match std::fs::symlink_metadata(&target) {
                        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&target)
                            .map_err(io(format!("removing {}", target.display())))?,
                        Ok(_) => std::fs::remove_file(&target)
                            .map_err(io(format!("removing {}", target.display())))?,
                        Err(_) => {}
                    }
                }
            }
            _ => {
                tracing::warn!(deployment = id, path = %row.artifact_path, "record path does not belong to the artifact; its files are left alone")
            }
        }
        if safe_relative(&row.profile_root).is_some() {
            record::remove_record(
                &profile_root.join(RECORD_FILE),
                &row.artifact_name,
                &row.artifact_type,
                &row.profile,
            )
            .map_err(io("updating the deployment record"))?;
        }
        let res = deployments::Entity::delete_by_id(row.id.as_str())
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            return Err(DeployError::NotFound(format!(
                "Deployment '{}' not found",
                printable(id)
            )));
        }
        self.bump_version().await?;
        self.inner.events.publish(ServerEvent::Undeployed {
            deployment_id: row.id.clone(),
            project_id: row.project_id.clone(),
            artifact_id: row.artifact_id.clone(),
        });
        Ok(())
    }

    /// Re-deploys the collection's current version over a deployment. A project copy with local
    /// changes (modified or conflict) is refused unless `force`. The check and the copy happen
    /// under one hold of the project's lock.
    pub async fn update(&self, id: &str, force: bool) -> Result<deployments::Model, DeployError> {
        let row = self.find_deployment(id).await?;
        let artifact_id = ArtifactId::parse(&row.artifact_id).map_err(DeployError::BadRequest)?;
        let profile = Profile::parse(&row.profile).map_err(DeployError::BadRequest)?;
        let artifact = self.fresh_artifact(&artifact_id).await?;
        let project = self.project(&row.project_id).await?;
        self.inner.roots.check_known(&project.path)?;
        let _guard = self.lock_project(&project.id).await?;
        let row = self.recheck_model(self.find_deployment(id).await?).await?;
        let status = DeploymentStatus::parse(&row.status).unwrap_or(DeploymentStatus::Modified);
        if matches!(
            status,
            DeploymentStatus::Modified | DeploymentStatus::Conflict
        ) && !force
        {
            self.save(row, true).await?;
            self.bump_version().await?;
            return Err(DeployError::Conflict(format!(
                "Deployment '{id}' has local modifications; set force=true to overwrite them"
            )));
        }
        let rel = owned_path(&row.artifact_path, &artifact_id.name).ok_or_else(|| {
            DeployError::Conflict(format!(
                "Deployment '{id}' records the path '{}', which does not belong to the artifact; undeploy and deploy it again",
                printable(&row.artifact_path)
            ))
        })?;
        let (model, _) = self
            .deploy_locked(&project, &artifact_id, profile, &artifact, &rel, true)
            .await?;
        Ok(model)
    }

    /// One page of the dashboard list.
    pub async fn list(
        &self,
        filter: &DeploymentFilter,
        sort: DeploymentSort,
        descending: bool,
        limit: u64,
        after: Option<&str>,
    ) -> Result<DeploymentPage, DeployError> {
        use deployments::Column as C;
        let mut filter = filter.clone();
        if let Some(p) = &filter.project {
            // An id or a path: resolve it to the id once, so the project index answers.
            let project = projects::Entity::find()
                .filter(
                    Condition::any()
                        .add(projects::Column::Id.eq(p.as_str()))
                        .add(projects::Column::Path.eq(p.as_str())),
                )
                .one(self.db())
                .await?;
            match project {
                Some(project) => filter.project = Some(project.id),
                None => {
                    return Ok(DeploymentPage {
                        items: Vec::new(),
                        has_next_page: false,
                        end_cursor: None,
                        total_count: 0,
                    });
                }
            }
        }
        let cond = filter_condition(&filter);
        let total_count =
            crate::db::count_rows(self.db(), deployments::Entity::find().filter(cond.clone()))
                .await?;
        let sort_col = match sort {
            DeploymentSort::Artifact => C::ArtifactId,
            DeploymentSort::Project => C::ProjectPath,
            DeploymentSort::DeployedAt => C::DeployedAt,
            DeploymentSort::Status => C::Status,
        };
        let order = if descending { Order::Desc } else { Order::Asc };
        let mut query = deployments::Entity::find().filter(cond);
        if let Some(raw) = after {
            let (key, id) =
                decode_pair_cursor(raw).map_err(|e| DeployError::BadRequest(e.to_string()))?;
            let key: sea_orm::Value = if sort == DeploymentSort::DeployedAt {
                DateTime::parse_from_rfc3339(&key)
                    .map_err(|_| {
                        DeployError::BadRequest("Invalid cursor: damaged sort key".into())
                    })?
                    .with_timezone(&Utc)
                    .into()
            } else {
                key.into()
            };
            let (beyond, beyond_id) = if descending {
                (sort_col.lt(key.clone()), C::Id.lt(id))
            } else {
                (sort_col.gt(key.clone()), C::Id.gt(id))
            };
            query = query.filter(
                Condition::any()
                    .add(beyond)
                    .add(Condition::all().add(sort_col.eq(key)).add(beyond_id)),
            );
        }
        // Two steps: the page's ids first (sorting index entries, not whole rows), then the rows.
        let mut ids: Vec<String> = query
            .select_only()
            .column(C::Id)
            .order_by(sort_col, order.clone())
            .order_by(C::Id, order)
            .limit(limit + 1)
            .into_tuple()
            .all(self.db())
            .await?;
        let has_next_page = ids.len() as u64 > limit;
        ids.truncate(limit as usize);
        let mut rows: HashMap<String, deployments::Model> = deployments::Entity::find()
            .filter(C::Id.is_in(ids.iter().cloned()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        let items: Vec<deployments::Model> = ids.iter().filter_map(|id| rows.remove(id)).collect();
        let end_cursor = items.last().map(|d| {
            let key = match sort {
                DeploymentSort::Artifact => d.artifact_id.clone(),
                DeploymentSort::Project => d.project_path.clone(),
                DeploymentSort::DeployedAt => d.deployed_at.to_rfc3339(),
                DeploymentSort::Status => d.status.clone(),
            };
            crate::collections::encode_pair_cursor(&key, &d.id)
        });
        Ok(DeploymentPage {
            items,
            has_next_page,
            end_cursor,
            total_count,
        })
    }

    /// Marks the deployment rows as changed (in `cache_meta`, so every instance sees it), which
    /// retires memoised summaries.
    async fn bump_version(&self) -> Result<(), DbErr> {
        self.inner
            .cache
            .set_meta(META_DEPLOYMENTS_VERSION, &new_id())
            .await
    }

    /// Counts by status, type, project and artifact. Served from a memo while the
    /// `deployments_version` in `cache_meta` is unchanged (one key lookup); otherwise a few
    /// grouped `COUNT(*)` queries that indexes answer. Never touches the disk.
    pub async fn summary(&self) -> Result<Summary, DeployError> {
        let version = self
            .inner
            .cache
            .meta(META_DEPLOYMENTS_VERSION)
            .await?
            .unwrap_or_default();
        if let Some((v, s)) = self
            .inner
            .summary_memo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && *v == version
        {
            return Ok(s.clone());
        }
        let summary = self.compute_summary().await?;
        *self
            .inner
            .summary_memo
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((version, summary.clone()));
        Ok(summary)
    }

    /// The summary's grouped counts, run side by side on separate pooled connections (each is an
    /// index-only scan; together they take about as long as the slowest).
    async fn compute_summary(&self) -> Result<Summary, DeployError> {
        use deployments::Column as C;
        let db = self.db();
        let count = || Expr::cust("COUNT(*)");
        let status_type = deployments::Entity::find()
            .select_only()
            .column(C::Status)
            .column(C::ArtifactType)
            .column_as(count(), "n")
            .group_by(C::Status)
            .group_by(C::ArtifactType)
            .into_tuple::<(String, String, i64)>()
            .all(db);
        let per_project = deployments::Entity::find()
            .select_only()
            .column(C::ProjectId)
            .column_as(count(), "n")
            .group_by(C::ProjectId)
            .into_tuple::<(String, i64)>()
            .all(db);
        let per_artifact = deployments::Entity::find()
            .select_only()
            .column(C::ArtifactId)
            .column_as(count(), "n")
            .group_by(C::ArtifactId)
            .into_tuple::<(String, i64)>()
            .all(db);
        let paths = projects::Entity::find()
            .select_only()
            .column(projects::Column::Id)
            .column(projects::Column::Path)
            .into_tuple::<(String, String)>()
            .all(db);
        let newest = deployments::Entity::find()
            .select_only()
            .column_as(C::StatusCheckedAt.max(), "m")
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(db);
        let (status_type, per_project, per_artifact, paths, newest) =
            tokio::try_join!(status_type, per_project, per_artifact, paths, newest)?;

        let mut summary = Summary::default();
        let mut by_type: HashMap<String, u64> = HashMap::new();
        for (status, artifact_type, n) in status_type {
            summary.by_status.add(&status, n as u64);
            *by_type.entry(artifact_type).or_default() += n as u64;
        }
        summary.by_type = by_type.into_iter().collect();
        summary.by_type.sort();
        let paths: HashMap<String, String> = paths.into_iter().collect();
        summary.by_project = per_project
            .into_iter()
            .map(|(id, n)| {
                let path = paths.get(&id).cloned().unwrap_or_default();
                (id, path, n as u64)
            })
            .collect();
        summary
            .by_project
            .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        summary.by_artifact = per_artifact
            .into_iter()
            .map(|(id, n)| (id, n as u64))
            .collect();
        summary
            .by_artifact
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary.last_updated = newest.flatten();
        Ok(summary)
    }

    /// Per-status deployment counts of some artifacts, for artifact responses.
    pub async fn counts_for(
        &self,
        artifact_ids: &[String],
    ) -> Result<HashMap<String, StatusCounts>, DbErr> {
        use deployments::Column as C;
        let rows: Vec<(String, String, i64)> = deployments::Entity::find()
            .select_only()
            .column(C::ArtifactId)
            .column(C::Status)
            .column_as(C::Id.count(), "n")
            .filter(C::ArtifactId.is_in(artifact_ids.iter().cloned()))
            .group_by(C::ArtifactId)
            .group_by(C::Status)
            .into_tuple()
            .all(self.db())
            .await?;
        let mut out: HashMap<String, StatusCounts> = HashMap::new();
        for (id, status, n) in rows {
            out.entry(id).or_default().add(&status, n as u64);
        }
        Ok(out)
    }
}

fn filter_condition(f: &DeploymentFilter) -> Condition {
    use deployments::Column as C;
    let mut cond = Condition::all();
    if !f.statuses.is_empty() {
        cond = cond.add(C::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(p) = &f.project {
        cond = cond.add(
            Condition::any()
                .add(C::ProjectId.eq(p.as_str()))
                .add(C::ProjectPath.eq(p.as_str())),
        );
    }
    if let Some(a) = &f.artifact_id {
        cond = cond.add(C::ArtifactId.eq(a.as_str()));
    }
    if !f.types.is_empty() {
        cond = cond.add(C::ArtifactType.is_in(f.types.iter().map(|t| t.as_str())));
    }
    if let Some(p) = &f.profile {
        cond = cond.add(C::Profile.eq(p.as_str()));
    }
    if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        cond = cond.add(
            C::ArtifactNameKey
                .like(LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\')),
        );
    }
    cond
}

/// Where a deployed artifact goes under the profile root by default.
pub fn default_artifact_path(t: ArtifactType, name: &str, file_name: Option<&str>) -> String {
    let folder = match t {
        ArtifactType::Skill => "skills",
        ArtifactType::Command => "commands",
        ArtifactType::Agent => "agents",
        ArtifactType::Hook => "hooks",
        ArtifactType::Mcp => "mcp",
    };
    match file_name {
        Some(f) => {
            let ext = Path::new(f)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            format!("{folder}/{name}{ext}")
        }
        None => format!("{folder}/{name}"),
    }
}

/// Refuses a destination whose existing folders resolve outside the project (a symlinked
/// profile or type folder pointing elsewhere), or which is itself a symbolic link.
fn ensure_inside_project(project_root: &Path, dest: &Path) -> Result<(), DeployError> {
    let outside = || {
        DeployError::BadRequest(format!(
            "the destination {} would leave the project",
            dest.display()
        ))
    };
    let root = project_root.canonicalize().map_err(|_| {
        DeployError::BadRequest(format!(
            "the project folder {} no longer exists",
            project_root.display()
        ))
    })?;
    if std::fs::symlink_metadata(dest)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
    {
        return Err(outside());
    }
    let mut ancestor = dest.parent();
    while let Some(a) = ancestor {
        if a.exists() {
            let resolved = a.canonicalize().map_err(|_| outside())?;
            return if resolved.starts_with(&root) {
                Ok(())
            } else {
                Err(outside())
            };
        }
        ancestor = a.parent();
    }
    Err(outside())
}

/// A path under the profile folder that can hold the artifact `name`: relative, no `..`, at
/// least `<folder>/<name>`, its last part `name` or `name.<ext>`, nothing of ours
/// (`.skillmeat*`). Deploys write and undeploys delete only such paths.
pub fn owned_path(raw: &str, name: &str) -> Option<PathBuf> {
    let rel = safe_relative(raw)?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() < 2 || parts.iter().any(|p| p.starts_with(".skillmeat")) {
        return None;
    }
    let last = parts.last()?;
    let stem = Path::new(last)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    (last == name || stem.as_deref() == Some(name)).then_some(rel)
}

/// The outermost folder on the way to `dir` that does not exist yet (what a failed deploy must
/// remove again), or `None` when `dir` exists.
fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut current = Some(dir);
    while let Some(d) = current {
        if d.exists() {
            break;
        }
        missing = Some(d.to_path_buf());
        current = d.parent();
    }
    missing
}

/// Replaces `dest` with `staging`. A file is renamed over the old one (atomic). A folder: the
/// old copy moves aside first and is removed last, and is put back if the new one cannot be
/// moved in.
fn swap_into_place(staging: &Path, dest: &Path, is_file: bool) -> Result<(), DeployError> {
    let old_is_dir = std::fs::symlink_metadata(dest)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if is_file && !old_is_dir {
        return std::fs::rename(staging, dest).map_err(|e| {
            remove_path(staging);
            DeployError::Io {
                context: format!("moving the new copy into {}", dest.display()),
                source: e,
            }
        });
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    let backup = parent.join(format!(".skillmeat-old-{}", new_id()));
    let had_old = std::fs::symlink_metadata(dest).is_ok();
    if had_old {
        std::fs::rename(dest, &backup).map_err(io(format!(
            "moving the old copy at {} aside",
            dest.display()
        )))?;
    }
    if let Err(e) = std::fs::rename(staging, dest) {
        if had_old {
            let _ = std::fs::rename(&backup, dest);
        }
        remove_path(staging);
        return Err(DeployError::Io {
            context: format!("moving the new copy into {}", dest.display()),
            source: e,
        });
    }
    if had_old {
        remove_path(&backup);
    }
    Ok(())
}

fn remove_path(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// The project copy's content hash and stat fingerprint; the stored hash is reused when the
/// fingerprint is unchanged. `(None, None)` when the copy is missing or not safely inside.
fn check_local_copy(
    project: &Path,
    rel: &Path,
    stored_fp: Option<&str>,
    stored_hash: Option<&str>,
) -> (Option<String>, Option<String>) {
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (None, None);
    }
    let path = project.join(rel);
    if ensure_inside_project(project, &path).is_err() || std::fs::symlink_metadata(&path).is_err() {
        return (None, None);
    }
    let Ok(files) = hash::list_files(&path) else {
        return (None, None);
    };
    let fp = hash::fingerprint(&files, "");
    if Some(fp.as_str()) == stored_fp
        && let Some(h) = stored_hash
    {
        return (Some(h.to_string()), Some(fp));
    }
    let is_dir = path.is_dir();
    match hash::hash_listed_files(&files, is_dir) {
        Ok(h) => (Some(h), Some(fp)),
        Err(_) => (None, None),
    }
}

/// Staging folders older than this are leftovers of a deploy that died mid-copy.
const STAGING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes `.skillmeat-tmp-*` staging copies a killed deploy left in a profile's type folders
/// (never the `.skillmeat-old-*` copies, which may be the only copy of a deployment).
fn sweep_staging_leftovers(project: &Path) {
    for profile in Profile::ALL {
        let Ok(folders) = std::fs::read_dir(project.join(profile.root())) else {
            continue;
        };
        for folder in folders
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        {
            let Ok(entries) = std::fs::read_dir(folder.path()) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STAGING_MAX_AGE);
                if stale
                    && entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with(".skillmeat-tmp-")
                {
                    tracing::info!(path = %entry.path().display(), "removing a staging copy left by an interrupted deploy");
                    remove_path(&entry.path());
                }
            }
        }
    }
}

/// Every record of a project: `(profile root folder, record)` for each `<project>/.*/` folder
/// holding a record file (not followed through symbolic links).
fn read_project_records(project: &Path) -> std::io::Result<Vec<(String, record::DeployedRecord)>> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(project)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with('.') && n != "." && n != "..")
        .collect();
    dirs.sort();
    for dir in dirs {
        let file = project.join(&dir).join(RECORD_FILE);
        if !file.is_file() {
            continue;
        }
        match record::read_records(&file) {
            Ok(records) => out.extend(records.into_iter().map(|r| (dir.clone(), r))),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "unreadable deployment record")
            }
        }
    }
    Ok(out)
}

/// Folders below `roots` (at most `depth` levels) with a record file in a profile root.
fn discover_projects(roots: &[PathBuf], depth: u32) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for root in roots {
        let walker = walkdir::WalkDir::new(root)
            .max_depth(depth as usize)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                e.file_type().is_dir()
                    && (e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
                    && e.file_name() != "node_modules"
            });
        for entry in walker.filter_map(Result::ok) {
            let dir = entry.path();
            let has_records = Profile::ALL
                .iter()
                .any(|p| dir.join(p.root()).join(RECORD_FILE).is_file());
            if has_records && let Ok(canonical) = dir.canonicalize() {
                found.push(canonical);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}
