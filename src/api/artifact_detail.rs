//! One artifact in full, as `GET /api/v1/artifacts/{id}` and the write operations return it:
//! metadata, files, manifest fields, the git upstream's state and deployment counts.

use chrono::{DateTime, Utc};
use poem_openapi::Object;

use super::deployments::DeploymentCounts;
use crate::authoring::upstream::UpstreamStatus;
use crate::cache::Lookup;
use crate::deploy::StatusCounts;
use crate::error::ApiError;
use crate::source::{ArtifactId, SourceArtifact};
use crate::state::AppState;

/// Metadata from the front matter.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactMetadataObject {
    /// `title`.
    pub title: Option<String>,
    /// `description`, or the first body line.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// Tags (front matter and manifest).
    pub tags: Vec<String>,
    /// Dependencies.
    pub dependencies: Vec<String>,
    /// Tools, normalised to Claude Code's names.
    pub tools: Vec<String>,
    /// Tool entries that are not known tool names, verbatim.
    pub unknown_tools: Vec<String>,
    /// Every other front matter key.
    pub extra: serde_json::Value,
}

/// One file of an artifact.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactFileInfo {
    /// Path relative to the artifact.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Manifest fields (`collection.toml`).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestInfo {
    /// `local`, `github` or `marketplace`.
    pub origin: Option<String>,
    /// When it was added.
    pub added: Option<String>,
    /// Upstream spec or URL.
    pub upstream: Option<String>,
    /// Version spec.
    pub version_spec: Option<String>,
    /// Resolved commit.
    pub resolved_sha: Option<String>,
    /// Resolved version.
    pub resolved_version: Option<String>,
}

/// Everything known about one artifact.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactDetail {
    /// `type:name`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    #[oai(rename = "type")]
    pub artifact_type: String,
    /// Collection the cached copy comes from.
    pub collection: String,
    /// Every collection holding it.
    pub collections: Vec<String>,
    /// Path inside the collection.
    pub path: String,
    /// False when found on disk but not in the manifest.
    pub in_manifest: bool,
    /// Manifest fields, when listed.
    pub manifest: Option<ManifestInfo>,
    /// Description.
    pub description: Option<String>,
    /// Parsed metadata.
    pub metadata: ArtifactMetadataObject,
    /// The raw front matter.
    pub frontmatter: serde_json::Value,
    /// Set when the front matter was malformed and salvaged line by line.
    pub frontmatter_error: Option<String>,
    /// Files with sizes, in hash order.
    pub files: Vec<ArtifactFileInfo>,
    /// Number of files.
    pub file_count: u64,
    /// Sum of file sizes.
    pub total_size: u64,
    /// SkillMeat content hash (SHA-256 hex).
    pub content_hash: String,
    /// Newest file modification time.
    pub updated_at: DateTime<Utc>,
    /// When the cache entry was written.
    pub cached_at: DateTime<Utc>,
    /// When the entry expires and a read goes back to the source.
    pub expires_at: DateTime<Utc>,
    /// Projects it is deployed into.
    pub deployment_count: u64,
    /// Its deployments per status.
    pub deployments_by_status: DeploymentCounts,
    /// The git upstream, when the manifest names one.
    pub upstream: Option<UpstreamInfo>,
}

/// An artifact's git upstream and what the last check found.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UpstreamInfo {
    /// Repository URL.
    pub url: String,
    /// The ref followed (branch, tag, commit or HEAD).
    #[oai(rename = "ref")]
    pub git_ref: String,
    /// The folder or file in the repository.
    pub path: String,
    /// The commit the collection's copy came from.
    pub resolved_sha: Option<String>,
    /// The commit the ref named at the last check.
    pub latest_sha: Option<String>,
    /// True when the last check found a commit newer than the copy's.
    pub update_available: bool,
    /// When it was last checked.
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the last check failed.
    pub error: Option<String>,
}

impl From<UpstreamStatus> for UpstreamInfo {
    fn from(s: UpstreamStatus) -> Self {
        Self {
            url: s.url,
            git_ref: s.git_ref,
            path: s.path,
            resolved_sha: s.resolved_sha,
            latest_sha: s.latest_sha,
            update_available: s.update_available,
            checked_at: s.checked_at,
            error: s.error,
        }
    }
}

fn detail(
    lookup: Lookup,
    deployments: StatusCounts,
    upstream: Option<UpstreamStatus>,
) -> ArtifactDetail {
    let Lookup { row, artifact, .. } = lookup;
    let SourceArtifact {
        item,
        metadata,
        frontmatter,
        frontmatter_error,
        files,
        content_hash,
        total_size,
    } = artifact;
    ArtifactDetail {
        id: item.artifact_id,
        name: item.name,
        artifact_type: item.artifact_type.as_str().into(),
        collection: item.collection,
        collections: item.collections,
        path: item.path,
        in_manifest: item.in_manifest,
        manifest: item.manifest.map(|m| ManifestInfo {
            origin: m.origin,
            added: m.added,
            upstream: m.upstream,
            version_spec: m.version_spec,
            resolved_sha: m.resolved_sha,
            resolved_version: m.resolved_version,
        }),
        description: metadata.description.clone(),
        metadata: ArtifactMetadataObject {
            title: metadata.title,
            description: metadata.description,
            author: metadata.author,
            license: metadata.license,
            version: metadata.version,
            tags: metadata.tags,
            dependencies: metadata.dependencies,
            tools: metadata.tools,
            unknown_tools: metadata.unknown_tools,
            extra: serde_json::Value::Object(metadata.extra),
        },
        frontmatter: serde_json::Value::Object(frontmatter),
        frontmatter_error,
        file_count: files.len() as u64,
        files: files
            .into_iter()
            .map(|f| ArtifactFileInfo {
                path: f.path,
                size: f.size,
            })
            .collect(),
        total_size,
        content_hash,
        updated_at: row.source_modified_at,
        cached_at: row.last_updated,
        expires_at: row.expires_at,
        deployment_count: deployments.total,
        deployments_by_status: deployments.into(),
        upstream: upstream.map(UpstreamInfo::from),
    }
}

/// One read of an artifact in full.
pub struct DetailRead {
    /// The artifact.
    pub detail: ArtifactDetail,
    /// Whether the cache served it (no source read).
    pub hit: bool,
    /// The cache row it came from.
    pub row_id: i64,
    /// When that row was last marked as read.
    pub last_accessed: chrono::DateTime<chrono::Utc>,
}

/// Artifact `id` in full, read through the cache; `None` when no source has it.
pub async fn artifact_detail(
    state: &AppState,
    id: &ArtifactId,
) -> Result<Option<DetailRead>, ApiError> {
    let Some(lookup) = state.cache.get_or_fill(id).await? else {
        return Ok(None);
    };
    let (hit, row_id, last_accessed) = (lookup.hit, lookup.row.id, lookup.row.last_accessed);
    let counts = state
        .deployments
        .counts_for(std::slice::from_ref(&lookup.row.artifact_id))
        .await?
        .remove(&lookup.row.artifact_id)
        .unwrap_or_default();
    let upstream = state
        .authoring
        .upstream_status(&lookup.artifact.item)
        .await?;
    Ok(Some(DetailRead {
        detail: detail(lookup, counts, upstream),
        hit,
        row_id,
        last_accessed,
    }))
}
