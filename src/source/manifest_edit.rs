//! Writing `[[artifacts]]` entries of a collection's `collection.toml` as SkillMeat writes
//! them (`name`, `type`, `path`, `origin`, `added`, upstream fields, `[artifacts.metadata]`),
//! every other byte of the file kept, the file replaced atomically. A removed entry comes back
//! as its own TOML text, so a restore puts back exactly what was there.

use std::path::Path;

use chrono::{DateTime, Utc};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::lockfile::skillmeat_time;

/// The manifest's file name in a collection folder.
pub const MANIFEST_FILE: &str = "collection.toml";

/// A new entry's fields.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    /// Name.
    pub name: String,
    /// `skill`, `command`, ...
    pub artifact_type: String,
    /// Path in the collection, `skills/x` or `commands/x.md`.
    pub path: String,
    /// `local` or `github`: SkillMeat refuses a whole collection whose entries name another
    /// origin, so a repository elsewhere is `local` with its `upstream` set.
    pub origin: String,
    /// Upstream repository URL.
    pub upstream: Option<String>,
    /// The ref asked for.
    pub version_spec: Option<String>,
    /// The commit the files came from.
    pub resolved_sha: Option<String>,
    /// The folder inside the repository.
    pub upstream_path: Option<String>,
    /// `description` from the front matter.
    pub description: Option<String>,
    /// Front matter, kept under `[artifacts.metadata.extra.frontmatter]` as SkillMeat does.
    pub frontmatter: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A TOML file's text (empty when missing) and its parsed document, to edit in place.
pub(crate) fn read_doc(file: &Path) -> std::io::Result<(String, DocumentMut)> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let doc = text
        .parse()
        .map_err(|e| std::io::Error::other(format!("{} is not valid TOML: {e}", file.display())))?;
    Ok((text, doc))
}

fn artifacts_mut(doc: &mut DocumentMut) -> std::io::Result<&mut ArrayOfTables> {
    // SkillMeat's `init` writes `artifacts = []`; an inline array of inline tables is turned
    // into `[[artifacts]]` tables, as SkillMeat itself writes them once it holds one.
    if let Some(Item::Value(toml_edit::Value::Array(inline))) = doc.get("artifacts") {
        let tables: Vec<Table> = inline
            .iter()
            .filter_map(|v| v.as_inline_table().map(|t| t.clone().into_table()))
            .collect();
        if tables.len() == inline.len() {
            let mut array = ArrayOfTables::new();
            for t in tables {
                array.push(t);
            }
            doc.insert("artifacts", Item::ArrayOfTables(array));
        }
    }
    doc.entry("artifacts")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| std::io::Error::other("collection.toml: 'artifacts' is not [[artifacts]]"))
}

fn is_entry(t: &Table, name: &str, artifact_type: &str) -> bool {
    t.get("name").and_then(Item::as_str) == Some(name)
        && t.get("type").and_then(Item::as_str) == Some(artifact_type)
}

/// `[collection]` as SkillMeat's `init` writes it when the file has none, and `updated` set.
fn touch_collection(doc: &mut DocumentMut, collection: &str, at: DateTime<Utc>) {
    let now = skillmeat_time(at);
    let header = doc.entry("collection").or_insert_with(|| {
        let mut t = Table::new();
        t["name"] = value(collection);
        t["version"] = value("1.0.0");
        t["created"] = value(now.clone());
        Item::Table(t)
    });
    if let Some(t) = header.as_table_mut() {
        t["updated"] = value(now);
        t.set_position(0);
    }
}

fn json_to_toml(v: &serde_json::Value) -> Option<toml_edit::Value> {
    Some(match v {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => (*b).into(),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        serde_json::Value::String(s) => s.as_str().into(),
        serde_json::Value::Array(items) => {
            toml_edit::Value::Array(items.iter().filter_map(json_to_toml).collect())
        }
        serde_json::Value::Object(map) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in map {
                if let Some(v) = json_to_toml(v) {
                    t.insert(k, v);
                }
            }
            toml_edit::Value::InlineTable(t)
        }
    })
}

