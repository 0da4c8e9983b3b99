//! Deploy, undeploy and update: copying an artifact into a project (a staging folder renamed
//! into place), removing it, and replacing it with the collection's current version.

use super::*;

impl DeployService {
    // ----- deployments ----------------------------------------------------------------------

    /// One deployment; with `recheck` its status is recomputed first (under the project's lock,
    /// so it cannot overwrite a deploy that finishes meanwhile).
    pub async fn get(&self, id: &str, recheck: bool) -> Result<deployments::Model, DeployError> {
        let row = self.find_deployment(id).await?;
        if !recheck {
            return Ok(row);
        }
        // The collection side is re-validated through the cache too.
        if let Ok(artifact_id) = ArtifactId::parse(&row.artifact_id) {
            self.inner.cache.get_or_fill(&artifact_id).await?;
        }
        let _guard = self.lock_project(&row.project_id).await?;
        let row = self.find_deployment(id).await?;
        let before = row.status.clone();
        let model = self.recheck_model(row).await?;
        let model = self.catch_up_baseline(model).await?;
        let saved = self.save(model, true).await?;
        self.bump_version().await?;
        if saved.status != before {
            self.status_changed(&saved, before);
        }
        Ok(saved)
    }

    pub(super) async fn find_deployment(
        &self,
        id: &str,
    ) -> Result<deployments::Model, DeployError> {
        deployments::Entity::find_by_id(id)
            .one(self.db())
            .await?
            .ok_or_else(|| {
                DeployError::NotFound(format!("Deployment '{}' not found", printable(id)))
            })
    }

    /// Deploys an artifact into a project. Returns the row and whether an existing deployment
    /// was replaced. Everything is validated before anything is written; a project given by path
    /// is registered (and its existing records read) only once the deploy succeeded.
    pub async fn deploy(
        &self,
        req: DeployRequest,
    ) -> Result<(deployments::Model, bool), DeployError> {
        let id = ArtifactId::parse(req.artifact_id.trim()).map_err(DeployError::BadRequest)?;
        let profile = Profile::parse(req.profile.as_deref().unwrap_or("claude_code"))
            .map_err(DeployError::BadRequest)?;
        let (project, new_project_path) = match (&req.project_id, &req.project_path) {
            (Some(_), Some(_)) => {
                return Err(DeployError::BadRequest(
                    "give project_id or project_path, not both".into(),
                ));
            }
            (Some(pid), None) => {
                let project = self.project(pid).await?;
                self.inner.roots.check_known(&project.path)?;
                (Some(project), None)
            }
            (None, Some(path)) => {
                let path = self.inner.roots.project_folder(path)?;
                let key = path.display().to_string();
                match project_rows::Entity::find()
                    .filter(project_rows::Column::Path.eq(key.as_str()))
                    .one(self.db())
                    .await?
                {
                    Some(p) => (Some(p), None),
                    None => (None, Some(path)),
                }
            }
            (None, None) => {
                return Err(DeployError::BadRequest(
                    "project_id or project_path is required".into(),
                ));
            }
        };
        let artifact = self.fresh_artifact(&id).await?;
        let default_rel = default_artifact_path(
            id.artifact_type,
            &id.name,
            artifact
                .item
                .is_file
                .then(|| artifact.files[0].path.as_str()),
        );
        let rel = owned_path(req.dest_path.as_deref().unwrap_or(&default_rel), &id.name).ok_or_else(|| {
            DeployError::BadRequest(format!(
                "dest_path '{}' must be a relative path inside the profile folder, at least <folder>/<name>, ending in the artifact's name, without '..'",
                printable(req.dest_path.as_deref().unwrap_or(&default_rel))
            ))
        })?;
        let (project, inserted) = match (project, new_project_path) {
            (Some(p), _) => (p, false),
            (None, Some(path)) => {
                // Checked before registering, so a refused deploy registers nothing.
                ensure_inside_project(&path, &path.join(profile.root()).join(&rel))?;
                (self.insert_project(&path, true).await?, true)
            }
            (None, None) => unreachable!("a project or a path was resolved above"),
        };
        let result = {
            let _guard = self.lock_project(&project.id).await?;
            self.deploy_locked(&project, &id, profile, &artifact, &rel, req.overwrite)
                .await
        };
        match (&result, inserted) {
            (Ok(_), true) => {
                // Records SkillMeat wrote there before show up at once, as with POST /projects.
                self.scan_project(&project).await?;
            }
            (Err(_), true) => {
                project_rows::Entity::delete_by_id(project.id.as_str())
                    .exec(self.db())
                    .await?;
            }
            _ => {}
        }
        result
    }

