//! The blocking write of a whole artifact into a collection: staged, renamed (or swapped) into
//! place, listed in `collection.toml`, hashed into `collection.lock`; undone on any failure.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{AuthoringError, FileSet};
use crate::atomic;
use crate::source::lockfile::{self, LockUpstream};
use crate::source::manifest::read_manifest;
use crate::source::manifest_edit::{self, MANIFEST_FILE, NewEntry};

/// What a write did.
#[derive(Debug, Clone)]
pub struct Placed {
    /// SkillMeat's content hash of what is now in place.
    pub content_hash: String,
    /// Every path written (for the watcher to ignore).
    pub paths: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthoringError + '_ {
    move |source| AuthoringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn lock(target: &Path) -> Result<crate::skillmeat_lock::WriteLock, AuthoringError> {
    crate::skillmeat_lock::acquire_blocking(target).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => AuthoringError::Conflict(e.to_string()),
        _ => io(target)(e),
    })
}

/// Whether the manifest in `dir` lists `name` of `artifact_type`.
pub(super) fn listed(dir: &Path, name: &str, artifact_type: &str) -> bool {
    read_manifest(&dir.join(MANIFEST_FILE))
        .ok()
        .flatten()
        .is_some_and(|m| {
            m.entries
                .iter()
                .any(|e| e.name == name && e.artifact_type == artifact_type)
        })
}

/// Writes `set` as the artifact `entry` describes into collection folder `dir` (created when
/// missing). An artifact already there is a conflict unless `overwrite`. The lock entry records
/// `upstream` when given.
pub(super) fn place(
    dir: &Path,
    collection: &str,
    set: &FileSet,
    entry: &NewEntry,
    overwrite: bool,
    upstream: Option<&LockUpstream>,
) -> Result<Placed, AuthoringError> {
    let rel = crate::source::filesystem::safe_relative(&entry.path)
        .ok_or_else(|| AuthoringError::BadRequest(format!("unusable path '{}'", entry.path)))?;
    let root = dir.join(rel);
    let parent = root.parent().unwrap_or(dir).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let manifest = dir.join(MANIFEST_FILE);
    let _manifest_lock = lock(&manifest)?;
    let _root_lock = lock(&root)?;
    let exists = std::fs::symlink_metadata(&root).is_ok();
    if !overwrite && (exists || listed(dir, &entry.name, &entry.artifact_type)) {
        return Err(AuthoringError::Conflict(format!(
            "collection '{collection}' already has {}:{}; send \"overwrite\": true to replace it",
            entry.artifact_type, entry.name
        )));
    }
    if exists && std::fs::symlink_metadata(&root).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(AuthoringError::Conflict(format!(
            "{} is a symbolic link; it is not written through",
            root.display()
        )));
    }
    atomic::sweep_stale_staging(&parent);
    let staging = atomic::staging_path(&root);
    let staged = atomic::write_files(&staging, &set.files, set.single_file)
        .and_then(|()| crate::source::hash::content_hash(&staging));
    let content_hash = match staged {
        Ok(h) => h,
        Err(e) => {
            atomic::remove_path(&staging);
            return Err(io(&staging)(e));
        }
    };
    let old_manifest = std::fs::read_to_string(&manifest).ok();
    let old_lock = std::fs::read_to_string(dir.join(lockfile::LOCK_FILE)).ok();
    // Into place: a rename for a new artifact, an exchange for a replaced one (whose old
    // content then sits at the staging path until the rest succeeded).
    let moved = if exists {
        atomic::swap_into_place(&staging, &root)
    } else {
        std::fs::rename(&staging, &root)
    };
    if let Err(e) = moved {
        atomic::remove_path(&staging);
        return Err(io(&root)(e));
    }
    let now = Utc::now();
    let recorded = manifest_edit::upsert_entry(dir, collection, entry, now).and_then(|()| {
        lockfile::set_entry(
            dir,
            &entry.name,
            &entry.artifact_type,
            &content_hash,
            now,
            upstream,
        )
    });
    if let Err(e) = recorded {
        // Undo: the old content back (or the new removed), the files as they were.
        if exists {
            let _ = atomic::swap_into_place(&staging, &root);
        } else {
            atomic::remove_path(&root);
        }
        atomic::remove_path(&staging);
        restore_text(&manifest, old_manifest.as_deref());
        restore_text(&dir.join(lockfile::LOCK_FILE), old_lock.as_deref());
        return Err(io(&manifest)(e));
    }
    atomic::remove_path(&staging);
    Ok(Placed {
        content_hash,
        paths: vec![root, staging, manifest, dir.join(lockfile::LOCK_FILE)],
    })
}

/// Puts a file back as it was before a failed write (removed when it did not exist).
pub(super) fn restore_text(file: &Path, old: Option<&str>) {
    let result = match old {
        Some(text) => atomic::write_text(file, text),
        None => std::fs::remove_file(file).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        }),
    };
    if let Err(e) = result {
        tracing::error!(file = %file.display(), error = %e, "could not undo a failed write");
    }
}
