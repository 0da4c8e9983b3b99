//! A group's members: adding (artifacts join the collection too), removing, ordering and
//! moving them between groups, positions kept 0-based and gapless.

use super::*;

impl CollectionService {
    /// Adds artifacts to a group at `position` (later members shift) or at the end. Ids already
    /// in the group stay where they are; artifacts not yet in the collection are added to it;
    /// ids no source knows are refused and nothing changes.
    pub async fn add_group_members(
        &self,
        group_id: &str,
        raw_ids: &[String],
        position: Option<u32>,
    ) -> Result<GroupDetail, OrgError> {
        if raw_ids.is_empty() {
            return Err(OrgError::Invalid(
                "artifact_ids must list at least one id".into(),
            ));
        }
        let (known, unknown) = self.partition_known(raw_ids).await?;
        if !unknown.is_empty() {
            return Err(OrgError::NotFound(format!(
                "unknown artifacts: {}",
                unknown.join(", ")
            )));
        }
        let collection_id = groups::Entity::find_by_id(group_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(group_id))?
            .collection_id;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, &collection_id).await?;
        self.group(&txn, group_id).await?;
        let mut order = member_order(&txn, group_id).await?;
        let present: std::collections::HashSet<&String> = order.iter().collect();
        let new: Vec<String> = known
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        insert_members(&txn, &collection_id, &new).await?;
        let now = Utc::now();
        for id in &new {
            group_artifacts::ActiveModel {
                group_id: Set(group_id.to_string()),
                artifact_id: Set(id.clone()),
                position: Set(0),
                added_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        insert_at(&mut order, new, position);
        write_member_positions(&txn, group_id, &order).await?;
        txn.commit().await?;
        self.write_manifest_groups(&collection_id).await;
        self.group_detail(group_id).await
    }

    /// Removes one member; later members move up. Not a member: 404.
    pub async fn remove_group_member(
        &self,
        group_id: &str,
        raw_artifact_id: &str,
    ) -> Result<(), OrgError> {
        let artifact_id = ArtifactId::parse(raw_artifact_id)
            .map_err(|_| {
                OrgError::NotFound(format!(
                    "Artifact '{}' is not in group '{group_id}'",
                    crate::source::printable(raw_artifact_id)
                ))
            })?
            .to_string();
        let collection_id = groups::Entity::find_by_id(group_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(group_id))?
            .collection_id;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, &collection_id).await?;
        let res = group_artifacts::Entity::delete_many()
            .filter(group_artifacts::Column::GroupId.eq(group_id))
            .filter(group_artifacts::Column::ArtifactId.eq(artifact_id.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(OrgError::NotFound(format!(
                "Artifact '{artifact_id}' is not in group '{group_id}'"
            )));
        }
        compact_members(&txn, group_id).await?;
        txn.commit().await?;
        self.write_manifest_groups(&collection_id).await;
        Ok(())
    }

    /// Sets the order of a group's members; the list must name every member exactly once.
    pub async fn order_group_members(
        &self,
        group_id: &str,
        raw_ids: &[String],
    ) -> Result<GroupDetail, OrgError> {
        let ids = crate::collections::parse_artifact_ids(raw_ids)?;
        let collection_id = groups::Entity::find_by_id(group_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(group_id))?
            .collection_id;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, &collection_id).await?;
        let current = member_order(&txn, group_id).await?;
        let current_set: std::collections::HashSet<&String> = current.iter().collect();
        let strangers: Vec<&String> = ids.iter().filter(|i| !current_set.contains(i)).collect();
        if !strangers.is_empty() {
            return Err(OrgError::NotFound(format!(
                "not members of group '{group_id}': {}",
                strangers
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if ids.len() != current.len() || raw_ids.len() != ids.len() {
            return Err(OrgError::Invalid(
                "artifact_ids must list every member of the group exactly once".into(),
            ));
        }
        write_member_positions(&txn, group_id, &ids).await?;
        txn.commit().await?;
        self.write_manifest_groups(&collection_id).await;
        self.group_detail(group_id).await
    }

    /// Moves a member to `position` in `target_group_id` (the same group reorders it; another
    /// group takes it out of this one). The target's collection gains the artifact if needed.
    pub async fn move_group_member(
        &self,
        group_id: &str,
        raw_artifact_id: &str,
        target_group_id: &str,
        position: Option<u32>,
    ) -> Result<GroupDetail, OrgError> {
        let artifact_id = ArtifactId::parse(raw_artifact_id)
            .map_err(OrgError::BadRequest)?
            .to_string();
        let source = groups::Entity::find_by_id(group_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(group_id))?;
        let target = groups::Entity::find_by_id(target_group_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(target_group_id))?;
        let txn = begin_write(&self.db).await?;
        let (first, second) = if source.collection_id <= target.collection_id {
            (&source.collection_id, &target.collection_id)
        } else {
            (&target.collection_id, &source.collection_id)
        };
        self.lock_collection(&txn, first).await?;
        if first != second {
            self.lock_collection(&txn, second).await?;
        }
        self.group(&txn, group_id).await?;
        self.group(&txn, target_group_id).await?;
        let mut source_order = member_order(&txn, group_id).await?;
        if !source_order.contains(&artifact_id) {
            return Err(OrgError::NotFound(format!(
                "Artifact '{artifact_id}' is not in group '{group_id}'"
            )));
        }
        if group_id == target_group_id {
            source_order.retain(|a| *a != artifact_id);
            insert_at(&mut source_order, vec![artifact_id], position);
            write_member_positions(&txn, group_id, &source_order).await?;
        } else {
            group_artifacts::Entity::delete_many()
                .filter(group_artifacts::Column::GroupId.eq(group_id))
                .filter(group_artifacts::Column::ArtifactId.eq(artifact_id.as_str()))
                .exec(&txn)
                .await?;
            source_order.retain(|a| *a != artifact_id);
            write_member_positions(&txn, group_id, &source_order).await?;
            let mut target_order = member_order(&txn, target_group_id).await?;
            if !target_order.contains(&artifact_id) {
                insert_members(
                    &txn,
                    &target.collection_id,
                    std::slice::from_ref(&artifact_id),
                )
                .await?;
                group_artifacts::ActiveModel {
                    group_id: Set(target_group_id.to_string()),
                    artifact_id: Set(artifact_id.clone()),
                    position: Set(0),
                    added_at: Set(Utc::now()),
                }
                .insert(&txn)
                .await?;
            }
            target_order.retain(|a| *a != artifact_id);
            insert_at(&mut target_order, vec![artifact_id], position);
            write_member_positions(&txn, target_group_id, &target_order).await?;
        }
        txn.commit().await?;
        self.write_manifest_groups(&source.collection_id).await;
        if target.collection_id != source.collection_id {
            self.write_manifest_groups(&target.collection_id).await;
        }
        self.group_detail(target_group_id).await
    }
}

/// Member ids of a group in position order.
pub(crate) async fn member_order<C: ConnectionTrait>(
    conn: &C,
    group_id: &str,
) -> Result<Vec<String>, DbErr> {
    group_artifacts::Entity::find()
        .select_only()
        .column(group_artifacts::Column::ArtifactId)
        .filter(group_artifacts::Column::GroupId.eq(group_id))
        .order_by_asc(group_artifacts::Column::Position)
        .order_by_asc(group_artifacts::Column::ArtifactId)
        .into_tuple()
        .all(conn)
        .await
}

/// Gives each member its index in `ordered` as position.
pub(crate) async fn write_member_positions(
    txn: &DatabaseTransaction,
    group_id: &str,
    ordered: &[String],
) -> Result<(), DbErr> {
    for (i, id) in ordered.iter().enumerate() {
        group_artifacts::Entity::update_many()
            .col_expr(group_artifacts::Column::Position, Expr::value(i as i32))
            .filter(group_artifacts::Column::GroupId.eq(group_id))
            .filter(group_artifacts::Column::ArtifactId.eq(id.as_str()))
            .filter(group_artifacts::Column::Position.ne(i as i32))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Closes gaps in a group's positions, keeping the order.
pub(crate) async fn compact_members(
    txn: &DatabaseTransaction,
    group_id: &str,
) -> Result<(), DbErr> {
    let order = member_order(txn, group_id).await?;
    write_member_positions(txn, group_id, &order).await
}