    /// The artifact as it is on disk now; the cache entry is refreshed with it.
    pub(super) async fn fresh_artifact(
        &self,
        id: &ArtifactId,
    ) -> Result<crate::source::SourceArtifact, DeployError> {
        let source = self.inner.cache.source().clone();
        let item = source
            .locate(id)
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Artifact '{id}' not found")))?;
        let artifact = source
            .read(&item)
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Artifact '{id}' not found")))?;
        self.inner.cache.set(&artifact).await?;
        Ok(artifact)
    }

    /// The deploy itself; the caller holds the project's lock.
    pub(super) async fn deploy_locked(
        &self,
        project: &project_rows::Model,
        id: &ArtifactId,
        profile: Profile,
        artifact: &crate::source::SourceArtifact,
        rel: &Path,
        overwrite: bool,
    ) -> Result<(deployments::Model, bool), DeployError> {
        let rel_string = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let project_root = PathBuf::from(&project.path);
        let profile_root = project_root.join(profile.root());
        let dest = profile_root.join(rel);
        ensure_inside_project(&project_root, &dest)?;
        let record_file = profile_root.join(RECORD_FILE);
        let records =
            record::read_records(&record_file).map_err(io("reading the deployment record"))?;
        let previous = records.iter().find(|r| {
            r.bare_name() == id.name
                && r.artifact_type == id.artifact_type.as_str()
                && r.profile_or(profile.id()) == profile.id()
        });
        if previous.is_some() && !overwrite {
            return Err(DeployError::Conflict(format!(
                "Artifact '{id}' already deployed. Set overwrite=true to replace."
            )));
        }
        if let Some(other) = records.iter().find(|r| {
            r.artifact_path == rel_string
                && !(r.bare_name() == id.name
                    && r.artifact_type == id.artifact_type.as_str()
                    && r.profile_or(profile.id()) == profile.id())
        }) {
            return Err(DeployError::Conflict(format!(
                "'{rel_string}' holds the deployment of {}:{}; it is not replaced",
                other.artifact_type,
                other.bare_name()
            )));
        }
        let is_own_copy = previous.is_some_and(|r| r.artifact_path == rel_string);
        if !is_own_copy && !overwrite && std::fs::symlink_metadata(&dest).is_ok() {
            return Err(DeployError::Conflict(format!(
                "'{rel_string}' already exists in the project and was not deployed by SkillMeat. Set overwrite=true to replace it."
            )));
        }

        let parent = dest.parent().unwrap_or(&profile_root).to_path_buf();
        let created = first_missing_ancestor(&parent);
        std::fs::create_dir_all(&parent).map_err(io(format!("creating {}", parent.display())))?;
        let undo_created = |created: &Option<PathBuf>| {
            if let Some(dir) = created {
                remove_path(dir);
            }
        };
        if let Err(e) = ensure_inside_project(&project_root, &dest) {
            undo_created(&created);
            return Err(e);
        }
        // SkillMeat's lock on the copy, from the staging copy to the rename.
        let dest_lock = write_lock(&dest).await?;
        let staging = crate::atomic::staging_path(&dest);
        let deployed_hash = match self
            .copy_into(artifact, &staging, artifact.item.is_file)
            .await
        {
            Ok(h) => h,
            Err(e) => {
                remove_path(&staging);
                undo_created(&created);
                return Err(e);
            }
        };
        if deployed_hash != artifact.content_hash {
            remove_path(&staging);
            undo_created(&created);
            self.inner.cache.invalidate(&id.to_string()).await?;
            return Err(DeployError::Conflict(format!(
                "Artifact '{id}' changed while it was being deployed; try again"
            )));
        }
        if let Err(e) = swap_into_place(&staging, &dest) {
            undo_created(&created);
            return Err(e);
        }
        drop(dest_lock);
        // The deployment's base, for diffs against it later; a failure here costs only that.
        if let Err(e) = self.inner.snapshots.keep(&dest, &deployed_hash) {
            tracing::warn!(artifact = %id, error = %e, "could not keep a snapshot of the deployed content");
        }
        // Replacing a deployment that lived elsewhere: its old copy goes, or it would linger
        // untracked.
        if let Some(old) = previous.filter(|r| r.artifact_path != rel_string)
            && let Some(old_rel) = owned_path(&old.artifact_path, &id.name)
        {
            let old_path = profile_root.join(old_rel);
            if ensure_inside_project(&project_root, &old_path).is_ok() {
                remove_path(&old_path);
            }
        }
        let now = Utc::now();
        let rec = NewRecord {
            name: &id.name,
            artifact_type: id.artifact_type.as_str(),
            from_collection: &artifact.item.collection,
            artifact_path: &rel_string,
            content_hash: &deployed_hash,
            profile: profile.id(),
            profile_root: profile.root(),
            deployed_at: now,
        };
        {
            let _record_lock = write_lock(&record_file).await?;
            record::upsert_record(&record_file, &rec)
                .map_err(io("writing the deployment record"))?;
        }
        // The rows are saved below: a scan for the watcher's echo would find nothing new.
        self.inner
            .own_writes
            .note(&[dest.clone(), staging, record_file]);

        let existing = deployments::Entity::find()
            .filter(deployments::Column::ProjectId.eq(project.id.as_str()))
            .filter(deployments::Column::ArtifactType.eq(id.artifact_type.as_str()))
            .filter(deployments::Column::ArtifactName.eq(id.name.as_str()))
            .filter(deployments::Column::Profile.eq(profile.id()))
            .one(self.db())
            .await?;
        let fingerprint = hash::list_files(&dest)
            .ok()
            .map(|f| hash::fingerprint(&f, ""));
        let model = deployments::Model {
            id: existing
                .as_ref()
                .map(|e| e.id.clone())
                .unwrap_or_else(new_id),
            project_id: project.id.clone(),
            project_path: project.path.clone(),
            artifact_id: id.to_string(),
            artifact_type: id.artifact_type.as_str().into(),
            artifact_name: id.name.clone(),
            artifact_name_key: id.name.to_lowercase(),
            profile: profile.id().into(),
            profile_root: profile.root().into(),
            artifact_path: rel_string,
            from_collection: artifact.item.collection.clone(),
            deployed_at: now,
            recorded_hash: deployed_hash.clone(),
            local_hash: Some(deployed_hash.clone()),
            local_fingerprint: fingerprint,
            collection_hash: Some(deployed_hash),
            status: DeploymentStatus::Synced.as_str().into(),
            status_checked_at: now,
        };
        let saved = self.save(model, existing.is_some()).await?;
        self.bump_version().await?;
        self.inner.events.publish(ServerEvent::Deployed {
            deployment_id: saved.id.clone(),
            project_id: saved.project_id.clone(),
            artifact_id: saved.artifact_id.clone(),
            status: saved.status.clone(),
        });
        Ok((saved, previous.is_some() || existing.is_some()))
    }

