//! What several API resources share: paging facts, sort direction, the delete outcome, and
//! comma-separated query values.

use poem_openapi::{ApiResponse, Enum, Object};

/// Sort direction.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// Paging facts of a list response.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PageInfo {
    /// More items follow; pass `end_cursor` as `after` to get them.
    pub has_next_page: bool,
    /// This page was asked for with a cursor, so items precede it.
    pub has_previous_page: bool,
    /// Cursor of the last item of this page.
    pub end_cursor: Option<String>,
    /// Items matching the filters, across all pages.
    pub total_count: u64,
}

/// Delete outcomes.
#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

/// The non-empty, trimmed items of a comma-separated query value.
pub fn comma_list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}
