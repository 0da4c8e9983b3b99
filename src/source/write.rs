//! Writing into a collection folder: an artifact's content replaced by a staged copy swapped
//! into place atomically, and its new hash recorded in `collection.lock`, as SkillMeat's
//! `sync-pull` does.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::filesystem::FilesystemSource;
use super::{SourceError, SourceItem, hash, lockfile};
use crate::atomic;

impl FilesystemSource {
    /// See [`super::ArtifactSource::replace_content`].
    pub(super) fn replace_content_blocking(
        &self,
        item: &SourceItem,
        root: &Path,
        from: &Path,
        expected_hash: &str,
    ) -> Result<Vec<PathBuf>, SourceError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| SourceError::Io { path, source }
        };
        // Never through a link: the artifact's own path must be a real folder or file.
        let meta = std::fs::symlink_metadata(root).map_err(io(root))?;
        if meta.file_type().is_symlink() {
            return Err(SourceError::Changed(format!(
                "{} is a symbolic link; it is not written through",
                root.display()
            )));
        }
        // SkillMeat's lock on the artifact's folder, from the staging copy to the rename.
        let _lock = crate::skillmeat_lock::acquire_blocking(root).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => SourceError::Changed(e.to_string()),
            _ => io(root)(e),
        })?;
        if let Some(parent) = root.parent() {
            atomic::sweep_stale_staging(parent);
        }
        let staging = atomic::staging_path(root);
        let staged =
            stage_copy(from, &staging, item.is_file).and_then(|()| hash::content_hash(&staging));
        let staged_hash = match staged {
            Ok(h) => h,
            Err(e) => {
                atomic::remove_path(&staging);
                return Err(io(from)(e));
            }
        };
        if staged_hash != expected_hash {
            atomic::remove_path(&staging);
            return Err(SourceError::Changed(format!(
                "{} changed while it was being copied; try again",
                from.display()
            )));
        }
        atomic::swap_into_place(&staging, root).map_err(io(root))?;
        let collection_dir = self.collections_dir().join(&item.collection);
        // The content is in place; a lock that cannot be written is said, not undone (as in
        // SkillMeat, the lock is a record of what is there).
        if let Err(e) = lockfile::set_content_hash(
            &collection_dir,
            &item.name,
            item.artifact_type.as_str(),
            expected_hash,
            Utc::now(),
        ) {
            tracing::warn!(artifact = %item.artifact_id, error = %e, "could not update collection.lock");
        }
        Ok(vec![
            root.to_path_buf(),
            staging,
            collection_dir.join(lockfile::LOCK_FILE),
        ])
    }
}

/// Copies `from` (a folder, or one file when `single_file`) to `staging`, links skipped.
fn stage_copy(from: &Path, staging: &Path, single_file: bool) -> std::io::Result<()> {
    let files = hash::list_files(from)?;
    if single_file {
        let [only] = files.as_slice() else {
            return Err(std::io::Error::other(
                "a single-file artifact must be replaced by exactly one file",
            ));
        };
        std::fs::copy(&only.absolute_path, staging)?;
        return Ok(());
    }
    std::fs::create_dir_all(staging)?;
    for f in &files {
        let target = staging.join(&f.relative_path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&f.absolute_path, &target)?;
    }
    Ok(())
}
