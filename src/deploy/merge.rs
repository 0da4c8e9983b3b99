//! Merge: the collection's current version combined with a deployment's project copy, from
//! the deployment's base (the snapshot of what was deployed). A clean merge is written into
//! the project through a staging copy swapped into place; the base becomes the collection's
//! version, so local edits kept on top show as `modified`.

use std::collections::BTreeMap;

use super::diff::{MAX_READ_BYTES, copy_path, read_project_copy, same_file_key};
use super::three_way::{self, Conflict, Outcome, Side};
use super::*;

/// What a merge did.
#[derive(Debug, Clone)]
pub enum MergeOutcome {
    /// Merged and written (or nothing needed writing).
    Merged {
        /// The deployment now.
        deployment: Box<deployments::Model>,
        /// How each file came out, by path.
        files: BTreeMap<String, Outcome>,
        /// False when the project copy already was the merge's result.
        written: bool,
    },
    /// Files that do not combine; nothing was written.
    Conflicts(Vec<Conflict>),
}

impl DeployService {
    /// Merges the collection's version into deployment `id`'s project copy, settling
    /// conflicting files as `resolve` says (`ours`: the project copy, `theirs`: the
    /// collection). Refused (409) when no base content is kept for the deployment.
    pub async fn merge(
        &self,
        id: &str,
        resolve: &BTreeMap<String, Side>,
    ) -> Result<MergeOutcome, DeployError> {
        let row = self.find_deployment(id).await?;
        self.inner.roots.check_known(&row.project_path)?;
        let artifact_id = ArtifactId::parse(&row.artifact_id).map_err(DeployError::BadRequest)?;
        let collection = self.fresh_artifact(&artifact_id).await?.item.collection;
        // The project's turn, then the collection's (as a push takes them), so the collection's
        // version is not replaced by a push while it is read.
        let _guard = self.lock_project(&row.project_id).await?;
        let _collection = self
            .lock_project(&format!("collection\0{collection}"))
            .await?;
        let artifact = self.fresh_artifact(&artifact_id).await?;
        let row = self.recheck_model(self.find_deployment(id).await?).await?;
        let copy = copy_path(&row)?;
        if row.local_hash.is_none() {
            self.save(row, true).await?;
            return Err(DeployError::Conflict(format!(
                "Deployment '{id}' has no project copy to merge into (its files are missing); \
                 update it to deploy the collection's version again"
            )));
        }
        let Some(base) = self
            .inner
            .snapshots
            .files(&row.recorded_hash)
            .map_err(io("reading the deployment's base"))?
        else {
            return Err(DeployError::Conflict(format!(
                "No base content is kept for deployment '{id}' (its copy was already edited when \
                 this server first saw it), so the two sides cannot be merged. Push the \
                 project copy, or take the collection's version (update with force), after \
                 looking at the diff"
            )));
        };
        let theirs = self.collection_files(&artifact).await?;
        if theirs.values().any(|b| b.len() as u64 > MAX_READ_BYTES) {
            return Err(DeployError::Conflict(format!(
                "'{artifact_id}' has a file over {} MiB; it is not merged",
                MAX_READ_BYTES / (1024 * 1024)
            )));
        }
        // Read file by file: what was read must be the version hashed, not a mix of two.
        if hash::hash_of_files(&theirs, !artifact.item.is_file) != artifact.content_hash {
            return Err(DeployError::Conflict(format!(
                "The collection's {artifact_id} changed while it was read; try again"
            )));
        }
        let ours = same_file_key(read_project_copy(&copy).await?, &copy, &theirs);
        let base = same_file_key(base, &copy, &theirs);
        if let Some(unknown) = resolve
            .keys()
            .find(|p| !base.contains_key(*p) && !ours.contains_key(*p) && !theirs.contains_key(*p))
        {
            return Err(DeployError::BadRequest(format!(
                "resolve names '{}', which is not a file of either side",
                printable(unknown)
            )));
        }
        let merged = three_way::merge(&base, &ours, &theirs, resolve);
        if !merged.conflicts.is_empty() {
            self.save(row, true).await?;
            return Ok(MergeOutcome::Conflicts(merged.conflicts));
        }
        let written = merged.files != ours;
        if written {
            self.write_merged(&row, &copy, &merged.files).await?;
        }
        if let Err(e) = self
            .inner
            .snapshots
            .keep_files(&theirs, &artifact.content_hash)
        {
            tracing::warn!(artifact = %artifact_id, error = %e, "could not keep a snapshot of the collection's version");
        }
        let saved = self.rebase(row, &artifact.content_hash, None).await?;
        self.bump_version().await?;
        self.inner.events.publish(ServerEvent::DeploymentMerged {
            deployment_id: saved.id.clone(),
            project_id: saved.project_id.clone(),
            artifact_id: saved.artifact_id.clone(),
            status: saved.status.clone(),
        });
        Ok(MergeOutcome::Merged {
            deployment: Box::new(saved),
            files: merged.outcomes,
            written,
        })
    }

    /// Writes the merged files as the project copy: staged beside it, swapped into place.
    async fn write_merged(
        &self,
        row: &deployments::Model,
        copy: &Path,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), DeployError> {
        let project_root = PathBuf::from(&row.project_path);
        ensure_inside_project(&project_root, copy)?;
        let single_file = copy.is_file();
        let _lock = write_lock(copy).await?;
        let staging = crate::atomic::staging_path(copy);
        let (staging_for_write, files) = (staging.clone(), files.clone());
        let staged = tokio::task::spawn_blocking(move || {
            crate::atomic::write_files(&staging_for_write, &files, single_file)
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "writing the merged copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if let Err(e) = staged {
            remove_path(&staging);
            return Err(DeployError::Io {
                context: "writing the merged copy".into(),
                source: e,
            });
        }
        swap_into_place(&staging, copy)?;
        self.inner.own_writes.note(&[copy.to_path_buf(), staging]);
        Ok(())
    }
}
