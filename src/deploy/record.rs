//! SkillMeat's deployment record file, `<project>/<profile root>/.skillmeat-deployed.toml`
//! (spec section 4.1): `[[deployed]]` entries, read leniently and written so SkillMeat reads ours.
//!
//! Writes replace or remove one entry and keep every other entry (and unknown keys) as they were;
//! the file is replaced atomically, and deleted when no entry is left.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

/// The record file's name inside a profile root.
pub const RECORD_FILE: &str = ".skillmeat-deployed.toml";

/// One `[[deployed]]` entry, as read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeployedRecord {
    /// Name (an extension is stripped when comparing).
    pub artifact_name: String,
    /// Type.
    pub artifact_type: String,
    /// Source collection.
    #[serde(default)]
    pub from_collection: String,
    /// Naive ISO time (SkillMeat) or RFC 3339.
    #[serde(default)]
    pub deployed_at: String,
    /// Path relative to the profile root.
    pub artifact_path: String,
    /// Hash at deploy time.
    pub content_hash: Option<String>,
    /// Legacy alias of `content_hash`.
    pub collection_sha: Option<String>,
    /// Profile id; when absent, the profile of the folder the file is in.
    pub deployment_profile_id: Option<String>,
    /// Hashes, newest first.
    #[serde(default)]
    pub version_lineage: Vec<String>,
}

impl DeployedRecord {
    /// The recorded hash (`content_hash`, else the legacy `collection_sha`).
    pub fn hash(&self) -> Option<&str> {
        self.content_hash
            .as_deref()
            .or(self.collection_sha.as_deref())
    }

    /// The profile id; a record without one belongs to the profile of the folder it is in.
    pub fn profile_or<'a>(&'a self, folder_profile: &'a str) -> &'a str {
        self.deployment_profile_id
            .as_deref()
            .unwrap_or(folder_profile)
    }

    /// The name with a trailing `.md` dropped, as SkillMeat compares names.
    pub fn bare_name(&self) -> &str {
        self.artifact_name
            .strip_suffix(".md")
            .unwrap_or(&self.artifact_name)
    }

    /// The deploy time; SkillMeat writes naive UTC.
    pub fn deployed_at(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&self.deployed_at)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(&self.deployed_at, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|n| n.and_utc())
            })
            .unwrap_or(DateTime::UNIX_EPOCH)
    }
}

/// Largest record file read; a record of a few hundred deployments is well under this.
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

fn invalid(file: &Path, problem: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {problem}", file.display()),
    )
}

/// A record file's text; `None` when there is none. A symbolic link is never followed (a
/// project could point it at any file of the user's), and a file over [`MAX_RECORD_BYTES`] is
/// refused.
fn read_capped(file: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let meta = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(invalid(
            file,
            "is a symbolic link; record files are never followed through links",
        ));
    }
    if !meta.is_file() {
        return Err(invalid(file, "is not a regular file"));
    }
    if meta.len() > MAX_RECORD_BYTES {
        return Err(invalid(
            file,
            format!(
                "is {} bytes; record files over {MAX_RECORD_BYTES} bytes are not read",
                meta.len()
            ),
        ));
    }
    let mut text = String::new();
    std::fs::File::open(file)?
        .take(MAX_RECORD_BYTES)
        .read_to_string(&mut text)?;
    Ok(Some(text))
}

/// A parse error described by its line and message only: the file's contents (which may hold
/// anything) never reach the log.
fn parse_problem(
    file: &Path,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> std::io::Error {
    let line = span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    match line {
        Some(line) => invalid(file, format!("not valid TOML at line {line}: {message}")),
        None => invalid(file, format!("not valid TOML: {message}")),
    }
}

/// Reads every entry of a record file; a missing file has none. Entries that lack required
/// fields are skipped with a warning.
pub fn read_records(file: &Path) -> std::io::Result<Vec<DeployedRecord>> {
    let Some(text) = read_capped(file)? else {
        return Ok(Vec::new());
    };
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| parse_problem(file, &text, e.span(), e.message()))?;
    let Some(toml::Value::Array(entries)) = doc.get("deployed") else {
        return Ok(Vec::new());
    };
    Ok(entries
        .iter()
        .filter_map(|e| match e.clone().try_into::<DeployedRecord>() {
            Ok(r) => Some(r),
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "skipping a deployment record without name, type or path");
                None
            }
        })
        .collect())
}

/// What to write for one deployment.
#[derive(Debug, Clone)]
pub struct NewRecord<'a> {
    /// Name.
    pub name: &'a str,
    /// Type.
    pub artifact_type: &'a str,
    /// Source collection.
    pub from_collection: &'a str,
    /// Path relative to the profile root.
    pub artifact_path: &'a str,
    /// Hash of what was deployed.
    pub content_hash: &'a str,
    /// Profile id.
    pub profile: &'a str,
    /// Profile root folder name, e.g. `.claude`.
    pub profile_root: &'a str,
    /// Deploy time.
    pub deployed_at: DateTime<Utc>,
}

