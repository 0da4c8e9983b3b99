//! The collections page (`/`): the collection switcher, editing and deleting the chosen
//! collection, search, type filters, sort and view, the manual refresh button with "Last
//! updated" and the "Syncing..." indicator. The grid is in [`super::artifact_grid`], the groups
//! panel in [`super::groups`], an artifact's details in [`super::artifact_drawer`].

use maud::html;
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};

use super::artifact_forms::add_artifact_panel;
use super::artifact_grid::grid;
use super::groups::groups_section;
use super::{Nav, encode, error_response, layout, page_error, refresh_icon, url_pairs};
use crate::cache::listing::SortField;
use crate::security::Viewer;
use crate::source::ArtifactType;
use crate::state::AppState;

/// The grid's filters, read from repeated query pairs (`type=skill&type=agent`).
pub(super) struct GridQuery {
    /// A user collection's id; empty for all artifacts.
    pub(super) collection: String,
    pub(super) search: String,
    pub(super) types: Vec<ArtifactType>,
    pub(super) sort: SortField,
    /// `grid` (default), `list` or `grouped`.
    pub(super) view: String,
    pub(super) after: Option<String>,
}

impl GridQuery {
    pub(super) fn parse(pairs: &[(String, String)]) -> Self {
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_string())
        };
        GridQuery {
            collection: value("collection").unwrap_or_default(),
            view: value("view").unwrap_or_default(),
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
    pub(super) fn params(&self) -> String {
        let mut out = url_pairs(&[
            ("collection", &self.collection),
            ("view", &self.view),
            ("search", &self.search),
        ]);
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

/// The collections page.
#[handler]
pub async fn index(
    Data(state): Data<&AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    viewer: Viewer,
) -> Response {
    let query = GridQuery::parse(&pairs);
    let grid = match grid(state, &query).await {
        Ok(grid) => grid,
        Err(e) => return page_error("Collections", Nav::Collections, e),
    };
    let collections = match state.collections.list(None, 500, None).await {
        Ok(page) => page.items,
        Err(e) => return page_error("Collections", Nav::Collections, e),
    };
    let groups_panel = if query.collection.is_empty() {
        html! {}
    } else {
        match groups_section(state, &query.collection).await {
            Ok(m) => m,
            Err(e) => return page_error("Collections", Nav::Collections, e),
        }
    };
    let current = collections
        .iter()
        .find(|c| c.collection.id == query.collection);
    // The folders new artifacts may be written into (read-only git sources are not).
    let folders: Vec<String> = match state.cache.source().collections().await {
        Ok(names) => names
            .into_iter()
            .filter(|n| state.authoring.writable_collection(n))
            .collect(),
        Err(e) => return page_error("Collections", Nav::Collections, e),
    };
    let body = html! {
        div.toolbar {
            h1 { "Collections" }
            form #switcher method="get" action="/" {
                label.skip for="collection" { "Collection" }
                select #collection name="collection" {
                    option value="" { "All Collections" }
                    @for c in &collections {
                        option value=(c.collection.id) selected[query.collection == c.collection.id] {
                            (c.collection.name) " (" (c.artifact_count) ")"
                        }
                    }
                }
                noscript { button type="submit" { "Show" } }
            }
            details #add-collection {
                summary { "Add collection" }
                form #add-collection-form.toolbar {
                    label for="new-collection-name" { "Name" }
                    input #new-collection-name name="name" required maxlength="255";
                    button.primary type="submit" { "Create" }
                }
            }
        }
        div.toolbar {
            form #filters role="search" hx-get="/ui/artifacts" hx-target="#items"
                hx-trigger="input changed delay:300ms from:input[name=search], change, submit"
                hx-push-url="false" {
                input type="hidden" name="collection" value=(query.collection);
                input type="search" name="search" value=(query.search)
                    placeholder="Search artifacts" aria-label="Search artifacts";
                fieldset.toolbar.bare {
                    legend.muted.inline-legend { "Types" }
                    @for t in ArtifactType::ALL {
                        label.chip {
                            input type="checkbox" name="type" value=(t.as_str())
                                checked[query.types.contains(&t)];
                            (t.as_str())
                        }
                    }
                }
                button #clear-filters type="button" { "Clear all" }
                @if query.collection.is_empty() {
                    label.muted for="sort" { "Sort by" }
                    select #sort name="sort" {
                        option value="name" selected[matches!(query.sort, SortField::Name)] { "Name" }
                        option value="type" selected[matches!(query.sort, SortField::Type)] { "Type" }
                        option value="updated" selected[matches!(query.sort, SortField::Updated)] { "Recently updated" }
                    }
                }
                label.muted for="view" { "View" }
                select #view name="view" {
                    option value="grid" selected[query.view != "list" && query.view != "grouped"] { "Grid" }
                    option value="list" selected[query.view == "list"] { "List" }
                    option value="grouped" selected[query.view == "grouped"] { "Grouped" }
                }
            }
            span.spacer {}
            span #syncing.syncing hidden { "Syncing…" }
            span #last-updated.muted data-at="" { "Last updated …" }
            button #refresh-button.icon-button type="button" aria-label="Refresh collections"
                title="Refresh collections (Ctrl+R)" { (refresh_icon()) }
        }
        (add_artifact_panel(&folders))
        @if let Some(c) = current {
            details #collection-settings.detail {
                summary { "Edit or delete this collection" }
                form #collection-form.toolbar data-collection=(c.collection.id) {
                    span.field {
                        label for="collection-name" { "Name" }
                        input #collection-name name="name" required maxlength="255" value=(c.collection.name);
                    }
                    span.field {
                        label for="collection-description" { "Description" }
                        input #collection-description name="description"
                            value=(c.collection.description.as_deref().unwrap_or(""));
                    }
                    button.primary type="submit" { "Save" }
                }
                p.muted {
                    "Deleting it removes the collection, its " (c.group_count) " groups and its "
                    (c.artifact_count) " memberships. The artifacts, their files, their deployments "
                    "and other collections are kept."
                }
                button #delete-collection type="button" data-collection=(c.collection.id)
                    data-name=(c.collection.name) data-groups=(c.group_count) data-artifacts=(c.artifact_count) {
                    "Delete collection"
                }
            }
        }
        @if !query.collection.is_empty() {
            div #groups-panel hx-get=(format!("/ui/collections/{}/groups", encode(&query.collection)))
                hx-trigger="groups-changed from:body" { (groups_panel) }
            div #bulk-bar.toolbar.detail hidden data-collection=(query.collection) {
                span #bulk-count { "0 selected" }
                label for="bulk-target" { "To collection" }
                select #bulk-target {
                    @for c in collections.iter().filter(|c| c.collection.id != query.collection) {
                        option value=(c.collection.id) { (c.collection.name) }
                    }
                }
                button type="button" data-bulk="move" { "Move" }
                button type="button" data-bulk="copy" { "Copy" }
                button type="button" data-bulk="remove" { "Remove from this collection" }
                button type="button" data-bulk="clear" { "Clear selection" }
            }
        }
        // "Load more" carries the filters in its own URL: it must not inherit the include.
        div #items hx-get="/ui/artifacts" hx-trigger="collections-refreshed from:body, groups-changed from:body"
            hx-include="#filters" hx-disinherit="hx-include" { (grid) }
        aside #drawer aria-live="polite" {}
    };
    layout("Collections", Nav::Collections, viewer, body).into_response()
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
