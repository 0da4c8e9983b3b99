//! The filesystem source: SkillMeat's collections under `<data_home>/collections/<name>/`.
//!
//! Each collection's `collection.toml` lists artifacts; a scan of the type folders also finds
//! artifacts that are on disk but missing from the manifest (reported with `in_manifest = false`).
//! When the same `type:name` is in several collections, the data home's default collection
//! (SkillMeat's `config.toml`, else `default`) wins, then collections in name order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::item::{make_item, read_artifact};
pub use super::layout::{ChangedPath, changed_path, safe_relative};
use super::layout::{contained, inside, is_real, recognise, rel_string, type_folders};
use super::manifest::{Manifest, read_manifest};
use super::{
    ArtifactId, ArtifactSource, ArtifactType, SourceArtifact, SourceError, SourceItem,
    validate_name,
};

/// Reads SkillMeat collections from a data home.
#[derive(Debug, Clone)]
pub struct FilesystemSource {
    data_home: Arc<PathBuf>,
    /// Parsed manifests keyed by path, with the modification time and size they were parsed at
    /// (SkillMeat keeps the same per-collection cache): a miss stats the file instead of parsing
    /// it again.
    manifests: Arc<Mutex<HashMap<PathBuf, ParsedManifest>>>,
}

/// A parsed `collection.toml` and the file state it was parsed from.
#[derive(Debug, Clone)]
struct ParsedManifest {
    modified: Option<std::time::SystemTime>,
    len: u64,
    manifest: Arc<Manifest>,
}

impl FilesystemSource {
    /// A source over `<data_home>/collections`.
    pub fn new(data_home: impl Into<PathBuf>) -> Self {
        Self {
            data_home: Arc::new(data_home.into()),
            manifests: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A collection's manifest, parsed again only when the file's modification time or size
    /// changed. `Err` when it exists but cannot be read or parsed; empty when absent.
    fn manifest(&self, collection_dir: &Path) -> Result<Arc<Manifest>, String> {
        let path = collection_dir.join("collection.toml");
        let Ok(meta) = std::fs::metadata(&path) else {
            return Ok(Arc::new(Manifest::default()));
        };
        let modified = meta.modified().ok();
        let mut cache = self.manifests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(&path)
            && hit.modified == modified
            && hit.len == meta.len()
            && modified.is_some()
        {
            return Ok(hit.manifest.clone());
        }
        let manifest = Arc::new(read_manifest(&path)?.unwrap_or_default());
        cache.insert(
            path,
            ParsedManifest {
                modified,
                len: meta.len(),
                manifest: manifest.clone(),
            },
        );
        Ok(manifest)
    }

    /// The folder holding the collections.
    pub fn collections_dir(&self) -> PathBuf {
        self.data_home.join("collections")
    }

    /// A missing `collections/` folder is an empty source; one that exists but cannot be read
    /// (not a folder, no permission) is an error, so a refresh fails instead of dropping every
    /// cached artifact.
    fn check_collections_dir(&self) -> Result<(), SourceError> {
        let dir = self.collections_dir();
        match std::fs::read_dir(&dir) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SourceError::Io {
                path: dir.display().to_string(),
                source,
            }),
        }
    }

