//! `/api/v1/artifacts`: list (one SQL query over the cache), detail (read through the cache) and
//! one file's content.

use base64::Engine;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::artifact_detail::{ArtifactDetail, artifact_detail};
use super::common::{PageInfo, SortOrder, comma_list};
use super::deployments::DeploymentCounts;
use super::stored_json::{StoredJson, memoised_list};
use crate::cache::listing::{self, ArtifactFilter, PageRequest, SortField};
use crate::error::{ApiError, ErrorBody};
use crate::memo::StoredDetail;
use crate::source::filesystem::safe_relative;
use crate::source::{ArtifactId, ArtifactType, SourceArtifact, printable};
use crate::state::AppState;

/// Largest file served by the file endpoint.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Artifact endpoints.
pub struct ArtifactsApi {
    /// Shared state.
    pub state: AppState,
}

/// Sort field of the artifact list.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum ArtifactSort {
    /// By name.
    #[default]
    Name,
    /// By type, then name.
    Type,
    /// By the newest file modification time.
    Updated,
}

/// An artifact as listed.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactSummary {
    /// `type:name`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type: skill, command, agent, hook or mcp.
    #[oai(rename = "type")]
    pub artifact_type: String,
    /// Collection the cached copy comes from.
    pub collection: String,
    /// Every collection holding it.
    pub collections: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Tools it may use.
    pub tools: Vec<String>,
    /// SkillMeat content hash (SHA-256 hex).
    pub content_hash: String,
    /// False when found on disk but not listed in the collection's manifest.
    pub in_manifest: bool,
    /// Newest file modification time.
    pub updated_at: DateTime<Utc>,
    /// When the cache entry was written.
    pub cached_at: DateTime<Utc>,
    /// Projects it is deployed into.
    pub deployment_count: u64,
    /// Its deployments per status.
    pub deployments_by_status: DeploymentCounts,
}

/// One page of artifacts.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactList {
    /// The artifacts.
    pub items: Vec<ArtifactSummary>,
    /// Paging.
    pub page_info: PageInfo,
}

/// One file's content.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ArtifactFileContent {
    /// Path relative to the artifact.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// `utf-8` for text, `base64` for anything else.
    pub encoding: String,
    /// The content in that encoding.
    pub content: String,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListArtifactsResponse {
    /// A page of artifacts.
    #[oai(status = 200)]
    Ok(StoredJson<ArtifactList>),
}

/// Detail outcomes.
// Built once per request and moved straight into the response: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum GetArtifactResponse {
    /// The artifact; `X-Cache` says whether the cache served it.
    #[oai(status = 200)]
    Ok(
        StoredJson<ArtifactDetail>,
        /// `hit` when served from the cache, `miss` when the source was read.
        #[oai(header = "X-Cache")]
        String,
        /// The content hash, quoted: send it back as `If-Match` to edit a file.
        #[oai(header = "ETag")]
        String,
    ),
    /// No source has this artifact.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

