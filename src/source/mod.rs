//! Artifact sources: where artifacts come from.
//!
//! Handlers never talk to a source directly; the cache service does, through the
//! [`ArtifactSource`] trait, so a later source (a git repository, a remote registry) plugs in
//! without touching handlers. A source offers a cheap listing with fingerprints (a `stat`, not a
//! hash) and a full read of one item.

pub mod composite;
pub mod filesystem;
pub mod frontmatter;
pub mod git;
pub mod hash;
mod item;
pub mod layout;
pub mod lockfile;
pub mod manifest;
pub mod manifest_edit;
mod write;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use filesystem::FilesystemSource;
pub use frontmatter::ArtifactMetadata;

/// The artifact types the server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactType {
    /// A folder with SKILL.md.
    Skill,
    /// A slash command (.md file).
    Command,
    /// A sub-agent (.md file).
    Agent,
    /// A hook.
    Hook,
    /// An MCP server configuration.
    Mcp,
}

impl ArtifactType {
    /// Every type, in display order.
    pub const ALL: [ArtifactType; 5] = [
        ArtifactType::Skill,
        ArtifactType::Command,
        ArtifactType::Agent,
        ArtifactType::Hook,
        ArtifactType::Mcp,
    ];

    /// The lower-case name used in ids.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactType::Skill => "skill",
            ArtifactType::Command => "command",
            ArtifactType::Agent => "agent",
            ArtifactType::Hook => "hook",
            ArtifactType::Mcp => "mcp",
        }
    }
}

impl fmt::Display for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArtifactType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skill" => Ok(Self::Skill),
            "command" => Ok(Self::Command),
            "agent" => Ok(Self::Agent),
            "hook" => Ok(Self::Hook),
            "mcp" | "mcp_server" => Ok(Self::Mcp),
            other => Err(format!(
                "unknown artifact type '{other}'; allowed: skill, command, agent, hook, mcp"
            )),
        }
    }
}

/// An artifact id, `type:name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactId {
    /// The type.
    pub artifact_type: ArtifactType,
    /// The name, checked by [`validate_name`].
    pub name: String,
}

impl ArtifactId {
    /// Parses `type:name`. A trailing `.md`, `.txt`, `.json`, `.yaml` or `.yml` on the name is
    /// dropped, as SkillMeat's router does, so `command:review-pr.md` finds `command:review-pr`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (type_part, name) = raw.split_once(':').ok_or_else(|| {
            format!(
                "artifact id '{}' is not of the form type:name",
                printable(raw)
            )
        })?;
        let artifact_type = type_part.parse::<ArtifactType>()?;
        let name = [".md", ".txt", ".json", ".yaml", ".yml"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
            .filter(|n| !n.is_empty())
            .unwrap_or(name);
        validate_name(name)?;
        Ok(Self {
            artifact_type,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.artifact_type, self.name)
    }
}

/// Checks an artifact or collection name: it must be usable as one path component and nothing
/// more (no `/`, `\`, `..`, leading dot, NUL or control character; 1..=255 bytes).
pub fn validate_name(name: &str) -> Result<(), String> {
    let shown = printable(name);
    if name.is_empty() {
        return Err("artifact name must not be empty".into());
    }
    if name.len() > 255 {
        return Err("artifact name is longer than 255 bytes".into());
    }
    if name.contains(['/', '\\']) {
        return Err(format!(
            "artifact name '{shown}' must not contain '/' or '\\'"
        ));
    }
    if name.contains("..") {
        return Err(format!("artifact name '{shown}' must not contain '..'"));
    }
    if name.starts_with('.') {
        return Err(format!("artifact name '{shown}' must not start with '.'"));
    }
    if name.chars().any(char::is_control) {
        return Err("artifact name must not contain NUL or control characters".into());
    }
    Ok(())
}

/// Text safe to echo back in an error message (control characters escaped).
pub fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .take(300)
        .collect()
}

