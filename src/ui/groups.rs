//! The groups panel of the collections page: create, rename, edit (name, description, colour,
//! icon, tags), copy to another collection, delete and reorder a collection's groups.

use maud::{Markup, html};
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use super::error_response;
use crate::collections::validate;
use crate::error::ApiError;
use crate::state::AppState;

/// The grip a pointer drags an item by. Hidden from screen readers: the Up/Down and
/// Earlier/Later buttons are the keyboard way to reorder.
pub(super) fn drag_handle(name: &str) -> Markup {
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

pub(super) async fn groups_section(state: &AppState, collection: &str) -> Result<Markup, ApiError> {
    let groups = state
        .collections
        .list_groups(collection, None, None)
        .await?;
    let others: Vec<_> = state
        .collections
        .list(None, 500, None)
        .await?
        .items
        .into_iter()
        .filter(|c| c.collection.id != collection)
        .collect();
    Ok(html! {
        details.detail #groups open {
            summary { "Groups (" (groups.len()) ")" }
            form #new-group-form.toolbar data-collection=(collection) {
                label for="new-group-name" { "New group" }
                input #new-group-name name="name" required maxlength="255";
                button.primary type="submit" { "Create group" }
            }
            @if groups.is_empty() {
                p.muted { "No groups yet. A group is a named, ordered set of this collection's artifacts, with a colour, an icon and tags." }
            } @else {
                p.muted { "Drag a group by its grip (⠿) to reorder it, or use its Up and Down buttons." }
            }
            datalist #color-options { @for c in validate::COLOR_TOKENS { option value=(c) {} } }
            datalist #icon-options { @for i in ICON_SUGGESTIONS { option value=(i) {} } }
            ol #group-list data-collection=(collection) {
                @for (i, g) in groups.iter().enumerate() {
                    li data-sort-item data-group-id=(g.group.id) data-group-name=(g.group.name) {
                        (drag_handle(&g.group.name))
                        (swatch(&g.group.color))
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
                        (group_editor(g, &others))
                    }
                }
            }
        }
    })
}

/// What the tags field accepts (the server lower-cases and checks again). Hyphens are escaped
/// inside classes, as the `v` flag browsers compile patterns with requires.
const TAGS_PATTERN: &str = r"\s*([A-Za-z0-9_\-]{1,32}\s*(,\s*[A-Za-z0-9_\-]{1,32}\s*)*)?,?\s*";

/// Icons offered for groups (any name up to 32 characters is accepted).
const ICON_SUGGESTIONS: [&str; 10] = [
    "layers", "server", "code", "book", "star", "folder", "search", "tool", "shield", "zap",
];

/// A group's colour as a small square (an SVG fill: inline styles are not allowed).
fn swatch(color: &str) -> Markup {
    let fill = match color {
        "slate" => "#64748b",
        "blue" => "#3b82f6",
        "green" => "#22c55e",
        "amber" => "#f59e0b",
        "rose" => "#f43f5e",
        hex => hex,
    };
    html! {
        svg.swatch viewBox="0 0 10 10" aria-hidden="true" focusable="false" {
            rect width="10" height="10" rx="2" fill=(fill) {}
        }
    }
}

/// The edit form of one group (name, description, colour, icon, tags) and its copy form.
fn group_editor(
    g: &crate::collections::groups::GroupInfo,
    others: &[crate::collections::CollectionInfo],
) -> Markup {
    let id = &g.group.id;
    let field = |name: &str| format!("group-{name}-{id}");
    html! {
        details.group-edit {
            summary aria-label=(format!("Edit or copy {}", g.group.name)) { "Edit…" }
            form.toolbar data-group-edit=(id) {
                span.field {
                    label for=(field("name")) { "Name" }
                    input id=(field("name")) name="name" required maxlength="255" value=(g.group.name);
                }
                span.field {
                    label for=(field("description")) { "Description" }
                    input id=(field("description")) name="description" value=(g.group.description.as_deref().unwrap_or(""));
                }
                span.field {
                    label for=(field("color")) { "Colour" }
                    input id=(field("color")) name="color" list="color-options" required value=(g.group.color)
                        pattern="(slate|blue|green|amber|rose|#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8})"
                        title="slate, blue, green, amber, rose, or a hex colour such as #22c55e";
                }
                span.field {
                    label for=(field("icon")) { "Icon" }
                    input id=(field("icon")) name="icon" list="icon-options" required maxlength="32" value=(g.group.icon);
                }
                span.field {
                    label for=(field("tags")) { "Tags" }
                    input id=(field("tags")) name="tags" value=(g.tags().join(", "))
                        pattern=(TAGS_PATTERN)
                        title="Comma-separated; each 1 to 32 characters of a-z, 0-9, _ or -; at most 20"
                        aria-describedby=(field("tags-hint"));
                    span.muted id=(field("tags-hint")) { "comma-separated, up to 20" }
                }
                button.primary type="submit" { "Save" }
            }
            @if !others.is_empty() {
                form.toolbar data-group-copy=(id) {
                    label for=(field("copy")) { "Copy to collection" }
                    select id=(field("copy")) name="target" {
                        @for c in others { option value=(c.collection.id) { (c.collection.name) } }
                    }
                    button type="submit" { "Copy group" }
                }
            }
        }
    }
}
