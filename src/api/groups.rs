//! `/api/v1/groups`: groups inside a collection, their members and their order.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::common::DeletedResponse;
use crate::collections::groups::{GroupDetail, GroupInfo, GroupPatch, NewGroup};
use crate::error::ApiError;
use crate::state::AppState;

/// Group endpoints.
pub struct GroupsApi {
    /// Shared state.
    pub state: AppState,
}

/// A group.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Group {
    /// 32 hex characters.
    pub id: String,
    /// Its collection.
    pub collection_id: String,
    /// Name, unique in the collection.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags, lower-case.
    pub tags: Vec<String>,
    /// `slate`, `blue`, `green`, `amber`, `rose` or `#rrggbb`.
    pub color: String,
    /// Icon name.
    pub icon: String,
    /// Position in the collection (0-based, gapless).
    pub position: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Number of members.
    pub artifact_count: u64,
}

impl From<GroupInfo> for Group {
    fn from(info: GroupInfo) -> Self {
        let tags = info.tags();
        let g = info.group;
        Self {
            id: g.id,
            collection_id: g.collection_id,
            name: g.name,
            description: g.description,
            tags,
            color: g.color,
            icon: g.icon,
            position: g.position,
            created_at: g.created_at,
            updated_at: g.updated_at,
            artifact_count: info.artifact_count,
        }
    }
}

/// A member of a group.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupMember {
    /// `type:name`.
    pub artifact_id: String,
    /// Position (0-based, gapless).
    pub position: i32,
    /// When it was added.
    pub added_at: DateTime<Utc>,
}

/// A group with its members in order.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupWithArtifacts {
    /// The group.
    #[oai(flatten)]
    pub group: Group,
    /// Members by position.
    pub artifacts: Vec<GroupMember>,
}

impl From<GroupDetail> for GroupWithArtifacts {
    fn from(d: GroupDetail) -> Self {
        Self {
            group: d.info.into(),
            artifacts: d
                .members
                .into_iter()
                .map(|m| GroupMember {
                    artifact_id: m.artifact_id,
                    position: m.position,
                    added_at: m.added_at,
                })
                .collect(),
        }
    }
}

/// Groups of a collection.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupList {
    /// Groups by position.
    pub groups: Vec<Group>,
    /// The same groups, under the name SkillMeat's CLI (`skillmeat group list`) reads.
    pub items: Vec<Group>,
    /// How many.
    pub total: u64,
}

/// A new group.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateGroup {
    /// The collection.
    pub collection_id: String,
    /// Name: 1 to 255 characters, unique in the collection.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Tags: trimmed, lower-cased, de-duplicated; each `^[a-z0-9_-]{1,32}$`; at most 20.
    pub tags: Option<Vec<String>>,
    /// Colour token or hex (default `slate`).
    pub color: Option<String>,
    /// Icon, up to 32 characters (default `layers`).
    pub icon: Option<String>,
    /// Where to insert it; later groups shift. Appended when absent.
    pub position: Option<u32>,
}

/// A partial update of a group; at least one field.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UpdateGroup {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New colour.
    pub color: Option<String>,
    /// New icon.
    pub icon: Option<String>,
    /// New position among the collection's groups.
    pub position: Option<u32>,
}

/// Where to copy a group.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CopyGroup {
    /// Target collection (may be the group's own).
    pub target_collection_id: String,
}

/// Artifacts to add to a group.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AddGroupArtifacts {
    /// Ids, `type:name` (at least one).
    pub artifact_ids: Vec<String>,
    /// Where to insert them; later members shift. Appended when absent.
    pub position: Option<u32>,
}

/// The new order of a group's members.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MemberOrder {
    /// Every member, once, in the new order.
    pub artifact_ids: Vec<String>,
}

/// Where to move a member.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MoveMember {
    /// The group it goes to (may be the same group, to reorder).
    pub target_group_id: String,
    /// Its position there; the end when absent.
    pub position: Option<u32>,
}

