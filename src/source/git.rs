//! A git repository as a read-only source (`sources.git`): the tree at a ref's `path` is laid
//! out like a collection folder (`skills/<name>/SKILL.md`, `commands/<name>.md`, ...) and is
//! served as a collection of its own, read straight from git objects, never copied into the
//! data home. The repository is fetched into a bare mirror under
//! `<data_home>/cache/git-sources/` at most every [`FETCH_EVERY`] when the refreshes list it; a
//! fetch that fails keeps serving the last fetched commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use git2::{ObjectType, Repository, Tree};
use sha2::{Digest, Sha256};

use super::frontmatter::parse_document;
use super::layout::{entry_name, main_document_names, type_folders};
use super::{
    ArtifactFile, ArtifactId, ArtifactSource, ArtifactType, SourceArtifact, SourceError,
    SourceItem, hash, validate_name,
};
use crate::config::GitSourceSettings;

/// Least time between two fetches of one repository.
pub const FETCH_EVERY: Duration = Duration::from_secs(30);

/// How the fingerprints of this source's items start (the rest is the git object id).
pub const FINGERPRINT_PREFIX: &str = "git:";

/// Where the mirrors live, under the data home.
pub const MIRROR_DIR: &str = "cache/git-sources";

/// One configured repository; cheap to clone.
#[derive(Clone)]
pub struct GitSource {
    inner: Arc<Inner>,
}

struct Inner {
    collection: String,
    url: String,
    git_ref: String,
    path: String,
    mirror: PathBuf,
    timeout: Duration,
    /// When the mirror was last fetched (successfully or not); also serialises git work.
    fetched: Mutex<Option<Instant>>,
}

