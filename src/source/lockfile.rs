//! SkillMeat's `collection.lock` (spec section 3.3): `[lock.entries."<name>::<type>"]` with the
//! artifact's `content_hash` and when it was `fetched`. Entries are updated in place, every
//! other key and entry kept as written, and the file replaced atomically.

use std::path::Path;

use chrono::{DateTime, Utc};
use toml_edit::{DocumentMut, Item, Table, value};

use super::manifest_edit::read_doc;

/// The lock's file name in a collection folder.
pub const LOCK_FILE: &str = "collection.lock";

/// SkillMeat's lock format version.
const LOCK_VERSION: &str = "1.0.0";

/// Time as SkillMeat writes `fetched` (Python's naive `isoformat()` of UTC).
pub fn skillmeat_time(at: DateTime<Utc>) -> String {
    at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Where the content of a lock entry was fetched from.
#[derive(Debug, Clone)]
pub struct LockUpstream {
    /// Repository URL.
    pub url: String,
    /// The commit fetched.
    pub resolved_sha: String,
}

/// Sets the lock entry of `name::artifact_type` in `collection_dir` to `content_hash`, fetched
/// `at` (the file and the entry are created when missing; `upstream`, `resolved_sha` and other
/// keys of the entry are kept).
pub fn set_content_hash(
    collection_dir: &Path,
    name: &str,
    artifact_type: &str,
    content_hash: &str,
    at: DateTime<Utc>,
) -> std::io::Result<()> {
    set_entry(collection_dir, name, artifact_type, content_hash, at, None)
}

/// [`set_content_hash`], also recording where the content came from when `upstream` is given.
pub fn set_entry(
    collection_dir: &Path,
    name: &str,
    artifact_type: &str,
    content_hash: &str,
    at: DateTime<Utc>,
    upstream: Option<&LockUpstream>,
) -> std::io::Result<()> {
    let file = collection_dir.join(LOCK_FILE);
    let (text, mut doc) = read_doc(&file)?;
    let entries = entries_of(&mut doc)?;
    let entry = table_at(entries, &format!("{name}::{artifact_type}"), false)?;
    entry["content_hash"] = value(content_hash);
    entry["fetched"] = value(skillmeat_time(at));
    if let Some(up) = upstream {
        entry["upstream"] = value(&up.url);
        entry["resolved_sha"] = value(&up.resolved_sha);
    }
    let new_text = doc.to_string();
    if new_text == text {
        return Ok(());
    }
    crate::atomic::write_text(&file, &new_text)
}

/// Reads the lock's entry of `name::artifact_type` as TOML text (to put back later), if any.
pub fn entry_text(collection_dir: &Path, name: &str, artifact_type: &str) -> Option<String> {
    let text = std::fs::read_to_string(collection_dir.join(LOCK_FILE)).ok()?;
    let doc: DocumentMut = text.parse().ok()?;
    let entry = doc
        .get("lock")?
        .get("entries")?
        .get(format!("{name}::{artifact_type}"))?
        .as_table()?
        .clone();
    let mut one = DocumentMut::new();
    one.insert("entry", Item::Table(entry));
    Some(one.to_string())
}

/// The lock's `content_hash` of `name::artifact_type`, if recorded.
pub fn content_hash_of(collection_dir: &Path, name: &str, artifact_type: &str) -> Option<String> {
    let text = std::fs::read_to_string(collection_dir.join(LOCK_FILE)).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    doc.get("lock")?
        .get("entries")?
        .get(format!("{name}::{artifact_type}"))?
        .get("content_hash")?
        .as_str()
        .map(String::from)
}

/// Removes the entry of `name::artifact_type` (nothing to do when there is none).
pub fn remove_entry(collection_dir: &Path, name: &str, artifact_type: &str) -> std::io::Result<()> {
    let file = collection_dir.join(LOCK_FILE);
    let (_, mut doc) = read_doc(&file)?;
    let removed = doc
        .get_mut("lock")
        .and_then(|l| l.get_mut("entries"))
        .and_then(Item::as_table_like_mut)
        .and_then(|entries| entries.remove(&format!("{name}::{artifact_type}")));
    if removed.is_none() {
        return Ok(());
    }
    crate::atomic::write_text(&file, &doc.to_string())
}

/// Puts back an entry [`entry_text`] returned.
pub fn restore_entry(
    collection_dir: &Path,
    name: &str,
    artifact_type: &str,
    kept: &str,
) -> std::io::Result<()> {
    // Rebuilt from plain values, so it is printed under its own header (see
    // `manifest_edit::fresh_table`).
    let saved: toml::Table = kept
        .parse()
        .map_err(|e| std::io::Error::other(format!("kept lock entry is not TOML: {e}")))?;
    let Some(entry) = saved
        .get("entry")
        .and_then(toml::Value::as_table)
        .map(super::manifest_edit::fresh_table)
    else {
        return Err(std::io::Error::other("kept lock entry holds no table"));
    };
    let file = collection_dir.join(LOCK_FILE);
    let (_, mut doc) = read_doc(&file)?;
    let entries = entries_of(&mut doc)?;
    entries.insert(&format!("{name}::{artifact_type}"), Item::Table(entry));
    crate::atomic::write_text(&file, &doc.to_string())
}

/// `[lock.entries]`, with `[lock] version` set when the file had none.
fn entries_of(doc: &mut DocumentMut) -> std::io::Result<&mut Table> {
    let lock = table_at(doc.as_table_mut(), "lock", false)?;
    if !lock.contains_key("version") {
        lock["version"] = value(LOCK_VERSION);
    }
    table_at(lock, "entries", true)
}

/// The table under `key` in `parent`, created when missing (implicit: only its sub-tables get
/// headers); an existing value of another kind is an error, not overwritten.
fn table_at<'a>(
    parent: &'a mut Table,
    key: &str,
    implicit: bool,
) -> std::io::Result<&'a mut Table> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(implicit);
        Item::Table(t)
    });
    item.as_table_mut()
        .ok_or_else(|| std::io::Error::other(format!("collection.lock: '{key}' is not a table")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_updated_in_place_and_the_rest_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "# kept\n[lock]\nversion = \"1.0.0\"\n\n[lock.entries.\"a::skill\"]\ncontent_hash = \"old\"\nfetched = \"2026-01-01T00:00:00.000000\"\nupstream = \"https://github.com/x/y\"\n\n[lock.entries.\"b::command\"]\ncontent_hash = \"b\"\nfetched = \"2026-01-01T00:00:00.000000\"\n";
        std::fs::write(tmp.path().join(LOCK_FILE), text).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        set_content_hash(tmp.path(), "a", "skill", "new", at).unwrap();
        let out = std::fs::read_to_string(tmp.path().join(LOCK_FILE)).unwrap();
        let parsed: toml::Value = toml::from_str(&out).unwrap();
        let a = &parsed["lock"]["entries"]["a::skill"];
        assert_eq!(a["content_hash"].as_str(), Some("new"));
        assert_eq!(a["fetched"].as_str(), Some("2026-11-30T10:00:00.500000"));
        assert_eq!(a["upstream"].as_str(), Some("https://github.com/x/y"));
        assert_eq!(
            parsed["lock"]["entries"]["b::command"]["content_hash"].as_str(),
            Some("b")
        );
        assert!(out.starts_with("# kept\n"), "{out}");
    }

    #[test]
    fn a_missing_lock_and_entry_are_created_as_skillmeat_writes_them() {
        let tmp = tempfile::tempdir().unwrap();
        set_content_hash(tmp.path(), "review", "command", "h", Utc::now()).unwrap();
        let out = std::fs::read_to_string(tmp.path().join(LOCK_FILE)).unwrap();
        assert!(out.contains("[lock]\nversion = \"1.0.0\""), "{out}");
        assert!(out.contains("[lock.entries.\"review::command\"]"), "{out}");
        std::fs::write(tmp.path().join(LOCK_FILE), "lock = 3\n").unwrap();
        assert!(set_content_hash(tmp.path(), "review", "command", "h", Utc::now()).is_err());
    }

    #[test]
    fn a_removed_entry_comes_back_under_its_own_header() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, hash) in [("a", "ha"), ("b", "hb"), ("c", "hc")] {
            set_content_hash(tmp.path(), name, "skill", hash, Utc::now()).unwrap();
        }
        let kept = entry_text(tmp.path(), "a", "skill").unwrap();
        remove_entry(tmp.path(), "a", "skill").unwrap();
        assert_eq!(content_hash_of(tmp.path(), "a", "skill"), None);
        restore_entry(tmp.path(), "a", "skill", &kept).unwrap();
        for (name, hash) in [("a", "ha"), ("b", "hb"), ("c", "hc")] {
            assert_eq!(
                content_hash_of(tmp.path(), name, "skill").as_deref(),
                Some(hash)
            );
        }
    }
}
