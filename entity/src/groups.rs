//! `groups`: a named, ordered bucket of artifacts inside one collection.

use sea_orm::entity::prelude::*;

/// One group.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "groups")]
pub struct Model {
    /// 32 hex characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The collection; unique together with `name`.
    pub collection_id: String,
    /// Display name, 1..=255 characters.
    pub name: String,
    /// The name lower-cased (Unicode-aware, by the server) for case-insensitive search on both
    /// backends.
    pub name_key: String,
    /// Free text.
    pub description: Option<String>,
    /// Group-local tags as a JSON list of strings.
    pub tags: String,
    /// A colour token or `#rrggbb`.
    pub color: String,
    /// An icon name.
    pub icon: String,
    /// 0-based, gapless position within the collection.
    pub position: i32,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The collection.
    #[sea_orm(
        belongs_to = "super::user_collections::Entity",
        from = "Column::CollectionId",
        to = "super::user_collections::Column::Id",
        on_delete = "Cascade"
    )]
    UserCollections,
    /// Its members.
    #[sea_orm(has_many = "super::group_artifacts::Entity")]
    GroupArtifacts,
}

impl Related<super::user_collections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserCollections.def()
    }
}

impl Related<super::group_artifacts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::GroupArtifacts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
