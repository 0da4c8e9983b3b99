//! Groups mirrored into `collection.toml`, as SkillMeat does: after every group change the
//! collection's `[[groups]]` (name, description, color, icon, position, members) is rewritten in
//! its folder's manifest, atomically (temp file + rename) and leaving every other byte as it was.
//! At start-up, a collection whose database rows have no groups gets them back from the manifest,
//! so a lost database does not lose the user's organisation.
//!
//! A collection mirrors into the folder recorded in its `folder` column: the default collection
//! into SkillMeat's `default`, a new collection into `collections/<its name>/` when that folder
//! has a `collection.toml`, a recovered one into the folder it was recovered from. Renaming a
//! collection keeps its folder; deleting it clears the folder's `[[groups]]`.
//! Group tags are not written: SkillMeat's `[[groups]]` has no such field.

use std::path::{Path, PathBuf};

use chrono::Utc;
use entity::{group_artifacts, groups, user_collections};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::Deserialize;

use super::{CollectionService, NewCollection, OrgError, insert_members, validate};
use crate::db::{begin_write, new_id};
use crate::source::{ArtifactId, validate_name};

/// One `[[groups]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ManifestGroup {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Icon.
    pub icon: Option<String>,
    /// Position.
    pub position: Option<i64>,
    /// Members, `type:name`, in order.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The folder a collection mirrors its groups into, if it has a manifest.
pub fn collection_dir(data_home: &Path, collection: &user_collections::Model) -> Option<PathBuf> {
    let folder = collection.folder.as_deref()?;
    validate_name(folder).ok()?;
    let dir = data_home.join("collections").join(folder);
    dir.join("collection.toml").is_file().then_some(dir)
}

/// The folder a new collection named `name` mirrors into: `collections/<name>/` when it has a
/// `collection.toml`.
pub fn folder_for_name(data_home: &Path, name: &str) -> Option<String> {
    validate_name(name).ok()?;
    data_home
        .join("collections")
        .join(name)
        .join("collection.toml")
        .is_file()
        .then(|| name.to_string())
}

/// Reads `[[groups]]` from a manifest; entries that do not parse are skipped.
pub fn read_manifest_groups(file: &Path) -> Vec<ManifestGroup> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(toml::Value::Array(entries)) = doc.get("groups") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| e.clone().try_into().ok())
        .collect()
}

/// Replaces `[[groups]]` in a manifest with `groups`, atomically; a no-op when unchanged.
pub fn rewrite_manifest_groups(file: &Path, groups: &[ManifestGroup]) -> std::io::Result<()> {
    use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
    let text = std::fs::read_to_string(file)?;
    let mut doc: DocumentMut = text.parse().map_err(std::io::Error::other)?;
    doc.remove("groups");
    if !groups.is_empty() {
        let mut tables = ArrayOfTables::new();
        for g in groups {
            let mut t = Table::new();
            t["name"] = value(g.name.as_str());
            if let Some(d) = &g.description {
                t["description"] = value(d.as_str());
            }
            t["color"] = value(g.color.clone().unwrap_or_else(|| "slate".into()));
            t["icon"] = value(g.icon.clone().unwrap_or_else(|| "layers".into()));
            t["position"] = value(g.position.unwrap_or(0));
            let mut members = Array::new();
            for m in &g.members {
                members.push(m.as_str());
            }
            t["members"] = value(members);
            tables.push(t);
        }
        doc.insert("groups", Item::ArrayOfTables(tables));
    }
    let new_text = doc.to_string();
    if new_text == text {
        return Ok(());
    }
    crate::atomic::write_text(file, &new_text)
}

impl CollectionService {
    /// After a committed change of a collection's groups: says so to live clients and mirrors
    /// the groups into its manifest. The mirror is best effort, as in SkillMeat: a failure is
    /// logged and the database change stands.
    pub async fn write_manifest_groups(&self, collection_id: &str) {
        self.events
            .publish(crate::events::ServerEvent::GroupsChanged {
                collection_id: collection_id.to_string(),
            });
        if let Err(e) = self.try_write_manifest_groups(collection_id).await {
            tracing::warn!(collection_id, error = %e, "could not mirror groups into collection.toml");
        }
    }

    /// Empties `[[groups]]` in a collection's folder (before the collection is deleted).
    pub async fn clear_manifest_groups(&self, collection: &user_collections::Model) {
        let _guard = self.manifest_lock.lock().await;
        let Some(dir) = collection_dir(&self.data_home, collection) else {
            return;
        };
        let file = dir.join("collection.toml");
        let cleared =
            tokio::task::spawn_blocking(move || rewrite_manifest_groups(&file, &[])).await;
        if !matches!(cleared, Ok(Ok(()))) {
            tracing::warn!(collection_id = %collection.id, "could not clear [[groups]] in collection.toml");
        }
    }