/// Same deployment: name (an `.md` ignored), type and profile; an entry without a profile id is
/// of the file's own profile, which is the one asked about (one file per profile folder).
fn matches(table: &toml_edit::Table, name: &str, artifact_type: &str, profile: &str) -> bool {
    let get = |k: &str| table.get(k).and_then(|v| v.as_str());
    let entry_name = get("artifact_name").map(|n| n.strip_suffix(".md").unwrap_or(n));
    entry_name == Some(name)
        && get("artifact_type") == Some(artifact_type)
        && get("deployment_profile_id").unwrap_or(profile) == profile
}

fn load(file: &Path) -> std::io::Result<toml_edit::DocumentMut> {
    match read_capped(file)? {
        Some(text) => text
            .parse()
            .map_err(|e: toml_edit::TomlError| parse_problem(file, &text, e.span(), e.message())),
        None => Ok(toml_edit::DocumentMut::new()),
    }
}

/// Adds or updates the entry for (name, type, profile). An updated entry keeps its other keys,
/// and its lineage behind the new hash.
pub fn upsert_record(file: &Path, record: &NewRecord<'_>) -> std::io::Result<()> {
    use toml_edit::{Array, ArrayOfTables, Item, Table, value};
    let mut doc = load(file)?;
    if !matches!(doc.get("deployed"), Some(Item::ArrayOfTables(_))) {
        doc.insert("deployed", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let Some(Item::ArrayOfTables(entries)) = doc.get_mut("deployed") else {
        return Err(std::io::Error::other("deployed is not an array of tables"));
    };
    let existing = entries
        .iter()
        .position(|t| matches(t, record.name, record.artifact_type, record.profile));
    let mut lineage = Array::new();
    lineage.push(record.content_hash);
    if let Some(i) = existing
        && let Some(old) = entries
            .get(i)
            .and_then(|t| t.get("version_lineage"))
            .and_then(|v| v.as_array())
    {
        for h in old
            .iter()
            .filter_map(|v| v.as_str())
            .filter(|h| *h != record.content_hash)
            .take(19)
        {
            lineage.push(h);
        }
    }
    let index = match existing {
        Some(i) => i,
        None => {
            entries.push(Table::new());
            entries.len() - 1
        }
    };
    let Some(t) = entries.get_mut(index) else {
        return Err(std::io::Error::other(
            "the record entry vanished while written",
        ));
    };
    // Every other key (SkillMeat's `artifact_uuid`, `parent_hash`, `branch_name`, a newer
    // version's) stays as written; ours are set over it. A fresh copy has no modification.
    t.remove("modification_detected_at");
    t["artifact_name"] = value(record.name);
    t["artifact_type"] = value(record.artifact_type);
    t["from_collection"] = value(record.from_collection);
    t["deployed_at"] = value(crate::source::lockfile::skillmeat_time(record.deployed_at));
    t["artifact_path"] = value(record.artifact_path);
    t["content_hash"] = value(record.content_hash);
    t["local_modifications"] = value(false);
    t["version_lineage"] = value(lineage);
    t["merge_base_snapshot"] = value(record.content_hash);
    t["deployment_profile_id"] = value(record.profile);
    t["platform"] = value(record.profile);
    t["profile_root_dir"] = value(record.profile_root);
    t["collection_sha"] = value(record.content_hash);
    crate::atomic::write_text(file, &doc.to_string())
}

/// Removes the entry for (name, type, profile); deletes the file when none is left. Returns
/// whether an entry was removed.
pub fn remove_record(
    file: &Path,
    name: &str,
    artifact_type: &str,
    profile: &str,
) -> std::io::Result<bool> {
    let mut doc = load(file)?;
    let Some(toml_edit::Item::ArrayOfTables(entries)) = doc.get_mut("deployed") else {
        return Ok(false);
    };
    let before = entries.len();
    entries.retain(|t| !matches(t, name, artifact_type, profile));
    let removed = entries.len() != before;
    if entries.is_empty() {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    } else if removed {
        crate::atomic::write_text(file, &doc.to_string())?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_keeps_every_key_skillmeat_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(RECORD_FILE);
        std::fs::write(
            &file,
            "[[deployed]]\nartifact_name = \"x\"\nartifact_type = \"skill\"\nfrom_collection = \"default\"\n\
             deployed_at = \"2026-01-01T00:00:00\"\nartifact_path = \"skills/x\"\ncontent_hash = \"old\"\n\
             local_modifications = true\nartifact_uuid = \"u-1\"\nparent_hash = \"p\"\n\
             modification_detected_at = \"2026-01-02T00:00:00\"\nversion_lineage = [\"old\"]\n",
        )
        .unwrap();
        let rec = NewRecord {
            name: "x",
            artifact_type: "skill",
            from_collection: "default",
            artifact_path: "skills/x",
            content_hash: "new",
            profile: "claude_code",
            profile_root: ".claude",
            deployed_at: Utc::now(),
        };
        upsert_record(&file, &rec).unwrap();
        let parsed: toml::Value = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let entry = &parsed["deployed"][0];
        assert_eq!(entry["artifact_uuid"].as_str(), Some("u-1"));
        assert_eq!(entry["parent_hash"].as_str(), Some("p"));
        assert_eq!(entry["content_hash"].as_str(), Some("new"));
        assert_eq!(entry["local_modifications"].as_bool(), Some(false));
        assert!(entry.get("modification_detected_at").is_none());
        let lineage: Vec<&str> = entry["version_lineage"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(lineage, vec!["new", "old"]);
    }
}
