//! The collections page (`/`): search, type filters, sort, the artifact grid with "Load more",
//! and the manual refresh button with "Last updated" and the "Syncing..." indicator.

use maud::{Markup, html};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};

use super::{Nav, error_response, layout, refresh_icon};
use crate::cache::listing::{self, ArtifactFilter, ListError, PageRequest, SortField};
use crate::error::ApiError;
use crate::source::ArtifactType;
use crate::state::AppState;

/// Artifacts per page of the grid.
const PAGE_SIZE: u64 = 60;

/// The grid's filters, read from repeated query pairs (`type=skill&type=agent`).
struct GridQuery {
    search: String,
    types: Vec<ArtifactType>,
    sort: SortField,
    after: Option<String>,
}

impl GridQuery {
    fn parse(pairs: &[(String, String)]) -> Self {
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_string())
        };
        GridQuery {
            search: value("search").unwrap_or_default(),
            types: pairs
                .iter()
                .filter(|(k, _)| k == "type")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
            sort: match value("sort").as_deref() {
                Some("type") => SortField::Type,
                Some("updated") => SortField::Updated,
                _ => SortField::Name,
            },
            after: value("after").filter(|a| !a.is_empty()),
        }
    }

    /// This query as URL parameters, without the cursor.
    fn params(&self) -> String {
        let mut out = url_pairs(&[("search", &self.search)]);
        for t in &self.types {
            out.push_str(&format!("&type={}", t.as_str()));
        }
        let sort = match self.sort {
            SortField::Name => "name",
            SortField::Type => "type",
            SortField::Updated => "updated",
        };
        out.push_str(&format!("&sort={sort}"));
        out
    }
}

fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The collections page.
#[handler]
pub async fn index(
    Data(state): Data<&AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let query = GridQuery::parse(&pairs);
    let grid = match grid(state, &query).await {
        Ok(grid) => grid,
        Err(e) => return error_response(e),
    };
    let body = html! {
        h1 { "Collections" }
        div.toolbar {
            form #filters role="search" hx-get="/ui/artifacts" hx-target="#items"
                hx-trigger="input changed delay:300ms from:input[name=search], change, submit"
                hx-push-url="false" {
                input type="search" name="search" value=(query.search)
                    placeholder="Search artifacts" aria-label="Search artifacts";
                fieldset.toolbar style="border:0;margin:0;padding:0" {
                    legend.muted style="float:left;margin-right:6px" { "Types" }
                    @for t in ArtifactType::ALL {
                        label.chip {
                            input type="checkbox" name="type" value=(t.as_str())
                                checked[query.types.contains(&t)];
                            (t.as_str())
                        }
                    }
                }
                button type="reset" hx-get="/ui/artifacts" hx-target="#items" { "Clear all" }
                label.muted for="sort" { "Sort by" }
                select #sort name="sort" {
                    option value="name" selected[matches!(query.sort, SortField::Name)] { "Name" }
                    option value="type" selected[matches!(query.sort, SortField::Type)] { "Type" }
                    option value="updated" selected[matches!(query.sort, SortField::Updated)] { "Recently updated" }
                }
            }
            span.spacer {}
            span #syncing.syncing hidden { "Syncing…" }
            span #last-updated.muted data-at="" { "Last updated …" }
            button #refresh-button.icon-button type="button" aria-label="Refresh collections"
                title="Refresh collections (Ctrl+R)" { (refresh_icon()) }
        }
        div #items hx-get="/ui/artifacts" hx-trigger="collections-refreshed from:body"
            hx-include="#filters" { (grid) }
    };
    layout("Collections", Nav::Collections, body).into_response()
}

/// A page of the grid (the `#items` fragment, or the next page after "Load more").
#[handler]
pub async fn items_fragment(
    Data(state): Data<&AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match grid(state, &GridQuery::parse(&pairs)).await {
        Ok(grid) => grid.into_response(),
        Err(e) => error_response(e),
    }
}

async fn grid(state: &AppState, query: &GridQuery) -> Result<Markup, ApiError> {
    state.cache.ensure_populated().await?;
    let filter = ArtifactFilter {
        types: query.types.clone(),
        search: Some(query.search.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let page = PageRequest {
        limit: PAGE_SIZE,
        after: query.after.clone(),
        sort: query.sort,
        descending: matches!(query.sort, SortField::Updated),
    };
    let first_page = query.after.is_none();
    let page = listing::list_artifacts(&state.db, &filter, &page)
        .await
        .map_err(|e| match e {
            ListError::BadCursor(_) => ApiError::bad_request(e.to_string()),
            ListError::Db(db) => db.into(),
        })?;
    let ids: Vec<String> = page.items.iter().map(|r| r.artifact_id.clone()).collect();
    let counts = state.deployments.counts_for(&ids).await?;
    let cards = html! {
        @for row in &page.items {
            article.card {
                div { span class=(format!("badge {}", row.artifact_type)) { (row.artifact_type) } }
                h2 { (row.name) }
                p { (row.description.as_deref().unwrap_or("No description")) }
                p.muted {
                    @let n = counts.get(&row.artifact_id).map(|c| c.total).unwrap_or(0);
                    (n) @if n == 1 { " deployment" } @else { " deployments" }
                }
            }
        }
        @if page.has_next_page {
            @if let Some(cursor) = &page.end_cursor {
                button.load-more type="button"
                    hx-get=(format!("/ui/artifacts?{}&after={}", query.params(), encode(cursor)))
                    hx-target="this" hx-swap="outerHTML" { "Load more" }
            }
        }
    };
    Ok(if first_page {
        html! {
            p.muted #result-count { (page.total_count) " artifacts" }
            div.grid { (cards) }
        }
    } else {
        cards
    })
}
