//! Reading a project's record files into deployment rows and computing each status (the
//! project copy is re-hashed only when its stat fingerprint changed).

use super::*;

/// How long after a deploy a vanished record entry is taken for a lost concurrent write.
const LOST_RECORD_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

impl DeployService {
    /// Reads a project's record files into rows (new records added, vanished ones dropped) and
    /// recomputes each status. Returns the statuses that changed, and says so to live clients
    /// (one `resync` when too many changed at once).
    pub async fn scan_project(
        &self,
        project: &project_rows::Model,
    ) -> Result<Vec<StatusChange>, DeployError> {
        let changes = self.scan_project_rows(project).await?;
        let events = &self.inner.events;
        if changes.len() > MAX_ITEM_EVENTS_PER_RUN {
            events.publish(ServerEvent::Resync {
                reason: format!("{} deployment statuses changed at once", changes.len()),
            });
        } else {
            for c in &changes {
                events.publish(ServerEvent::DeploymentStatusChanged {
                    deployment_id: c.deployment_id.clone(),
                    project_id: c.project_id.clone(),
                    artifact_id: c.artifact_id.clone(),
                    status: c.to.clone(),
                    previous_status: c.from.clone(),
                });
            }
        }
        Ok(changes)
    }

    pub(super) async fn scan_project_rows(
        &self,
        project: &project_rows::Model,
    ) -> Result<Vec<StatusChange>, DeployError> {
        self.inner.roots.check_known(&project.path)?;
        let _guard = self.lock_project(&project.id).await?;
        let root = PathBuf::from(&project.path);
        let read = tokio::task::spawn_blocking(move || {
            sweep_staging_leftovers(&root);
            read_project_records(&root)
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "reading deployment records".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let existing = deployments::Entity::find()
            .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
            .all(self.db())
            .await?;
        let found = match read {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The project folder is gone: every deployment in it is missing.
                let mut changed = Vec::new();
                for row in existing
                    .iter()
                    .filter(|d| d.status != DeploymentStatus::Missing.as_str())
                {
                    let mut row = row.clone();
                    let from = std::mem::replace(
                        &mut row.status,
                        DeploymentStatus::Missing.as_str().into(),
                    );
                    row.local_hash = None;
                    row.local_fingerprint = None;
                    row.status_checked_at = Utc::now();
                    let saved = self.save(row, true).await?;
                    changed.push(StatusChange {
                        deployment_id: saved.id,
                        project_id: saved.project_id,
                        artifact_id: saved.artifact_id,
                        from,
                        to: saved.status,
                    });
                }
                self.bump_version().await?;
                return Ok(changed);
            }
            Err(e) => {
                return Err(DeployError::Io {
                    context: format!("reading deployment records of {}", project.path),
                    source: e,
                });
            }
        };
        let mut seen = Vec::new();
        let mut identities = std::collections::HashSet::new();
        let mut changed = Vec::new();
        for (profile_root, rec) in found {
            let Ok(artifact_type) = rec.artifact_type.parse::<ArtifactType>() else {
                continue;
            };
            let name = rec.bare_name().to_string();
            let Some(recorded_hash) = rec.hash().map(String::from) else {
                continue;
            };
            let folder_profile = Profile::for_folder(&profile_root)
                .map(|p| p.id().to_string())
                .unwrap_or_else(|| profile_root.trim_start_matches('.').to_string());
            let profile = rec.profile_or(&folder_profile).to_string();
            if !identities.insert((artifact_type, name.clone(), profile.clone())) {
                tracing::warn!(project = %project.path, artifact = %name, profile, "a second record for the same deployment is ignored");
                continue;
            }
            let row = existing.iter().find(|d| {
                d.artifact_type == artifact_type.as_str()
                    && d.artifact_name == name
                    && d.profile == profile
            });
            let mut model = match row {
                Some(r) => r.clone(),
                None => deployments::Model {
                    id: new_id(),
                    project_id: project.id.clone(),
                    project_path: project.path.clone(),
                    artifact_id: format!("{artifact_type}:{name}"),
                    artifact_type: artifact_type.as_str().into(),
                    artifact_name: name.clone(),
                    artifact_name_key: name.to_lowercase(),
                    profile: profile.clone(),
                    profile_root: profile_root.clone(),
                    artifact_path: rec.artifact_path.clone(),
                    from_collection: rec.from_collection.clone(),
                    deployed_at: rec.deployed_at(),
                    recorded_hash: recorded_hash.clone(),
                    local_hash: None,
                    local_fingerprint: None,
                    collection_hash: None,
                    status: String::new(),
                    status_checked_at: Utc::now(),
                },
            };
            // The record may have been rewritten (by us or by SkillMeat) since.
            model.profile_root = profile_root;
            model.artifact_path = rec.artifact_path.clone();
            model.from_collection = rec.from_collection.clone();
            model.deployed_at = rec.deployed_at();
            model.recorded_hash = recorded_hash;
            let before = model.status.clone();
            let model = self.recheck_model(model).await?;
            let model = self.catch_up_baseline(model).await?;
            self.keep_unchanged_base(&model).await;
            let status_change = (model.status != before).then(|| before.clone());
            let saved = match self.save(model.clone(), row.is_some()).await {
                Ok(saved) => saved,
                // Another instance scanning the same project inserted this deployment first:
                // take its row.
                Err(e) if row.is_none() && is_unique_violation(&e) => {
                    let theirs = deployments::Entity::find()
                        .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
                        .filter(deployments::Column::ArtifactType.eq(model.artifact_type.as_str()))
                        .filter(deployments::Column::ArtifactName.eq(model.artifact_name.as_str()))
                        .filter(deployments::Column::Profile.eq(model.profile.as_str()))
                        .one(self.db())
                        .await?
                        .ok_or(DeployError::Db(e))?;
                    self.save(
                        deployments::Model {
                            id: theirs.id,
                            ..model
                        },
                        true,
                    )
                    .await?
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(from) = status_change {
                changed.push(StatusChange {
                    deployment_id: saved.id.clone(),
                    project_id: saved.project_id.clone(),
                    artifact_id: saved.artifact_id.clone(),
                    from,
                    to: saved.status.clone(),
                });
            }
            seen.push(saved.id);
        }
        // A record entry this server wrote minutes ago that vanished while its copy stayed as
        // deployed was lost to a concurrent rewrite (SkillMeat's deploy reads the records
        // before it locks them): it is written back.
        let vanished: Vec<&deployments::Model> =
            existing.iter().filter(|d| !seen.contains(&d.id)).collect();
        for row in vanished {
            if self.restore_lost_record(row).await? {
                seen.push(row.id.clone());
            }
        }
        let gone: Vec<String> = existing
            .iter()
            .map(|d| d.id.clone())
            .filter(|id| !seen.contains(id))
            .collect();
        if !gone.is_empty() {
            deployments::Entity::delete_many()
                .filter(deployments::Column::Id.is_in(gone))
                .exec(self.db())
                .await?;
        }
        let mut row: project_rows::ActiveModel = project.clone().into();
        row.last_scanned_at = Set(Some(Utc::now()));
        row.update(self.db()).await?;
        self.bump_version().await?;
        Ok(changed)
    }

    /// Writes `row`'s record entry back when it was deployed within [`LOST_RECORD_WINDOW`] and
    /// its copy is still exactly what was recorded; true when it did.
    async fn restore_lost_record(&self, row: &deployments::Model) -> Result<bool, DeployError> {
        let recent = Utc::now() - row.deployed_at
            < chrono::Duration::from_std(LOST_RECORD_WINDOW).unwrap_or_default();
        if !recent || safe_relative(&row.profile_root).is_none() {
            return Ok(false);
        }
        let project = PathBuf::from(&row.project_path);
        let rel = PathBuf::from(&row.profile_root).join(&row.artifact_path);
        let (fp, hash) = (row.local_fingerprint.clone(), row.local_hash.clone());
        let (local, _) = tokio::task::spawn_blocking(move || {
            check_local_copy(&project, &rel, fp.as_deref(), hash.as_deref())
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "hashing a project copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if local.as_deref() != Some(row.recorded_hash.as_str()) {
            return Ok(false);
        }
        self.write_row_record(row, &row.recorded_hash).await?;
        tracing::warn!(
            project = %row.project_path,
            artifact = %row.artifact_id,
            "a deployment record written minutes ago vanished while its copy stayed; written back"
        );
        Ok(true)
    }

    /// Writes `row`'s entry into its project's record file with `content_hash` as what was
    /// deployed (its base), under SkillMeat's lock; the watcher is told it was ours.
    pub(super) async fn write_row_record(
        &self,
        row: &deployments::Model,
        content_hash: &str,
    ) -> Result<(), DeployError> {
        let project = PathBuf::from(&row.project_path);
        if safe_relative(&row.profile_root).is_none() {
            return Err(DeployError::BadRequest(format!(
                "the recorded profile folder '{}' is not a plain folder of the project",
                printable(&row.profile_root)
            )));
        }
        let record_file = project.join(&row.profile_root).join(RECORD_FILE);
        // A profile folder that is a link out of the project is not written through.
        ensure_inside_project(&project, &record_file)?;
        let rec = NewRecord {
            name: &row.artifact_name,
            artifact_type: &row.artifact_type,
            from_collection: &row.from_collection,
            artifact_path: &row.artifact_path,
            content_hash,
            profile: &row.profile,
            profile_root: &row.profile_root,
            deployed_at: row.deployed_at,
        };
        {
            let _lock = write_lock(&record_file).await?;
            record::upsert_record(&record_file, &rec)
                .map_err(io("writing the deployment record"))?;
        }
        self.inner.own_writes.note(&[record_file]);
        Ok(())
    }

    /// A copy equal to the collection's current version while its record names an older one
    /// (SkillMeat's `sync-pull` copies a project's edits into the collection and leaves the
    /// record as it was): the record's base catches up, with a snapshot of it, so later edits
    /// show as `modified` (and can be pushed) rather than `conflict`, for SkillMeat's
    /// `sync-check` too. The caller holds the project's lock.
    pub(super) async fn catch_up_baseline(
        &self,
        mut model: deployments::Model,
    ) -> Result<deployments::Model, DeployError> {
        let (Some(local), Some(collection)) = (&model.local_hash, &model.collection_hash) else {
            return Ok(model);
        };
        if local != collection
            || *collection == model.recorded_hash
            || safe_relative(&model.profile_root).is_none()
        {
            return Ok(model);
        }
        let base = collection.clone();
        if let Ok(copy) = super::diff::copy_path(&model)
            && let Err(e) = self.inner.snapshots.keep(&copy, &base)
        {
            tracing::warn!(deployment = %model.id, error = %e, "could not keep a snapshot of the deployment's new base");
        }
        self.write_row_record(&model, &base).await?;
        model.recorded_hash = base;
        Ok(model)
    }

    /// A copy still exactly as deployed, whoever deployed it, is the deployment's base: kept
    /// once per hash, so a deployment SkillMeat made can be merged after the collection moves
    /// on. (A copy already edited before this server saw it gives no base.)
    async fn keep_unchanged_base(&self, model: &deployments::Model) {
        let hash = model.recorded_hash.clone();
        if model.local_hash.as_deref() != Some(hash.as_str()) || self.inner.snapshots.has(&hash) {
            return;
        }
        let Ok(copy) = super::diff::copy_path(model) else {
            return;
        };
        let store = self.inner.snapshots.clone();
        let kept = tokio::task::spawn_blocking(move || store.keep(&copy, &hash)).await;
        if let Ok(Err(e)) = kept {
            tracing::warn!(deployment = %model.id, error = %e, "could not keep the deployed content as a merge base");
        }
    }

    pub(super) async fn save(
        &self,
        model: deployments::Model,
        exists: bool,
    ) -> Result<deployments::Model, DbErr> {
        let active: deployments::ActiveModel = model.into();
        let active = active.reset_all();
        if exists {
            active.update(self.db()).await
        } else {
            active.insert(self.db()).await
        }
    }

    /// Recomputes one row's hashes and status from disk and the cache (re-hashing the project
    /// copy only when its stat fingerprint changed).
    pub(super) async fn recheck_model(
        &self,
        mut model: deployments::Model,
    ) -> Result<deployments::Model, DeployError> {
        let collection_hash: Option<String> = cached_artifacts::Entity::find()
            .select_only()
            .column(cached_artifacts::Column::ContentHash)
            .filter(cached_artifacts::Column::ArtifactId.eq(model.artifact_id.as_str()))
            .into_tuple()
            .one(self.db())
            .await?;
        let project = PathBuf::from(&model.project_path);
        let rel = PathBuf::from(&model.profile_root).join(&model.artifact_path);
        let stored_fp = model.local_fingerprint.clone();
        let stored_hash = model.local_hash.clone();
        let (local_hash, local_fp) = tokio::task::spawn_blocking(move || {
            check_local_copy(&project, &rel, stored_fp.as_deref(), stored_hash.as_deref())
        })
        .await
        .map_err(|e| DeployError::Io {
            context: "hashing a project copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        model.status = DeploymentStatus::compute(
            &model.recorded_hash,
            local_hash.as_deref(),
            collection_hash.as_deref(),
        )
        .as_str()
        .into();
        model.local_hash = local_hash;
        model.local_fingerprint = local_fp;
        model.collection_hash = collection_hash;
        model.status_checked_at = Utc::now();
        Ok(model)
    }
}

/// The project copy's content hash and stat fingerprint; the stored hash is reused when the
/// fingerprint is unchanged. `(None, None)` when the copy is missing or not safely inside.
pub(super) fn check_local_copy(
    project: &Path,
    rel: &Path,
    stored_fp: Option<&str>,
    stored_hash: Option<&str>,
) -> (Option<String>, Option<String>) {
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (None, None);
    }
    let path = project.join(rel);
    if ensure_inside_project(project, &path).is_err() || std::fs::symlink_metadata(&path).is_err() {
        return (None, None);
    }
    let Ok(files) = hash::list_files(&path) else {
        return (None, None);
    };
    let fp = hash::fingerprint(&files, "");
    if Some(fp.as_str()) == stored_fp
        && let Some(h) = stored_hash
    {
        return (Some(h.to_string()), Some(fp));
    }
    let is_dir = path.is_dir();
    match hash::hash_listed_files(&files, is_dir) {
        Ok(h) => (Some(h), Some(fp)),
        Err(_) => (None, None),
    }
}

/// Every record of a project: `(profile root folder, record)` for each `<project>/.*/` folder
/// holding a record file (not followed through symbolic links).
pub(super) fn read_project_records(
    project: &Path,
) -> std::io::Result<Vec<(String, record::DeployedRecord)>> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(project)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with('.') && n != "." && n != "..")
        .collect();
    dirs.sort();
    for dir in dirs {
        let file = project.join(&dir).join(RECORD_FILE);
        if !file.is_file() {
            continue;
        }
        match record::read_records(&file) {
            Ok(records) => out.extend(records.into_iter().map(|r| (dir.clone(), r))),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "unreadable deployment record")
            }
        }
    }
    Ok(out)
}
