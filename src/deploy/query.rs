//! The dashboard's queries: the filtered, sorted, paged list, the per-status summary (kept
//! until the deployments change) and per-artifact counts.

use super::*;

impl DeployService {
    /// One page of the dashboard list.
    pub async fn list(
        &self,
        filter: &DeploymentFilter,
        sort: DeploymentSort,
        descending: bool,
        limit: u64,
        after: Option<&str>,
    ) -> Result<DeploymentPage, DeployError> {
        use deployments::Column as C;
        let mut filter = filter.clone();
        if let Some(p) = &filter.project {
            // An id or a path: resolve it to the id once, so the project index answers.
            let project = project_rows::Entity::find()
                .filter(
                    Condition::any()
                        .add(project_rows::Column::Id.eq(p.as_str()))
                        .add(project_rows::Column::Path.eq(p.as_str())),
                )
                .one(self.db())
                .await?;
            match project {
                Some(project) => filter.project = Some(project.id),
                None => {
                    return Ok(DeploymentPage {
                        items: Vec::new(),
                        has_next_page: false,
                        end_cursor: None,
                        total_count: 0,
                    });
                }
            }
        }
        let cond = filter_condition(&filter);
        let total_count =
            crate::db::count_rows(self.db(), deployments::Entity::find().filter(cond.clone()))
                .await?;
        let sort_col = match sort {
            DeploymentSort::Artifact => C::ArtifactId,
            DeploymentSort::Project => C::ProjectPath,
            DeploymentSort::DeployedAt => C::DeployedAt,
            DeploymentSort::Status => C::Status,
        };
        let order = if descending { Order::Desc } else { Order::Asc };
        let mut query = deployments::Entity::find().filter(cond);
        if let Some(raw) = after {
            let (key, id) = crate::paging::decode_pair(raw)
                .ok_or_else(|| DeployError::BadRequest(crate::paging::bad_cursor()))?;
            let key: sea_orm::Value = if sort == DeploymentSort::DeployedAt {
                DateTime::parse_from_rfc3339(&key)
                    .map_err(|_| {
                        DeployError::BadRequest("Invalid cursor: damaged sort key".into())
                    })?
                    .with_timezone(&Utc)
                    .into()
            } else {
                key.into()
            };
            let (beyond, beyond_id) = if descending {
                (sort_col.lt(key.clone()), C::Id.lt(id))
            } else {
                (sort_col.gt(key.clone()), C::Id.gt(id))
            };
            query = query.filter(
                Condition::any()
                    .add(beyond)
                    .add(Condition::all().add(sort_col.eq(key)).add(beyond_id)),
            );
        }
        // Two steps: the page's ids first (sorting index entries, not whole rows), then the rows.
        let mut ids: Vec<String> = query
            .select_only()
            .column(C::Id)
            .order_by(sort_col, order.clone())
            .order_by(C::Id, order)
            .limit(limit + 1)
            .into_tuple()
            .all(self.db())
            .await?;
        let has_next_page = ids.len() as u64 > limit;
        ids.truncate(limit as usize);
        let mut rows: HashMap<String, deployments::Model> = deployments::Entity::find()
            .filter(C::Id.is_in(ids.iter().cloned()))
            .all(self.db())
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        let items: Vec<deployments::Model> = ids.iter().filter_map(|id| rows.remove(id)).collect();
        let end_cursor = items.last().map(|d| {
            let key = match sort {
                DeploymentSort::Artifact => d.artifact_id.clone(),
                DeploymentSort::Project => d.project_path.clone(),
                DeploymentSort::DeployedAt => d.deployed_at.to_rfc3339(),
                DeploymentSort::Status => d.status.clone(),
            };
            crate::paging::encode_pair(&key, &d.id)
        });
        Ok(DeploymentPage {
            items,
            has_next_page,
            end_cursor,
            total_count,
        })
    }

    /// Marks the deployment rows as changed (in `cache_meta`, so every instance sees it), which
    /// retires memoised summaries.
    pub(super) async fn bump_version(&self) -> Result<(), DbErr> {
        self.inner
            .cache
            .set_meta(META_DEPLOYMENTS_VERSION, &new_id())
            .await
    }

    /// Counts by status, type, project and artifact. Served from a memo while the
    /// `deployments_version` in `cache_meta` is unchanged (one key lookup); otherwise a few
    /// grouped `COUNT(*)` queries that indexes answer. Never touches the disk.
    pub async fn summary(&self) -> Result<Summary, DeployError> {
        let version = self
            .inner
            .cache
            .meta(META_DEPLOYMENTS_VERSION)
            .await?
            .unwrap_or_default();
        if let Some((v, s)) = self
            .inner
            .summary_memo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && *v == version
        {
            return Ok(s.clone());
        }
        let summary = self.compute_summary().await?;
        *self
            .inner
            .summary_memo
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((version, summary.clone()));
        Ok(summary)
    }

