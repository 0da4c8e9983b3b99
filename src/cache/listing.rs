//! Listing cached artifacts: filters, sort and keyset (cursor) paging as one SQL query over the
//! cache table (plus one count), never a walk of the disk.

use chrono::{DateTime, Utc};
use entity::cached_artifacts::{self, Column as C};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::source::ArtifactType;

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    /// Artifact name, then id.
    #[default]
    Name,
    /// Type, then name (the `type:name` id).
    Type,
    /// Newest file modification time, then id.
    Updated,
}

impl SortField {
    fn as_str(self) -> &'static str {
        match self {
            SortField::Name => "name",
            SortField::Type => "type",
            SortField::Updated => "updated",
        }
    }
}

/// Filters; each list is "any of".
#[derive(Debug, Clone, Default)]
pub struct ArtifactFilter {
    /// Only these types.
    pub types: Vec<ArtifactType>,
    /// Only artifacts held by this collection.
    pub collection: Option<String>,
    /// Any of these tags (case-insensitive).
    pub tags: Vec<String>,
    /// Any of these tools (case-insensitive).
    pub tools: Vec<String>,
    /// Case-insensitive substring of name or description.
    pub search: Option<String>,
}

/// One page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Page size.
    pub limit: u64,
    /// Opaque cursor from a previous page's `end_cursor`.
    pub after: Option<String>,
    /// Sort field.
    pub sort: SortField,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// One page of rows.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows in order.
    pub items: Vec<cached_artifacts::Model>,
    /// More rows follow.
    pub has_next_page: bool,
    /// Cursor of the last row.
    pub end_cursor: Option<String>,
    /// Rows matching the filters, across all pages.
    pub total_count: u64,
}

/// A listing failure.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The cursor is not one we issued for this sort.
    #[error("Invalid cursor: {0}")]
    BadCursor(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The decoded content of a cursor: sort field, sort key and id of the last row served.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor(String, String, String);

fn encode_cursor(sort: SortField, row: &cached_artifacts::Model) -> String {
    let key = match sort {
        SortField::Name => row.name.clone(),
        SortField::Type => row.artifact_id.clone(),
        SortField::Updated => row.source_modified_at.to_rfc3339(),
    };
    crate::paging::encode(&Cursor(sort.as_str().into(), key, row.artifact_id.clone()))
}

fn decode_cursor(raw: &str, sort: SortField) -> Result<Cursor, ListError> {
    let cursor: Cursor = crate::paging::decode(raw)
        .ok_or_else(|| ListError::BadCursor(crate::paging::NOT_A_CURSOR.into()))?;
    if cursor.0 != sort.as_str() {
        return Err(ListError::BadCursor(format!(
            "the cursor was issued for sort={}, not sort={}",
            cursor.0,
            sort.as_str()
        )));
    }
    Ok(cursor)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `\` as escape character.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn like(col: C, pattern: String) -> sea_orm::sea_query::SimpleExpr {
    col.like(LikeExpr::new(pattern).escape('\\'))
}

fn filter_condition(filter: &ArtifactFilter) -> Condition {
    let mut cond = Condition::all();
    if !filter.types.is_empty() {
        cond = cond.add(C::ArtifactType.is_in(filter.types.iter().map(|t| t.as_str())));
    }
    if let Some(c) = &filter.collection {
        cond = cond.add(like(C::Collections, format!("%/{}/%", escape_like(c))));
    }
    for (col, values) in [(C::Tags, &filter.tags), (C::Tools, &filter.tools)] {
        if !values.is_empty() {
            let mut any = Condition::any();
            for v in values {
                any = any.add(like(col, format!("%/{}/%", escape_like(&v.to_lowercase()))));
            }
            cond = cond.add(any);
        }
    }
    if let Some(q) = filter.search.as_deref().filter(|q| !q.is_empty()) {
        cond = cond.add(like(
            C::SearchText,
            format!("%{}%", escape_like(&q.to_lowercase())),
        ));
    }
    cond
}

/// Lists one page of cached artifacts.
pub async fn list_artifacts(
    db: &DatabaseConnection,
    filter: &ArtifactFilter,
    page: &PageRequest,
) -> Result<Page, ListError> {
    let cond = filter_condition(filter);
    let total_count =
        crate::db::count_rows(db, cached_artifacts::Entity::find().filter(cond.clone())).await?;
    let order = if page.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut query = cached_artifacts::Entity::find().filter(cond);
    if let Some(raw) = &page.after {
        let Cursor(_, key, id) = decode_cursor(raw, page.sort)?;
        let after = |col: C, key: sea_orm::Value| {
            let (beyond, beyond_id) = if page.descending {
                (col.lt(key.clone()), C::ArtifactId.lt(id.clone()))
            } else {
                (col.gt(key.clone()), C::ArtifactId.gt(id.clone()))
            };
            Condition::any()
                .add(beyond)
                .add(Condition::all().add(col.eq(key)).add(beyond_id))
        };
        let keyset = match page.sort {
            SortField::Name => after(C::Name, key.into()),
            SortField::Type => after(C::ArtifactId, key.into()),
            SortField::Updated => {
                let at = DateTime::parse_from_rfc3339(&key)
                    .map_err(|_| ListError::BadCursor("damaged sort key".into()))?
                    .with_timezone(&Utc);
                after(C::SourceModifiedAt, at.into())
            }
        };
        query = query.filter(keyset);
    }
    query = match page.sort {
        SortField::Name => query.order_by(C::Name, order.clone()),
        SortField::Type => query,
        SortField::Updated => query.order_by(C::SourceModifiedAt, order.clone()),
    };
    let mut items = query
        .order_by(C::ArtifactId, order)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    let has_next_page = items.len() as u64 > page.limit;
    items.truncate(page.limit as usize);
    let end_cursor = items.last().map(|r| encode_cursor(page.sort, r));
    Ok(Page {
        items,
        has_next_page,
        end_cursor,
        total_count,
    })
}