fn entry_table(entry: &NewEntry, at: DateTime<Utc>) -> Table {
    let mut t = Table::new();
    t["name"] = value(&entry.name);
    t["type"] = value(&entry.artifact_type);
    t["path"] = value(&entry.path);
    t["origin"] = value(&entry.origin);
    t["added"] = value(skillmeat_time(at));
    for (key, v) in [
        ("upstream", &entry.upstream),
        ("version_spec", &entry.version_spec),
        ("resolved_sha", &entry.resolved_sha),
    ] {
        if let Some(v) = v {
            t[key] = value(v);
        }
    }
    if entry.resolved_sha.is_some() {
        t["last_updated"] = value(skillmeat_time(at));
    }
    let mut metadata = Table::new();
    if let Some(d) = &entry.description {
        metadata["description"] = value(d);
    }
    let mut extra = Table::new();
    if let Some(p) = &entry.upstream_path {
        extra["upstream_path"] = value(p);
    }
    if let Some(fm) = &entry.frontmatter {
        let mut front = Table::new();
        for (k, v) in fm {
            if let Some(v) = json_to_toml(v) {
                front[k.as_str()] = value(v);
            }
        }
        if !front.is_empty() {
            extra["frontmatter"] = Item::Table(front);
        }
    }
    if !extra.is_empty() {
        metadata["extra"] = Item::Table(extra);
    }
    if !metadata.is_empty() {
        t["metadata"] = Item::Table(metadata);
    }
    t
}

/// A `toml_edit` table of `t`'s values, with no document positions of its own.
pub(crate) fn fresh_table(t: &toml::Table) -> Table {
    let mut out = Table::new();
    for (k, v) in t {
        let item = match v {
            toml::Value::Table(inner) => Item::Table(fresh_table(inner)),
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
            {
                let mut array = ArrayOfTables::new();
                for inner in items.iter().filter_map(toml::Value::as_table) {
                    array.push(fresh_table(inner));
                }
                Item::ArrayOfTables(array)
            }
            other => match other.to_string().parse::<toml_edit::Value>() {
                Ok(v) => Item::Value(v),
                Err(_) => continue,
            },
        };
        out.insert(k, item);
    }
    out
}

/// The keys of an entry a replacement rewrites; the others are kept.
const REPLACED_KEYS: [&str; 8] = [
    "path",
    "origin",
    "upstream",
    "version_spec",
    "resolved_sha",
    "resolved_version",
    "last_updated",
    "metadata",
];

/// Adds (or, when one of that name and type is there, replaces) the entry of `entry` in
/// `collection_dir`'s manifest; an entry replaced keeps its `added` time, its tags and every
/// other key but those describing the content and its origin.
pub fn upsert_entry(
    collection_dir: &Path,
    collection: &str,
    entry: &NewEntry,
    at: DateTime<Utc>,
) -> std::io::Result<()> {
    let file = collection_dir.join(MANIFEST_FILE);
    let (_, mut doc) = read_doc(&file)?;
    touch_collection(&mut doc, collection, at);
    let table = entry_table(entry, at);
    let artifacts = artifacts_mut(&mut doc)?;
    let found = artifacts
        .iter()
        .position(|t| is_entry(t, &entry.name, &entry.artifact_type));
    match found.and_then(|i| artifacts.get_mut(i)) {
        Some(existing) => {
            // What describes the content and where it came from is replaced (an upstream of
            // the old content must not stay); every other key SkillMeat keeps there (tags,
            // uuid, target platforms, ...) stays, and so does `added`.
            for key in REPLACED_KEYS {
                existing.remove(key);
            }
            for (key, item) in table.iter() {
                if key != "added" || !existing.contains_key("added") {
                    existing.insert(key, item.clone());
                }
            }
        }
        None => {
            artifacts.push(table);
        }
    }
    crate::atomic::write_text(&file, &doc.to_string())
}

/// Removes the entry of `name` and `artifact_type`; returns it as TOML text (a document
/// holding one `[[artifacts]]`), or `None` when the manifest did not list it.
pub fn remove_entry(
    collection_dir: &Path,
    collection: &str,
    name: &str,
    artifact_type: &str,
    at: DateTime<Utc>,
) -> std::io::Result<Option<String>> {
    let file = collection_dir.join(MANIFEST_FILE);
    let (_, mut doc) = read_doc(&file)?;
    let Some(artifacts) = doc
        .get_mut("artifacts")
        .and_then(Item::as_array_of_tables_mut)
    else {
        return Ok(None);
    };
    let Some(index) = artifacts
        .iter()
        .position(|t| is_entry(t, name, artifact_type))
    else {
        return Ok(None);
    };
    let removed = artifacts.get(index).cloned().unwrap_or_default();
    artifacts.remove(index);
    touch_collection(&mut doc, collection, at);
    crate::atomic::write_text(&file, &doc.to_string())?;
    let mut kept = DocumentMut::new();
    let mut one = ArrayOfTables::new();
    one.push(removed);
    kept.insert("artifacts", Item::ArrayOfTables(one));
    Ok(Some(kept.to_string()))
}