fn failed(e: impl std::fmt::Display) -> SourceError {
    SourceError::Io {
        path: "git".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl GitSource {
    /// The source `settings` describe, mirrored under `data_home`.
    pub fn new(settings: &GitSourceSettings, data_home: &Path, timeout: Duration) -> Self {
        let collection = collection_name(settings);
        let key = hex::encode(Sha256::digest(
            format!("{}\0{}", settings.url, settings.git_ref).as_bytes(),
        ));
        Self {
            inner: Arc::new(Inner {
                collection,
                url: settings.url.clone(),
                git_ref: settings.git_ref.clone(),
                path: settings.path.trim_matches('/').to_string(),
                mirror: data_home.join(MIRROR_DIR).join(&key[..16]),
                timeout,
                fetched: Mutex::new(None),
            }),
        }
    }

    /// The collection it is served as.
    pub fn collection(&self) -> &str {
        &self.inner.collection
    }

    /// The mirror, fetched first when the last fetch is older than [`FETCH_EVERY`].
    fn repo(&self) -> Result<Repository, SourceError> {
        let inner = &self.inner;
        let mut fetched = inner.fetched.lock().unwrap_or_else(|p| p.into_inner());
        let repo = match Repository::open_bare(&inner.mirror) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(&inner.mirror).map_err(|e| SourceError::Io {
                    path: inner.mirror.display().to_string(),
                    source: e,
                })?;
                Repository::init_bare(&inner.mirror).map_err(failed)?
            }
        };
        if fetched.is_none_or(|at| at.elapsed() >= FETCH_EVERY) {
            *fetched = Some(Instant::now());
            let result = crate::git::resolve_ref(&inner.url, &inner.git_ref, inner.timeout)
                .and_then(|(_, name)| {
                    crate::git::fetch_ref(&repo, &inner.url, &name, inner.timeout, |_| {})
                });
            if let Err(e) = result {
                if repo.refname_to_id(FETCHED).is_err() {
                    return Err(failed(e));
                }
                tracing::warn!(source = %inner.url, error = %e, "git source not fetched; serving its last fetched commit");
            }
        }
        Ok(repo)
    }

    /// The tree the collection is laid out in, and when its commit was made.
    fn root<'r>(&self, repo: &'r Repository) -> Result<(Tree<'r>, DateTime<Utc>), SourceError> {
        let commit = repo
            .find_reference(FETCHED)
            .and_then(|r| r.peel_to_commit())
            .map_err(failed)?;
        let when = DateTime::from_timestamp(commit.time().seconds(), 0).unwrap_or_default();
        let tree = commit.tree().map_err(failed)?;
        if self.inner.path.is_empty() {
            return Ok((tree, when));
        }
        let entry = tree.get_path(Path::new(&self.inner.path)).map_err(failed)?;
        let sub = repo.find_tree(entry.id()).map_err(failed)?;
        Ok((sub, when))
    }

    /// Every artifact of the tree, in type-folder order.
    fn items_blocking(&self) -> Result<Vec<SourceItem>, SourceError> {
        let repo = self.repo()?;
        let (root, when) = self.root(&repo)?;
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in ArtifactType::ALL {
            for folder in type_folders(t) {
                let Ok(entry) = root.get_path(Path::new(folder)) else {
                    continue;
                };
                let Ok(sub) = repo.find_tree(entry.id()) else {
                    continue;
                };
                for e in sub.iter() {
                    let Some(file_name) = e.name() else { continue };
                    let Some((name, is_file)) = recognise(&repo, t, file_name, &e) else {
                        continue;
                    };
                    if validate_name(&name).is_err() || !seen.insert((t, name.clone())) {
                        continue;
                    }
                    let collection = self.inner.collection.clone();
                    items.push(SourceItem {
                        artifact_id: format!("{t}:{name}"),
                        artifact_type: t,
                        name,
                        collection: collection.clone(),
                        collections: vec![collection],
                        path: format!("{folder}/{file_name}"),
                        in_manifest: false,
                        is_file,
                        fingerprint: format!("{FINGERPRINT_PREFIX}{}", e.id()),
                        modified_at: when,
                        manifest: None,
                    });
                }
            }
        }
        Ok(items)
    }

    /// An artifact's files (links skipped, as the content hash skips them).
    fn files_blocking(
        &self,
        item: &SourceItem,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, SourceError> {
        let repo = self.repo()?;
        let (root, _) = self.root(&repo)?;
        let Ok(entry) = root.get_path(Path::new(&item.path)) else {
            return Ok(None);
        };
        let mut files = BTreeMap::new();
        match entry.kind() {
            Some(ObjectType::Blob) => {
                let blob = repo.find_blob(entry.id()).map_err(failed)?;
                let name = item.path.rsplit('/').next().unwrap_or(&item.path);
                files.insert(name.to_string(), blob.content().to_vec());
            }
            Some(ObjectType::Tree) => {
                let tree = repo.find_tree(entry.id()).map_err(failed)?;
                tree.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                    if e.kind() == Some(ObjectType::Blob)
                        && e.filemode() != 0o120000
                        && let (Some(name), Ok(blob)) = (e.name(), repo.find_blob(e.id()))
                    {
                        files.insert(format!("{dir}{name}"), blob.content().to_vec());
                    }
                    git2::TreeWalkResult::Ok
                })
                .map_err(failed)?;
            }
            _ => return Ok(None),
        }
        Ok(Some(files))
    }
}

/// The git ref the mirror keeps the fetched commit under.
const FETCHED: &str = "refs/skillmeat/fetched";

/// An entry of a type folder as an artifact: its name and whether it is a single file.
fn recognise(
    repo: &Repository,
    t: ArtifactType,
    file_name: &str,
    e: &git2::TreeEntry<'_>,
) -> Option<(String, bool)> {
    if file_name.starts_with('.') || e.filemode() == 0o120000 {
        return None;
    }
    match (t, e.kind()?) {
        (ArtifactType::Skill, ObjectType::Tree) => {
            let tree = repo.find_tree(e.id()).ok()?;
            main_document_names(t)
                .iter()
                .any(|n| tree.get_name(n).is_some())
                .then(|| (file_name.to_string(), false))
        }
        (ArtifactType::Command | ArtifactType::Agent, ObjectType::Blob) => file_name
            .strip_suffix(".md")
            .map(|stem| (stem.to_string(), true)),
        (ArtifactType::Hook | ArtifactType::Mcp, ObjectType::Tree) => {
            Some((file_name.to_string(), false))
        }
        (ArtifactType::Hook | ArtifactType::Mcp, ObjectType::Blob) => {
            let stem = entry_name(t, file_name);
            (stem != file_name).then(|| (stem.to_string(), true))
        }
        _ => None,
    }
}

