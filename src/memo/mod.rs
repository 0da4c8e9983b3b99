//! The in-memory tier in front of the hottest reads: finished JSON bodies kept per request
//! key and served while the database's [data version](version) is the one they were built at.
//!
//! Every commit, by this instance or any other sharing the database, changes the version, so
//! an entry never outlives the data it was built from; there is nothing to invalidate by hand.
//! A request first learns the version (a probe started after it arrived, shared with the
//! requests arriving alongside it), then either copies the stored bytes or builds the answer
//! as before and stores it. See docs/development/caching.md.

pub mod version;

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

pub use version::{DataVersion, Token};

/// Entries kept per memo before it starts over (the memory ceiling: entries times body size).
const MAX_ENTRIES: usize = 4096;
/// Bytes of bodies kept per memo before it starts over.
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// A stored answer: its body and whatever else the endpoint needs to answer from it.
pub trait Memoised: Clone {
    /// The body's size, for the memory ceiling.
    fn size(&self) -> usize;
}

impl Memoised for Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

/// An artifact's detail as served from memory: the body and what the hit path needs besides.
#[derive(Clone)]
pub struct StoredDetail {
    /// The JSON body.
    pub body: Bytes,
    /// The content hash (the `ETag`).
    pub content_hash: String,
    /// The cache row, for its access time.
    pub row_id: i64,
    /// When the row was last marked as read.
    pub last_accessed: chrono::DateTime<chrono::Utc>,
    /// When the row expires; after that the source is asked again.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Memoised for StoredDetail {
    fn size(&self) -> usize {
        self.body.len() + self.content_hash.len()
    }
}

/// Answers of one kind of request, all built at one data version.
pub struct Memo<V> {
    inner: Mutex<Entries<V>>,
}

struct Entries<V> {
    token: Option<Token>,
    map: HashMap<String, V>,
    bytes: usize,
}

impl<V: Memoised> Default for Memo<V> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Entries {
                token: None,
                map: HashMap::new(),
                bytes: 0,
            }),
        }
    }
}

impl<V: Memoised> Memo<V> {
    /// The answer stored for `key` at version `token`.
    pub fn get(&self, key: &str, token: &Token) -> Option<V> {
        let entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if entries.token.as_ref() != Some(token) {
            return None;
        }
        entries.map.get(key).cloned()
    }

    /// Stores `value`, built from data read after version `token` was probed. Refused when a
    /// newer version is known (`latest`), since the value may predate it.
    pub fn put(&self, key: String, token: Token, latest: Option<&Token>, value: V) {
        if latest != Some(&token) {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if entries.token.as_ref() != Some(&token)
            || entries.map.len() >= MAX_ENTRIES
            || entries.bytes + value.size() > MAX_BYTES
        {
            entries.map.clear();
            entries.bytes = 0;
            entries.token = Some(token);
        }
        entries.bytes += value.size();
        if let Some(old) = entries.map.insert(key, value) {
            entries.bytes -= old.size();
        }
    }

    /// Entries held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The memos of the hot reads and the version they are checked against; cheap to clone.
#[derive(Clone)]
pub struct HotReads {
    /// The database's data version.
    pub version: DataVersion,
    /// `GET /api/v1/artifacts/{id}`.
    pub detail: std::sync::Arc<Memo<StoredDetail>>,
    /// Artifact and collection lists, keyed by operation and query.
    pub lists: std::sync::Arc<Memo<Bytes>>,
}

impl HotReads {
    /// Memos over the database at `url` (pool `db`).
    pub fn new(url: &str, db: &sea_orm::DatabaseConnection) -> Self {
        Self {
            version: DataVersion::new(url, db),
            detail: Default::default(),
            lists: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> Token {
        s.into()
    }

    #[test]
    fn an_entry_is_served_only_at_its_version() {
        let memo: Memo<Bytes> = Memo::default();
        let v1 = token("1");
        memo.put("a".into(), v1.clone(), Some(&v1), Bytes::from_static(b"x"));
        assert_eq!(memo.get("a", &v1).as_deref(), Some(&b"x"[..]));
        assert_eq!(memo.get("a", &token("2")), None);
    }

    #[test]
    fn a_value_read_before_a_newer_version_is_not_stored() {
        let memo: Memo<Bytes> = Memo::default();
        let (v1, v2) = (token("1"), token("2"));
        memo.put(
            "a".into(),
            v1.clone(),
            Some(&v2),
            Bytes::from_static(b"old"),
        );
        assert!(memo.is_empty());
        memo.put(
            "a".into(),
            v2.clone(),
            Some(&v2),
            Bytes::from_static(b"new"),
        );
        // A new version starts over: nothing of the old one is kept.
        let v3 = token("3");
        memo.put("b".into(), v3.clone(), Some(&v3), Bytes::from_static(b"b"));
        assert_eq!(memo.len(), 1);
        assert_eq!(memo.get("a", &v3), None);
    }

    #[test]
    fn the_memory_ceiling_starts_over() {
        let memo: Memo<Bytes> = Memo::default();
        let v = token("1");
        let big = Bytes::from(vec![0u8; MAX_BYTES / 2 + 1]);
        memo.put("a".into(), v.clone(), Some(&v), big.clone());
        memo.put("b".into(), v.clone(), Some(&v), big);
        assert_eq!(memo.len(), 1);
        assert!(memo.get("b", &v).is_some());
    }
}
