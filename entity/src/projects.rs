//! `projects`: project folders whose deployments the server tracks.

use sea_orm::entity::prelude::*;

/// One project folder.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    /// 32 hex characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Canonical absolute path; unique.
    #[sea_orm(unique)]
    pub path: String,
    /// The folder's name.
    pub name: String,
    /// True when a user registered it; false when found by discovery.
    pub registered: bool,
    /// When it was first recorded.
    pub created_at: DateTimeUtc,
    /// When its deployment records were last read.
    pub last_scanned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its deployments.
    #[sea_orm(has_many = "super::deployments::Entity")]
    Deployments,
}

impl Related<super::deployments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Deployments.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
