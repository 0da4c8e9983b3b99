//! `artifact_upstreams`: the newest commit seen on an artifact's git upstream and the content
//! hash of its last pull.

use sea_orm::entity::prelude::*;

/// One artifact's upstream state, per collection copy.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "artifact_upstreams")]
pub struct Model {
    /// The collection holding the copy.
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection: String,
    /// `type:name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub artifact_id: String,
    /// The commit the upstream ref named at the last check.
    pub latest_sha: Option<String>,
    /// When it was last checked.
    pub checked_at: Option<DateTimeUtc>,
    /// Why the last check failed, if it did.
    pub error: Option<String>,
    /// SkillMeat's content hash of what the last import or pull wrote.
    pub pulled_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
