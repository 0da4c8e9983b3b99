//! The artifact grid of the collections page: cards (grid, list or grouped by group), "Load
//! more", and what it says when there is nothing to show.

use maud::{Markup, html};

use super::collections::GridQuery;
use super::encode;
use super::groups::drag_handle;
use crate::cache::listing::{self, ArtifactFilter, PageRequest, SortField};
use crate::collections::MemberFilter;
use crate::error::ApiError;
use crate::state::AppState;

/// Artifacts per page of the grid.
const PAGE_SIZE: u64 = 60;
/// Members the grouped view of a collection loads at once.
const GROUPED_LIMIT: u64 = 1000;

/// One card's content.
struct Card {
    id: String,
    name: String,
    artifact_type: String,
    description: Option<String>,
    /// Its groups in the selected collection, in order.
    groups: Vec<String>,
}

/// A page of the grid for `query` (the first one with its count, or the next cards).
pub(super) async fn grid(state: &AppState, query: &GridQuery) -> Result<Markup, ApiError> {
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
                    // Loaded by the page script from the drawer itself: a list re-rendered by a
                    // live event while the details load must not drop them.
                    button.linklike type="button"
                        data-open-details=(format!("/ui/artifacts/{}?collection={}", encode(&c.id), encode(&query.collection))) { (c.name) }
                }
                p { (c.description.as_deref().unwrap_or("No description")) }
                @if !c.groups.is_empty() {
                    p.tags {
                        @for g in c.groups.iter().take(2) { span.tag { (g) } " " }
                        @if c.groups.len() > 2 { span.tag { "+" (c.groups.len() - 2) " more" } }
                    }
                }
                p.muted { (n) @if n == 1 { " deployment" } @else { " deployments" } }
                @if !query.collection.is_empty() {
                    div.toolbar.flush {
                        button type="button" data-remove-member=(c.id) data-name=(c.name)
                            aria-label=(format!("Remove {} from this collection", c.name)) { "Remove" }
                    }
                }
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
    if total_count == 0 {
        return Ok(empty_grid(state, query));
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

/// What the grid says when it has nothing to show: where artifacts come from (no artifacts at
/// all), how to fill a collection, or that the filters match nothing.
fn empty_grid(state: &AppState, query: &GridQuery) -> Markup {
    let filtered = !query.search.is_empty() || !query.types.is_empty();
    let home = state.settings.data_home_path();
    html! {
        p.muted #result-count { "0 artifacts" }
        section.detail.empty-state {
            @if filtered {
                h2 { "No artifacts match these filters" }
                p { "Clear the search or the type chips (" strong { "Clear all" } ") to see every artifact." }
            } @else if !query.collection.is_empty() {
                h2 { "This collection is empty" }
                p {
                    "Pick " strong { "All Collections" } " at the top, or another collection, tick the "
                    "artifacts you want and use " strong { "Copy" } " or " strong { "Move" } " to bring them here."
                }
            } @else {
                h2 { "No artifacts yet" }
                p {
                    "Artifacts are read from SkillMeat's data home, here " code { (home.display()) }
                    ". Set " code { "SKILLMEAT_DATA_HOME" } " (or " code { "data_home" } " in the configuration) "
                    "to use another folder, such as the " code { "~/.skillmeat" } " SkillMeat made."
                }
                p { "The layout is SkillMeat's:" }
                ul {
                    li { code { "collections/<collection>/skills/<name>/SKILL.md" } " for a skill (a folder)" }
                    li { code { "collections/<collection>/commands/<name>.md" } " and " code { "agents/<name>.md" } " for commands and agents" }
                    li { code { "collections/<collection>/hooks/" } " and " code { "mcp/" } " for hooks and MCP configurations" }
                }
                p {
                    "Add files there (or with SkillMeat's " code { "skillmeat add" } "); the server notices within a "
                    "second, or press the refresh button. The user guide (" code { "docs/user-guide/faq.md" }
                    ") has more, and the " a href="/docs" { "API docs" } " list every operation."
                }
            }
        }
    }
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
