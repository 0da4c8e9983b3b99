//! A collection's members: listing them (with their availability in the cache), adding,
//! removing, moving and copying them between collections, and the default collection's
//! adoption of every cached artifact.

use super::*;

impl CollectionService {
    /// A page of a collection's members, ordered by id.
    pub async fn list_members(
        &self,
        id: &str,
        filter: &MemberFilter,
        limit: u64,
        after: Option<&str>,
    ) -> Result<MemberPage, OrgError> {
        use collection_artifacts::Column as C;
        self.find(&self.db, id).await?;
        self.cache.ensure_populated().await?;
        let mut cond = Condition::all().add(C::CollectionId.eq(id));
        if !filter.types.is_empty() {
            let mut any = Condition::any();
            for t in &filter.types {
                any = any.add(C::ArtifactId.like(LikeExpr::new(format!("{}:%", t.as_str()))));
            }
            cond = cond.add(any);
        }
        if let Some(q) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            let matching = Query::select()
                .column(cached_artifacts::Column::ArtifactId)
                .from(cached_artifacts::Entity)
                .and_where(cached_artifacts::Column::SearchText.like(
                    LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\'),
                ))
                .to_owned();
            cond = cond.add(C::ArtifactId.in_subquery(matching));
        }
        if let Some(group_id) = &filter.group_id {
            let group = group_rows::Entity::find_by_id(group_id.as_str())
                .one(&self.db)
                .await?;
            if group.is_none_or(|g| g.collection_id != id) {
                return Err(OrgError::NotFound(format!(
                    "Group '{group_id}' not found in collection '{id}'"
                )));
            }
            let in_group = Query::select()
                .column(group_artifacts::Column::ArtifactId)
                .from(group_artifacts::Entity)
                .and_where(group_artifacts::Column::GroupId.eq(group_id.as_str()))
                .to_owned();
            cond = cond.add(C::ArtifactId.in_subquery(in_group));
        }
        let total_count = crate::db::count_rows(
            &self.db,
            collection_artifacts::Entity::find().filter(cond.clone()),
        )
        .await?;
        let mut query = collection_artifacts::Entity::find().filter(cond);
        if let Some(raw) = after {
            let (key, _) = decode_pair_cursor(raw)?;
            query = query.filter(C::ArtifactId.gt(key));
        }
        let mut rows = query
            .order_by_asc(C::ArtifactId)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let end_cursor = rows.last().map(|r| encode_pair_cursor(&r.artifact_id, ""));
        let ids: Vec<String> = rows.iter().map(|r| r.artifact_id.clone()).collect();
        let mut cached: HashMap<String, cached_artifacts::Model> = cached_artifacts::Entity::find()
            .filter(cached_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.artifact_id.clone(), m))
            .collect();
        let mut groups_of: HashMap<String, Vec<(String, String, i32)>> = HashMap::new();
        if filter.include_groups && !ids.is_empty() {
            let rows: Vec<(String, String, String, i32)> = group_artifacts::Entity::find()
                .select_only()
                .column(group_artifacts::Column::ArtifactId)
                .column(group_rows::Column::Id)
                .column(group_rows::Column::Name)
                .column(group_rows::Column::Position)
                .inner_join(group_rows::Entity)
                .filter(group_rows::Column::CollectionId.eq(id))
                .filter(group_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
                .order_by_asc(group_rows::Column::Position)
                .into_tuple()
                .all(&self.db)
                .await?;
            for (artifact_id, gid, name, position) in rows {
                groups_of
                    .entry(artifact_id)
                    .or_default()
                    .push((gid, name, position));
            }
        }
        let items = rows
            .into_iter()
            .map(|r| Member {
                cached: cached.remove(&r.artifact_id),
                groups: groups_of.remove(&r.artifact_id).unwrap_or_default(),
                artifact_id: r.artifact_id,
                added_at: r.added_at,
            })
            .collect();
        Ok(MemberPage {
            items,
            has_next_page,
            end_cursor,
            total_count,
        })
    }

    /// The groups holding an artifact, as (collection name, group name), by collection then
    /// position.
    pub async fn groups_of_artifact(
        &self,
        artifact_id: &str,
    ) -> Result<Vec<(String, String)>, OrgError> {
        let rows: Vec<(String, String)> = group_artifacts::Entity::find()
            .select_only()
            .column(user_collections::Column::Name)
            .column(group_rows::Column::Name)
            .inner_join(group_rows::Entity)
            .join(
                sea_orm::JoinType::InnerJoin,
                sea_orm::RelationTrait::def(&group_rows::Relation::UserCollections),
            )
            .filter(group_artifacts::Column::ArtifactId.eq(artifact_id))
            .order_by_asc(user_collections::Column::NameKey)
            .order_by_asc(group_rows::Column::Position)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows)
    }

    /// Splits ids into those a source knows and those none does. Malformed ids are a bad request.
    pub async fn partition_known(
        &self,
        raw_ids: &[String],
    ) -> Result<(Vec<String>, Vec<String>), OrgError> {
        let ids = parse_artifact_ids(raw_ids)?;
        let cached: HashSet<String> = cached_artifacts::Entity::find()
            .select_only()
            .column(cached_artifacts::Column::ArtifactId)
            .filter(cached_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for id in ids {
            if cached.contains(&id) {
                known.push(id);
            } else {
                // Not cached yet (cold cache, or new on disk): ask the source once.
                let parsed = ArtifactId::parse(&id).map_err(OrgError::BadRequest)?;
                if self.cache.get_or_fill(&parsed).await?.is_some() {
                    known.push(id);
                } else {
                    unknown.push(id);
                }
            }
        }
        Ok((known, unknown))
    }

    /// Adds artifacts to a collection; unknown ids are reported, not added.
    pub async fn add_members(&self, id: &str, raw_ids: &[String]) -> Result<AddReport, OrgError> {
        if raw_ids.is_empty() {
            return Err(OrgError::Invalid(
                "artifact_ids must list at least one id".into(),
            ));
        }
        self.find(&self.db, id).await?;
        let (known, unknown) = self.partition_known(raw_ids).await?;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, id).await?;
        let (added, already_present) = insert_members(&txn, id, &known).await?;
        let total = member_count(&txn, id).await?;
        txn.commit().await?;
        self.collection_changed(id);
        Ok(AddReport {
            added,
            already_present,
            unknown,
            total_artifacts: total,
        })
    }

    /// Removes one artifact from a collection and its groups; idempotent. Removing from the
    /// default collection also keeps the refresh from adding it back.
    pub async fn remove_member(&self, id: &str, raw_artifact_id: &str) -> Result<(), OrgError> {
        let artifact_id = ArtifactId::parse(raw_artifact_id)
            .map_err(OrgError::BadRequest)?
            .to_string();
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, id).await?;
        let touched = remove_members(&txn, id, std::slice::from_ref(&artifact_id)).await?;
        txn.commit().await?;
        self.collection_changed(id);
        if touched {
            self.write_manifest_groups(id).await;
        }
        Ok(())
    }

    /// Moves or copies artifacts from one collection to another in one transaction. Every id
    /// must be a member of the source; otherwise nothing changes.
    pub async fn transfer(
        &self,
        source_id: &str,
        raw_ids: &[String],
        target_id: &str,
        mode: Transfer,
    ) -> Result<TransferReport, OrgError> {
        if raw_ids.is_empty() {
            return Err(OrgError::Invalid(
                "artifact_ids must list at least one id".into(),
            ));
        }
        if source_id == target_id {
            return Err(OrgError::Invalid(
                "target_collection_id must differ from the source collection".into(),
            ));
        }
        let ids = parse_artifact_ids(raw_ids)?;
        let txn = begin_write(&self.db).await?;
        // Lock both rows in a fixed order so two opposite transfers cannot deadlock.
        let (first, second) = if source_id < target_id {
            (source_id, target_id)
        } else {
            (target_id, source_id)
        };
        self.lock_collection(&txn, first).await?;
        self.lock_collection(&txn, second).await?;
        let members: HashSet<String> = collection_artifacts::Entity::find()
            .filter(collection_artifacts::Column::CollectionId.eq(source_id))
            .filter(collection_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|m| m.artifact_id)
            .collect();
        let missing: Vec<&String> = ids.iter().filter(|i| !members.contains(*i)).collect();
        if !missing.is_empty() {
            return Err(OrgError::NotFound(format!(
                "not in collection '{source_id}': {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (added, already_present) = insert_members(&txn, target_id, &ids).await?;
        let mut report = TransferReport {
            added,
            already_present,
            removed: Vec::new(),
        };
        let mut source_groups_changed = false;
        if mode == Transfer::Move {
            source_groups_changed = remove_members(&txn, source_id, &ids).await?;
            report.removed = ids;
        }
        txn.commit().await?;
        self.collection_changed(target_id);
        if mode == Transfer::Move {
            self.collection_changed(source_id);
        }
        if source_groups_changed {
            self.write_manifest_groups(source_id).await;
        }
        Ok(report)
    }
}

impl CollectionService {
    /// Adds every cached artifact to the default collection unless it is already there or the
    /// user removed it. One statement; the refresh job runs it after each refresh, so the
    /// default collection holds every artifact the sources report.
    pub async fn adopt_into_default(&self) -> Result<u64, DbErr> {
        adopt_cached(&self.db).await
    }
}

pub(super) async fn adopt_cached(db: &DatabaseConnection) -> Result<u64, DbErr> {
    if user_collections::Entity::find_by_id(DEFAULT_COLLECTION_ID)
        .one(db)
        .await?
        .is_none()
    {
        return Ok(0);
    }
    let members = Query::select()
        .column(collection_artifacts::Column::ArtifactId)
        .from(collection_artifacts::Entity)
        .and_where(collection_artifacts::Column::CollectionId.eq(DEFAULT_COLLECTION_ID))
        .to_owned();
    let excluded = Query::select()
        .column(collection_exclusions::Column::ArtifactId)
        .from(collection_exclusions::Entity)
        .and_where(collection_exclusions::Column::CollectionId.eq(DEFAULT_COLLECTION_ID))
        .to_owned();
    let select = Query::select()
        .expr(Expr::val(DEFAULT_COLLECTION_ID))
        .column(cached_artifacts::Column::ArtifactId)
        .expr(Expr::val(Utc::now()))
        .from(cached_artifacts::Entity)
        .and_where(cached_artifacts::Column::ArtifactId.not_in_subquery(members))
        .and_where(cached_artifacts::Column::ArtifactId.not_in_subquery(excluded))
        .to_owned();
    let insert = Query::insert()
        .into_table(collection_artifacts::Entity)
        .columns([
            collection_artifacts::Column::CollectionId,
            collection_artifacts::Column::ArtifactId,
            collection_artifacts::Column::AddedAt,
        ])
        .select_from(select)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([
                collection_artifacts::Column::CollectionId,
                collection_artifacts::Column::ArtifactId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    let res = db.execute(&insert).await?;
    Ok(res.rows_affected())
}

/// Inserts memberships, skipping existing ones; returns (added, already present). Re-adding to
/// the default collection lifts an earlier removal.
pub(crate) async fn insert_members(
    txn: &DatabaseTransaction,
    collection_id: &str,
    ids: &[String],
) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let existing: BTreeSet<String> = collection_artifacts::Entity::find()
        .filter(collection_artifacts::Column::CollectionId.eq(collection_id))
        .filter(collection_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| m.artifact_id)
        .collect();
    let (mut added, mut already) = (Vec::new(), Vec::new());
    let now = Utc::now();
    for id in ids {
        if existing.contains(id) {
            already.push(id.clone());
            continue;
        }
        collection_artifacts::ActiveModel {
            collection_id: Set(collection_id.to_string()),
            artifact_id: Set(id.clone()),
            added_at: Set(now),
        }
        .insert(txn)
        .await?;
        added.push(id.clone());
    }
    if !ids.is_empty() {
        collection_exclusions::Entity::delete_many()
            .filter(collection_exclusions::Column::CollectionId.eq(collection_id))
            .filter(collection_exclusions::Column::ArtifactId.is_in(ids.iter().cloned()))
            .exec(txn)
            .await?;
    }
    Ok((added, already))
}

/// Removes memberships and the artifacts' places in the collection's groups (compacting
/// positions); records the removal for the default collection. True when a group changed.
pub(crate) async fn remove_members(
    txn: &DatabaseTransaction,
    collection_id: &str,
    ids: &[String],
) -> Result<bool, DbErr> {
    collection_artifacts::Entity::delete_many()
        .filter(collection_artifacts::Column::CollectionId.eq(collection_id))
        .filter(collection_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
        .exec(txn)
        .await?;
    if collection_id == DEFAULT_COLLECTION_ID {
        let now = Utc::now();
        for id in ids {
            collection_exclusions::Entity::insert(collection_exclusions::ActiveModel {
                collection_id: Set(collection_id.to_string()),
                artifact_id: Set(id.clone()),
                excluded_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    collection_exclusions::Column::CollectionId,
                    collection_exclusions::Column::ArtifactId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
    }
    let affected_groups: Vec<String> = group_artifacts::Entity::find()
        .select_only()
        .column(group_artifacts::Column::GroupId)
        .inner_join(group_rows::Entity)
        .filter(group_rows::Column::CollectionId.eq(collection_id))
        .filter(group_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
        .distinct()
        .into_tuple()
        .all(txn)
        .await?;
    for group_id in &affected_groups {
        group_artifacts::Entity::delete_many()
            .filter(group_artifacts::Column::GroupId.eq(group_id.as_str()))
            .filter(group_artifacts::Column::ArtifactId.is_in(ids.iter().cloned()))
            .exec(txn)
            .await?;
        groups::compact_members(txn, group_id).await?;
    }
    Ok(!affected_groups.is_empty())
}

pub(super) async fn member_count(
    txn: &DatabaseTransaction,
    collection_id: &str,
) -> Result<u64, DbErr> {
    collection_artifacts::Entity::find()
        .filter(collection_artifacts::Column::CollectionId.eq(collection_id))
        .count(txn)
        .await
}
