//! `/api/v1/trash`: deleted artifacts, kept for `trash.keep_days`, and their restore.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::authoring::trash::TrashEntry;
use crate::error::ApiError;
use crate::state::AppState;

/// Trash endpoints.
pub struct TrashApi {
    /// Shared state.
    pub state: AppState,
}

/// A deleted artifact.
#[derive(Debug, Object)]
pub struct TrashItem {
    /// The entry's id (its folder under `<data_home>/trash/`).
    pub entry: String,
    /// `type:name`.
    pub artifact_id: String,
    /// The collection it was deleted from.
    pub collection: String,
    /// Its path in that collection.
    pub path: String,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
    /// When the purge job removes it for good.
    pub purge_after: DateTime<Utc>,
}

/// The trash's entries.
#[derive(Debug, Object)]
pub struct TrashList {
    /// Newest first.
    pub items: Vec<TrashItem>,
}

/// An entry as the API shows it, with its purge time (`keep_days` after its deletion).
pub fn trash_item(e: TrashEntry, keep_days: u64) -> TrashItem {
    TrashItem {
        purge_after: e.deleted_at + chrono::Duration::days(keep_days as i64),
        entry: e.id,
        artifact_id: e.artifact_id,
        collection: e.collection,
        path: e.path,
        deleted_at: e.deleted_at,
    }
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum TrashListResponse {
    /// The entries.
    #[oai(status = 200)]
    Ok(Json<TrashList>),
}

/// Restore outcomes.
#[derive(ApiResponse)]
pub enum RestoreResponse {
    /// Back in its collection; the entry is gone from the trash.
    #[oai(status = 200)]
    Ok(Json<TrashItem>),
}

#[OpenApi(tag = "ApiTags::Artifacts")]
impl TrashApi {
    /// List deleted artifacts
    ///
    /// Artifacts deleted with `DELETE /api/v1/artifacts/{id}`, newest first, with when the
    /// purge removes them.
    #[oai(path = "/api/v1/trash", method = "get", operation_id = "list_trash")]
    async fn list_trash(&self) -> Result<TrashListResponse, ApiError> {
        let keep = self.state.settings.trash.keep_days;
        let items = self.state.authoring.trash().await?;
        Ok(TrashListResponse::Ok(Json(TrashList {
            items: items.into_iter().map(|e| trash_item(e, keep)).collect(),
        })))
    }

    /// Restore a deleted artifact
    ///
    /// Moves it back to where it was deleted from, with its `collection.toml` and
    /// `collection.lock` entries as they were. 409 when an artifact of that id is there again.
    #[oai(
        path = "/api/v1/trash/:entry/restore",
        method = "post",
        operation_id = "restore_trash_entry"
    )]
    async fn restore_trash_entry(
        &self,
        /// The entry's id.
        entry: Path<String>,
    ) -> Result<RestoreResponse, ApiError> {
        let restored = self.state.authoring.restore(&entry.0).await?;
        Ok(RestoreResponse::Ok(Json(trash_item(
            restored,
            self.state.settings.trash.keep_days,
        ))))
    }
}
