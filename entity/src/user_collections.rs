//! `user_collections`: a user-defined collection that organises artifacts (by `type:name` id).

use sea_orm::entity::prelude::*;

/// One collection.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_collections")]
pub struct Model {
    /// `default` for the default collection, otherwise 32 hex characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Display name, trimmed, 1..=255 characters.
    pub name: String,
    /// Lower-cased name; unique, so names are unique case-insensitively.
    #[sea_orm(unique)]
    pub name_key: String,
    /// Free text.
    pub description: Option<String>,
    /// Free-form type, e.g. `context`.
    pub collection_type: Option<String>,
    /// Free-form category.
    pub context_category: Option<String>,
    /// The folder under `collections/` whose `collection.toml` mirrors the groups (kept across
    /// renames); `None` when the collection has no folder.
    pub folder: Option<String>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change to the collection itself.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its memberships.
    #[sea_orm(has_many = "super::collection_artifacts::Entity")]
    CollectionArtifacts,
    /// Its groups.
    #[sea_orm(has_many = "super::groups::Entity")]
    Groups,
}

impl Related<super::collection_artifacts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CollectionArtifacts.def()
    }
}

impl Related<super::groups::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Groups.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
