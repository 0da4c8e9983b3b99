//! `cache_meta`: small key/value facts about the cache (schema version, last full sync).

use sea_orm::entity::prelude::*;

/// One fact about the cache.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cache_meta")]
pub struct Model {
    /// The fact's name, e.g. `schema_version`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Its value, as text.
    pub value: String,
    /// When it was last written.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