/// File outcomes.
#[derive(ApiResponse)]
pub enum GetArtifactFileResponse {
    /// The file's content.
    #[oai(status = 200)]
    Ok(Json<ArtifactFileContent>),
    /// No such artifact, or no such file in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

#[OpenApi(tag = "ApiTags::Artifacts")]
impl ArtifactsApi {
    /// List artifacts
    ///
    /// One page of artifacts from the cache, filtered before paging. Never reads the disk,
    /// except once to fill a cold cache.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/artifacts",
        method = "get",
        operation_id = "list_artifacts"
    )]
    async fn list_artifacts(
        &self,
        /// Page size, 1 to 500 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Types, comma-separated: skill, command, agent, hook, mcp.
        #[oai(name = "type")]
        artifact_type: Query<Option<String>>,
        /// Only artifacts of this collection.
        collection: Query<Option<String>>,
        /// Tags, comma-separated; any match (case-insensitive).
        tags: Query<Option<String>>,
        /// Tools, comma-separated; any match (case-insensitive).
        tools: Query<Option<String>>,
        /// Case-insensitive substring of name or description.
        search: Query<Option<String>>,
        /// Sort field (default name).
        sort: Query<Option<ArtifactSort>>,
        /// Sort direction (default asc).
        order: Query<Option<SortOrder>>,
    ) -> Result<ListArtifactsResponse, ApiError> {
        let query = ListQuery {
            limit: limit.0,
            after: after.0,
            artifact_type: artifact_type.0,
            collection: collection.0,
            tags: tags.0,
            tools: tools.0,
            search: search.0,
            sort: sort.0,
            order: order.0,
        };
        let key = format!("list_artifacts {query:?}");
        let body = memoised_list(&self.state, key, list_page(&self.state, query)).await?;
        Ok(ListArtifactsResponse::Ok(body))
    }

    /// Get one artifact
    ///
    /// Full metadata, file list, content hash and collection. Served from the cache when fresh;
    /// otherwise read from the source, stored and served (`X-Cache: miss`).
    #[oai(
        path = "/api/v1/artifacts/:id",
        method = "get",
        operation_id = "get_artifact"
    )]
    async fn get_artifact(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
    ) -> Result<GetArtifactResponse, ApiError> {
        let id = parse_id(&id.0)?;
        let key = id.to_string();
        let hot = &self.state.hot;
        let version = hot.version.current().await;
        let stored = version.as_ref().and_then(|v| hot.detail.get(&key, v));
        // The memory tier answers until the row expires; then the source is asked as before.
        if let Some(stored) = stored.filter(|s| s.expires_at > Utc::now()) {
            self.state
                .cache
                .note_memo_hit(stored.row_id, stored.last_accessed);
            return Ok(detail_response(&stored, true));
        }
        let Some(read) = artifact_detail(&self.state, &id).await? else {
            return Ok(GetArtifactResponse::NotFound(not_found_body(&id)));
        };
        let stored = StoredDetail {
            body: StoredJson::encode(&read.detail)?.bytes(),
            content_hash: read.detail.content_hash,
            row_id: read.row_id,
            last_accessed: read.last_accessed,
            expires_at: read.detail.expires_at,
        };
        let response = detail_response(&stored, read.hit);
        if let Some(version) = version {
            hot.detail
                .put(key, version, hot.version.latest().as_ref(), stored);
        }
        Ok(response)
    }

    /// Get one file of an artifact
    ///
    /// The path is relative to the artifact folder; slashes may be sent as they are or
    /// percent-encoded (`scripts%2Frun.py`). Only files listed in the artifact's file list are
    /// served; text comes back as UTF-8, anything else as base64. Files over 4 MiB are refused.
    #[oai(
        path = "/api/v1/artifacts/:id/files/:path",
        method = "get",
        operation_id = "get_artifact_file"
    )]
    async fn get_artifact_file(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
        /// File path relative to the artifact.
        path: Path<String>,
    ) -> Result<GetArtifactFileResponse, ApiError> {
        read_artifact_file(&self.state, &id.0, &path.0).await
    }
}

/// The file endpoint's logic, shared by the OpenAPI operation and the plain route that accepts
/// unencoded slashes in the path.
pub async fn read_artifact_file(
    state: &AppState,
    raw_id: &str,
    raw_path: &str,
) -> Result<GetArtifactFileResponse, ApiError> {
    let id = parse_id(raw_id)?;
    let Some(rel) = safe_relative(raw_path) else {
        return Err(ApiError::bad_request(format!(
            "file path '{}' must be relative to the artifact, without '..'",
            printable(raw_path)
        )));
    };
    let rel = rel.to_string_lossy().into_owned();
    let Some(lookup) = state.cache.get_or_fill(&id).await? else {
        return Ok(GetArtifactFileResponse::NotFound(not_found_body(&id)));
    };
    let Some(listed) = lookup.artifact.files.iter().find(|f| f.path == rel) else {
        return Ok(GetArtifactFileResponse::NotFound(Json(ErrorBody {
            code: "not_found".into(),
            detail: format!("Artifact '{id}' has no file '{}'", printable(&rel)),
            conflicts: None,
        })));
    };
    if listed.size > MAX_FILE_BYTES {
        return Err(ApiError::unprocessable(format!(
            "file '{}' is {} bytes; the limit for this endpoint is {MAX_FILE_BYTES}",
            printable(&rel),
            listed.size
        )));
    }
    let source = state.cache.source();
    let bytes = source
        .read_file(&lookup.artifact.item, &rel, MAX_FILE_BYTES)
        .await?;
    let Some(bytes) = bytes else {
        // Listed in the cache but gone (or replaced by a link) on disk: the entry is stale.
        state.cache.invalidate(&id.to_string()).await?;
        return Ok(GetArtifactFileResponse::NotFound(Json(ErrorBody {
            code: "not_found".into(),
            detail: format!("File '{}' of '{id}' no longer exists", printable(&rel)),
            conflicts: None,
        })));
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ApiError::unprocessable(format!(
            "file '{}' is larger than {MAX_FILE_BYTES} bytes",
            printable(&rel)
        )));
    }
    let size = bytes.len() as u64;
    let (encoding, content) = match String::from_utf8(bytes) {
        Ok(text) => ("utf-8", text),
        Err(e) => (
            "base64",
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
        ),
    };
    Ok(GetArtifactFileResponse::Ok(Json(ArtifactFileContent {
        path: rel,
        size,
        encoding: encoding.into(),
        content,
    })))
}

