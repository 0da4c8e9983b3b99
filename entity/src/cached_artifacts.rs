//! `cached_artifacts`: one row per artifact id (`type:name`), filled from the artifact sources.
//!
//! The row is only a cache: it can be dropped at any time and is rebuilt from the source on the
//! next read or refresh. Nothing else references it by foreign key.

use sea_orm::entity::prelude::*;

/// One cached artifact.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cached_artifacts")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `type:name`, unique across the cache.
    #[sea_orm(unique)]
    pub artifact_id: String,
    /// skill, command, agent, hook or mcp.
    pub artifact_type: String,
    /// The artifact's name (the part after `type:`).
    pub name: String,
    /// The collection the cached copy was read from (the primary one when it is in several).
    pub collection: String,
    /// Every collection holding the artifact, as `/a/b/` so one LIKE finds a member.
    pub collections: String,
    /// Description from the front matter or the first body line.
    pub description: Option<String>,
    /// Tags, lower-cased, as `/a/b/`.
    pub tags: String,
    /// Tool names, lower-cased, as `/read/grep/`.
    pub tools: String,
    /// Lower-cased name and description, for case-insensitive search on both backends.
    pub search_text: String,
    /// The whole artifact record as JSON (metadata, files, manifest fields).
    pub data: Json,
    /// Size of `data` in bytes, for the cache status.
    pub data_bytes: i64,
    /// SkillMeat's content hash (SHA-256 hex) of the artifact's files.
    pub content_hash: String,
    /// Cheap source fingerprint (mtime, size, file count, manifest entry) used to skip re-reads.
    pub fingerprint: String,
    /// Newest modification time of the artifact's files.
    pub source_modified_at: DateTimeUtc,
    /// When this row was last written from the source.
    pub last_updated: DateTimeUtc,
    /// When this row was last served (updated at most once a minute).
    pub last_accessed: DateTimeUtc,
    /// Time to live of the row, in seconds.
    pub ttl_secs: i64,
    /// `last_updated + ttl_secs`: after this a read goes back to the source.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