    async fn try_write_manifest_groups(&self, collection_id: &str) -> Result<(), String> {
        // One writer at a time, and each writes the state as of now, so the last write wins
        // with the latest state.
        let _guard = self.manifest_lock.lock().await;
        let Some(collection) = user_collections::Entity::find_by_id(collection_id)
            .one(&self.db)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let Some(dir) = collection_dir(&self.data_home, &collection) else {
            return Ok(());
        };
        let rows = groups::Entity::find()
            .filter(groups::Column::CollectionId.eq(collection_id))
            .order_by_asc(groups::Column::Position)
            .all(&self.db)
            .await
            .map_err(|e| e.to_string())?;
        let mut snapshot = Vec::with_capacity(rows.len());
        for g in rows {
            let members = super::groups::member_order(&self.db, &g.id)
                .await
                .map_err(|e| e.to_string())?;
            snapshot.push(ManifestGroup {
                name: g.name,
                description: g.description,
                color: Some(g.color),
                icon: Some(g.icon),
                position: Some(g.position as i64),
                members,
            });
        }
        let file = dir.join("collection.toml");
        tokio::task::spawn_blocking(move || rewrite_manifest_groups(&file, &snapshot))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Gives collections without groups in the database the groups their manifest lists,
    /// creating a collection named after the folder when none maps to it. Returns the number
    /// of groups restored.
    pub async fn recover_groups_from_manifests(&self) -> Result<u64, OrgError> {
        let base = self.data_home.join("collections");
        let Ok(entries) = std::fs::read_dir(&base) else {
            return Ok(0);
        };
        let mut folders: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        folders.sort();
        let mut restored = 0;
        for folder in folders {
            let manifest_groups = read_manifest_groups(&base.join(&folder).join("collection.toml"));
            if manifest_groups.is_empty() {
                continue;
            }
            let mapped = user_collections::Entity::find()
                .filter(user_collections::Column::Folder.eq(folder.as_str()))
                .one(&self.db)
                .await?;
            let collection = match mapped {
                Some(c) => c,
                None => match self
                    .create(NewCollection {
                        name: folder.clone(),
                        ..Default::default()
                    })
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(folder, error = %e, "cannot create a collection to restore groups into");
                        continue;
                    }
                },
            };
            if collection.folder.as_deref() != Some(folder.as_str()) {
                // A collection of that name already mirrors elsewhere: leave both alone.
                continue;
            }
            let existing = groups::Entity::find()
                .filter(groups::Column::CollectionId.eq(collection.id.as_str()))
                .count(&self.db)
                .await?;
            if existing > 0 {
                continue;
            }
            restored += self.restore_groups(&collection.id, manifest_groups).await?;
        }
        if restored > 0 {
            tracing::info!(restored, "groups restored from collection.toml");
        }
        Ok(restored)
    }

    async fn restore_groups(
        &self,
        collection_id: &str,
        mut manifest_groups: Vec<ManifestGroup>,
    ) -> Result<u64, OrgError> {
        manifest_groups.sort_by_key(|g| g.position.unwrap_or(i64::MAX));
        let txn = begin_write(&self.db).await?;
        self.lock_collection(&txn, collection_id).await?;
        let mut names = Vec::new();
        let now = Utc::now();
        for g in manifest_groups {
            let Ok(name) = validate::name(&g.name, "Group") else {
                tracing::warn!(
                    collection_id,
                    "skipping a manifest group with an invalid name"
                );
                continue;
            };
            if names.contains(&name) {
                continue;
            }
            let group_id = new_id();
            groups::ActiveModel {
                id: Set(group_id.clone()),
                collection_id: Set(collection_id.to_string()),
                name_key: Set(name.to_lowercase()),
                name: Set(name.clone()),
                description: Set(g.description),
                tags: Set("[]".into()),
                color: Set(g
                    .color
                    .as_deref()
                    .and_then(|c| validate::color(c).ok())
                    .unwrap_or_else(|| "slate".into())),
                icon: Set(g
                    .icon
                    .as_deref()
                    .and_then(|i| validate::icon(i).ok())
                    .unwrap_or_else(|| "layers".into())),
                position: Set(names.len() as i32),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            names.push(name);
            let mut members: Vec<String> = Vec::new();
            for m in &g.members {
                if let Ok(id) = ArtifactId::parse(m) {
                    let id = id.to_string();
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            insert_members(&txn, collection_id, &members).await?;
            for (position, artifact_id) in members.iter().enumerate() {
                group_artifacts::ActiveModel {
                    group_id: Set(group_id.clone()),
                    artifact_id: Set(artifact_id.clone()),
                    position: Set(position as i32),
                    added_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
        txn.commit().await?;
        Ok(names.len() as u64)
    }
}
