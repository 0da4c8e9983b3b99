//! Projects: registering folders, discovering them under the search roots, listing and
//! deleting them, and the refresh of every project's records.

use super::*;

impl DeployService {
    // ----- projects -------------------------------------------------------------------------

    /// Registers a project folder (absolute, existing folder) and reads its records. A folder
    /// registered already is a conflict; one found earlier by discovery becomes registered.
    pub async fn register_project(
        &self,
        raw_path: &str,
    ) -> Result<project_rows::Model, DeployError> {
        let path = self.inner.roots.project_folder(raw_path)?;
        let key = path.display().to_string();
        if let Some(existing) = project_rows::Entity::find()
            .filter(project_rows::Column::Path.eq(key.as_str()))
            .one(self.db())
            .await?
        {
            if existing.registered {
                return Err(DeployError::Conflict(format!(
                    "Project '{key}' is already registered"
                )));
            }
            let mut row: project_rows::ActiveModel = existing.into();
            row.registered = Set(true);
            let project = row.update(self.db()).await?;
            self.scan_project(&project).await?;
            return self.project(&project.id).await;
        }
        let project = self.insert_project(&path, true).await?;
        self.scan_project(&project).await?;
        self.project(&project.id).await
    }

    pub(super) async fn insert_project(
        &self,
        path: &Path,
        registered: bool,
    ) -> Result<project_rows::Model, DeployError> {
        let key = path.display().to_string();
        let row = project_rows::ActiveModel {
            id: Set(new_id()),
            path: Set(key.clone()),
            name: Set(path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| key.clone())),
            registered: Set(registered),
            created_at: Set(Utc::now()),
            last_scanned_at: Set(None),
        };
        match row.insert(self.db()).await {
            Ok(p) => Ok(p),
            Err(e) if is_unique_violation(&e) => project_rows::Entity::find()
                .filter(project_rows::Column::Path.eq(key.as_str()))
                .one(self.db())
                .await?
                .ok_or(DeployError::Db(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// One project, or 404.
    pub async fn project(&self, id: &str) -> Result<project_rows::Model, DeployError> {
        project_rows::Entity::find_by_id(id)
            .one(self.db())
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("Project '{}' not found", printable(id))))
    }

    /// A page of projects by path, each with its deployment count, and the total.
    pub async fn list_projects(
        &self,
        limit: u64,
        after: Option<&str>,
    ) -> Result<(Vec<(project_rows::Model, u64)>, bool, u64), DeployError> {
        let total = crate::db::count_rows(self.db(), project_rows::Entity::find()).await?;
        let mut query = project_rows::Entity::find();
        if let Some(raw) = after {
            let (path, _) = crate::paging::decode_pair(raw)
                .ok_or_else(|| DeployError::BadRequest(crate::paging::bad_cursor()))?;
            query = query.filter(project_rows::Column::Path.gt(path));
        }
        let mut rows = query
            .order_by_asc(project_rows::Column::Path)
            .limit(limit + 1)
            .all(self.db())
            .await?;
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let counts = self
            .deployment_counts(&rows.iter().map(|p| p.id.clone()).collect::<Vec<_>>())
            .await?;
        let page = rows
            .into_iter()
            .map(|p| {
                let n = counts.get(&p.id).copied().unwrap_or(0);
                (p, n)
            })
            .collect();
        Ok((page, has_next_page, total))
    }

    /// Deployment counts of some projects.
    pub async fn deployment_counts(
        &self,
        project_ids: &[String],
    ) -> Result<HashMap<String, u64>, DbErr> {
        Ok(deployments::Entity::find()
            .select_only()
            .column(deployments::Column::ProjectId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(deployments::Column::ProjectId.is_in(project_ids.iter().cloned()))
            .group_by(deployments::Column::ProjectId)
            .into_tuple::<(String, i64)>()
            .all(self.db())
            .await?
            .into_iter()
            .map(|(id, n)| (id, n as u64))
            .collect())
    }

    /// Forgets a project and its deployment rows; its files and records are untouched.
    pub async fn delete_project(&self, id: &str) -> Result<(), DeployError> {
        let res = project_rows::Entity::delete_by_id(id)
            .exec(self.db())
            .await?;
        if res.rows_affected == 0 {
            return Err(DeployError::NotFound(format!(
                "Project '{}' not found",
                printable(id)
            )));
        }
        self.bump_version().await?;
        Ok(())
    }

    /// Every known project (registered and discovered).
    pub async fn all_projects(&self) -> Result<Vec<project_rows::Model>, DeployError> {
        Ok(project_rows::Entity::find().all(self.db()).await?)
    }

    /// Finds folders under the search roots whose profile roots hold a record file and adds the
    /// unknown ones as discovered projects. Returns how many were new.
    pub async fn discover(&self) -> Result<u64, DeployError> {
        let roots = self.roots_to_search().await?;
        Ok(self.discover_in(roots).await?.len() as u64)
    }

    /// Discovery under `roots` only; returns the projects that were new.
    pub(super) async fn discover_in(
        &self,
        roots: Vec<PathBuf>,
    ) -> Result<Vec<project_rows::Model>, DeployError> {
        let depth = self.inner.search_depth;
        let found = tokio::task::spawn_blocking(move || discover_projects(&roots, depth))
            .await
            .map_err(|e| DeployError::Io {
                context: "discovering projects".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut new = Vec::new();
        for path in found {
            if !self.inner.roots.contains(&path) {
                tracing::warn!(project = %path.display(), "a project found by discovery is outside deploy.allowed_roots; skipped");
                continue;
            }
            let key = path.display().to_string();
            if project_rows::Entity::find()
                .filter(project_rows::Column::Path.eq(key.as_str()))
                .one(self.db())
                .await?
                .is_none()
            {
                new.push(self.insert_project(&path, false).await?);
            }
        }
        Ok(new)
    }

    /// Discovery, then every project's records re-read and statuses recomputed (only what
    /// changed is re-hashed).
    pub async fn refresh_all(&self) -> Result<DeployRefreshReport, DeployError> {
        let mut report = DeployRefreshReport {
            discovered: self.discover().await?,
            ..Default::default()
        };
        for project in project_rows::Entity::find().all(self.db()).await? {
            if self.inner.roots.check_known(&project.path).is_err() {
                tracing::warn!(project = %project.path, "a known project is outside deploy.allowed_roots; not read");
                continue;
            }
            report.projects += 1;
            match self.scan_project(&project).await {
                Ok(changes) => {
                    report.status_changed += changes.len() as u64;
                    report.changes.extend(changes);
                }
                Err(e) => {
                    tracing::warn!(project = %project.path, error = %e, "could not read the project's deployments");
                    report.errors.push(format!("{}: {e}", project.path));
                }
            }
        }
        report.deployments = deployments::Entity::find().count(self.db()).await?;
        Ok(report)
    }
}

/// Folders discovery never enters besides hidden ones: dependency, build and virtual
/// environment trees (SkillMeat's list).
const SKIPPED_FOLDERS: &[&str] = &[
    "node_modules",
    "venv",
    "__pycache__",
    "vendor",
    "dist",
    "build",
    "target",
    "Pods",
];

/// How long one discovery may walk the search roots; what it found by then is kept.
const DISCOVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Folders below `roots` (at most `depth` levels) with a record file in a profile root. Hidden
/// and [`SKIPPED_FOLDERS`] trees are not entered, links are not followed, missing roots are
/// skipped, and the walk stops after [`DISCOVERY_BUDGET`].
pub(super) fn discover_projects(roots: &[PathBuf], depth: u32) -> Vec<PathBuf> {
    let deadline = std::time::Instant::now() + DISCOVERY_BUDGET;
    let mut found = Vec::new();
    for root in roots.iter().filter(|r| r.is_dir()) {
        let walker = walkdir::WalkDir::new(root)
            .max_depth(depth as usize)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                let name = e.file_name().to_string_lossy();
                e.file_type().is_dir()
                    && (e.depth() == 0
                        || (!name.starts_with('.') && !SKIPPED_FOLDERS.contains(&name.as_ref())))
            });
        for entry in walker.filter_map(Result::ok) {
            if std::time::Instant::now() > deadline {
                tracing::warn!(
                    root = %root.display(),
                    "project discovery stopped after {}s; narrow deploy.search_roots or lower deploy.search_depth",
                    DISCOVERY_BUDGET.as_secs()
                );
                found.sort();
                found.dedup();
                return found;
            }
            let dir = entry.path();
            let has_records = Profile::ALL
                .iter()
                .any(|p| dir.join(p.root()).join(RECORD_FILE).is_file());
            if has_records && let Ok(canonical) = dir.canonicalize() {
                found.push(canonical);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}
