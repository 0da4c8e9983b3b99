//! `sessions`: browser sessions opened by signing in with an API key, shared by every
//! server instance on one database.

use sea_orm::entity::prelude::*;

/// One signed-in browser.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// SHA-256 (hex) of the random session id the cookie carries; the id itself is never stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Fingerprint of the key the session was opened with; a changed key matches no session.
    pub key_fingerprint: String,
    /// When the browser signed in.
    pub created_at: DateTimeUtc,
    /// When the session was last used (written at most once a minute).
    pub last_used_at: DateTimeUtc,
    /// When it ends unless used again.
    pub expires_at: DateTimeUtc,
}

/// No relations: a session belongs to a key, not to a row.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
