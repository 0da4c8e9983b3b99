//! Deleted artifacts: moved to `<data_home>/trash/<time>/<collection>/<path>` with an
//! `entry.json` holding their manifest and lock entries, so a restore puts back exactly what
//! was there. Entries older than `trash.keep_days` are purged by the purge job.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::write::restore_text;
use super::{AuthoringError, AuthoringService, blocking};
use crate::source::manifest_edit::{self, MANIFEST_FILE};
use crate::source::{ArtifactId, lockfile, validate_name};

/// The file in each trash entry that says what it holds.
const ENTRY_FILE: &str = "entry.json";

/// One deleted artifact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrashEntry {
    /// The entry's folder name (its id).
    #[serde(default)]
    pub id: String,
    /// `type:name`.
    pub artifact_id: String,
    /// The collection it was deleted from.
    pub collection: String,
    /// Its path in that collection.
    pub path: String,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
    /// Its `[[artifacts]]` entry, as TOML text.
    pub manifest_entry: Option<String>,
    /// Its `collection.lock` entry, as TOML text.
    pub lock_entry: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthoringError + '_ {
    move |source| AuthoringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl AuthoringService {
    /// Moves artifact `id` (its copy in its collection) to the trash and drops its manifest
    /// and lock entries. Its deployments stay where they are (orphaned).
    pub async fn delete(&self, id: &ArtifactId) -> Result<TrashEntry, AuthoringError> {
        let at = self.locate_writable(id).await?;
        let trash = self.trash_dir();
        let _guard = self.inner.collections.manifest_lock.lock().await;
        let artifact_id = id.clone();
        let (entry, paths) = blocking(move || {
            let manifest = at.dir.join(MANIFEST_FILE);
            let _manifest_lock = crate::skillmeat_lock::acquire_blocking(&manifest)
                .map_err(|e| AuthoringError::Conflict(e.to_string()))?;
            let _lock = crate::skillmeat_lock::acquire_blocking(&at.root)
                .map_err(|e| AuthoringError::Conflict(e.to_string()))?;
            let now = Utc::now();
            let (entry_id, folder) = new_entry_folder(&trash, now)?;
            let dest = folder.join(&at.item.collection).join(&at.item.path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            let old_manifest = std::fs::read_to_string(&manifest).ok();
            let old_lock = std::fs::read_to_string(at.dir.join(lockfile::LOCK_FILE)).ok();
            let kind = at.item.artifact_type.as_str();
            let lock_entry = lockfile::entry_text(&at.dir, &at.item.name, kind);
            std::fs::rename(&at.root, &dest).map_err(io(&at.root))?;
            let entry = TrashEntry {
                id: entry_id,
                artifact_id: artifact_id.to_string(),
                collection: at.item.collection.clone(),
                path: at.item.path.clone(),
                deleted_at: now,
                manifest_entry: None,
                lock_entry,
            };
            let dropped =
                manifest_edit::remove_entry(&at.dir, &at.item.collection, &at.item.name, kind, now)
                    .and_then(|manifest_entry| {
                        lockfile::remove_entry(&at.dir, &at.item.name, kind)?;
                        let entry = TrashEntry {
                            manifest_entry,
                            ..entry
                        };
                        let json =
                            serde_json::to_string_pretty(&entry).map_err(std::io::Error::other)?;
                        crate::atomic::write_text(&folder.join(ENTRY_FILE), &json)?;
                        Ok(entry)
                    });
            match dropped {
                Ok(entry) => Ok((
                    entry,
                    vec![at.root.clone(), manifest, at.dir.join(lockfile::LOCK_FILE)],
                )),
                Err(e) => {
                    let _ = std::fs::rename(&dest, &at.root);
                    restore_text(&manifest, old_manifest.as_deref());
                    restore_text(&at.dir.join(lockfile::LOCK_FILE), old_lock.as_deref());
                    crate::atomic::remove_path(&folder);
                    Err(io(&manifest)(e))
                }
            }
        })
        .await?;
        drop(_guard);
        self.written(id, &paths).await?;
        Ok(entry)
    }

    /// Every trash entry, newest first.
    pub async fn trash(&self) -> Result<Vec<TrashEntry>, AuthoringError> {
        let trash = self.trash_dir();
        blocking(move || Ok(read_entries(&trash))).await
    }

    /// Puts trash entry `entry_id` back where it was deleted from (409 when something of that
    /// id took its place meanwhile).
    pub async fn restore(&self, entry_id: &str) -> Result<TrashEntry, AuthoringError> {
        validate_name(entry_id)
            .map_err(|_| AuthoringError::NotFound(format!("no trash entry '{entry_id}'")))?;
        let folder = self.trash_dir().join(entry_id);
        let entry = read_entry(&folder)
            .ok_or_else(|| AuthoringError::NotFound(format!("no trash entry '{entry_id}'")))?;
        let id = ArtifactId::parse(&entry.artifact_id).map_err(AuthoringError::Conflict)?;
        let dir = self.collection_dir(&entry.collection)?;
        let rel = crate::source::filesystem::safe_relative(&entry.path)
            .ok_or_else(|| AuthoringError::Conflict(format!("unusable path '{}'", entry.path)))?;
        let _guard = self.inner.collections.manifest_lock.lock().await;
        let kept = entry.clone();
        let paths = blocking(move || {
            let root = dir.join(&rel);
            let from = folder.join(&kept.collection).join(&rel);
            if std::fs::symlink_metadata(&root).is_ok() {
                return Err(AuthoringError::Conflict(format!(
                    "{} is back in collection '{}' already; delete or rename it first",
                    kept.artifact_id, kept.collection
                )));
            }
            let parent = root.parent().unwrap_or(&dir).to_path_buf();
            std::fs::create_dir_all(&parent).map_err(io(&parent))?;
            let manifest = dir.join(MANIFEST_FILE);
            let _manifest_lock = crate::skillmeat_lock::acquire_blocking(&manifest)
                .map_err(|e| AuthoringError::Conflict(e.to_string()))?;
            std::fs::rename(&from, &root).map_err(io(&from))?;
            let now = Utc::now();
            let name = id.name.clone();
            let kind = id.artifact_type.as_str();
            let recorded = (|| {
                if let Some(text) = &kept.manifest_entry {
                    manifest_edit::restore_entry(&dir, &kept.collection, text, now)?;
                }
                if let Some(text) = &kept.lock_entry {
                    lockfile::restore_entry(&dir, &name, kind, text)?;
                }
                Ok::<_, std::io::Error>(())
            })();
            if let Err(e) = recorded {
                let _ = std::fs::rename(&root, &from);
                return Err(io(&manifest)(e));
            }
            crate::atomic::remove_path(&folder);
            Ok(vec![root, manifest, dir.join(lockfile::LOCK_FILE)])
        })
        .await?;
        drop(_guard);
        self.written(
            &ArtifactId::parse(&entry.artifact_id).map_err(AuthoringError::Conflict)?,
            &paths,
        )
        .await?;
        Ok(entry)
    }

    /// Removes trash entries deleted longer ago than `trash.keep_days`; returns how many.
    pub async fn purge_trash(&self) -> Result<u64, AuthoringError> {
        let trash = self.trash_dir();
        let cutoff = Utc::now() - self.inner.trash_keep;
        blocking(move || {
            let mut purged = 0;
            for entry in read_entries(&trash) {
                if entry.deleted_at < cutoff {
                    crate::atomic::remove_path(&trash.join(&entry.id));
                    purged += 1;
                }
            }
            Ok(purged)
        })
        .await
    }
}

/// A new, unused entry folder named for `now`.
fn new_entry_folder(trash: &Path, now: DateTime<Utc>) -> Result<(String, PathBuf), AuthoringError> {
    std::fs::create_dir_all(trash).map_err(io(trash))?;
    let base = now.format("%Y%m%dT%H%M%S%6fZ").to_string();
    for n in 0..1000 {
        let id = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let folder = trash.join(&id);
        match std::fs::create_dir(&folder) {
            Ok(()) => return Ok((id, folder)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&folder)(e)),
        }
    }
    Err(AuthoringError::Conflict(
        "too many trash entries at once".into(),
    ))
}

fn read_entry(folder: &Path) -> Option<TrashEntry> {
    let text = std::fs::read_to_string(folder.join(ENTRY_FILE)).ok()?;
    let mut entry: TrashEntry = serde_json::from_str(&text).ok()?;
    entry.id = folder.file_name()?.to_string_lossy().into_owned();
    Some(entry)
}

fn read_entries(trash: &Path) -> Vec<TrashEntry> {
    let Ok(dir) = std::fs::read_dir(trash) else {
        return Vec::new();
    };
    let mut entries: Vec<TrashEntry> = dir
        .filter_map(Result::ok)
        .filter_map(|e| read_entry(&e.path()))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.deleted_at));
    entries
}
