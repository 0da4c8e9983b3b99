//! Adding and managing artifacts in a collection folder, in SkillMeat's format: imports from a
//! folder or a git repository, new artifacts from request text, file edits checked against the
//! content hash, deletion into a trash that can be restored, and pulls from a git upstream.
//!
//! Every write is staged beside its target and renamed into place under SkillMeat's write locks
//! (the artifact's and `collection.toml`'s); `collection.toml` and `collection.lock` are
//! rewritten with every other byte kept. A failure undoes what was done, so nothing is left
//! behind. After a write the cache, the default collection's members and the deployments'
//! statuses are brought up to date at once.

pub mod edit;
pub mod files;
pub mod git;
pub mod infer;
mod operations;
mod pull;
pub mod trash;
pub mod upstream;
mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use files::{FileSet, Limits};
pub use operations::{CreateRequest, GitImport, PathImport, Written};

use crate::cache::CacheService;
use crate::collections::CollectionService;
use crate::deploy::{DeployService, ProjectRoots};
use crate::source::ArtifactId;

/// Why an authoring operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    /// The request is malformed or names something unusable (400).
    #[error("{0}")]
    BadRequest(String),
    /// The content does not make a valid artifact, e.g. its front matter (422).
    #[error("{0}")]
    Invalid(String),
    /// No such artifact, file, collection or trash entry (404).
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what is there (409).
    #[error("{0}")]
    Conflict(String),
    /// Over a size limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The path to import is outside `deploy.allowed_roots` (403).
    #[error("{0}")]
    OutsideRoots(String),
    /// The `If-Match` tag is not the artifact's current content hash (412).
    #[error("the artifact changed since it was read: its content hash is now {current}")]
    Stale {
        /// The current hash.
        current: String,
    },
    /// An edit came without `If-Match` (428).
    #[error(
        "send If-Match with the artifact's content hash (the ETag of GET /api/v1/artifacts/{{id}})"
    )]
    TagRequired,
    /// A git repository could not be reached or read (502).
    #[error("{0}")]
    Git(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The deployments failed.
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// A blocking task died.
    #[error("task failed: {0}")]
    Task(String),
}

impl AuthoringError {
    /// A stable code naming the kind of failure (also how a failed job's message starts).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Invalid(_) => "validation_failed",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "payload_too_large",
            Self::OutsideRoots(_) => "project_outside_roots",
            Self::Stale { .. } => "precondition_failed",
            Self::TagRequired => "precondition_required",
            Self::Git(_) => "git_error",
            _ => "internal_error",
        }
    }

    /// Whether trying again cannot help (bad input, a clash): a job fails at once.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::BadRequest(_)
                | Self::Invalid(_)
                | Self::NotFound(_)
                | Self::Conflict(_)
                | Self::TooLarge(_)
                | Self::OutsideRoots(_)
                | Self::Stale { .. }
                | Self::TagRequired
        )
    }

    /// A failed job's message as the job wrote it: `<code>: <detail>`.
    pub fn job_message(&self) -> String {
        format!("{}: {self}", self.code())
    }

    /// The error a failed job's message stands for (a message of another form is a git or
    /// server failure as it was written).
    pub fn from_job_message(message: &str) -> Self {
        let (code, detail) = message.split_once(": ").unwrap_or(("", message));
        let detail = detail.to_string();
        match code {
            "bad_request" => Self::BadRequest(detail),
            "validation_failed" => Self::Invalid(detail),
            "not_found" => Self::NotFound(detail),
            "conflict" => Self::Conflict(detail),
            "payload_too_large" => Self::TooLarge(detail),
            "project_outside_roots" => Self::OutsideRoots(detail),
            "git_error" => Self::Git(detail),
            _ => Self::Git(message.to_string()),
        }
    }
}

/// Adds, edits and removes artifacts; cheap to clone.
#[derive(Clone)]
pub struct AuthoringService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) data_home: PathBuf,
    pub(crate) limits: Limits,
    pub(crate) git_timeout: Duration,
    pub(crate) trash_keep: chrono::Duration,
    pub(crate) roots: ProjectRoots,
    pub(crate) cache: CacheService,
    pub(crate) collections: CollectionService,
    pub(crate) deployments: DeployService,
}

/// What the service needs from the settings.
#[derive(Debug, Clone)]
pub struct AuthoringSettings {
    /// Size limits of one artifact.
    pub limits: Limits,
    /// Longest a git fetch or ref listing may take.
    pub git_timeout: Duration,
    /// How long deleted artifacts stay in the trash.
    pub trash_keep_days: u64,
    /// Where paths may be imported from (`deploy.allowed_roots`).
    pub allowed_roots: Vec<PathBuf>,
}

impl AuthoringService {
    /// A service writing under `data_home/collections`.
    pub fn new(
        data_home: PathBuf,
        settings: AuthoringSettings,
        cache: CacheService,
        collections: CollectionService,
        deployments: DeployService,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                data_home,
                limits: settings.limits,
                git_timeout: settings.git_timeout,
                trash_keep: chrono::Duration::days(settings.trash_keep_days as i64),
                roots: ProjectRoots::new(settings.allowed_roots),
                cache,
                collections,
                deployments,
            }),
        }
    }

    /// The folder of collection `name`.
    pub(crate) fn collection_dir(&self, name: &str) -> Result<PathBuf, AuthoringError> {
        crate::source::validate_name(name).map_err(|e| {
            AuthoringError::BadRequest(e.replace("artifact name", "collection name"))
        })?;
        Ok(self.inner.data_home.join("collections").join(name))
    }

    /// Whether collection `name` is a folder this server may write into (a new one is, once
    /// its name is usable; a read-only source's is not).
    pub fn writable_collection(&self, name: &str) -> bool {
        let Ok(dir) = self.collection_dir(name) else {
            return false;
        };
        std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
    }

    /// Whether `item` lives in a collection folder this server may write.
    pub fn writable(&self, item: &crate::source::SourceItem) -> bool {
        self.writable_collection(&item.collection)
    }

    /// The trash folder.
    pub fn trash_dir(&self) -> PathBuf {
        self.inner.data_home.join("trash")
    }

    /// After a write: the watcher ignores its echo, the cache holds the new state, new
    /// artifacts join the default collection, deployments of it are rechecked.
    pub(crate) async fn written(
        &self,
        id: &ArtifactId,
        paths: &[PathBuf],
    ) -> Result<(), AuthoringError> {
        let inner = &self.inner;
        inner.deployments.own_writes().note(paths);
        inner
            .cache
            .refresh(&crate::scope::Scope::Artifact(id.to_string()), true)
            .await?;
        inner.collections.adopt_into_default().await?;
        inner.deployments.artifact_changed(&id.to_string()).await?;
        Ok(())
    }
}

/// Runs blocking file work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthoringError> + Send + 'static,
) -> Result<T, AuthoringError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuthoringError::Task(e.to_string()))?
}
