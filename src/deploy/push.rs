//! Push: a deployment's project copy written back into its collection (the artifact's folder
//! or file swapped atomically, `collection.lock` updated), as SkillMeat's `sync-pull` does.
//! The deployment is then synced and the artifact's other deployments outdated.

use super::diff::copy_path;
use super::*;

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    /// The deployment now.
    pub deployment: deployments::Model,
    /// False when the collection already held the project copy's content.
    pub pushed: bool,
    /// The other deployments of the artifact whose status changed, with their new status.
    pub others: Vec<StatusChange>,
}

impl DeployService {
    /// Writes deployment `id`'s project copy into its collection. Refused (409) when the
    /// collection changed since the copy's base, so nothing of the collection is lost: merge
    /// the collection's version into the project first.
    pub async fn push(&self, id: &str) -> Result<PushOutcome, DeployError> {
        let row = self.find_deployment(id).await?;
        self.inner.roots.check_known(&row.project_path)?;
        let artifact_id = ArtifactId::parse(&row.artifact_id).map_err(DeployError::BadRequest)?;
        let collection = self.fresh_artifact(&artifact_id).await?.item.collection;
        // The project's turn, then the collection's (always in this order, so two pushes
        // from two projects cannot wait for each other).
        let _project = self.lock_project(&row.project_id).await?;
        let _collection = self
            .lock_project(&format!("collection\0{collection}"))
            .await?;
        let row = self.recheck_model(self.find_deployment(id).await?).await?;
        let copy = copy_path(&row)?;
        let Some(local) = row.local_hash.clone() else {
            self.save(row, true).await?;
            return Err(DeployError::Conflict(format!(
                "Deployment '{id}' has no project copy to push (its files are missing)"
            )));
        };
        let artifact = self.fresh_artifact(&artifact_id).await?;
        if artifact.content_hash == local {
            // Made equal elsewhere (SkillMeat's sync-pull, say): the record's base catches up.
            let saved = if row.recorded_hash != local {
                self.rebase(row, &local, Some(local.clone())).await?
            } else {
                self.save(row, true).await?
            };
            self.bump_version().await?;
            return Ok(PushOutcome {
                deployment: saved,
                pushed: false,
                others: vec![],
            });
        }
        if artifact.content_hash != row.recorded_hash {
            self.save(row, true).await?;
            self.bump_version().await?;
            return Err(DeployError::Conflict(format!(
                "The collection's {artifact_id} changed since this copy was deployed; pushing \
                 would lose that change. Merge the collection's version into the project first \
                 (POST /api/v1/deployments/{id}/merge), then push"
            )));
        }
        let written = self
            .inner
            .cache
            .source()
            .replace_content(&artifact.item, &copy, &local)
            .await?;
        self.inner.own_writes.note(&written);
        // The cache holds the new content at once (and the watcher's echo is ignored).
        let fresh = self.fresh_artifact(&artifact_id).await?;
        if let Err(e) = self.inner.snapshots.keep(&copy, &local) {
            tracing::warn!(artifact = %artifact_id, error = %e, "could not keep a snapshot of the pushed content");
        }
        let saved = self.rebase(row, &local, Some(local.clone())).await?;
        self.bump_version().await?;
        let events = &self.inner.events;
        events.publish(ServerEvent::ArtifactChanged {
            artifact_id: artifact_id.to_string(),
        });
        events.publish(ServerEvent::DeploymentPushed {
            deployment_id: saved.id.clone(),
            project_id: saved.project_id.clone(),
            artifact_id: saved.artifact_id.clone(),
            content_hash: fresh.content_hash.clone(),
        });
        drop((_collection, _project));
        let others = self.recheck_artifact(&saved.artifact_id, &saved.id).await?;
        Ok(PushOutcome {
            deployment: saved,
            pushed: true,
            others,
        })
    }

    /// Makes `base` the deployment's recorded content (record file and row): its snapshot is
    /// the merge base from now on. `local` is the project copy's hash after the write. The
    /// caller holds the project's lock.
    pub(super) async fn rebase(
        &self,
        row: deployments::Model,
        base: &str,
        local: Option<String>,
    ) -> Result<deployments::Model, DeployError> {
        self.write_row_record(&row, base).await?;
        let mut model = row;
        model.recorded_hash = base.to_string();
        model.local_hash = local;
        // The stored fingerprint no longer matches the hash: recomputed from disk.
        model.local_fingerprint = None;
        let model = self.recheck_model(model).await?;
        Ok(self.save(model, true).await?)
    }

    /// Recomputes the status of every deployment of `artifact_id` after its collection
    /// content changed (an edit, an upstream pull, a delete: deployments of a deleted artifact
    /// stay where they are, orphaned), and says what changed.
    pub async fn artifact_changed(
        &self,
        artifact_id: &str,
    ) -> Result<Vec<StatusChange>, DeployError> {
        self.recheck_artifact(artifact_id, "").await
    }

    /// Recomputes the status of every deployment of `artifact_id` but `except` (after its
    /// collection content changed), each under its project's lock, and says what changed.
    pub(super) async fn recheck_artifact(
        &self,
        artifact_id: &str,
        except: &str,
    ) -> Result<Vec<StatusChange>, DeployError> {
        let others = deployments::Entity::find()
            .filter(deployments::Column::ArtifactId.eq(artifact_id))
            .filter(deployments::Column::Id.ne(except))
            .all(self.db())
            .await?;
        let mut changes = Vec::new();
        for other in others {
            let _guard = self.lock_project(&other.project_id).await?;
            let Ok(row) = self.find_deployment(&other.id).await else {
                continue;
            };
            let before = row.status.clone();
            let row = self.recheck_model(row).await?;
            let saved = self.save(row, true).await?;
            if saved.status != before {
                changes.push(self.status_changed(&saved, before));
            }
        }
        if !changes.is_empty() {
            self.bump_version().await?;
        }
        Ok(changes)
    }
}
