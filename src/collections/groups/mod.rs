//! Groups: named, ordered buckets inside a collection, with ordered members.
//!
//! Every operation that changes positions rewrites them from an ordered list in one transaction,
//! so positions are 0-based and gapless by construction. The collection row is locked first (then
//! a second collection in id order), so concurrent reorders queue instead of interleaving.

mod members;

pub(crate) use members::{compact_members, member_order};

use std::collections::HashMap;

use chrono::Utc;
use entity::{group_artifacts, groups};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{CollectionService, OrgError, insert_members, validate};
use crate::cache::listing::escape_like;
use crate::db::{begin_write, is_unique_violation, new_id};
use crate::source::ArtifactId;

/// A group with its member count.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// The row.
    pub group: groups::Model,
    /// Its members.
    pub artifact_count: u64,
}

impl GroupInfo {
    /// The tags, decoded.
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.group.tags).unwrap_or_default()
    }
}

/// A group with its members in order.
#[derive(Debug, Clone)]
pub struct GroupDetail {
    /// The group.
    pub info: GroupInfo,
    /// Members by position.
    pub members: Vec<group_artifacts::Model>,
}

/// Fields of a new group.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    /// The collection.
    pub collection_id: String,
    /// Name, unique in the collection.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags (normalised).
    pub tags: Vec<String>,
    /// Colour (default `slate`).
    pub color: Option<String>,
    /// Icon (default `layers`).
    pub icon: Option<String>,
    /// Where to insert it; appended when absent.
    pub position: Option<u32>,
}

/// A partial update of a group.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New colour.
    pub color: Option<String>,
    /// New icon.
    pub icon: Option<String>,
    /// New position among the collection's groups.
    pub position: Option<u32>,
}

fn not_found_group(id: &str) -> OrgError {
    OrgError::NotFound(format!(
        "Group '{}' not found",
        crate::source::printable(id)
    ))
}

fn duplicate_name(name: &str, collection_id: &str) -> OrgError {
    OrgError::DuplicateGroupName(format!(
        "Group '{name}' already exists in collection '{collection_id}'"
    ))
}

/// Inserts `items` into `list` at `position` (clamped to the end; end when `None`).
fn insert_at(list: &mut Vec<String>, items: Vec<String>, position: Option<u32>) {
    let at = position
        .map(|p| (p as usize).min(list.len()))
        .unwrap_or(list.len());
    list.splice(at..at, items);
}

