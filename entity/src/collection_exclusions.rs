//! `collection_exclusions`: artifacts the user removed from the default collection, so the
//! refresh that adds every new artifact to it does not add them back.

use sea_orm::entity::prelude::*;

/// One removed artifact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "collection_exclusions")]
pub struct Model {
    /// The collection.
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection_id: String,
    /// `type:name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub artifact_id: String,
    /// When it was removed.
    pub excluded_at: DateTimeUtc,
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

impl ActiveModelBehavior for ActiveModel {}
