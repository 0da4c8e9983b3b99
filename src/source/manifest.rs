//! SkillMeat's `collection.toml` (spec section 3.2), read leniently: an entry with a missing or
//! unsafe field is skipped with a warning instead of failing the whole collection.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The fields of one `[[artifacts]]` entry that the server uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Artifact name.
    pub name: String,
    /// Artifact type as written (`skill`, `command`, ...).
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// Path relative to the collection folder.
    pub path: String,
    /// `local`, `github` or `marketplace`.
    pub origin: Option<String>,
    /// When it was added (naive ISO string, as SkillMeat writes it).
    pub added: Option<String>,
    /// Upstream spec or URL.
    pub upstream: Option<String>,
    /// `latest`, a tag, a branch or a SHA.
    pub version_spec: Option<String>,
    /// Resolved commit.
    pub resolved_sha: Option<String>,
    /// Resolved version.
    pub resolved_version: Option<String>,
    /// Tags kept in the manifest.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The folder inside the upstream repository (`[artifacts.metadata.extra] upstream_path`,
    /// written by this server's git imports).
    #[serde(default)]
    pub upstream_path: Option<String>,
    /// SHA-256 of the entry's TOML text: changes when anything in the entry changes.
    #[serde(skip)]
    pub entry_hash: String,
}

/// A parsed manifest.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// Entries in file order.
    pub entries: Vec<ManifestEntry>,
}

/// Reads `collection.toml`; `Ok(None)` when the collection has none.
pub fn read_manifest(path: &Path) -> Result<Option<Manifest>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    let mut manifest = Manifest::default();
    let Some(toml::Value::Array(entries)) = doc.get("artifacts") else {
        return Ok(Some(manifest));
    };
    for (index, raw) in entries.iter().enumerate() {
        let entry_text = toml::to_string(raw).unwrap_or_default();
        match raw.clone().try_into::<ManifestEntry>() {
            Ok(mut entry) => {
                if let Some(p) = raw
                    .get("metadata")
                    .and_then(|m| m.get("extra"))
                    .and_then(|e| e.get("upstream_path"))
                    .and_then(toml::Value::as_str)
                {
                    entry.upstream_path = Some(p.to_string());
                }
                entry.entry_hash = hex::encode(Sha256::digest(entry_text.as_bytes()));
                manifest.entries.push(entry);
            }
            Err(e) => tracing::warn!(
                manifest = %path.display(),
                index,
                error = %e,
                "skipping a manifest entry that lacks name, type or path"
            ),
        }
    }
    Ok(Some(manifest))
}