/// Puts back an entry [`remove_entry`] returned (replacing one of the same name and type).
pub fn restore_entry(
    collection_dir: &Path,
    collection: &str,
    entry_text: &str,
    at: DateTime<Utc>,
) -> std::io::Result<()> {
    // Rebuilt from plain values: a table parsed from another document carries that
    // document's positions and would be printed among the wrong headers.
    let saved: toml::Table = entry_text
        .parse()
        .map_err(|e| std::io::Error::other(format!("kept manifest entry is not TOML: {e}")))?;
    let Some(table) = saved
        .get("artifacts")
        .and_then(toml::Value::as_array)
        .and_then(|a| a.first())
        .and_then(toml::Value::as_table)
        .map(fresh_table)
    else {
        return Err(std::io::Error::other(
            "kept manifest entry holds no [[artifacts]]",
        ));
    };
    let name = table
        .get("name")
        .and_then(Item::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = table
        .get("type")
        .and_then(Item::as_str)
        .unwrap_or_default()
        .to_string();
    let file = collection_dir.join(MANIFEST_FILE);
    let (_, mut doc) = read_doc(&file)?;
    touch_collection(&mut doc, collection, at);
    let artifacts = artifacts_mut(&mut doc)?;
    let found = artifacts.iter().position(|t| is_entry(t, &name, &kind));
    match found.and_then(|i| artifacts.get_mut(i)) {
        Some(existing) => *existing = table,
        None => {
            artifacts.push(table);
        }
    }
    crate::atomic::write_text(&file, &doc.to_string())
}

/// Sets `resolved_sha` (and `last_updated`) of an entry after an upstream pull.
pub fn set_resolved_sha(
    collection_dir: &Path,
    collection: &str,
    name: &str,
    artifact_type: &str,
    sha: &str,
    at: DateTime<Utc>,
) -> std::io::Result<()> {
    let file = collection_dir.join(MANIFEST_FILE);
    let (_, mut doc) = read_doc(&file)?;
    touch_collection(&mut doc, collection, at);
    let artifacts = artifacts_mut(&mut doc)?;
    let Some(entry) = artifacts
        .iter_mut()
        .find(|t| is_entry(t, name, artifact_type))
    else {
        return Err(std::io::Error::other(format!(
            "collection.toml no longer lists {artifact_type}:{name}"
        )));
    };
    entry["resolved_sha"] = value(sha);
    entry["last_updated"] = value(skillmeat_time(at));
    crate::atomic::write_text(&file, &doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest in `dir`, parsed (it must stay valid TOML).
    fn read_back(dir: &Path) -> toml::Table {
        std::fs::read_to_string(dir.join(MANIFEST_FILE))
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn entries_are_added_removed_and_restored_keeping_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "# mine\n[collection]\nname = \"default\"\nversion = \"1.0.0\"\ncreated = \"x\"\nupdated = \"x\"\n\n[[artifacts]]\nname = \"a\"\ntype = \"skill\"\npath = \"skills/a\"\norigin = \"local\"\nadded = \"2026-01-01T00:00:00\"\ntags = [\"t\"]\n\n[artifacts.metadata]\ndescription = \"Aye\"\n\n[[artifacts]]\nname = \"c\"\ntype = \"skill\"\npath = \"skills/c\"\norigin = \"local\"\nadded = \"2026-01-01T00:00:00\"\n\n[artifacts.metadata]\ndescription = \"Sea\"\n\n[[groups]]\nname = \"g\"\nmembers = [\"skill:a\"]\n";
        std::fs::write(tmp.path().join(MANIFEST_FILE), text).unwrap();
        let entry = NewEntry {
            name: "b".into(),
            artifact_type: "command".into(),
            path: "commands/b.md".into(),
            origin: "local".into(),
            description: Some("Bee".into()),
            ..Default::default()
        };
        upsert_entry(tmp.path(), "default", &entry, Utc::now()).unwrap();
        let out = std::fs::read_to_string(tmp.path().join(MANIFEST_FILE)).unwrap();
        assert!(out.starts_with("# mine\n[collection]"), "{out}");
        let parsed: toml::Table = out.parse().unwrap();
        let artifacts = parsed["artifacts"].as_array().unwrap();
        assert_eq!(artifacts.len(), 3);
        assert_eq!(
            artifacts[2]["metadata"]["description"].as_str(),
            Some("Bee")
        );
        assert_eq!(parsed["groups"].as_array().unwrap().len(), 1);

        let removed = remove_entry(tmp.path(), "default", "a", "skill", Utc::now())
            .unwrap()
            .unwrap();
        let parsed: toml::Table = read_back(tmp.path());
        assert_eq!(parsed["artifacts"].as_array().unwrap().len(), 2);
        restore_entry(tmp.path(), "default", &removed, Utc::now()).unwrap();
        let parsed: toml::Table = read_back(tmp.path());
        let all = parsed["artifacts"].as_array().unwrap();
        assert_eq!(all[0]["metadata"]["description"].as_str(), Some("Sea"));
        let back = &all[2];
        assert_eq!(back["name"].as_str(), Some("a"));
        assert_eq!(back["metadata"]["description"].as_str(), Some("Aye"));
        assert_eq!(back["added"].as_str(), Some("2026-01-01T00:00:00"));
        assert_eq!(back["tags"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_replaced_entry_keeps_skillmeats_other_keys_but_not_the_old_origin() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "[[artifacts]]\nname = \"a\"\ntype = \"skill\"\npath = \"skills/a\"\norigin = \"github\"\nadded = \"2026-01-01T00:00:00\"\nupstream = \"https://github.com/o/r/tree/main/a\"\nresolved_sha = \"abc\"\nuuid = \"u-1\"\ntarget_platforms = [\"claude_code\"]\n\n[artifacts.metadata]\ndescription = \"Old\"\n";
        std::fs::write(tmp.path().join(MANIFEST_FILE), text).unwrap();
        let entry = NewEntry {
            name: "a".into(),
            artifact_type: "skill".into(),
            path: "skills/a".into(),
            origin: "local".into(),
            description: Some("New".into()),
            ..Default::default()
        };
        upsert_entry(tmp.path(), "default", &entry, Utc::now()).unwrap();
        let parsed: toml::Table = read_back(tmp.path());
        let a = &parsed["artifacts"][0];
        assert_eq!(a["origin"].as_str(), Some("local"));
        assert!(a.get("upstream").is_none() && a.get("resolved_sha").is_none());
        assert_eq!(a["uuid"].as_str(), Some("u-1"));
        assert_eq!(a["target_platforms"][0].as_str(), Some("claude_code"));
        assert_eq!(a["added"].as_str(), Some("2026-01-01T00:00:00"));
        assert_eq!(a["metadata"]["description"].as_str(), Some("New"));
    }

    #[test]
    fn skillmeats_empty_inline_list_takes_an_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "artifacts = []\n\n[collection]\nname = \"default\"\nversion = \"1.0.0\"\ncreated = \"x\"\nupdated = \"x\"\n";
        std::fs::write(tmp.path().join(MANIFEST_FILE), text).unwrap();
        let entry = NewEntry {
            name: "a".into(),
            artifact_type: "skill".into(),
            path: "skills/a".into(),
            origin: "local".into(),
            ..Default::default()
        };
        upsert_entry(tmp.path(), "default", &entry, Utc::now()).unwrap();
        let parsed: toml::Table = read_back(tmp.path());
        assert_eq!(parsed["artifacts"][0]["name"].as_str(), Some("a"));
        assert_eq!(parsed["collection"]["name"].as_str(), Some("default"));
    }

    #[test]
    fn a_new_collection_gets_its_header() {
        let tmp = tempfile::tempdir().unwrap();
        let entry = NewEntry {
            name: "x".into(),
            artifact_type: "skill".into(),
            path: "skills/x".into(),
            origin: "local".into(),
            upstream: Some("file:///r".into()),
            resolved_sha: Some("abc".into()),
            ..Default::default()
        };
        upsert_entry(tmp.path(), "work", &entry, Utc::now()).unwrap();
        let parsed: toml::Table = read_back(tmp.path());
        assert_eq!(parsed["collection"]["name"].as_str(), Some("work"));
        assert_eq!(parsed["artifacts"][0]["resolved_sha"].as_str(), Some("abc"));
    }
}
