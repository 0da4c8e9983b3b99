//! `search_roots`: folders searched for projects, added from the dashboard (the configured
//! `deploy.search_roots` are not stored).

use sea_orm::entity::prelude::*;

/// One added search root.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "search_roots")]
pub struct Model {
    /// 32 hex characters.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The absolute folder, as resolved when it was added.
    #[sea_orm(unique)]
    pub path: String,
    /// When it was added.
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
