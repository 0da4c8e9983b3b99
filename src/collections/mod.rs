//! Collections, memberships and groups: how users organise artifacts.
//!
//! Memberships reference artifacts by `type:name`, never by a key into the cache, so clearing or
//! rebuilding the cache loses nothing. Every mutation runs in one transaction that takes the
//! write lock up front (`BEGIN IMMEDIATE` on SQLite, row locks on PostgreSQL), so concurrent
//! writers queue instead of interleaving, and positions stay 0-based and gapless.

pub mod groups;
pub mod manifest_groups;
mod members;

pub(crate) use members::insert_members;
pub mod validate;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{
    cached_artifacts, collection_artifacts, collection_exclusions, group_artifacts,
    groups as group_rows, user_collections,
};
use sea_orm::sea_query::{Expr, LikeExpr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use crate::cache::listing::escape_like;
use crate::cache::{CacheError, CacheService};
use crate::db::{begin_write, is_unique_violation, new_id};
use crate::events::{EventBus, ServerEvent};
use crate::source::{ArtifactId, ArtifactType};

/// Id of the default collection.
pub const DEFAULT_COLLECTION_ID: &str = "default";
/// Name of the default collection.
pub const DEFAULT_COLLECTION_NAME: &str = "Default Collection";

/// A failure of a collection or group operation.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// Something named in the request does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A collection name is taken (409).
    #[error("{0}")]
    Conflict(String),
    /// A group name is taken in its collection (400, as SkillMeat's acceptance checks require).
    #[error("{0}")]
    DuplicateGroupName(String),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// A value is not acceptable (422).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The cache failed while checking artifact ids.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Most ids one request may name (adds, moves, copies, orders): keeps one request's work and
/// its SQL parameter lists bounded.
pub const MAX_IDS_PER_REQUEST: usize = 5000;

/// Parses `type:name` ids from a request, dropping repeats (first wins, order kept). A malformed
/// id is a bad request; more than [`MAX_IDS_PER_REQUEST`] is refused.
pub fn parse_artifact_ids(raw: &[String]) -> Result<Vec<String>, OrgError> {
    if raw.len() > MAX_IDS_PER_REQUEST {
        return Err(OrgError::Invalid(format!(
            "at most {MAX_IDS_PER_REQUEST} artifact ids per request"
        )));
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(raw.len());
    for r in raw {
        let id = ArtifactId::parse(r.trim())
            .map_err(OrgError::BadRequest)?
            .to_string();
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A collection with live counts.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    /// The row.
    pub collection: user_collections::Model,
    /// Its groups.
    pub group_count: u64,
    /// Its artifacts.
    pub artifact_count: u64,
}

/// Fields of a new collection.
#[derive(Debug, Clone, Default)]
pub struct NewCollection {
    /// The id to give it (32 hex characters); a new one when `None`. Imports keep SkillMeat's.
    pub id: Option<String>,
    /// Name (trimmed, 1..=255, unique case-insensitively).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Free-form type.
    pub collection_type: Option<String>,
    /// Free-form category.
    pub context_category: Option<String>,
}

/// A partial update of a collection; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CollectionPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New type.
    pub collection_type: Option<String>,
    /// New category.
    pub context_category: Option<String>,
}

/// One page of collections.
#[derive(Debug, Clone)]
pub struct CollectionPage {
    /// The collections.
    pub items: Vec<CollectionInfo>,
    /// More follow.
    pub has_next_page: bool,
    /// Cursor of the last one.
    pub end_cursor: Option<String>,
    /// Matching collections in all.
    pub total_count: u64,
}

/// A member of a collection, joined with the cache when the artifact is known there.
#[derive(Debug, Clone)]
pub struct Member {
    /// `type:name`.
    pub artifact_id: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// The cached artifact, `None` when the sources no longer have it.
    pub cached: Option<cached_artifacts::Model>,
    /// Its groups in this collection (only when asked for).
    pub groups: Vec<(String, String, i32)>,
}

/// One page of members.
#[derive(Debug, Clone)]
pub struct MemberPage {
    /// Members ordered by id.
    pub items: Vec<Member>,
    /// More follow.
    pub has_next_page: bool,
    /// Cursor of the last one.
    pub end_cursor: Option<String>,
    /// Matching members in all.
    pub total_count: u64,
}

/// Filters of a member listing.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only these types.
    pub types: Vec<ArtifactType>,
    /// Only members of this group.
    pub group_id: Option<String>,
    /// Include each member's groups.
    pub include_groups: bool,
    /// Case-insensitive substring of the name or description.
    pub search: Option<String>,
}

/// What adding artifacts did.
#[derive(Debug, Clone, Default)]
pub struct AddReport {
    /// Newly added.
    pub added: Vec<String>,
    /// Already members.
    pub already_present: Vec<String>,
    /// Not known to any source: not added.
    pub unknown: Vec<String>,
    /// Members after the change.
    pub total_artifacts: u64,
}

/// Move or copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Add to the target, remove from the source.
    Move,
    /// Add to the target.
    Copy,
}

