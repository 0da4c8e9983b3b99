//! `/api/v1/user-collections`: collections, their members, move/copy between collections, and
//! the order of their groups.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::common::{DeletedResponse, PageInfo, comma_list};
use super::groups::{Group, GroupList};
use super::stored_json::{StoredJson, memoised_list};
use crate::collections::{CollectionInfo, CollectionPatch, MemberFilter, NewCollection, Transfer};
use crate::error::ApiError;
use crate::source::{ArtifactType, SourceArtifact};
use crate::state::AppState;

/// Collection endpoints.
pub struct UserCollectionsApi {
    /// Shared state.
    pub state: AppState,
}

/// A collection with live counts.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserCollection {
    /// `default` or 32 hex characters.
    pub id: String,
    /// Name, unique case-insensitively.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Free-form type, e.g. `default`, `context`.
    pub collection_type: Option<String>,
    /// Free-form category.
    pub context_category: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Number of groups.
    pub group_count: u64,
    /// Number of artifacts.
    pub artifact_count: u64,
}

impl From<CollectionInfo> for UserCollection {
    fn from(info: CollectionInfo) -> Self {
        let c = info.collection;
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
            collection_type: c.collection_type,
            context_category: c.context_category,
            created_at: c.created_at,
            updated_at: c.updated_at,
            group_count: info.group_count,
            artifact_count: info.artifact_count,
        }
    }
}

/// A group as listed inside its collection.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CollectionGroup {
    /// Group id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Position (0-based).
    pub position: i32,
    /// Number of members.
    pub artifact_count: u64,
}

/// A collection with its groups in order.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserCollectionDetail {
    /// The collection.
    #[oai(flatten)]
    pub collection: UserCollection,
    /// Its groups by position.
    pub groups: Vec<CollectionGroup>,
}

/// One page of collections.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UserCollectionList {
    /// Collections ordered by name.
    pub items: Vec<UserCollection>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A new collection.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateUserCollection {
    /// Name: 1 to 255 characters after trimming, unique case-insensitively.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Free-form type.
    pub collection_type: Option<String>,
    /// Free-form category.
    pub context_category: Option<String>,
}

/// A partial update: only the fields sent change; at least one is required.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UpdateUserCollection {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New type.
    pub collection_type: Option<String>,
    /// New category.
    pub context_category: Option<String>,
}

/// A group an artifact belongs to.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupRef {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// The group's position in the collection.
    pub position: i32,
}

/// A member of a collection.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CollectionArtifact {
    /// `type:name`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    #[oai(rename = "type")]
    pub artifact_type: String,
    /// False when no source has the artifact any more (the membership is kept).
    pub available: bool,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Tools.
    pub tools: Vec<String>,
    /// Content hash, when available.
    pub content_hash: Option<String>,
    /// When it was added to this collection.
    pub added_at: DateTime<Utc>,
    /// Its groups in this collection (with `include_groups=true`).
    pub groups: Option<Vec<GroupRef>>,
}

/// One page of members.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CollectionArtifactList {
    /// Members ordered by id.
    pub items: Vec<CollectionArtifact>,
    /// Paging.
    pub page_info: PageInfo,
}

/// Artifacts to add.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AddArtifacts {
    /// Ids, `type:name` (at least one).
    pub artifact_ids: Vec<String>,
}

/// What adding did.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AddArtifactsResult {
    /// The collection.
    pub collection_id: String,
    /// Newly added.
    pub added: Vec<String>,
    /// Already members.
    pub already_present: Vec<String>,
    /// Known to no source: not added.
    pub unknown: Vec<String>,
    /// `added.len()`, as SkillMeat reports it.
    pub added_count: u64,
    /// `already_present.len()`, as SkillMeat reports it.
    pub already_present_count: u64,
    /// Members after the change.
    pub total_artifacts: u64,
}

/// Artifacts to move or copy.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TransferArtifacts {
    /// Ids, `type:name`; each must be a member of the source collection.
    pub artifact_ids: Vec<String>,
    /// Where they go.
    pub target_collection_id: String,
}

/// What a move or copy did.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TransferResult {
    /// The source.
    pub source_collection_id: String,
    /// The target.
    pub target_collection_id: String,
    /// Added to the target.
    pub added: Vec<String>,
    /// Already in the target.
    pub already_present: Vec<String>,
    /// Removed from the source (move only).
    pub removed: Vec<String>,
}

