//! The collections page (`/`): search, type filters, sort, the artifact grid with "Load more",
//! and the manual refresh button with "Last updated" and the "Syncing..." indicator.

use maud::{Markup, html};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};

use super::{Nav, encode, error_response, layout, page_error, refresh_icon, url_pairs};
use crate::cache::listing::{self, ArtifactFilter, PageRequest, SortField};
use crate::collections::MemberFilter;
use crate::deploy::{DeploymentFilter, DeploymentSort};
use crate::error::ApiError;
use crate::security::Viewer;
use crate::source::ArtifactType;
use crate::state::AppState;

/// Artifacts per page of the grid.
const PAGE_SIZE: u64 = 60;
/// Members the grouped view of a collection loads at once.
const GROUPED_LIMIT: u64 = 1000;

/// The grid's filters, read from repeated query pairs (`type=skill&type=agent`).
struct GridQuery {
    /// A user collection's id; empty for all artifacts.
    collection: String,
    search: String,
    types: Vec<ArtifactType>,
    sort: SortField,
    /// `grid` (default), `list` or `grouped`.
    view: String,
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
    fn params(&self) -> String {
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

/// One card's content.
struct Card {
    id: String,
    name: String,
    artifact_type: String,
    description: Option<String>,
    /// Its groups in the selected collection, in order.
    groups: Vec<String>,
}

async fn grid(state: &AppState, query: &GridQuery) -> Result<Markup, ApiError> {
    state.cache.ensure_populated().await?;
    let first_page = query.after.is_none();
    let (cards, has_next_page, end_cursor, total_count) = if query.collection.is_empty() {
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
        let page = listing::list_artifacts(&state.db, &filter, &page).await?;
        let cards: Vec<Card> = page
            .items
            .into_iter()
            .map(|row| Card {
                id: row.artifact_id,
                name: row.name,
                artifact_type: row.artifact_type,
                description: row.description,
                groups: Vec::new(),
            })
            .collect();
        (cards, page.has_next_page, page.end_cursor, page.total_count)
    } else {
        let filter = MemberFilter {
            types: query.types.clone(),
            include_groups: true,
            search: Some(query.search.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        };
        // The grouped view shows whole groups, so it loads up to GROUPED_LIMIT members at once.
        let limit = if query.view == "grouped" {
            GROUPED_LIMIT
        } else {
            PAGE_SIZE
        };
        let page = state
            .collections
            .list_members(&query.collection, &filter, limit, query.after.as_deref())
            .await?;
        let cards: Vec<Card> = page
            .items
            .into_iter()
            .map(|m| {
                let groups = m.groups.into_iter().map(|(_, name, _)| name).collect();
                match m.cached {
                    Some(row) => Card {
                        id: row.artifact_id,
                        name: row.name,
                        artifact_type: row.artifact_type,
                        description: row.description,
                        groups,
                    },
                    None => Card {
                        name: m
                            .artifact_id
                            .split_once(':')
                            .map(|(_, n)| n.to_string())
                            .unwrap_or_default(),
                        artifact_type: m
                            .artifact_id
                            .split_once(':')
                            .map(|(t, _)| t.to_string())
                            .unwrap_or_default(),
                        id: m.artifact_id,
                        description: Some("No longer in the sources".into()),
                        groups,
                    },
                }
            })
            .collect();
        (cards, page.has_next_page, page.end_cursor, page.total_count)
    };
    let ids: Vec<String> = cards.iter().map(|c| c.id.clone()).collect();
    let counts = state.deployments.counts_for(&ids).await?;
    // `order`: in a group section, the group's id and name and whether the card is first or
    // last in it (its Earlier / Later buttons).
    let card = |c: &Card, order: Option<(&str, &str, bool, bool)>| {
        let n = counts.get(&c.id).map(|d| d.total).unwrap_or(0);
        html! {
            article.card data-sort-item[order.is_some()] data-member=[order.map(|_| &c.id)] {
                div.toolbar.flush {
                    @if order.is_some() { (drag_handle(&c.name)) }
                    span class=(format!("badge {}", c.artifact_type)) { (c.artifact_type) }
                    @if !query.collection.is_empty() {
                        label.muted {
                            input type="checkbox" data-select=(c.id);
                            span.skip { "Select " (c.name) }
                        }
                    }
                }
                h2 {
                    button.linklike type="button"
                        hx-get=(format!("/ui/artifacts/{}?collection={}", encode(&c.id), encode(&query.collection)))
                        hx-target="#drawer" { (c.name) }
                }
                p { (c.description.as_deref().unwrap_or("No description")) }
                @if !c.groups.is_empty() {
                    p.tags {
                        @for g in c.groups.iter().take(2) { span.tag { (g) } " " }
                        @if c.groups.len() > 2 { span.tag { "+" (c.groups.len() - 2) " more" } }
                    }
                }
                p.muted { (n) @if n == 1 { " deployment" } @else { " deployments" } }
                @if let Some((gid, gname, first, last)) = order {
                    div.toolbar.flush {
                        button type="button" data-member-move="earlier" data-group=(gid) data-artifact=(c.id)
                            disabled[first] aria-label=(format!("Move {} earlier in {}", c.name, gname)) { "Earlier" }
                        button type="button" data-member-move="later" data-group=(gid) data-artifact=(c.id)
                            disabled[last] aria-label=(format!("Move {} later in {}", c.name, gname)) { "Later" }
                    }
                }
            }
        }
    };
    let more = html! {
        @if has_next_page {
            @if let Some(cursor) = &end_cursor {
                button.load-more type="button"
                    hx-get=(format!("/ui/artifacts?{}&after={}", query.params(), encode(cursor)))
                    hx-target="this" hx-swap="outerHTML" { "Load more" }
            }
        }
    };
    if !first_page {
        return Ok(html! { @for c in &cards { (card(c, None)) } (more) });
    }
    if query.view == "grouped" && !query.collection.is_empty() {
        // Each group in its order, its members in their order within it.
        let groups = state
            .collections
            .list_groups(&query.collection, None, None)
            .await?;
        let by_id: std::collections::HashMap<&str, &Card> =
            cards.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut in_some_group = std::collections::HashSet::new();
        let mut sections = Vec::new();
        for g in &groups {
            let detail = state.collections.group_detail(&g.group.id).await?;
            let members: Vec<&Card> = detail
                .members
                .iter()
                .filter_map(|m| by_id.get(m.artifact_id.as_str()).copied())
                .collect();
            for m in &members {
                in_some_group.insert(m.id.clone());
            }
            sections.push((g.group.id.clone(), g.group.name.clone(), members));
        }
        // Reordering needs every member in view: not while a filter hides some.
        let reorderable = query.search.is_empty() && query.types.is_empty() && !has_next_page;
        let loose: Vec<&Card> = cards
            .iter()
            .filter(|c| !in_some_group.contains(&c.id))
            .collect();
        return Ok(html! {
            p.muted #result-count { (total_count) " artifacts" }
            @for (gid, gname, members) in &sections {
                section.group-section data-group=(gid) {
                    h2 { (gname) " (" (members.len()) ")" }
                    div.grid {
                        @for (i, c) in members.iter().enumerate() {
                            (card(c, reorderable.then_some((gid.as_str(), gname.as_str(), i == 0, i + 1 == members.len()))))
                        }
                    }
                }
            }
            @if !loose.is_empty() {
                section.group-section {
                    h2 { "Not in a group (" (loose.len()) ")" }
                    div.grid { @for c in &loose { (card(c, None)) } }
                }
            }
            @if has_next_page {
                p.muted { "Showing the first " (cards.len()) " members; narrow the filters to see the rest." }
            }
        });
    }
    let view_class = if query.view == "list" {
        "grid list"
    } else {
        "grid"
    };
    Ok(html! {
        p.muted #result-count { (total_count) " artifacts" }
        @if query.view == "grouped" {
            @for (heading, members) in sections(&cards) {
                section.group-section {
                    h2 { (heading) " (" (members.len()) ")" }
                    div.grid { @for c in members { (card(c, None)) } }
                }
            }
            (more)
        } @else {
            div class=(view_class) { @for c in &cards { (card(c, None)) } (more) }
        }
    })
}

/// The grouped view's sections across all collections: by type.
fn sections(cards: &[Card]) -> Vec<(String, Vec<&Card>)> {
    let mut out: Vec<(String, Vec<&Card>)> = Vec::new();
    for c in cards {
        match out.iter_mut().find(|(h, _)| *h == c.artifact_type) {
            Some((_, list)) => list.push(c),
            None => out.push((c.artifact_type.clone(), vec![c])),
        }
    }
    out
}

/// An artifact's details for the drawer: metadata, files, groups and deployments.
#[handler]
pub async fn drawer_fragment(
    Data(state): Data<&AppState>,
    poem::web::Path(raw): poem::web::Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let collection = pairs
        .iter()
        .find(|(k, _)| k == "collection")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = async {
        let id = crate::api::artifacts::parse_id(&raw)?;
        let Some(found) = state.cache.get_or_fill(&id).await? else {
            return Err(ApiError::not_found(format!("Artifact '{id}' not found")));
        };
        let groups = state
            .collections
            .groups_of_artifact(&id.to_string())
            .await?;
        let filter = DeploymentFilter {
            artifact_id: Some(id.to_string()),
            ..Default::default()
        };
        let deployments = state
            .deployments
            .list(&filter, DeploymentSort::Project, false, 50, None)
            .await?;
        let in_collection = if collection.is_empty() {
            Vec::new()
        } else {
            let all = state
                .collections
                .list_groups(&collection, None, None)
                .await?;
            let mine = state
                .collections
                .list_groups(&collection, None, Some(&id.to_string()))
                .await?;
            all.into_iter()
                .map(|g| {
                    let member = mine.iter().any(|m| m.group.id == g.group.id);
                    (g.group.id, g.group.name, member)
                })
                .collect()
        };
        Ok((found.artifact, groups, deployments.items, in_collection))
    };
    let (a, groups, deployments, in_collection) = match result.await {
        Ok(parts) => parts,
        Err(e) => return error_response(e),
    };
    let m = &a.metadata;
    html! {
        section.detail aria-labelledby="drawer-title" {
            div.toolbar {
                h2 #drawer-title { (a.item.artifact_id) }
                span.spacer {}
                button type="button" data-close-drawer
                    aria-label="Close the details" { "Close" }
            }
            p { (m.description.as_deref().unwrap_or("No description")) }
            dl.facts {
                dt { "Collection" } dd { (a.item.collections.join(", ")) }
                dt { "Path" } dd { (a.item.path) }
                @if let Some(v) = &m.version { dt { "Version" } dd { (v) } }
                @if let Some(v) = &m.author { dt { "Author" } dd { (v) } }
                @if !m.tags.is_empty() { dt { "Tags" } dd { (m.tags.join(", ")) } }
                @if !m.tools.is_empty() { dt { "Tools" } dd { (m.tools.join(", ")) } }
                dt { "Content hash" } dd { code { (a.content_hash) } }
            }
            h3 { "Files (" (a.files.len()) ")" }
            ul { @for f in &a.files { li { (f.path) " " span.muted { "(" (f.size) " bytes)" } } } }
            @if !in_collection.is_empty() {
                fieldset {
                    legend { "Groups in this collection" }
                    @for (gid, name, member) in &in_collection {
                        label.chip {
                            input type="checkbox" data-group-toggle=(gid) data-artifact=(a.item.artifact_id)
                                checked[*member];
                            (name)
                        }
                        " "
                    }
                }
            }
            h3 { "Groups" }
            @if groups.is_empty() { p.muted { "In no group." } } @else {
                ul { @for (collection, group) in &groups { li { (group) span.muted { " in " (collection) } } } }
            }
            h3 { "Deployments" }
            @if deployments.is_empty() { p.muted { "Not deployed." } } @else {
                ul { @for d in &deployments {
                    li { (d.project_path) " (" (d.profile) ") " span class=(format!("badge status {}", d.status)) { (d.status) } }
                } }
            }
        }
    }
    .into_response()
}

/// The grip a pointer drags an item by. Hidden from screen readers: the Up/Down and
/// Earlier/Later buttons are the keyboard way to reorder.
fn drag_handle(name: &str) -> Markup {
    html! {
        span.drag-handle data-drag-handle aria-hidden="true" title=(format!("Drag {name} to reorder")) { "⠿" }
    }
}

/// A collection's groups, in order, with create, rename, delete and reorder (fragment).
#[handler]
pub async fn groups_fragment(
    Data(state): Data<&AppState>,
    poem::web::Path(id): poem::web::Path<String>,
) -> Response {
    match groups_section(state, &id).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

async fn groups_section(state: &AppState, collection: &str) -> Result<Markup, ApiError> {
    let groups = state
        .collections
        .list_groups(collection, None, None)
        .await?;
    Ok(html! {
        details.detail #groups open {
            summary { "Groups (" (groups.len()) ")" }
            form #new-group-form.toolbar data-collection=(collection) {
                label for="new-group-name" { "New group" }
                input #new-group-name name="name" required maxlength="255";
                button.primary type="submit" { "Create group" }
            }
            p.muted { "Drag a group by its grip (⠿) to reorder it, or use its Up and Down buttons." }
            ol #group-list data-collection=(collection) {
                @for (i, g) in groups.iter().enumerate() {
                    li data-sort-item data-group-id=(g.group.id) data-group-name=(g.group.name) {
                        (drag_handle(&g.group.name))
                        strong { (g.group.name) } " "
                        span.muted { "(" (g.artifact_count) ")" } " "
                        button type="button" data-group-move="up" disabled[i == 0]
                            aria-label=(format!("Move {} up", g.group.name)) { "Up" }
                        " "
                        button type="button" data-group-move="down" disabled[i + 1 == groups.len()]
                            aria-label=(format!("Move {} down", g.group.name)) { "Down" }
                        " "
                        button type="button" data-group-rename
                            aria-label=(format!("Rename {}", g.group.name)) { "Rename" }
                        " "
                        button type="button" data-group-delete
                            aria-label=(format!("Delete {}", g.group.name)) { "Delete" }
                    }
                }
            }
        }
    })
}
