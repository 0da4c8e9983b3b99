//! A deployment's diff for people: each file with what changed, its unified diff with added
//! and removed lines marked (as text and colour), against the collection or the base, and the
//! actions on drift (push, merge, take the collection's version; the page script asks for
//! confirmation and settles merge conflicts). Wraps at phone widths.

use maud::{Markup, html};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::{encode, error_response};
use crate::deploy::{DeploymentStatus, DiffAgainst, FileChange};
use crate::security::Viewer;
use crate::state::AppState;

/// Which side to compare with.
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    #[serde(default)]
    against: String,
}

/// The diff of one deployment (fragment).
#[handler]
pub async fn diff_fragment(
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Query(query): Query<DiffQuery>,
    viewer: Viewer,
) -> Response {
    let against = if query.against == "base" {
        DiffAgainst::Base
    } else {
        DiffAgainst::Collection
    };
    let diff = match state.deployments.diff(&id, against, 3).await {
        Ok(d) => d,
        Err(e) => return error_response(e),
    };
    // Rechecked: the actions offered follow the files as they are now.
    let row = match state.deployments.get(&id, true).await {
        Ok(r) => r,
        Err(e) => return error_response(e),
    };
    let changed = diff
        .files
        .iter()
        .filter(|f| f.change != FileChange::Unchanged)
        .count();
    let other = if against == DiffAgainst::Base {
        "what was deployed"
    } else {
        "the collection's version"
    };
    let url = format!(
        "/ui/deployments/{}/diff{}",
        encode(&id),
        if against == DiffAgainst::Base {
            "?against=base"
        } else {
            ""
        }
    );
    let status = DeploymentStatus::parse(&row.status).ok();
    let label = format!(
        "{} in {}",
        row.artifact_id,
        super::project_name(&row.project_path)
    );
    html! {
        section.detail.diff-view aria-labelledby="diff-title" data-url=(url) {
            div.toolbar.flush {
                h2 #diff-title { "Changes in " (row.artifact_name) " (" (super::project_name(&row.project_path)) ")" }
                span.spacer {}
                button type="button" data-close-diff aria-label="Close the diff" { "Close" }
            }
            p.muted {
                "The project copy compared with " (other) ": " (changed)
                @if changed == 1 { " file differs" } @else { " files differ" }
                ". Lines marked − are " (other) "'s, lines marked + the project's."
            }
            @if diff.base_available {
                @let (label, value) = if against == DiffAgainst::Base {
                    ("Compare with the collection", "collection")
                } else {
                    ("Compare with what was deployed", "base")
                };
                button type="button" hx-get=(format!("/ui/deployments/{}/diff?against={value}", encode(&id)))
                    hx-target="closest .diff-view" hx-swap="outerHTML" { (label) }
            } @else {
                p.muted { "What was deployed is not known here (the copy was already edited when this server first saw it), so it is compared with the collection only." }
            }
            @for f in diff.files.iter().filter(|f| f.change != FileChange::Unchanged) {
                h3 { code { (f.path) } " " span class=(format!("badge change {}", f.change.as_str())) { (f.change.as_str()) } }
                @if f.binary {
                    p.muted { "Binary file: its lines are not shown." }
                } @else if f.too_large {
                    p.muted { "Over 256 KiB: its lines are not shown." }
                } @else if let Some(unified) = &f.unified {
                    pre.diff { (lines(unified)) }
                }
            }
            @if changed == 0 {
                p { "No differences." }
            }
            @if viewer.may_write() && status != Some(DeploymentStatus::Synced) {
                (actions(&row, &label, diff.base_available))
            }
        }
    }
    .into_response()
}

/// Push, merge and take the collection's version, as the status allows.
fn actions(row: &entity::deployments::Model, label: &str, base_available: bool) -> Markup {
    let status = DeploymentStatus::parse(&row.status).ok();
    let local_edits = matches!(
        status,
        Some(DeploymentStatus::Modified | DeploymentStatus::Conflict)
    );
    let collection_moved = matches!(
        status,
        Some(DeploymentStatus::Outdated | DeploymentStatus::Conflict)
    );
    html! {
        div.toolbar.drift-actions role="group" aria-label=(format!("Act on the changes of {label}")) {
            @if local_edits {
                button type="button" data-drift-action="push" data-deployment=(row.id) data-label=(label)
                    data-collection=(row.from_collection) { "Push to the collection" }
            }
            @if collection_moved && base_available {
                button type="button" data-drift-action="merge" data-deployment=(row.id) data-label=(label) {
                    "Merge the collection's version"
                }
            }
            button type="button" data-drift-action="take" data-deployment=(row.id) data-label=(label) {
                "Take the collection's version"
            }
        }
        div.merge-conflicts aria-live="polite" {}
    }
}

/// A unified diff's lines, each marked by its kind.
fn lines(unified: &str) -> Markup {
    html! {
        @for line in unified.lines() {
            @let class = if line.starts_with("+++") || line.starts_with("---") {
                "head"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else if line.starts_with("@@") {
                "hunk"
            } else {
                "same"
            };
            span class=(class) { (line) "\n" }
        }
    }
}