impl CollectionService {
    async fn group<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &str,
    ) -> Result<groups::Model, OrgError> {
        groups::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or_else(|| not_found_group(id))
    }

    /// Groups of a collection in order; `search` filters names (case-insensitive), `artifact_id`
    /// keeps groups holding that artifact.
    pub async fn list_groups(
        &self,
        collection_id: &str,
        search: Option<&str>,
        artifact_id: Option<&str>,
    ) -> Result<Vec<GroupInfo>, OrgError> {
        self.find(&self.db, collection_id).await?;
        let mut query =
            groups::Entity::find().filter(groups::Column::CollectionId.eq(collection_id));
        if let Some(q) = search.map(str::trim).filter(|q| !q.is_empty()) {
            // Compared with the name lower-cased by the server: SQLite's lower() knows ASCII only.
            query = query.filter(
                groups::Column::NameKey.like(
                    sea_orm::sea_query::LikeExpr::new(format!(
                        "%{}%",
                        escape_like(&q.to_lowercase())
                    ))
                    .escape('\\'),
                ),
            );
        }
        if let Some(raw) = artifact_id {
            let id = ArtifactId::parse(raw)
                .map_err(OrgError::BadRequest)?
                .to_string();
            let holding = sea_orm::sea_query::Query::select()
                .column(group_artifacts::Column::GroupId)
                .from(group_artifacts::Entity)
                .and_where(group_artifacts::Column::ArtifactId.eq(id))
                .to_owned();
            query = query.filter(groups::Column::Id.in_subquery(holding));
        }
        let rows = query
            .order_by_asc(groups::Column::Position)
            .order_by_asc(groups::Column::Id)
            .all(&self.db)
            .await?;
        self.with_counts(rows).await
    }

    async fn with_counts(&self, rows: Vec<groups::Model>) -> Result<Vec<GroupInfo>, OrgError> {
        let ids: Vec<String> = rows.iter().map(|g| g.id.clone()).collect();
        let counts: HashMap<String, i64> = group_artifacts::Entity::find()
            .select_only()
            .column(group_artifacts::Column::GroupId)
            .column_as(group_artifacts::Column::ArtifactId.count(), "n")
            .filter(group_artifacts::Column::GroupId.is_in(ids))
            .group_by(group_artifacts::Column::GroupId)
            .into_tuple::<(String, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        Ok(rows
            .into_iter()
            .map(|g| GroupInfo {
                artifact_count: counts.get(&g.id).copied().unwrap_or(0) as u64,
                group: g,
            })
            .collect())
    }

    /// One group with its members in order.
    pub async fn group_detail(&self, id: &str) -> Result<GroupDetail, OrgError> {
        let group = groups::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(id))?;
        let members = group_artifacts::Entity::find()
            .filter(group_artifacts::Column::GroupId.eq(id))
            .order_by_asc(group_artifacts::Column::Position)
            .order_by_asc(group_artifacts::Column::ArtifactId)
            .all(&self.db)
            .await?;
        Ok(GroupDetail {
            info: GroupInfo {
                artifact_count: members.len() as u64,
                group,
            },
            members,
        })
    }

    /// Creates a group, appended unless a position is given (later groups then shift down).
    pub async fn create_group(&self, input: NewGroup) -> Result<GroupInfo, OrgError> {
        let name = validate::name(&input.name, "Group")?;
        let tags = validate::tags(&input.tags)?;
        let color = validate::color(input.color.as_deref().unwrap_or("slate"))?;
        let icon = validate::icon(input.icon.as_deref().unwrap_or("layers"))?;
        let txn = begin_write(&self.db).await?;
        let collection = self.lock_collection(&txn, &input.collection_id).await?;
        if group_named(&txn, &collection.id, &name).await?.is_some() {
            return Err(duplicate_name(&name, &collection.id));
        }
        let id = new_id();
        let now = Utc::now();
        let mut order = group_order(&txn, &collection.id).await?;
        insert_at(&mut order, vec![id.clone()], input.position);
        let position = order.iter().position(|g| *g == id).unwrap_or(0) as i32;
        groups::ActiveModel {
            id: Set(id.clone()),
            collection_id: Set(collection.id.clone()),
            name_key: Set(name.to_lowercase()),
            name: Set(name.clone()),
            description: Set(input.description),
            tags: Set(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into())),
            color: Set(color),
            icon: Set(icon),
            position: Set(position),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                duplicate_name(&name, &collection.id)
            } else {
                e.into()
            }
        })?;
        write_group_positions(&txn, &order).await?;
        txn.commit().await?;
        self.write_manifest_groups(&collection.id).await;
        Ok(self.group_detail(&id).await?.info)
    }

    /// Applies a partial update; an empty one is a bad request.
    pub async fn update_group(&self, id: &str, patch: GroupPatch) -> Result<GroupInfo, OrgError> {
        if patch.name.is_none()
            && patch.description.is_none()
            && patch.tags.is_none()
            && patch.color.is_none()
            && patch.icon.is_none()
            && patch.position.is_none()
        {
            return Err(OrgError::BadRequest(
                "At least one update parameter must be provided".into(),
            ));
        }
        let name = patch
            .name
            .as_deref()
            .map(|n| validate::name(n, "Group"))
            .transpose()?;
        let tags = patch.tags.as_deref().map(validate::tags).transpose()?;
        let color = patch.color.as_deref().map(validate::color).transpose()?;
        let icon = patch.icon.as_deref().map(validate::icon).transpose()?;
        let collection_id = self.group(&self.db, id).await?.collection_id;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, &collection_id).await?;
        let existing = self.group(&txn, id).await?;
        let mut row: groups::ActiveModel = existing.clone().into();
        if let Some(name) = &name {
            if *name != existing.name && group_named(&txn, &collection_id, name).await?.is_some() {
                return Err(duplicate_name(name, &collection_id));
            }
            row.name_key = Set(name.to_lowercase());
            row.name = Set(name.clone());
        }
        if let Some(d) = patch.description {
            row.description = Set(Some(d));
        }
        if let Some(t) = tags {
            row.tags = Set(serde_json::to_string(&t).unwrap_or_else(|_| "[]".into()));
        }
        if let Some(c) = color {
            row.color = Set(c);
        }
        if let Some(i) = icon {
            row.icon = Set(i);
        }
        row.updated_at = Set(Utc::now());
        row.update(&txn).await.map_err(|e| {
            if is_unique_violation(&e) {
                duplicate_name(name.as_deref().unwrap_or_default(), &collection_id)
            } else {
                e.into()
            }
        })?;
        if let Some(position) = patch.position {
            let mut order = group_order(&txn, &collection_id).await?;
            order.retain(|g| g != id);
            insert_at(&mut order, vec![id.to_string()], Some(position));
            write_group_positions(&txn, &order).await?;
        }
        txn.commit().await?;
        self.write_manifest_groups(&collection_id).await;
        Ok(self.group_detail(id).await?.info)
    }

    /// Deletes a group (its artifacts stay in the collection); later groups move up.
    pub async fn delete_group(&self, id: &str) -> Result<(), OrgError> {
        let collection_id = groups::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_group(id))?
            .collection_id;
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, &collection_id).await?;
        let res = groups::Entity::delete_by_id(id).exec(&txn).await?;
        if res.rows_affected == 0 {
            return Err(not_found_group(id));
        }
        let order = group_order(&txn, &collection_id).await?;
        write_group_positions(&txn, &order).await?;
        txn.commit().await?;
        self.write_manifest_groups(&collection_id).await;
        Ok(())
    }

    /// Copies a group into a collection (the same one is allowed) as "<name> (Copy)", appended,
    /// with its members in their positions; members missing from the target collection are
    /// added to it.
    pub async fn copy_group(
        &self,
        id: &str,
        target_collection_id: &str,
    ) -> Result<GroupInfo, OrgError> {
        let source = self.group_detail(id).await?;
        let txn = begin_write(&self.db).await?;
        let source_collection = source.info.group.collection_id.clone();
        let (first, second) = if source_collection.as_str() < target_collection_id {
            (source_collection.as_str(), target_collection_id)
        } else {
            (target_collection_id, source_collection.as_str())
        };
        self.lock_collection(&txn, first).await?;
        if second != first {
            self.lock_collection(&txn, second).await?;
        }
        // Re-read under the lock: the members may have changed since.
        let members = group_artifacts::Entity::find()
            .filter(group_artifacts::Column::GroupId.eq(id))
            .order_by_asc(group_artifacts::Column::Position)
            .all(&txn)
            .await?;
        let source_group = self.group(&txn, id).await?;
        let name = format!("{} (Copy)", source_group.name);
        if name.chars().count() > validate::MAX_NAME_CHARS {
            return Err(OrgError::Invalid(
                "the copy's name would be longer than 255 characters".into(),
            ));
        }
        if group_named(&txn, target_collection_id, &name)
            .await?
            .is_some()
        {
            return Err(duplicate_name(&name, target_collection_id));
        }
        let mut order = group_order(&txn, target_collection_id).await?;
        let new_group_id = new_id();
        let now = Utc::now();
        groups::ActiveModel {
            id: Set(new_group_id.clone()),
            collection_id: Set(target_collection_id.to_string()),
            name_key: Set(name.to_lowercase()),
            name: Set(name.clone()),
            description: Set(source_group.description.clone()),
            tags: Set(source_group.tags.clone()),
            color: Set(source_group.color.clone()),
            icon: Set(source_group.icon.clone()),
            position: Set(order.len() as i32),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                duplicate_name(&name, target_collection_id)
            } else {
                e.into()
            }
        })?;
        order.push(new_group_id.clone());
        let ids: Vec<String> = members.iter().map(|m| m.artifact_id.clone()).collect();
        insert_members(&txn, target_collection_id, &ids).await?;
        for m in &members {
            group_artifacts::ActiveModel {
                group_id: Set(new_group_id.clone()),
                artifact_id: Set(m.artifact_id.clone()),
                position: Set(m.position),
                added_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        self.write_manifest_groups(target_collection_id).await;
        Ok(self.group_detail(&new_group_id).await?.info)
    }

    /// Sets the order of a collection's groups; the list must name every group exactly once.
    pub async fn order_groups(
        &self,
        collection_id: &str,
        group_ids: &[String],
    ) -> Result<Vec<GroupInfo>, OrgError> {
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, collection_id).await?;
        let current = group_order(&txn, collection_id).await?;
        if group_ids.len() > super::MAX_IDS_PER_REQUEST {
            return Err(OrgError::Invalid(format!(
                "at most {} group ids per request",
                super::MAX_IDS_PER_REQUEST
            )));
        }
        let current_set: std::collections::HashSet<&String> = current.iter().collect();
        let listed: std::collections::HashSet<&String> = group_ids.iter().collect();
        let unknown: Vec<&String> = group_ids
            .iter()
            .filter(|g| !current_set.contains(g))
            .collect();
        if !unknown.is_empty() {
            return Err(OrgError::NotFound(format!(
                "not groups of collection '{collection_id}': {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let missing: Vec<&String> = current.iter().filter(|g| !listed.contains(g)).collect();
        if !missing.is_empty() {
            return Err(OrgError::NotFound(format!(
                "group_ids must list every group of the collection; missing: {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if group_ids.len() != current.len() {
            return Err(OrgError::Invalid(
                "group_ids lists a group more than once".into(),
            ));
        }
        write_group_positions(&txn, group_ids).await?;
        txn.commit().await?;
        self.write_manifest_groups(collection_id).await;
        self.list_groups(collection_id, None, None).await
    }
}

async fn group_named(
    txn: &DatabaseTransaction,
    collection_id: &str,
    name: &str,
) -> Result<Option<groups::Model>, DbErr> {
    groups::Entity::find()
        .filter(groups::Column::CollectionId.eq(collection_id))
        .filter(groups::Column::Name.eq(name))
        .one(txn)
        .await
}

/// Group ids of a collection in position order.
pub(crate) async fn group_order(
    txn: &DatabaseTransaction,
    collection_id: &str,
) -> Result<Vec<String>, DbErr> {
    groups::Entity::find()
        .select_only()
        .column(groups::Column::Id)
        .filter(groups::Column::CollectionId.eq(collection_id))
        .order_by_asc(groups::Column::Position)
        .order_by_asc(groups::Column::Id)
        .into_tuple()
        .all(txn)
        .await
}

/// Gives each group its index in `ordered` as position.
pub(crate) async fn write_group_positions(
    txn: &DatabaseTransaction,
    ordered: &[String],
) -> Result<(), DbErr> {
    for (i, id) in ordered.iter().enumerate() {
        groups::Entity::update_many()
            .col_expr(groups::Column::Position, Expr::value(i as i32))
            .filter(groups::Column::Id.eq(id.as_str()))
            .filter(groups::Column::Position.ne(i as i32))
            .exec(txn)
            .await?;
    }
    Ok(())
}