/// What a source lists for one artifact: cheap to produce (no file contents read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceItem {
    /// `type:name`.
    pub artifact_id: String,
    /// The type.
    pub artifact_type: ArtifactType,
    /// The name.
    pub name: String,
    /// The collection this copy is read from.
    pub collection: String,
    /// Every collection that holds an artifact with this id (primary first).
    pub collections: Vec<String>,
    /// Path inside the collection, e.g. `skills/canvas` or `commands/review.md`.
    pub path: String,
    /// Whether the collection's manifest lists it (false: found by the folder scan only).
    pub in_manifest: bool,
    /// A single file (a command or agent `.md`) rather than a folder.
    #[serde(default)]
    pub is_file: bool,
    /// Changes whenever a file's size, mtime or name, or the manifest entry, changes.
    pub fingerprint: String,
    /// Newest modification time among its files.
    pub modified_at: DateTime<Utc>,
    /// Manifest fields (origin, upstream, ...), when listed.
    pub manifest: Option<manifest::ManifestEntry>,
}

/// One file of an artifact, as listed to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactFile {
    /// Path relative to the artifact, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// A full read of one artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceArtifact {
    /// What the listing said, refreshed by this read.
    #[serde(flatten)]
    pub item: SourceItem,
    /// Metadata from front matter and body; manifest tags merged in.
    pub metadata: ArtifactMetadata,
    /// The raw front matter, as parsed.
    pub frontmatter: serde_json::Map<String, serde_json::Value>,
    /// The YAML error when the front matter was malformed and salvaged line by line.
    pub frontmatter_error: Option<String>,
    /// Its files in hash order.
    pub files: Vec<ArtifactFile>,
    /// SkillMeat's content hash.
    pub content_hash: String,
    /// Sum of file sizes.
    pub total_size: u64,
}

/// A failure to read from (or write into) a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// What was being read.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The blocking reader task died.
    #[error("source task failed: {0}")]
    Task(String),
    /// This source cannot be written (409).
    #[error("the {0} source cannot be written")]
    ReadOnly(String),
    /// What was to be written changed while it was copied (409: try again).
    #[error("{0}")]
    Changed(String),
}

/// Where artifacts come from.
#[async_trait::async_trait]
pub trait ArtifactSource: Send + Sync + 'static {
    /// A short name of the source kind, e.g. `filesystem`.
    fn kind(&self) -> &'static str;

    /// Names of the collections this source holds, empty ones included.
    async fn collections(&self) -> Result<Vec<String>, SourceError>;

    /// Lists every artifact with a cheap fingerprint. Never reads file contents.
    async fn list(&self) -> Result<Vec<SourceItem>, SourceError>;

    /// Finds one artifact by id, or `None`.
    async fn locate(&self, id: &ArtifactId) -> Result<Option<SourceItem>, SourceError>;

    /// Reads one listed artifact fully (metadata, files, content hash). `None` when it vanished
    /// since it was listed.
    async fn read(&self, item: &SourceItem) -> Result<Option<SourceArtifact>, SourceError>;

    /// Reads one file of an artifact, at most `max_bytes + 1` bytes (so the caller can tell a
    /// file that is too large). `None` when the path is not a regular file inside the artifact.
    async fn read_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, SourceError>;

    /// Copies one file of an artifact to `dest` (its parent folder must exist). Deploys copy an
    /// artifact file by file through this, so any source can be deployed from.
    async fn copy_file(
        &self,
        item: &SourceItem,
        relative_path: &str,
        dest: &std::path::Path,
    ) -> Result<(), SourceError>;

    /// Replaces an artifact's files with those of `from` (a folder, or the one file of a
    /// single-file artifact) in one atomic step and records `expected_hash` as its content
    /// hash in the collection's lock. `from` must hash to `expected_hash` once copied
    /// ([`SourceError::Changed`] otherwise, with nothing replaced). Returns the paths written,
    /// so the watcher can tell them from changes made by others. Sources that cannot be
    /// written answer [`SourceError::ReadOnly`].
    async fn replace_content(
        &self,
        item: &SourceItem,
        from: &std::path::Path,
        expected_hash: &str,
    ) -> Result<Vec<std::path::PathBuf>, SourceError> {
        let _ = (item, from, expected_hash);
        Err(SourceError::ReadOnly(self.kind().to_string()))
    }
}