/// The new order of a collection's groups.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupOrder {
    /// Every group id of the collection, once, in the new order.
    pub group_ids: Vec<String>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListUserCollectionsResponse {
    /// A page of collections.
    #[oai(status = 200)]
    Ok(StoredJson<UserCollectionList>),
}

/// Create outcomes.
#[derive(ApiResponse)]
pub enum CreateUserCollectionResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<UserCollection>),
}

/// Get outcomes.
#[derive(ApiResponse)]
pub enum GetUserCollectionResponse {
    /// The collection with its groups.
    #[oai(status = 200)]
    Ok(Json<UserCollectionDetail>),
}

/// Update outcomes.
#[derive(ApiResponse)]
pub enum UpdateUserCollectionResponse {
    /// Updated.
    #[oai(status = 200)]
    Ok(Json<UserCollection>),
}

/// Member list outcomes.
#[derive(ApiResponse)]
pub enum ListCollectionArtifactsResponse {
    /// A page of members.
    #[oai(status = 200)]
    Ok(StoredJson<CollectionArtifactList>),
}

/// Add outcomes.
#[derive(ApiResponse)]
pub enum AddArtifactsResponse {
    /// What was added, already present or unknown.
    #[oai(status = 200)]
    Ok(Json<AddArtifactsResult>),
}

/// Move/copy outcomes.
#[derive(ApiResponse)]
pub enum TransferResponse {
    /// Done, in one transaction.
    #[oai(status = 200)]
    Ok(Json<TransferResult>),
}

/// Group order outcomes.
#[derive(ApiResponse)]
pub enum OrderGroupsResponse {
    /// The groups in their new order.
    #[oai(status = 200)]
    Ok(Json<GroupList>),
}