/// The query of `GET /api/v1/artifacts`, as received.
#[derive(Debug)]
struct ListQuery {
    limit: Option<u64>,
    after: Option<String>,
    artifact_type: Option<String>,
    collection: Option<String>,
    tags: Option<String>,
    tools: Option<String>,
    search: Option<String>,
    sort: Option<ArtifactSort>,
    order: Option<SortOrder>,
}

/// One page of the artifact list, built from the cache table.
async fn list_page(state: &AppState, q: ListQuery) -> Result<ArtifactList, ApiError> {
    let cache = &state.cache;
    cache.ensure_populated().await?;

    let mut types = Vec::new();
    for raw in comma_list(q.artifact_type.as_deref()) {
        types.push(raw.parse::<ArtifactType>().map_err(ApiError::bad_request)?);
    }
    if let Some(c) = &q.collection
        && !cache.known_collections().await?.contains(c)
    {
        return Err(ApiError::not_found(format!(
            "Collection '{}' not found",
            printable(c)
        )));
    }
    let filter = ArtifactFilter {
        types,
        collection: q.collection,
        tags: comma_list(q.tags.as_deref()),
        tools: comma_list(q.tools.as_deref()),
        search: q.search.map(|s| s.trim().to_string()),
    };
    let has_previous_page = q.after.is_some();
    let page = PageRequest {
        limit: q.limit.unwrap_or(20),
        after: q.after,
        sort: match q.sort.unwrap_or_default() {
            ArtifactSort::Name => SortField::Name,
            ArtifactSort::Type => SortField::Type,
            ArtifactSort::Updated => SortField::Updated,
        },
        descending: matches!(q.order, Some(SortOrder::Desc)),
    };
    let page = listing::list_artifacts(&state.db, &filter, &page).await?;
    let ids: Vec<String> = page.items.iter().map(|r| r.artifact_id.clone()).collect();
    let mut counts = state.deployments.counts_for(&ids).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for mut row in page.items {
        let deployments = counts.remove(&row.artifact_id).unwrap_or_default();
        let artifact: SourceArtifact = serde_json::from_value(std::mem::take(&mut row.data))
            .map_err(|e| ApiError::internal(&e))?;
        items.push(ArtifactSummary {
            id: row.artifact_id,
            name: row.name,
            artifact_type: row.artifact_type,
            collection: row.collection,
            collections: artifact.item.collections,
            description: row.description,
            tags: artifact.metadata.tags,
            tools: artifact.metadata.tools,
            content_hash: row.content_hash,
            in_manifest: artifact.item.in_manifest,
            updated_at: row.source_modified_at,
            cached_at: row.last_updated,
            deployment_count: deployments.total,
            deployments_by_status: deployments.into(),
        });
    }
    Ok(ArtifactList {
        items,
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page,
            end_cursor: page.end_cursor,
            total_count: page.total_count,
        },
    })
}

fn detail_response(stored: &StoredDetail, hit: bool) -> GetArtifactResponse {
    GetArtifactResponse::Ok(
        StoredJson::from_bytes(stored.body.clone()),
        if hit { "hit" } else { "miss" }.to_string(),
        format!("\"{}\"", stored.content_hash),
    )
}

/// Parses a `type:name` id from a request, as a 400 when malformed.
pub fn parse_id(raw: &str) -> Result<ArtifactId, ApiError> {
    ArtifactId::parse(raw).map_err(ApiError::bad_request)
}

pub fn not_found_body(id: &ArtifactId) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: "not_found".into(),
        detail: format!("Artifact '{id}' not found"),
        conflicts: None,
    })
}