    /// Collection folder names, the default collection first, then by name.
    pub fn collection_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.collections_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        let default = self.default_collection_name();
        if let Some(pos) = names.iter().position(|n| *n == default) {
            let d = names.remove(pos);
            names.insert(0, d);
        }
        names
    }

    /// SkillMeat's `[settings] default-collection`, else `default`.
    fn default_collection_name(&self) -> String {
        std::fs::read_to_string(self.data_home.join("config.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| {
                t.get("settings")?
                    .get("default-collection")?
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_else(|| "default".into())
    }

    /// Every artifact of every collection, merged by id.
    fn list_blocking(&self) -> Vec<(SourceItem, PathBuf)> {
        let mut merged: BTreeMap<String, (SourceItem, PathBuf)> = BTreeMap::new();
        for collection in self.collection_names() {
            for (item, root) in self.scan_collection(&collection) {
                match merged.get_mut(&item.artifact_id) {
                    Some((existing, _)) => existing.collections.push(collection.clone()),
                    None => {
                        merged.insert(item.artifact_id.clone(), (item, root));
                    }
                }
            }
        }
        merged.into_values().collect()
    }

    /// One collection: manifest entries first, then what the folder scan adds.
    fn scan_collection(&self, collection: &str) -> Vec<(SourceItem, PathBuf)> {
        let dir = self.collections_dir().join(collection);
        let manifest = match self.manifest(&dir) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(collection, error = %e, "manifest unreadable; scanning folders only");
                Default::default()
            }
        };
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        // Folders the manifest claims: the scan must not report them again under another name.
        let claimed: HashSet<PathBuf> = manifest
            .entries
            .iter()
            .filter_map(|e| safe_relative(&e.path))
            .map(|rel| dir.join(rel))
            .collect();
        for entry in manifest.entries.iter().cloned() {
            let Ok(artifact_type) = entry.artifact_type.parse::<ArtifactType>() else {
                tracing::debug!(collection, name = %entry.name, kind = %entry.artifact_type, "type not served");
                continue;
            };
            if let Err(e) = validate_name(&entry.name) {
                tracing::warn!(collection, error = %e, "skipping manifest entry with an unsafe name");
                continue;
            }
            let Some(rel) = safe_relative(&entry.path) else {
                tracing::warn!(collection, name = %entry.name, path = %entry.path, "skipping manifest entry whose path leaves the collection");
                continue;
            };
            let root = dir.join(&rel);
            if !is_real(&root) {
                tracing::warn!(collection, name = %entry.name, path = %entry.path, "listed in collection.toml but missing on disk");
                continue;
            }
            let name = entry.name.clone();
            if !seen.insert((artifact_type, name.clone())) {
                continue;
            }
            let path = rel_string(&rel);
            if let Some(item) =
                make_item(artifact_type, &name, collection, path, &root, Some(entry))
            {
                items.push((item, root));
            }
        }
        for artifact_type in ArtifactType::ALL {
            for folder in type_folders(artifact_type) {
                let type_dir = dir.join(folder);
                let Ok(entries) = std::fs::read_dir(&type_dir) else {
                    continue;
                };
                let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
                entries.sort_by_key(|e| e.file_name());
                for e in entries {
                    let Some((name, root)) = recognise(artifact_type, &e.path()) else {
                        continue;
                    };
                    if claimed.contains(&root) {
                        continue;
                    }
                    if validate_name(&name).is_err() || !seen.insert((artifact_type, name.clone()))
                    {
                        continue;
                    }
                    let path = format!("{folder}/{}", e.file_name().to_string_lossy());
                    if let Some(item) =
                        make_item(artifact_type, &name, collection, path, &root, None)
                    {
                        items.push((item, root));
                    }
                }
            }
        }
        items
    }

    fn locate_blocking(&self, id: &ArtifactId) -> Option<(SourceItem, PathBuf)> {
        let mut found: Option<(SourceItem, PathBuf)> = None;
        for collection in self.collection_names() {
            if let Some((item, root)) = self.locate_in_collection(&collection, id) {
                match &mut found {
                    Some((existing, _)) => existing.collections.push(collection),
                    None => found = Some((item, root)),
                }
            }
        }
        found
    }

    /// One id in one collection, without scanning the others: its manifest entry, else the
    /// few paths a type folder could hold it at. Same precedence as [`Self::scan_collection`].
    fn locate_in_collection(
        &self,
        collection: &str,
        id: &ArtifactId,
    ) -> Option<(SourceItem, PathBuf)> {
        let dir = self.collections_dir().join(collection);
        let manifest = self.manifest(&dir).unwrap_or_default();
        let claimed: HashSet<PathBuf> = manifest
            .entries
            .iter()
            .filter_map(|e| safe_relative(&e.path))
            .map(|rel| dir.join(rel))
            .collect();
        let listed = manifest.entries.iter().find(|e| {
            e.name == id.name
                && e.artifact_type.parse::<ArtifactType>().ok() == Some(id.artifact_type)
        });
        if let Some(entry) = listed
            && let Some(rel) = safe_relative(&entry.path)
        {
            let root = dir.join(&rel);
            if is_real(&root) {
                let item = make_item(
                    id.artifact_type,
                    &id.name,
                    collection,
                    rel_string(&rel),
                    &root,
                    Some(entry.clone()),
                )?;
                return Some((item, root));
            }
        }
        for folder in type_folders(id.artifact_type) {
            for suffix in ["", ".md", ".json", ".toml", ".yaml", ".yml"] {
                let file_name = format!("{}{suffix}", id.name);
                let candidate = dir.join(folder).join(&file_name);
                if !is_real(&candidate) || claimed.contains(&candidate) {
                    continue;
                }
                if let Some((name, root)) = recognise(id.artifact_type, &candidate)
                    && name == id.name
                {
                    let item = make_item(
                        id.artifact_type,
                        &id.name,
                        collection,
                        format!("{folder}/{file_name}"),
                        &root,
                        None,
                    )?;
                    return Some((item, root));
                }
            }
        }
        None
    }

    /// Where an item lives on disk, re-derived from its collection and path (never trusted
    /// blindly: the path is checked again, and must not lead out of the collection through a
    /// symbolic link anywhere on the way).
    fn root_of(&self, item: &SourceItem) -> Option<PathBuf> {
        validate_name(&item.collection).ok()?;
        let rel = safe_relative(&item.path)?;
        let dir = self.collections_dir().join(&item.collection);
        let root = dir.join(rel);
        contained(&dir, &root).then_some(root)
    }
}