#[OpenApi(tag = "ApiTags::Collections")]
impl UserCollectionsApi {
    /// List collections
    ///
    /// Ordered by name (case-insensitive); `search` matches part of the name.
    #[oai(
        path = "/api/v1/user-collections",
        method = "get",
        operation_id = "list_user_collections"
    )]
    async fn list(
        &self,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Case-insensitive part of the name.
        search: Query<Option<String>>,
    ) -> Result<ListUserCollectionsResponse, ApiError> {
        let key = format!(
            "list_user_collections {:?} {:?} {:?}",
            limit.0, after.0, search.0
        );
        let build = async {
            let page = self
                .state
                .collections
                .list(
                    search.0.as_deref(),
                    limit.0.unwrap_or(20),
                    after.0.as_deref(),
                )
                .await?;
            Ok(UserCollectionList {
                items: page.items.into_iter().map(Into::into).collect(),
                page_info: PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: after.0.is_some(),
                    end_cursor: page.end_cursor,
                    total_count: page.total_count,
                },
            })
        };
        let body = memoised_list(&self.state, key, build).await?;
        Ok(ListUserCollectionsResponse::Ok(body))
    }

    /// Create a collection
    ///
    /// A blank name is 422; a name already taken (ignoring case) is 409.
    #[oai(
        path = "/api/v1/user-collections",
        method = "post",
        operation_id = "create_user_collection"
    )]
    async fn create(
        &self,
        body: Json<CreateUserCollection>,
    ) -> Result<CreateUserCollectionResponse, ApiError> {
        let b = body.0;
        let created = self
            .state
            .collections
            .create(NewCollection {
                name: b.name,
                description: b.description,
                collection_type: b.collection_type,
                context_category: b.context_category,
                id: None,
            })
            .await?;
        let info = self.state.collections.info(&created.id).await?;
        Ok(CreateUserCollectionResponse::Created(Json(info.into())))
    }

    /// Get a collection
    ///
    /// The collection with its counts and its groups in order.
    #[oai(
        path = "/api/v1/user-collections/:id",
        method = "get",
        operation_id = "get_user_collection"
    )]
    async fn get(
        &self,
        /// Collection id.
        id: Path<String>,
    ) -> Result<GetUserCollectionResponse, ApiError> {
        let info = self.state.collections.info(&id.0).await?;
        let groups = self
            .state
            .collections
            .list_groups(&id.0, None, None)
            .await?;
        Ok(GetUserCollectionResponse::Ok(Json(UserCollectionDetail {
            collection: info.into(),
            groups: groups
                .into_iter()
                .map(|g| CollectionGroup {
                    id: g.group.id,
                    name: g.group.name,
                    description: g.group.description,
                    position: g.group.position,
                    artifact_count: g.artifact_count,
                })
                .collect(),
        })))
    }

    /// Update a collection
    ///
    /// Partial: only the fields sent change. An empty body is 400; a name taken by another
    /// collection is 409; renaming to its own name is allowed.
    #[oai(
        path = "/api/v1/user-collections/:id",
        method = "put",
        operation_id = "update_user_collection"
    )]
    async fn update(
        &self,
        /// Collection id.
        id: Path<String>,
        body: Json<UpdateUserCollection>,
    ) -> Result<UpdateUserCollectionResponse, ApiError> {
        let b = body.0;
        self.state
            .collections
            .update(
                &id.0,
                CollectionPatch {
                    name: b.name,
                    description: b.description,
                    collection_type: b.collection_type,
                    context_category: b.context_category,
                },
            )
            .await?;
        let info = self.state.collections.info(&id.0).await?;
        Ok(UpdateUserCollectionResponse::Ok(Json(info.into())))
    }

    /// Delete a collection
    ///
    /// Removes its groups and memberships; the artifacts and their files are untouched.
    #[oai(
        path = "/api/v1/user-collections/:id",
        method = "delete",
        operation_id = "delete_user_collection"
    )]
    async fn delete(
        &self,
        /// Collection id.
        id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state.collections.delete(&id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// List a collection's artifacts
    ///
    /// Ordered by id; filter by type and by group; `include_groups` adds each member's groups.
    #[oai(
        path = "/api/v1/user-collections/:id/artifacts",
        method = "get",
        operation_id = "list_collection_artifacts"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_artifacts(
        &self,
        /// Collection id.
        id: Path<String>,
        /// Page size, 1 to 500 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `end_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Types, comma-separated.
        #[oai(name = "type")]
        artifact_type: Query<Option<String>>,
        /// Only members of this group.
        group_id: Query<Option<String>>,
        /// Include each member's groups.
        include_groups: Query<Option<bool>>,
        /// Case-insensitive substring of the name or description.
        search: Query<Option<String>>,
    ) -> Result<ListCollectionArtifactsResponse, ApiError> {
        let key = format!(
            "list_collection_artifacts {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            id.0, limit.0, after.0, artifact_type.0, group_id.0, include_groups.0, search.0
        );
        let build = async {
            let mut types = Vec::new();
            for raw in comma_list(artifact_type.0.as_deref()) {
                types.push(raw.parse::<ArtifactType>().map_err(ApiError::bad_request)?);
            }
            let include_groups = include_groups.0.unwrap_or(false);
            let filter = MemberFilter {
                types,
                group_id: group_id.0,
                include_groups,
                search: search.0,
            };
            let has_previous_page = after.0.is_some();
            let page = self
                .state
                .collections
                .list_members(&id.0, &filter, limit.0.unwrap_or(20), after.0.as_deref())
                .await?;
            let items = page
                .items
                .into_iter()
                .map(|m| {
                    let (artifact_type, name) = m
                        .artifact_id
                        .split_once(':')
                        .map(|(t, n)| (t.to_string(), n.to_string()))
                        .unwrap_or_default();
                    let artifact = m.cached.as_ref().and_then(|c| {
                        serde_json::from_value::<SourceArtifact>(c.data.clone()).ok()
                    });
                    CollectionArtifact {
                        available: artifact.is_some(),
                        description: artifact
                            .as_ref()
                            .and_then(|a| a.metadata.description.clone()),
                        tags: artifact
                            .as_ref()
                            .map(|a| a.metadata.tags.clone())
                            .unwrap_or_default(),
                        tools: artifact
                            .as_ref()
                            .map(|a| a.metadata.tools.clone())
                            .unwrap_or_default(),
                        content_hash: artifact.map(|a| a.content_hash),
                        id: m.artifact_id,
                        name,
                        artifact_type,
                        added_at: m.added_at,
                        groups: include_groups.then(|| {
                            m.groups
                                .into_iter()
                                .map(|(id, name, position)| GroupRef { id, name, position })
                                .collect()
                        }),
                    }
                })
                .collect();
            Ok(CollectionArtifactList {
                items,
                page_info: PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page,
                    end_cursor: page.end_cursor,
                    total_count: page.total_count,
                },
            })
        };
        let body = memoised_list(&self.state, key, build).await?;
        Ok(ListCollectionArtifactsResponse::Ok(body))
    }

    /// Add artifacts to a collection
    ///
    /// Idempotent: members already present are listed in `already_present`; ids no source knows
    /// are listed in `unknown` and not added.
    #[oai(
        path = "/api/v1/user-collections/:id/artifacts",
        method = "post",
        operation_id = "add_collection_artifacts"
    )]
    async fn add_artifacts(
        &self,
        /// Collection id.
        id: Path<String>,
        body: Json<AddArtifacts>,
    ) -> Result<AddArtifactsResponse, ApiError> {
        let report = self
            .state
            .collections
            .add_members(&id.0, &body.0.artifact_ids)
            .await?;
        Ok(AddArtifactsResponse::Ok(Json(AddArtifactsResult {
            collection_id: id.0,
            added_count: report.added.len() as u64,
            already_present_count: report.already_present.len() as u64,
            added: report.added,
            already_present: report.already_present,
            unknown: report.unknown,
            total_artifacts: report.total_artifacts,
        })))
    }

    /// Remove an artifact from a collection
    ///
    /// Also removes it from the collection's groups. Idempotent: 204 even when it was not a
    /// member. Removed from the default collection, it is not added back by a refresh.
    #[oai(
        path = "/api/v1/user-collections/:id/artifacts/:artifact_id",
        method = "delete",
        operation_id = "remove_collection_artifact"
    )]
    async fn remove_artifact(
        &self,
        /// Collection id.
        id: Path<String>,
        /// Artifact id, `type:name`.
        artifact_id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state
            .collections
            .remove_member(&id.0, &artifact_id.0)
            .await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Move artifacts to another collection
    ///
    /// In one transaction: added to the target, removed from this collection and its groups.
    /// Every id must be a member here; otherwise nothing changes (404).
    #[oai(
        path = "/api/v1/user-collections/:id/artifacts/move",
        method = "post",
        operation_id = "move_collection_artifacts"
    )]
    async fn move_artifacts(
        &self,
        /// Source collection id.
        id: Path<String>,
        body: Json<TransferArtifacts>,
    ) -> Result<TransferResponse, ApiError> {
        self.transfer(id.0, body.0, Transfer::Move).await
    }

    /// Copy artifacts to another collection
    ///
    /// In one transaction: added to the target; this collection is unchanged. Every id must be a
    /// member here; otherwise nothing changes (404).
    #[oai(
        path = "/api/v1/user-collections/:id/artifacts/copy",
        method = "post",
        operation_id = "copy_collection_artifacts"
    )]
    async fn copy_artifacts(
        &self,
        /// Source collection id.
        id: Path<String>,
        body: Json<TransferArtifacts>,
    ) -> Result<TransferResponse, ApiError> {
        self.transfer(id.0, body.0, Transfer::Copy).await
    }

    /// Reorder a collection's groups
    ///
    /// `group_ids` must list every group of the collection once; positions become 0..n-1 in
    /// that order, in one transaction.
    #[oai(
        path = "/api/v1/user-collections/:id/groups/order",
        method = "put",
        operation_id = "order_collection_groups"
    )]
    async fn order_groups(
        &self,
        /// Collection id.
        id: Path<String>,
        body: Json<GroupOrder>,
    ) -> Result<OrderGroupsResponse, ApiError> {
        let groups = self
            .state
            .collections
            .order_groups(&id.0, &body.0.group_ids)
            .await?;
        let groups: Vec<Group> = groups.into_iter().map(Into::into).collect();
        Ok(OrderGroupsResponse::Ok(Json(GroupList {
            total: groups.len() as u64,
            items: groups.clone(),
            groups,
        })))
    }
}

impl UserCollectionsApi {
    async fn transfer(
        &self,
        source: String,
        body: TransferArtifacts,
        mode: Transfer,
    ) -> Result<TransferResponse, ApiError> {
        let report = self
            .state
            .collections
            .transfer(
                &source,
                &body.artifact_ids,
                &body.target_collection_id,
                mode,
            )
            .await?;
        Ok(TransferResponse::Ok(Json(TransferResult {
            source_collection_id: source,
            target_collection_id: body.target_collection_id,
            added: report.added,
            already_present: report.already_present,
            removed: report.removed,
        })))
    }
}