    /// Copies an artifact file by file into `staging` and returns the copy's content hash.
    pub(super) async fn copy_into(
        &self,
        artifact: &crate::source::SourceArtifact,
        staging: &Path,
        is_file: bool,
    ) -> Result<String, DeployError> {
        let source = self.inner.cache.source();
        if is_file {
            source
                .copy_file(&artifact.item, &artifact.files[0].path, staging)
                .await?;
        } else {
            std::fs::create_dir_all(staging).map_err(io("creating the staging folder"))?;
            for f in &artifact.files {
                let target = staging.join(&f.path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io(format!("creating {}", parent.display())))?;
                }
                source.copy_file(&artifact.item, &f.path, &target).await?;
            }
        }
        let staging = staging.to_path_buf();
        tokio::task::spawn_blocking(move || hash::content_hash(&staging))
            .await
            .map_err(|e| DeployError::Io {
                context: "hashing the copy".into(),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(io("hashing the copy"))
    }

    /// Removes a deployment's files and its record; 404 when it is not deployed. Files are only
    /// removed at a path that can belong to the artifact (`<folder>/<name>[.ext]` inside the
    /// project); a record pointing anywhere else loses its record, never someone else's files.
    pub async fn undeploy(&self, id: &str) -> Result<(), DeployError> {
        let project_id = self.find_deployment(id).await?.project_id;
        let _guard = self.lock_project(&project_id).await?;
        let row = self.find_deployment(id).await?;
        self.inner.roots.check_known(&row.project_path)?;
        let project_root = PathBuf::from(&row.project_path);
        let profile_root = project_root.join(&row.profile_root);
        match owned_path(&row.artifact_path, &row.artifact_name) {
            Some(rel) if safe_relative(&row.profile_root).is_some() => {
                let target = profile_root.join(rel);
                if ensure_inside_project(&project_root, &target).is_ok() {
                    // Locked only once known to be inside: the lock file sits beside it.
                    let _lock = write_lock(&target).await?;
                    match std::fs::symlink_metadata(&target) {
                        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&target)
                            .map_err(io(format!("removing {}", target.display())))?,
                        Ok(_) => std::fs::remove_file(&target)
                            .map_err(io(format!("removing {}", target.display())))?,
                        Err(_) => {}
                    }
                }
            }
            _ => {
                tracing::warn!(deployment = id, path = %row.artifact_path, "record path does not belong to the artifact; its files are left alone")
            }
        }
        let record_file = profile_root.join(RECORD_FILE);
        if safe_relative(&row.profile_root).is_some()
            && ensure_inside_project(&project_root, &record_file).is_ok()
        {
            let _lock = write_lock(&record_file).await?;
            record::remove_record(
                &record_file,
                &row.artifact_name,
                &row.artifact_type,
                &row.profile,
            )
            .map_err(io("updating the deployment record"))?;
        }
        let res = deployments::Entity::delete_by_id(row.id.as_str())
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            return Err(DeployError::NotFound(format!(
                "Deployment '{}' not found",
                printable(id)
            )));
        }
        self.bump_version().await?;
        self.inner.events.publish(ServerEvent::Undeployed {
            deployment_id: row.id.clone(),
            project_id: row.project_id.clone(),
            artifact_id: row.artifact_id.clone(),
        });
        Ok(())
    }

    /// Re-deploys the collection's current version over a deployment. A project copy with local
    /// changes (modified or conflict) is refused unless `force`. The check and the copy happen
    /// under one hold of the project's lock.
    pub async fn update(&self, id: &str, force: bool) -> Result<deployments::Model, DeployError> {
        let row = self.find_deployment(id).await?;
        let artifact_id = ArtifactId::parse(&row.artifact_id).map_err(DeployError::BadRequest)?;
        let profile = Profile::parse(&row.profile).map_err(DeployError::BadRequest)?;
        let artifact = self.fresh_artifact(&artifact_id).await?;
        let project = self.project(&row.project_id).await?;
        self.inner.roots.check_known(&project.path)?;
        let _guard = self.lock_project(&project.id).await?;
        let row = self.recheck_model(self.find_deployment(id).await?).await?;
        let status = DeploymentStatus::parse(&row.status).unwrap_or(DeploymentStatus::Modified);
        if matches!(
            status,
            DeploymentStatus::Modified | DeploymentStatus::Conflict
        ) && !force
        {
            self.save(row, true).await?;
            self.bump_version().await?;
            return Err(DeployError::Conflict(format!(
                "Deployment '{id}' has local modifications; set force=true to overwrite them"
            )));
        }
        let rel = owned_path(&row.artifact_path, &artifact_id.name).ok_or_else(|| {
            DeployError::Conflict(format!(
                "Deployment '{id}' records the path '{}', which does not belong to the artifact; undeploy and deploy it again",
                printable(&row.artifact_path)
            ))
        })?;
        let (model, _) = self
            .deploy_locked(&project, &artifact_id, profile, &artifact, &rel, true)
            .await?;
        Ok(model)
    }
}
