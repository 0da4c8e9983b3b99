//! `deployments`: one artifact deployed into one project profile, mirroring a record of the
//! project's `.skillmeat-deployed.toml`, with its last computed status.

use sea_orm::entity::prelude::*;

/// One deployment.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deployments")]
pub struct Model {
    /// 32 hex characters; stable across rescans.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The project.
    pub project_id: String,
    /// The project's path (copied here so lists sort and filter without a join).
    pub project_path: String,
    /// `type:name`.
    pub artifact_id: String,
    /// skill, command, agent, hook or mcp.
    pub artifact_type: String,
    /// The artifact's name.
    pub artifact_name: String,
    /// The name lower-cased by the server, for case-insensitive search on both backends.
    pub artifact_name_key: String,
    /// `claude_code`, `codex`, `gemini` or `cursor`.
    pub profile: String,
    /// The profile's folder in the project, e.g. `.claude`.
    pub profile_root: String,
    /// Path of the copy relative to the profile root, e.g. `skills/canvas`.
    pub artifact_path: String,
    /// The collection it was deployed from.
    pub from_collection: String,
    /// When it was deployed (as the record says).
    pub deployed_at: DateTimeUtc,
    /// Content hash recorded at deploy time.
    pub recorded_hash: String,
    /// Content hash of the project copy at the last check; null when missing.
    pub local_hash: Option<String>,
    /// Stat fingerprint of the project copy at the last check (skips re-hashing).
    pub local_fingerprint: Option<String>,
    /// Content hash of the collection's copy at the last check; null when the collection no
    /// longer has the artifact.
    pub collection_hash: Option<String>,
    /// synced, modified, outdated, conflict or missing.
    pub status: String,
    /// When the status was computed.
    pub status_checked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The project.
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id",
        on_delete = "Cascade"
    )]
    Projects,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Projects.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
