//! The configured API keys: the one that may write and the read-only ones, compared in
//! constant time, and the fingerprints sessions remember them by.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Access;
use crate::config::AuthSettings;

/// The keys a request or a sign-in may present.
#[derive(Clone, Default)]
pub struct Keys {
    full: String,
    read_only: Vec<String>,
    /// Fingerprints of `full` and of `read_only`, computed once.
    full_fingerprint: String,
    read_only_fingerprints: Vec<String>,
}

// By hand, so that no debug print ever shows a key.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("enabled", &self.enabled())
            .field("read_only", &self.read_only.len())
            .finish()
    }
}

impl Keys {
    /// The keys of the `[auth]` settings.
    pub fn from_settings(auth: &AuthSettings) -> Self {
        let full = auth.api_key.trim().to_string();
        let read_only: Vec<String> = auth
            .read_only_keys
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        Self {
            full_fingerprint: Self::fingerprint(&full),
            read_only_fingerprints: read_only.iter().map(|k| Self::fingerprint(k)).collect(),
            full,
            read_only,
        }
    }

    /// Whether a key is configured at all (without one, everything is open).
    pub fn enabled(&self) -> bool {
        !self.full.is_empty()
    }

    /// What `presented` grants: every key is compared, each in constant time, so the answer
    /// takes as long whichever key (if any) matched.
    pub fn access_of(&self, presented: &str) -> Option<Access> {
        if !self.enabled() {
            return None;
        }
        let presented = presented.trim().as_bytes();
        let mut access = None;
        for key in &self.read_only {
            if bool::from(presented.ct_eq(key.as_bytes())) {
                access = Some(Access::ReadOnly);
            }
        }
        if bool::from(presented.ct_eq(self.full.as_bytes())) {
            access = Some(Access::Full);
        }
        access
    }

    /// The fingerprint a session stores of the key it was opened with: a digest, so the
    /// database never holds a key, and a changed key matches no session any more.
    pub fn fingerprint(key: &str) -> String {
        hex::encode(Sha256::digest(format!(
            "skillmeat-server session key\0{}",
            key.trim()
        )))
    }

    /// What a session opened with the key of `fingerprint` grants today; `None` when that key
    /// is no longer configured.
    pub fn access_of_fingerprint(&self, fingerprint: &str) -> Option<Access> {
        if !self.enabled() {
            return None;
        }
        if self.full_fingerprint == fingerprint {
            return Some(Access::Full);
        }
        self.read_only_fingerprints
            .iter()
            .any(|f| f == fingerprint)
            .then_some(Access::ReadOnly)
    }

    /// Fingerprints of every configured key (none without a key).
    pub fn fingerprints(&self) -> Vec<String> {
        if !self.enabled() {
            return Vec::new();
        }
        std::iter::once(&self.full_fingerprint)
            .chain(&self.read_only_fingerprints)
            .cloned()
            .collect()
    }
}
