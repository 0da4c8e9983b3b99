//! Creating, editing and deleting artifacts: `POST /api/v1/artifacts` (new, from text),
//! `PUT`/`DELETE /api/v1/artifacts/{id}/files/{path}` (one file, checked against the content
//! hash with `If-Match`), and `DELETE /api/v1/artifacts/{id}` (into the trash).

use std::collections::BTreeMap;

use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::artifact_import::{ImportedArtifact, imported, parse_type};
use super::artifacts::parse_id;
use super::trash::{TrashItem, trash_item};
use crate::authoring::{AuthoringError, CreateRequest};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Artifact write endpoints.
pub struct ArtifactEditApi {
    /// Shared state.
    pub state: AppState,
}

/// A new artifact.
#[derive(Debug, Object)]
pub struct CreateArtifactBody {
    /// skill, command, agent, hook or mcp.
    #[oai(rename = "type")]
    pub artifact_type: String,
    /// The name (one path component).
    pub name: String,
    /// The collection folder to write into (created when missing); `default` when absent.
    pub collection: Option<String>,
    /// Relative path to text. A skill needs `SKILL.md` whose front matter has a
    /// `description`; a command or agent is one Markdown file (stored as `<name>.md`).
    pub files: BTreeMap<String, String>,
}

/// A file's new content.
#[derive(Debug, Object)]
pub struct FileContentBody {
    /// The whole file, as text.
    pub content: String,
}

/// What an edit left.
#[derive(Debug, Object)]
pub struct EditedArtifact {
    /// `type:name`.
    pub id: String,
    /// The content hash now (also the new `ETag`).
    pub content_hash: String,
}

/// Create outcomes.
#[derive(ApiResponse)]
pub enum CreateArtifactResponse {
    /// Created; `Location` is the artifact's URL.
    #[oai(status = 201)]
    Created(
        Json<ImportedArtifact>,
        /// The artifact's URL.
        #[oai(header = "Location")]
        String,
    ),
}

/// Edit outcomes.
#[derive(ApiResponse)]
pub enum EditFileResponse {
    /// Written (or deleted); `ETag` is the new content hash, quoted.
    #[oai(status = 200)]
    Ok(
        Json<EditedArtifact>,
        /// The new content hash, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// The artifact changed since the tag sent was read: read it again (`detail` names the
    /// current hash; `ETag` carries it).
    #[oai(status = 412)]
    PreconditionFailed(
        Json<ErrorBody>,
        /// The current content hash, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-Match` is required to write a file.
    #[oai(status = 428)]
    PreconditionRequired(Json<ErrorBody>),
}

/// Delete outcomes.
#[derive(ApiResponse)]
pub enum DeleteArtifactResponse {
    /// Moved to the trash; restore it with `POST /api/v1/trash/{entry}/restore`.
    #[oai(status = 200)]
    Ok(Json<TrashItem>),
}

/// The outcome of an edit as its response.
fn edit_outcome(
    id: &str,
    outcome: Result<crate::authoring::edit::Edited, AuthoringError>,
) -> Result<EditFileResponse, ApiError> {
    let body = |code: &str, detail: String| {
        Json(ErrorBody {
            code: code.into(),
            detail,
            conflicts: None,
        })
    };
    match outcome {
        Ok(e) => Ok(EditFileResponse::Ok(
            Json(EditedArtifact {
                id: id.to_string(),
                content_hash: e.content_hash.clone(),
            }),
            format!("\"{}\"", e.content_hash),
        )),
        Err(err @ AuthoringError::Stale { .. }) => {
            let AuthoringError::Stale { current } = &err else {
                unreachable!()
            };
            let tag = format!("\"{current}\"");
            Ok(EditFileResponse::PreconditionFailed(
                body("precondition_failed", err.to_string()),
                tag,
            ))
        }
        Err(err @ AuthoringError::TagRequired) => Ok(EditFileResponse::PreconditionRequired(body(
            "precondition_required",
            err.to_string(),
        ))),
        Err(other) => Err(other.into()),
    }
}

/// `PUT` of a file (the OpenAPI operation and the route that takes raw slashes).
pub async fn put_file(
    state: &AppState,
    raw_id: &str,
    path: &str,
    content: String,
    if_match: Option<&str>,
) -> Result<EditFileResponse, ApiError> {
    let id = parse_id(raw_id)?;
    let outcome = state
        .authoring
        .write_file(&id, path, content, if_match)
        .await;
    edit_outcome(&id.to_string(), outcome)
}

/// `DELETE` of a file (the OpenAPI operation and the route that takes raw slashes).
pub async fn delete_file(
    state: &AppState,
    raw_id: &str,
    path: &str,
    if_match: Option<&str>,
) -> Result<EditFileResponse, ApiError> {
    let id = parse_id(raw_id)?;
    let outcome = state.authoring.delete_file(&id, path, if_match).await;
    edit_outcome(&id.to_string(), outcome)
}

#[OpenApi(tag = "ApiTags::Artifacts")]
impl ArtifactEditApi {
    /// Create an artifact
    ///
    /// Writes a new artifact from text into a collection, in SkillMeat's format. The front
    /// matter must be valid YAML, and a skill's `SKILL.md` must have a `description`. A name
    /// already in the collection is 409.
    #[oai(
        path = "/api/v1/artifacts",
        method = "post",
        operation_id = "create_artifact"
    )]
    async fn create_artifact(
        &self,
        body: Json<CreateArtifactBody>,
    ) -> Result<CreateArtifactResponse, ApiError> {
        let b = body.0;
        let artifact_type = parse_type(Some(&b.artifact_type))?
            .ok_or_else(|| ApiError::bad_request("type is required"))?;
        let written = self
            .state
            .authoring
            .create(CreateRequest {
                artifact_type,
                name: b.name,
                collection: b.collection.unwrap_or_else(|| "default".into()),
                files: b.files,
            })
            .await?;
        let (body, location) = imported(&self.state, written, None).await?;
        Ok(CreateArtifactResponse::Created(Json(body), location))
    }

