//! `collection_artifacts`: which artifacts a collection holds. Artifacts are referenced by their
//! `type:name` id, not by a key into the cache, so rebuilding the cache never loses a membership.

use sea_orm::entity::prelude::*;

/// One membership.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "collection_artifacts")]
pub struct Model {
    /// The collection.
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection_id: String,
    /// `type:name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub artifact_id: String,
    /// When it was added.
    pub added_at: DateTimeUtc,
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
}

impl Related<super::user_collections::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserCollections.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