/// List outcomes.
#[derive(ApiResponse)]
pub enum ListGroupsResponse {
    /// The groups by position.
    #[oai(status = 200)]
    Ok(Json<GroupList>),
}

/// Create/copy outcomes.
#[derive(ApiResponse)]
pub enum CreateGroupResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Group>),
}

/// Get outcomes.
#[derive(ApiResponse)]
pub enum GetGroupResponse {
    /// The group with its members.
    #[oai(status = 200)]
    Ok(Json<GroupWithArtifacts>),
}

/// Update outcomes.
#[derive(ApiResponse)]
pub enum UpdateGroupResponse {
    /// Updated.
    #[oai(status = 200)]
    Ok(Json<Group>),
}

/// Member change outcomes.
#[derive(ApiResponse)]
pub enum GroupMembersResponse {
    /// The group with its members.
    #[oai(status = 200)]
    Ok(Json<GroupWithArtifacts>),
    /// Members were added.
    #[oai(status = 201)]
    Created(Json<GroupWithArtifacts>),
}

#[OpenApi(tag = "ApiTags::Groups")]
impl GroupsApi {
    /// List a collection's groups
    ///
    /// `collection_id` is required (422 without it); `search` matches part of the name;
    /// `artifact_id` keeps the groups that hold that artifact.
    #[oai(path = "/api/v1/groups", method = "get", operation_id = "list_groups")]
    async fn list(
        &self,
        /// Collection id (required).
        collection_id: Query<Option<String>>,
        /// Case-insensitive part of the name.
        search: Query<Option<String>>,
        /// Only groups holding this artifact (`type:name`).
        artifact_id: Query<Option<String>>,
    ) -> Result<ListGroupsResponse, ApiError> {
        let Some(collection_id) = collection_id.0 else {
            return Err(ApiError::unprocessable("collection_id is required"));
        };
        let groups = self
            .state
            .collections
            .list_groups(
                &collection_id,
                search.0.as_deref(),
                artifact_id.0.as_deref(),
            )
            .await?;
        let groups: Vec<Group> = groups.into_iter().map(Into::into).collect();
        Ok(ListGroupsResponse::Ok(Json(GroupList {
            total: groups.len() as u64,
            items: groups.clone(),
            groups,
        })))
    }

