//! `skillmeat_imports`: one row per thing brought over from SkillMeat's database, by its
//! SkillMeat id, with the id it got here.

use sea_orm::entity::prelude::*;

/// One imported item.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "skillmeat_imports")]
pub struct Model {
    /// `collection`, `member`, `group` or `group_member`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// SkillMeat's id (for memberships `<container id>/<artifact>`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_id: String,
    /// The id here (a collection or group id; for memberships the `type:name`).
    pub local_id: String,
    /// When it was imported.
    pub imported_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