/// What a move or copy did.
#[derive(Debug, Clone, Default)]
pub struct TransferReport {
    /// Added to the target.
    pub added: Vec<String>,
    /// Already in the target.
    pub already_present: Vec<String>,
    /// Removed from the source (move only).
    pub removed: Vec<String>,
}

/// Collections and groups over the database; cheap to clone.
#[derive(Clone)]
pub struct CollectionService {
    pub(crate) db: DatabaseConnection,
    pub(crate) cache: CacheService,
    pub(crate) data_home: Arc<PathBuf>,
    /// Serialises writes of `collection.toml` files within this process.
    pub(crate) manifest_lock: Arc<tokio::sync::Mutex<()>>,
    /// Where this service says what it changed.
    pub(crate) events: EventBus,
}

impl CollectionService {
    /// A service over `db`; `data_home` locates `collection.toml` files for write-through.
    pub fn new(
        db: DatabaseConnection,
        cache: CacheService,
        data_home: PathBuf,
        events: EventBus,
    ) -> Self {
        Self {
            db,
            cache,
            data_home: Arc::new(data_home),
            manifest_lock: Arc::new(tokio::sync::Mutex::new(())),
            events,
        }
    }

    /// Says that `collection_id` (its name, description or members) changed.
    fn collection_changed(&self, collection_id: &str) {
        self.events.publish(ServerEvent::CollectionChanged {
            collection_id: collection_id.to_string(),
        });
    }