    /// Write one file of an artifact
    ///
    /// Replaces (or adds) the file with `content`. `If-Match` must carry the artifact's
    /// current content hash as `GET /api/v1/artifacts/{id}` gave it in `ETag`: 412 when the
    /// artifact changed since, 428 without it. The new hash is recorded in `collection.lock`
    /// and returned as `ETag`. Slashes in the path may be sent as they are.
    #[oai(
        path = "/api/v1/artifacts/:id/files/:path",
        method = "put",
        operation_id = "put_artifact_file"
    )]
    async fn put_artifact_file(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
        /// File path relative to the artifact.
        path: Path<String>,
        /// The artifact's content hash, quoted (`"<hash>"`), as its `ETag` gave it.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<FileContentBody>,
    ) -> Result<EditFileResponse, ApiError> {
        put_file(
            &self.state,
            &id.0,
            &path.0,
            body.0.content,
            if_match.0.as_deref(),
        )
        .await
    }

    /// Delete one file of an artifact
    ///
    /// Removes a file other than the main document (delete the artifact for that). With
    /// `If-Match`, only when the artifact's content hash is still the one sent (412 otherwise).
    #[oai(
        path = "/api/v1/artifacts/:id/files/:path",
        method = "delete",
        operation_id = "delete_artifact_file"
    )]
    async fn delete_artifact_file(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
        /// File path relative to the artifact.
        path: Path<String>,
        /// The artifact's content hash, quoted, as its `ETag` gave it.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<EditFileResponse, ApiError> {
        delete_file(&self.state, &id.0, &path.0, if_match.0.as_deref()).await
    }

    /// Delete an artifact
    ///
    /// Removes it from its collection (its `collection.toml` and `collection.lock` entries
    /// too) and moves its files to `<data_home>/trash/<time>/`, restorable with
    /// `POST /api/v1/trash/{entry}/restore` until `trash.keep_days` passed. Its deployments stay
    /// in their projects and are shown as orphaned.
    #[oai(
        path = "/api/v1/artifacts/:id",
        method = "delete",
        operation_id = "delete_artifact"
    )]
    async fn delete_artifact(
        &self,
        /// Artifact id, `type:name`.
        id: Path<String>,
    ) -> Result<DeleteArtifactResponse, ApiError> {
        let id = parse_id(&id.0)?;
        let entry = self.state.authoring.delete(&id).await?;
        Ok(DeleteArtifactResponse::Ok(Json(trash_item(
            entry,
            self.state.settings.trash.keep_days,
        ))))
    }
}
