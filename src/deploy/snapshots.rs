//! The content deployed, kept by its SkillMeat hash under `<data home>/cache/deploy-snapshots/`
//! so a later diff (or merge) has the deployment's base: what the project copy and the
//! collection both started from. Written once per hash through a staging folder and a rename;
//! the purge drops those no deployment records any more.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::source::hash;

/// Where snapshots live, relative to the data home.
pub const SNAPSHOT_DIR: &str = "cache/deploy-snapshots";

/// The snapshot folder; cheap to clone.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    root: PathBuf,
}

/// A SkillMeat content hash: 64 lower-case hex characters (anything else never names a folder).
fn is_hash(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl SnapshotStore {
    /// Snapshots under `<data_home>/cache/deploy-snapshots`.
    pub fn new(data_home: &Path) -> Self {
        Self {
            root: data_home.join(SNAPSHOT_DIR),
        }
    }

    fn dir(&self, content_hash: &str) -> Option<PathBuf> {
        is_hash(content_hash).then(|| self.root.join(content_hash))
    }

    /// Keeps the files of `copy` (a deployed folder or file) as the content of
    /// `content_hash`, unless kept already. The copy must hash to `content_hash`.
    pub fn keep(&self, copy: &Path, content_hash: &str) -> std::io::Result<()> {
        self.store(content_hash, |staging| {
            for f in hash::list_files(copy)? {
                let target = staging.join(&f.relative_path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&f.absolute_path, &target)?;
            }
            Ok(())
        })
    }

    /// Keeps `files` (relative path to bytes) as the content of `content_hash`, unless kept
    /// already.
    pub fn keep_files(
        &self,
        files: &BTreeMap<String, Vec<u8>>,
        content_hash: &str,
    ) -> std::io::Result<()> {
        self.store(content_hash, |staging| {
            crate::atomic::write_files(staging, files, false)
        })
    }

    /// Fills a staging folder with `fill` and renames it to the hash's folder.
    fn store(
        &self,
        content_hash: &str,
        fill: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(dir) = self.dir(content_hash) else {
            return Ok(());
        };
        if dir.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.root)?;
        let staging = tempfile::tempdir_in(&self.root)?;
        fill(staging.path())?;
        let staged = staging.keep();
        match std::fs::rename(&staged, &dir) {
            Ok(()) => Ok(()),
            // Kept by another deploy meanwhile: the same content.
            Err(_) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(&staged);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged);
                Err(e)
            }
        }
    }

    /// Whether the content of `content_hash` is kept.
    pub fn has(&self, content_hash: &str) -> bool {
        self.dir(content_hash).is_some_and(|d| d.is_dir())
    }

    /// The files kept for `content_hash` (relative path to bytes), or `None` when there is no
    /// snapshot of it (a copy already edited when this server first saw it).
    pub fn files(&self, content_hash: &str) -> std::io::Result<Option<BTreeMap<String, Vec<u8>>>> {
        let Some(dir) = self.dir(content_hash).filter(|d| d.is_dir()) else {
            return Ok(None);
        };
        let mut out = BTreeMap::new();
        for f in hash::list_files(&dir)? {
            out.insert(f.relative_path, std::fs::read(&f.absolute_path)?);
        }
        Ok(Some(out))
    }

    /// Removes the snapshots whose hash is not in `keep`; returns how many went.
    pub fn purge_except(&self, keep: &HashSet<String>) -> std::io::Result<u64> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hash folders only: a staging folder may belong to a deploy under way.
            if is_hash(&name)
                && !keep.contains(&name)
                && entry.file_type().is_ok_and(|t| t.is_dir())
            {
                std::fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A deployed copy's files (relative path to bytes), as [`SnapshotStore::files`] gives them.
pub fn read_copy(copy: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for f in hash::list_files(copy)? {
        out.insert(f.relative_path, std::fs::read(&f.absolute_path)?);
    }
    Ok(out)
}

impl super::DeployService {
    /// Drops the snapshots no deployment records any more; returns how many went.
    pub async fn purge_snapshots(&self) -> Result<u64, super::DeployError> {
        use sea_orm::{EntityTrait, QuerySelect};
        let keep: HashSet<String> = entity::deployments::Entity::find()
            .select_only()
            .column(entity::deployments::Column::RecordedHash)
            .distinct()
            .into_tuple::<String>()
            .all(self.db())
            .await?
            .into_iter()
            .collect();
        let store = self.inner.snapshots.clone();
        tokio::task::spawn_blocking(move || store.purge_except(&keep))
            .await
            .map_err(|e| super::DeployError::Io {
                context: "purging snapshots".into(),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(|e| super::DeployError::Io {
                context: "purging snapshots".into(),
                source: e,
            })
    }
}