    /// Creates the default collection (`default`, "Default Collection") unless it exists.
    pub async fn ensure_default(&self) -> Result<(), DbErr> {
        if user_collections::Entity::find_by_id(DEFAULT_COLLECTION_ID)
            .one(&self.db)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let now = Utc::now();
        let row = user_collections::ActiveModel {
            id: Set(DEFAULT_COLLECTION_ID.into()),
            name: Set(DEFAULT_COLLECTION_NAME.into()),
            name_key: Set(validate::name_key(DEFAULT_COLLECTION_NAME)),
            description: Set(Some(
                "Every artifact the sources report, unless removed".into(),
            )),
            collection_type: Set(Some("default".into())),
            context_category: Set(None),
            folder: Set(Some(DEFAULT_COLLECTION_ID.into())),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match user_collections::Entity::insert(row)
            .on_conflict(
                OnConflict::column(user_collections::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                tracing::warn!(
                    "a collection named '{DEFAULT_COLLECTION_NAME}' already exists; the default collection was not created"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The collection, or 404.
    pub async fn find<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &str,
    ) -> Result<user_collections::Model, OrgError> {
        user_collections::Entity::find_by_id(id)
            .one(conn)
            .await?
            .ok_or_else(|| not_found_collection(id))
    }

    /// How many user collections there are.
    pub async fn count(&self) -> Result<u64, DbErr> {
        user_collections::Entity::find().count(&self.db).await
    }

    /// The collection with this id, or else the one with this name (ignoring case), as
    /// SkillMeat's API accepts either; 404 when neither.
    pub async fn find_by_id_or_name(&self, key: &str) -> Result<user_collections::Model, OrgError> {
        if let Some(found) = user_collections::Entity::find_by_id(key)
            .one(&self.db)
            .await?
        {
            return Ok(found);
        }
        user_collections::Entity::find()
            .filter(user_collections::Column::NameKey.eq(key.to_lowercase()))
            .one(&self.db)
            .await?
            .ok_or_else(|| not_found_collection(key))
    }

    /// Locks the collection row for the rest of the transaction (PostgreSQL), or 404.
    pub(crate) async fn lock_collection(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
    ) -> Result<user_collections::Model, OrgError> {
        user_collections::Entity::find_by_id(id)
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or_else(|| not_found_collection(id))
    }

    /// Counts of groups and artifacts per collection.
    async fn counts(
        &self,
        ids: &[String],
    ) -> Result<(HashMap<String, u64>, HashMap<String, u64>), DbErr> {
        let groups: Vec<(String, i64)> = group_rows::Entity::find()
            .select_only()
            .column(group_rows::Column::CollectionId)
            .column_as(group_rows::Column::Id.count(), "n")
            .filter(group_rows::Column::CollectionId.is_in(ids.iter().cloned()))
            .group_by(group_rows::Column::CollectionId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let artifacts: Vec<(String, i64)> = collection_artifacts::Entity::find()
            .select_only()
            .column(collection_artifacts::Column::CollectionId)
            .column_as(collection_artifacts::Column::ArtifactId.count(), "n")
            .filter(collection_artifacts::Column::CollectionId.is_in(ids.iter().cloned()))
            .group_by(collection_artifacts::Column::CollectionId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let to_map =
            |rows: Vec<(String, i64)>| rows.into_iter().map(|(k, n)| (k, n as u64)).collect();
        Ok((to_map(groups), to_map(artifacts)))
    }

    /// One collection with counts.
    pub async fn info(&self, id: &str) -> Result<CollectionInfo, OrgError> {
        let collection = self.find(&self.db, id).await?;
        let (groups, artifacts) = self.counts(std::slice::from_ref(&collection.id)).await?;
        Ok(CollectionInfo {
            group_count: groups.get(&collection.id).copied().unwrap_or(0),
            artifact_count: artifacts.get(&collection.id).copied().unwrap_or(0),
            collection,
        })
    }

    /// Collections ordered by name (case-insensitive), then id; `search` is a case-insensitive
    /// substring of the name.
    pub async fn list(
        &self,
        search: Option<&str>,
        limit: u64,
        after: Option<&str>,
    ) -> Result<CollectionPage, OrgError> {
        use user_collections::Column as C;
        let mut cond = Condition::all();
        if let Some(q) = search.map(str::trim).filter(|q| !q.is_empty()) {
            cond =
                cond.add(C::NameKey.like(
                    LikeExpr::new(format!("%{}%", escape_like(&q.to_lowercase()))).escape('\\'),
                ));
        }
        let total_count = crate::db::count_rows(
            &self.db,
            user_collections::Entity::find().filter(cond.clone()),
        )
        .await?;
        let mut query = user_collections::Entity::find().filter(cond);
        if let Some(raw) = after {
            let (key, id) = decode_pair_cursor(raw)?;
            query = query.filter(
                Condition::any()
                    .add(C::NameKey.gt(key.clone()))
                    .add(Condition::all().add(C::NameKey.eq(key)).add(C::Id.gt(id))),
            );
        }
        let mut rows = query
            .order_by_asc(C::NameKey)
            .order_by_asc(C::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let end_cursor = rows.last().map(|r| encode_pair_cursor(&r.name_key, &r.id));
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let (groups, artifacts) = self.counts(&ids).await?;
        let items = rows
            .into_iter()
            .map(|c| CollectionInfo {
                group_count: groups.get(&c.id).copied().unwrap_or(0),
                artifact_count: artifacts.get(&c.id).copied().unwrap_or(0),
                collection: c,
            })
            .collect();
        Ok(CollectionPage {
            items,
            has_next_page,
            end_cursor,
            total_count,
        })
    }

    /// Creates a collection; a taken name (case-insensitive) is a conflict.
    pub async fn create(&self, input: NewCollection) -> Result<user_collections::Model, OrgError> {
        let name = validate::name(&input.name, "Collection")?;
        let now = Utc::now();
        let row = user_collections::ActiveModel {
            id: Set(match input.id {
                Some(id) if is_generated_id(&id) => id,
                _ => new_id(),
            }),
            name_key: Set(validate::name_key(&name)),
            name: Set(name.clone()),
            description: Set(input.description),
            collection_type: Set(input.collection_type),
            context_category: Set(input.context_category),
            folder: Set(manifest_groups::folder_for_name(&self.data_home, &name)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // In a transaction of its own: SQLite reports an INSERT ... RETURNING as done from its
        // row even when the commit then fails (a full disk); a separate COMMIT shows the error.
        let txn = self.db.begin().await?;
        let created = row.insert(&txn).await.map_err(|e| {
            if is_unique_violation(&e) {
                OrgError::Conflict(format!("Collection with name '{name}' already exists"))
            } else {
                e.into()
            }
        })?;
        txn.commit().await?;
        self.collection_changed(&created.id);
        Ok(created)
    }

    /// Applies a partial update; an empty one is a bad request.
    pub async fn update(
        &self,
        id: &str,
        patch: CollectionPatch,
    ) -> Result<user_collections::Model, OrgError> {
        if patch.name.is_none()
            && patch.description.is_none()
            && patch.collection_type.is_none()
            && patch.context_category.is_none()
        {
            return Err(OrgError::BadRequest(
                "At least one update parameter must be provided".into(),
            ));
        }
        let existing = self.find(&self.db, id).await?;
        let mut row: user_collections::ActiveModel = existing.into();
        let mut new_name = None;
        if let Some(name) = patch.name {
            let name = validate::name(&name, "Collection")?;
            row.name_key = Set(validate::name_key(&name));
            row.name = Set(name.clone());
            new_name = Some(name);
        }
        if let Some(d) = patch.description {
            row.description = Set(Some(d));
        }
        if let Some(t) = patch.collection_type {
            row.collection_type = Set(Some(t));
        }
        if let Some(c) = patch.context_category {
            row.context_category = Set(Some(c));
        }
        row.updated_at = Set(Utc::now());
        // Its own transaction, for the reason given in `create`.
        let txn = self.db.begin().await?;
        let updated = row.update(&txn).await.map_err(|e| {
            if is_unique_violation(&e) {
                OrgError::Conflict(format!(
                    "Collection with name '{}' already exists",
                    new_name.unwrap_or_default()
                ))
            } else {
                e.into()
            }
        })?;
        txn.commit().await?;
        self.collection_changed(&updated.id);
        Ok(updated)
    }

    /// Deletes a collection with its groups and memberships (artifacts and files are untouched).
    /// Its folder's `[[groups]]` are cleared first, so a restart does not bring them back.
    pub async fn delete(&self, id: &str) -> Result<(), OrgError> {
        let collection = self.find(&self.db, id).await?;
        self.clear_manifest_groups(&collection).await;
        let res = user_collections::Entity::delete_by_id(id)
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Err(not_found_collection(id));
        }
        self.collection_changed(id);
        Ok(())
    }
}

/// True for an id of the form this server generates (32 lower-case hex characters).
pub fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The 404 of a missing collection.
pub fn not_found_collection(id: &str) -> OrgError {
    OrgError::NotFound(format!(
        "Collection '{}' not found",
        crate::source::printable(id)
    ))
}

/// A cursor over a (sort key, id) pair.
pub(crate) fn encode_pair_cursor(key: &str, id: &str) -> String {
    crate::paging::encode_pair(key, id)
}

/// Decodes [`encode_pair_cursor`]; anything else is a bad request.
pub(crate) fn decode_pair_cursor(raw: &str) -> Result<(String, String), OrgError> {
    crate::paging::decode_pair(raw).ok_or_else(|| OrgError::BadRequest(crate::paging::bad_cursor()))
}
