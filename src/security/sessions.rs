//! Server-side browser sessions. Signing in makes a random 256-bit id; the cookie carries only
//! that id and the `sessions` table only its digest, with the fingerprint of the key used and
//! an expiry that slides on use. Every instance on one database shares the table, so signing
//! out (or changing the key) ends a session everywhere.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entity::sessions;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    Set,
};
use sha2::{Digest, Sha256};

use super::{Access, Keys};
use crate::config::Settings;

/// A session's expiry is pushed forward at most this often, so a busy browser does not
/// write on every request.
const SLIDE_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Bytes of randomness in a session id (256 bits).
const SESSION_ID_BYTES: usize = 32;

/// The session cookie's name and attributes, from the settings.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// `__Host-skillmeat_session` when served over HTTPS (the prefix makes browsers insist on
    /// `Secure`, `Path=/` and no `Domain`), else `skillmeat_session`.
    pub name: &'static str,
    /// Whether the cookie is `Secure`.
    pub secure: bool,
    /// Its `Max-Age`: the session lifetime.
    pub max_age: Duration,
}

impl SessionCookie {
    /// The cookie for these settings.
    pub fn from_settings(settings: &Settings) -> Self {
        let secure = settings.served_over_https();
        Self {
            name: if secure {
                "__Host-skillmeat_session"
            } else {
                "skillmeat_session"
            },
            secure,
            max_age: Duration::from_secs(settings.auth.session_ttl_secs),
        }
    }

    /// The `Set-Cookie` value carrying `id`.
    pub fn set(&self, id: &str) -> String {
        format!(
            "{}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.name,
            self.max_age.as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> String {
        format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
            self.name,
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// The sessions of this server's database.
#[derive(Clone)]
pub struct SessionStore {
    db: DatabaseConnection,
    keys: Arc<Keys>,
    ttl: chrono::TimeDelta,
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

impl SessionStore {
    /// Sessions over `db` for `keys`, living `ttl` after their last use.
    pub fn new(db: DatabaseConnection, keys: Arc<Keys>, ttl: Duration) -> Self {
        Self {
            db,
            keys,
            ttl: chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::days(7)),
        }
    }

    /// The configured keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Opens a session for a browser that presented `key`; returns the id for its cookie.
    pub async fn open(&self, key: &str) -> Result<String, SessionError> {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| SessionError::Random(e.to_string()))?;
        let id = hex::encode(bytes);
        let now = Utc::now();
        sessions::ActiveModel {
            id: Set(digest(&id)),
            key_fingerprint: Set(Keys::fingerprint(key)),
            created_at: Set(now),
            last_used_at: Set(now),
            expires_at: Set(now + self.ttl),
        }
        .insert(&self.db)
        .await?;
        Ok(id)
    }

    /// What the session `id` grants, or `None` when it is unknown, expired, or was opened with
    /// a key that is no longer configured (such a session is deleted). A session in use gets
    /// its expiry pushed forward.
    pub async fn resolve(&self, id: &str) -> Result<Option<Access>, DbErr> {
        if id.len() != SESSION_ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let key = digest(id);
        let Some(row) = sessions::Entity::find_by_id(key.as_str())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let access = self.keys.access_of_fingerprint(&row.key_fingerprint);
        if row.expires_at <= now || access.is_none() {
            sessions::Entity::delete_by_id(key.as_str())
                .exec(&self.db)
                .await?;
            return Ok(None);
        }
        if now - row.last_used_at >= SLIDE_EVERY {
            let mut active: sessions::ActiveModel = row.into();
            active.last_used_at = Set(now);
            active.expires_at = Set(now + self.ttl);
            active.update(&self.db).await?;
        }
        Ok(access)
    }

    /// Ends the session `id` (signing out); unknown ids are ignored.
    pub async fn close(&self, id: &str) -> Result<(), DbErr> {
        sessions::Entity::delete_by_id(digest(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes expired sessions and those of keys no longer configured; returns how many.
    pub async fn forget_stale(&self) -> Result<u64, DbErr> {
        let res = sessions::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(sessions::Column::ExpiresAt.lte(Utc::now()))
                    .add(sessions::Column::KeyFingerprint.is_not_in(self.keys.fingerprints())),
            )
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The operating system gave no randomness.
    #[error("no randomness for a session id: {0}")]
    Random(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}