    /// Create a group
    ///
    /// Appended at the end unless `position` is given. A name taken in the collection is 400
    /// (`duplicate_name`); bad tags, colour or icon are 422.
    #[oai(
        path = "/api/v1/groups",
        method = "post",
        operation_id = "create_group"
    )]
    async fn create(&self, body: Json<CreateGroup>) -> Result<CreateGroupResponse, ApiError> {
        let b = body.0;
        let info = self
            .state
            .collections
            .create_group(NewGroup {
                collection_id: b.collection_id,
                name: b.name,
                description: b.description,
                tags: b.tags.unwrap_or_default(),
                color: b.color,
                icon: b.icon,
                position: b.position,
            })
            .await?;
        Ok(CreateGroupResponse::Created(Json(info.into())))
    }

    /// Get a group
    ///
    /// The group with its members in order.
    #[oai(
        path = "/api/v1/groups/:id",
        method = "get",
        operation_id = "get_group"
    )]
    async fn get(
        &self,
        /// Group id.
        id: Path<String>,
    ) -> Result<GetGroupResponse, ApiError> {
        let detail = self.state.collections.group_detail(&id.0).await?;
        Ok(GetGroupResponse::Ok(Json(detail.into())))
    }

    /// Update a group
    ///
    /// Partial: only the fields sent change (empty body: 400). A new `position` moves the group
    /// among its collection's groups.
    #[oai(
        path = "/api/v1/groups/:id",
        method = "put",
        operation_id = "update_group"
    )]
    async fn update(
        &self,
        /// Group id.
        id: Path<String>,
        body: Json<UpdateGroup>,
    ) -> Result<UpdateGroupResponse, ApiError> {
        let b = body.0;
        let info = self
            .state
            .collections
            .update_group(
                &id.0,
                GroupPatch {
                    name: b.name,
                    description: b.description,
                    tags: b.tags,
                    color: b.color,
                    icon: b.icon,
                    position: b.position,
                },
            )
            .await?;
        Ok(UpdateGroupResponse::Ok(Json(info.into())))
    }

    /// Delete a group
    ///
    /// Its artifacts remain in the collection; later groups move up.
    #[oai(
        path = "/api/v1/groups/:id",
        method = "delete",
        operation_id = "delete_group"
    )]
    async fn delete(
        &self,
        /// Group id.
        id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state.collections.delete_group(&id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Copy a group to a collection
    ///
    /// Creates "<name> (Copy)" at the end of the target (the same collection is allowed), with
    /// the members in their positions; members missing from the target collection are added.
    /// The name already taken there is 400.
    #[oai(
        path = "/api/v1/groups/:id/copy",
        method = "post",
        operation_id = "copy_group"
    )]
    async fn copy(
        &self,
        /// Group id.
        id: Path<String>,
        body: Json<CopyGroup>,
    ) -> Result<CreateGroupResponse, ApiError> {
        let info = self
            .state
            .collections
            .copy_group(&id.0, &body.0.target_collection_id)
            .await?;
        Ok(CreateGroupResponse::Created(Json(info.into())))
    }

    /// Add artifacts to a group
    ///
    /// Inserted at `position` (later members shift) or appended. Members already present stay
    /// where they are; artifacts not yet in the collection are added to it; an id no source knows
    /// is 404 and nothing changes.
    #[oai(
        path = "/api/v1/groups/:id/artifacts",
        method = "post",
        operation_id = "add_group_artifacts"
    )]
    async fn add_artifacts(
        &self,
        /// Group id.
        id: Path<String>,
        body: Json<AddGroupArtifacts>,
    ) -> Result<GroupMembersResponse, ApiError> {
        let detail = self
            .state
            .collections
            .add_group_members(&id.0, &body.0.artifact_ids, body.0.position)
            .await?;
        Ok(GroupMembersResponse::Created(Json(detail.into())))
    }

    /// Remove an artifact from a group
    ///
    /// Later members move up. Not a member: 404. The artifact stays in the collection.
    #[oai(
        path = "/api/v1/groups/:id/artifacts/:artifact_id",
        method = "delete",
        operation_id = "remove_group_artifact"
    )]
    async fn remove_artifact(
        &self,
        /// Group id.
        id: Path<String>,
        /// Artifact id, `type:name`.
        artifact_id: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        self.state
            .collections
            .remove_group_member(&id.0, &artifact_id.0)
            .await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Reorder a group's artifacts
    ///
    /// `artifact_ids` must list every member once; positions become 0..n-1 in that order.
    #[oai(
        path = "/api/v1/groups/:id/artifacts/order",
        method = "put",
        operation_id = "order_group_artifacts"
    )]
    async fn order_artifacts(
        &self,
        /// Group id.
        id: Path<String>,
        body: Json<MemberOrder>,
    ) -> Result<GroupMembersResponse, ApiError> {
        let detail = self
            .state
            .collections
            .order_group_members(&id.0, &body.0.artifact_ids)
            .await?;
        Ok(GroupMembersResponse::Ok(Json(detail.into())))
    }

    /// Move an artifact within or between groups
    ///
    /// To `position` in `target_group_id` (the end when absent); the same group reorders it.
    /// Returns the target group.
    #[oai(
        path = "/api/v1/groups/:id/artifacts/:artifact_id/move",
        method = "post",
        operation_id = "move_group_artifact"
    )]
    async fn move_artifact(
        &self,
        /// Group id.
        id: Path<String>,
        /// Artifact id, `type:name`.
        artifact_id: Path<String>,
        body: Json<MoveMember>,
    ) -> Result<GroupMembersResponse, ApiError> {
        let detail = self
            .state
            .collections
            .move_group_member(
                &id.0,
                &artifact_id.0,
                &body.0.target_group_id,
                body.0.position,
            )
            .await?;
        Ok(GroupMembersResponse::Ok(Json(detail.into())))
    }
}