    /// The summary's grouped counts, run side by side on separate pooled connections (each is an
    /// index-only scan; together they take about as long as the slowest).
    pub(super) async fn compute_summary(&self) -> Result<Summary, DeployError> {
        use deployments::Column as C;
        let db = self.db();
        let count = || Expr::cust("COUNT(*)");
        let status_type = deployments::Entity::find()
            .select_only()
            .column(C::Status)
            .column(C::ArtifactType)
            .column_as(count(), "n")
            .group_by(C::Status)
            .group_by(C::ArtifactType)
            .into_tuple::<(String, String, i64)>()
            .all(db);
        let per_project = deployments::Entity::find()
            .select_only()
            .column(C::ProjectId)
            .column_as(count(), "n")
            .group_by(C::ProjectId)
            .into_tuple::<(String, i64)>()
            .all(db);
        let per_artifact = deployments::Entity::find()
            .select_only()
            .column(C::ArtifactId)
            .column_as(count(), "n")
            .group_by(C::ArtifactId)
            .into_tuple::<(String, i64)>()
            .all(db);
        let paths = project_rows::Entity::find()
            .select_only()
            .column(project_rows::Column::Id)
            .column(project_rows::Column::Path)
            .into_tuple::<(String, String)>()
            .all(db);
        let newest = deployments::Entity::find()
            .select_only()
            .column_as(C::StatusCheckedAt.max(), "m")
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(db);
        let (status_type, per_project, per_artifact, paths, newest) =
            tokio::try_join!(status_type, per_project, per_artifact, paths, newest)?;

        let mut summary = Summary::default();
        let mut by_type: HashMap<String, u64> = HashMap::new();
        for (status, artifact_type, n) in status_type {
            summary.by_status.add(&status, n as u64);
            *by_type.entry(artifact_type).or_default() += n as u64;
        }
        summary.by_type = by_type.into_iter().collect();
        summary.by_type.sort();
        let paths: HashMap<String, String> = paths.into_iter().collect();
        summary.by_project = per_project
            .into_iter()
            .map(|(id, n)| {
                let path = paths.get(&id).cloned().unwrap_or_default();
                (id, path, n as u64)
            })
            .collect();
        summary
            .by_project
            .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        summary.by_artifact = per_artifact
            .into_iter()
            .map(|(id, n)| (id, n as u64))
            .collect();
        summary
            .by_artifact
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary.last_updated = newest.flatten();
        Ok(summary)
    }

    /// Per-status deployment counts of some artifacts, for artifact responses.
    pub async fn counts_for(
        &self,
        artifact_ids: &[String],
    ) -> Result<HashMap<String, StatusCounts>, DbErr> {
        use deployments::Column as C;
        let rows: Vec<(String, String, i64)> = deployments::Entity::find()
            .select_only()
            .column(C::ArtifactId)
            .column(C::Status)
            .column_as(C::Id.count(), "n")
            .filter(C::ArtifactId.is_in(artifact_ids.iter().cloned()))
            .group_by(C::ArtifactId)
            .group_by(C::Status)
            .into_tuple()
            .all(self.db())
            .await?;
        let mut out: HashMap<String, StatusCounts> = HashMap::new();
        for (id, status, n) in rows {
            out.entry(id).or_default().add(&status, n as u64);
        }
        Ok(out)
    }
}

pub(super) fn filter_condition(f: &DeploymentFilter) -> Condition {
    use deployments::Column as C;
    let mut cond = Condition::all();
    if !f.statuses.is_empty() {
        cond = cond.add(C::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(p) = &f.project {
        cond = cond.add(
            Condition::any()
                .add(C::ProjectId.eq(p.as_str()))
                .add(C::ProjectPath.eq(p.as_str())),
        );
    }
    if let Some(a) = &f.artifact_id {
        cond = cond.add(C::ArtifactId.eq(a.as_str()));
    }
    if !f.types.is_empty() {
        cond = cond.add(C::ArtifactType.is_in(f.types.iter().map(|t| t.as_str())));
    }
    if let Some(p) = &f.profile {
        cond = cond.add(C::Profile.eq(p.as_str()));
    }
    if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        cond = cond.add(
            C::ArtifactNameKey
                .like(LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\')),
        );
    }
    cond
}