/// The collection a configured repository is served as: its `name`, else the repository's.
pub fn collection_name(settings: &GitSourceSettings) -> String {
    if settings.name.is_empty() {
        repo_name(&settings.url).unwrap_or_else(|| "git".into())
    } else {
        settings.name.clone()
    }
}

/// The repository's name from its URL (`.../skills.git` is `skills`).
fn repo_name(url: &str) -> Option<String> {
    let last = url.trim_end_matches('/').rsplit(['/', ':']).next()?;
    let name = last.trim_end_matches(".git");
    validate_name(name).ok().map(|()| name.to_string())
}

/// Hash order: path component by component, as SkillMeat walks a folder.
fn in_hash_order(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&String, &Vec<u8>)> {
    let mut ordered: Vec<_> = files.iter().collect();
    ordered.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    ordered
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SourceError::Task(e.to_string()))?
}

#[async_trait::async_trait]
impl ArtifactSource for GitSource {
    fn kind(&self) -> &'static str {
        "git"
    }

    async fn collections(&self) -> Result<Vec<String>, SourceError> {
        Ok(vec![self.inner.collection.clone()])
    }

    async fn list(&self) -> Result<Vec<SourceItem>, SourceError> {
        let this = self.clone();
        blocking(move || this.items_blocking()).await
    }

    async fn locate(&self, id: &ArtifactId) -> Result<Option<SourceItem>, SourceError> {
        let id = id.to_string();
        Ok(self.list().await?.into_iter().find(|i| i.artifact_id == id))
    }

    async fn read(&self, item: &SourceItem) -> Result<Option<SourceArtifact>, SourceError> {
        let this = self.clone();
        let item = item.clone();
        blocking(move || {
            let Some(files) = this.files_blocking(&item)? else {
                return Ok(None);
            };
            let main = if item.is_file {
                files.values().next()
            } else {
                main_document_names(item.artifact_type)
                    .iter()
                    .find_map(|n| files.get(*n))
            };
            let doc = main.map(|b| parse_document(b)).unwrap_or_default();
            let content_hash = hash::hash_of_files(&files, !item.is_file);
            let listed: Vec<ArtifactFile> = in_hash_order(&files)
                .into_iter()
                .map(|(path, bytes)| ArtifactFile {
                    path: path.clone(),
                    size: bytes.len() as u64,
                })
                .collect();
            Ok(Some(SourceArtifact {
                item,
                metadata: doc.metadata,
                frontmatter: doc.frontmatter,
                frontmatter_error: doc.frontmatter_error,
                total_size: listed.iter().map(|f| f.size).sum(),
                files: listed,
                content_hash,
            }))
        })
        .await
    }

    async fn read_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let this = self.clone();
        let (item, rel) = (item.clone(), relative_path.to_string());
        blocking(move || {
            Ok(this.files_blocking(&item)?.and_then(|mut files| {
                files.remove(&rel).map(|mut bytes| {
                    bytes.truncate(max_bytes as usize + 1);
                    bytes
                })
            }))
        })
        .await
    }

    async fn copy_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let this = self.clone();
        let (item, rel, dest) = (item.clone(), relative_path.to_string(), dest.to_path_buf());
        blocking(move || {
            let bytes = this
                .files_blocking(&item)?
                .and_then(|mut f| f.remove(&rel))
                .ok_or_else(|| SourceError::Io {
                    path: format!("{}/{rel}", item.path),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "not a file of the artifact",
                    ),
                })?;
            std::fs::write(&dest, bytes).map_err(|e| SourceError::Io {
                path: dest.display().to_string(),
                source: e,
            })
        })
        .await
    }
}
