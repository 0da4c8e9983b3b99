//! Editing an artifact in place: one file written or deleted, checked against the content
//! hash the editor read (`If-Match`), and the new hash recorded in `collection.lock`.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::files::checked_path;
use super::{AuthoringError, AuthoringService, blocking};
use crate::atomic;
use crate::source::{ArtifactId, SourceItem, hash, lockfile};

/// An artifact's place in a writable collection folder.
#[derive(Debug, Clone)]
pub struct Located {
    /// The artifact as its source lists it.
    pub item: SourceItem,
    /// The collection folder.
    pub dir: PathBuf,
    /// The artifact's folder or file.
    pub root: PathBuf,
}

/// What an edit left.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The artifact's content hash now (its new `ETag`).
    pub content_hash: String,
}

/// The tag an `If-Match` header carries: `"<hash>"`, `W/"<hash>"` or the bare hash.
pub fn tag_value(header: &str) -> &str {
    let h = header.trim();
    let h = h.strip_prefix("W/").unwrap_or(h);
    h.trim_matches('"')
}

impl AuthoringService {
    /// Where artifact `id` lives, when it is in a collection folder this server may write.
    pub(crate) async fn locate_writable(&self, id: &ArtifactId) -> Result<Located, AuthoringError> {
        let item = self
            .inner
            .cache
            .source()
            .locate(id)
            .await
            .map_err(crate::cache::CacheError::from)?
            .ok_or_else(|| AuthoringError::NotFound(format!("Artifact '{id}' not found")))?;
        let dir = self.collection_dir(&item.collection)?;
        let rel = crate::source::filesystem::safe_relative(&item.path).ok_or_else(|| {
            AuthoringError::Conflict(format!("'{}' is not a usable path", item.path))
        })?;
        let root = dir.join(rel);
        let real = std::fs::symlink_metadata(&root).is_ok_and(|m| !m.file_type().is_symlink());
        if !dir.is_dir() || !real {
            return Err(AuthoringError::Conflict(format!(
                "{id} comes from collection '{}', which this server cannot write (a read-only \
                 source, or a linked folder)",
                item.collection
            )));
        }
        Ok(Located { item, dir, root })
    }

    /// Writes `content` to file `path` of artifact `id` when `if_match` is its content hash.
    pub async fn write_file(
        &self,
        id: &ArtifactId,
        path: &str,
        content: String,
        if_match: Option<&str>,
    ) -> Result<Edited, AuthoringError> {
        let tag = if_match
            .map(tag_value)
            .ok_or(AuthoringError::TagRequired)?
            .to_string();
        let rel = checked_path(path)?;
        if content.len() as u64 > self.inner.limits.max_total_bytes {
            return Err(AuthoringError::TooLarge(format!(
                "the file is larger than {} bytes (artifacts.max_total_bytes)",
                self.inner.limits.max_total_bytes
            )));
        }
        let at = self.locate_writable(id).await?;
        let target = file_in(&at, &rel, true)?;
        self.edit(id, at, Some(tag), move |_| {
            atomic::write_text(&target, &content).map_err(|e| AuthoringError::Io {
                path: target.clone(),
                source: e,
            })?;
            Ok(vec![target])
        })
        .await
    }

    /// Deletes file `path` of artifact `id` (checked against `if_match` when given). The main
    /// document and the one file of a single-file artifact stay: delete the artifact instead.
    pub async fn delete_file(
        &self,
        id: &ArtifactId,
        path: &str,
        if_match: Option<&str>,
    ) -> Result<Edited, AuthoringError> {
        let rel = checked_path(path)?;
        let at = self.locate_writable(id).await?;
        if at.item.is_file
            || crate::source::layout::main_document(id.artifact_type, &at.root)
                .is_some_and(|m| m == at.root.join(&rel))
        {
            return Err(AuthoringError::Conflict(format!(
                "'{rel}' is the artifact's main document; delete the artifact instead"
            )));
        }
        let target = file_in(&at, &rel, false)?;
        if !target.is_file() {
            return Err(AuthoringError::NotFound(format!(
                "{id} has no file '{rel}'"
            )));
        }
        self.edit(
            id,
            at,
            if_match.map(|t| tag_value(t).to_string()),
            move |_| {
                std::fs::remove_file(&target).map_err(|e| AuthoringError::Io {
                    path: target.clone(),
                    source: e,
                })?;
                Ok(vec![target])
            },
        )
        .await
    }

    /// Runs `change` under the artifact's lock when its hash is still `tag`, then records the
    /// new hash in the lock file and brings the cache up to date.
    async fn edit(
        &self,
        id: &ArtifactId,
        at: Located,
        tag: Option<String>,
        change: impl FnOnce(&Path) -> Result<Vec<PathBuf>, AuthoringError> + Send + 'static,
    ) -> Result<Edited, AuthoringError> {
        let _guard = self.inner.collections.manifest_lock.lock().await;
        let item = at.item.clone();
        let (content_hash, mut paths) = blocking(move || {
            let _lock = crate::skillmeat_lock::acquire_blocking(&at.root)
                .map_err(|e| AuthoringError::Conflict(format!("{}: {e}", at.root.display())))?;
            let io = |e| AuthoringError::Io {
                path: at.root.clone(),
                source: e,
            };
            let current = hash::content_hash(&at.root).map_err(io)?;
            // `If-Match: *` asks only that the artifact exists.
            if let Some(tag) = tag
                && tag != "*"
                && tag != current
            {
                return Err(AuthoringError::Stale { current });
            }
            let mut paths = change(&at.root)?;
            let new_hash = hash::content_hash(&at.root).map_err(io)?;
            lockfile::set_content_hash(
                &at.dir,
                &item.name,
                item.artifact_type.as_str(),
                &new_hash,
                Utc::now(),
            )
            .map_err(|e| AuthoringError::Io {
                path: at.dir.join(lockfile::LOCK_FILE),
                source: e,
            })?;
            paths.push(at.dir.join(lockfile::LOCK_FILE));
            Ok((new_hash, paths))
        })
        .await?;
        drop(_guard);
        paths.dedup();
        self.written(id, &paths).await?;
        Ok(Edited { content_hash })
    }
}

/// The file at `rel` inside the artifact; for a single-file artifact only its own name. No
/// part of the way may be a link (a write through one could leave the artifact).
fn file_in(at: &Located, rel: &str, creating: bool) -> Result<PathBuf, AuthoringError> {
    if at.item.is_file {
        let own = at
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        if own.as_deref() != Some(rel) {
            return Err(AuthoringError::NotFound(format!(
                "this artifact is the one file '{}'",
                own.unwrap_or_default()
            )));
        }
        return Ok(at.root.clone());
    }
    let mut walked = at.root.clone();
    for part in rel.split('/') {
        walked.push(part);
        match std::fs::symlink_metadata(&walked) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(AuthoringError::BadRequest(format!(
                    "'{rel}' goes through a symbolic link; it is not written through"
                )));
            }
            Ok(_) => {}
            Err(_) if creating => break,
            Err(_) => {
                return Err(AuthoringError::NotFound(format!("no file '{rel}'")));
            }
        }
    }
    Ok(at.root.join(rel))
}
