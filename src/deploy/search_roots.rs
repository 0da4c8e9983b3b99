//! Where projects are searched for: the configured `deploy.search_roots` and the folders added
//! from the dashboard (stored, so every instance searches them).

use entity::search_roots as root_rows;

use super::*;

/// One folder searched for projects.
#[derive(Debug, Clone)]
pub struct SearchRoot {
    /// The stored root's id; `None` for a configured one (change those in the configuration).
    pub id: Option<String>,
    /// The folder.
    pub path: String,
    /// True when it comes from `deploy.search_roots`.
    pub configured: bool,
    /// Whether the folder exists now (missing ones are skipped).
    pub exists: bool,
    /// When it was added from the dashboard.
    pub added_at: Option<DateTime<Utc>>,
}

impl DeployService {
    /// The folder a deploy into `raw_path` would use, or why it cannot (outside the allowed
    /// roots, not an existing folder).
    pub fn check_project_folder(&self, raw_path: &str) -> Result<PathBuf, DeployError> {
        self.inner.roots.project_folder(raw_path)
    }

    /// Every search root: the configured ones, then the added ones by path.
    pub async fn search_roots(&self) -> Result<Vec<SearchRoot>, DeployError> {
        let mut out: Vec<SearchRoot> = self
            .inner
            .search_roots
            .iter()
            .map(|p| SearchRoot {
                id: None,
                path: p.display().to_string(),
                configured: true,
                exists: p.is_dir(),
                added_at: None,
            })
            .collect();
        for row in root_rows::Entity::find()
            .order_by_asc(root_rows::Column::Path)
            .all(self.db())
            .await?
        {
            out.push(SearchRoot {
                exists: Path::new(&row.path).is_dir(),
                id: Some(row.id),
                path: row.path,
                configured: false,
                added_at: Some(row.added_at),
            });
        }
        Ok(out)
    }

    /// The folders discovery walks: configured and added ones (missing ones are skipped by
    /// the walk).
    pub(super) async fn roots_to_search(&self) -> Result<Vec<PathBuf>, DbErr> {
        let mut roots = self.inner.search_roots.clone();
        for row in root_rows::Entity::find().all(self.db()).await? {
            let path = PathBuf::from(row.path);
            if !roots.contains(&path) {
                roots.push(path);
            }
        }
        Ok(roots)
    }

    /// Adds a folder to search (an existing folder inside `deploy.allowed_roots`), searches it
    /// at once and reads the projects found there. Returns the root and those projects. A
    /// folder searched already is a conflict.
    pub async fn add_search_root(
        &self,
        raw_path: &str,
    ) -> Result<(SearchRoot, Vec<project_rows::Model>), DeployError> {
        let path = self.inner.roots.project_folder(raw_path)?;
        let key = path.display().to_string();
        if self.roots_to_search().await?.contains(&path) {
            return Err(DeployError::Conflict(format!(
                "'{key}' is searched for projects already"
            )));
        }
        let row = root_rows::ActiveModel {
            id: Set(new_id()),
            path: Set(key.clone()),
            added_at: Set(Utc::now()),
        };
        let row = match row.insert(self.db()).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => {
                return Err(DeployError::Conflict(format!(
                    "'{key}' is searched for projects already"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let found = self.discover_in(vec![path]).await?;
        for project in &found {
            if let Err(e) = self.scan_project(project).await {
                tracing::warn!(project = %project.path, error = %e, "could not read the project's deployments");
            }
        }
        if !found.is_empty() {
            self.bump_version().await?;
        }
        Ok((
            SearchRoot {
                exists: true,
                id: Some(row.id),
                path: row.path,
                configured: false,
                added_at: Some(row.added_at),
            },
            found,
        ))
    }

    /// Stops searching an added folder; the projects found there stay known. A configured
    /// root cannot be removed here (404: it is not a stored one).
    pub async fn remove_search_root(&self, id: &str) -> Result<(), DeployError> {
        let res = root_rows::Entity::delete_by_id(id).exec(self.db()).await?;
        if res.rows_affected == 0 {
            return Err(DeployError::NotFound(format!(
                "Search root '{}' not found (configured roots are changed in deploy.search_roots)",
                printable(id)
            )));
        }
        Ok(())
    }
}