#[async_trait::async_trait]
impl ArtifactSource for FilesystemSource {
    fn kind(&self) -> &'static str {
        "filesystem"
    }

    async fn collections(&self) -> Result<Vec<String>, SourceError> {
        let this = self.clone();
        blocking(move || {
            this.check_collections_dir()?;
            Ok(this.collection_names())
        })
        .await?
    }

    async fn list(&self) -> Result<Vec<SourceItem>, SourceError> {
        let this = self.clone();
        let listed = blocking(move || {
            this.check_collections_dir()?;
            Ok::<_, SourceError>(this.list_blocking())
        })
        .await??;
        Ok(listed.into_iter().map(|(item, _)| item).collect())
    }

    async fn locate(&self, id: &ArtifactId) -> Result<Option<SourceItem>, SourceError> {
        let this = self.clone();
        let id = id.clone();
        let found = blocking(move || this.locate_blocking(&id)).await?;
        Ok(found.map(|(item, _)| item))
    }

    async fn read(&self, item: &SourceItem) -> Result<Option<SourceArtifact>, SourceError> {
        let Some(root) = self.root_of(item) else {
            return Ok(None);
        };
        let item = item.clone();
        blocking(move || read_artifact(item, &root)).await?
    }

    async fn read_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let Some(path) = self.file_path(item, relative_path).await? else {
            return Ok(None);
        };
        blocking(move || {
            let mut bytes = Vec::new();
            match std::fs::File::open(&path)
                .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes))
            {
                Ok(_) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(SourceError::Io {
                    path: path.display().to_string(),
                    source: e,
                }),
            }
        })
        .await?
    }

    async fn copy_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let Some(path) = self.file_path(item, relative_path).await? else {
            return Err(SourceError::Io {
                path: format!("{}/{relative_path}", item.path),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a file of the artifact",
                ),
            });
        };
        let dest = dest.to_path_buf();
        blocking(move || {
            std::fs::copy(&path, &dest)
                .map(|_| ())
                .map_err(|e| SourceError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
        })
        .await?
    }

    async fn replace_content(
        &self,
        item: &SourceItem,
        from: &Path,
        expected_hash: &str,
    ) -> Result<Vec<PathBuf>, SourceError> {
        let Some(root) = self.root_of(item) else {
            return Err(SourceError::Io {
                path: format!("{}/{}", item.collection, item.path),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the artifact is no longer in its collection",
                ),
            });
        };
        let (this, item, from, expected) = (
            self.clone(),
            item.clone(),
            from.to_path_buf(),
            expected_hash.to_string(),
        );
        blocking(move || this.replace_content_blocking(&item, &root, &from, &expected)).await?
    }
}

impl FilesystemSource {
    /// The on-disk path of one file of an artifact, or `None` when the relative path is unsafe,
    /// leaves the artifact, is not a regular file, or does not exist.
    async fn file_path(
        &self,
        item: &SourceItem,
        relative_path: &str,
    ) -> Result<Option<PathBuf>, SourceError> {
        let Some(root) = self.root_of(item) else {
            return Ok(None);
        };
        let Some(rel) = safe_relative(relative_path) else {
            return Ok(None);
        };
        blocking(move || {
            let is_file_artifact = std::fs::symlink_metadata(&root)
                .map(|m| m.is_file())
                .unwrap_or(false);
            let path = if is_file_artifact {
                // A single-file artifact has exactly one file: itself, under its own name.
                if Some(rel.as_os_str()) != root.file_name() {
                    return Ok(None);
                }
                root.clone()
            } else {
                root.join(&rel)
            };
            if !inside(&root, &path) {
                return Ok(None);
            }
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => Ok(Some(path)),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(SourceError::Io {
                    path: path.display().to_string(),
                    source: e,
                }),
            }
        })
        .await?
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SourceError::Task(e.to_string()))
}
