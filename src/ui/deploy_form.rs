//! The deployment dashboard's forms: deploy an artifact (picked by search-as-you-type) into a
//! known project or a checked folder, and where projects are found (search folders added or
//! removed, a single project registered).

use maud::{Markup, html};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::{error_response, time};
use crate::cache::listing::{self, ArtifactFilter, PageRequest, SortField};
use crate::error::ApiError;
use crate::state::AppState;

/// Artifacts offered while typing.
const OPTIONS_SHOWN: u64 = 20;

/// The deploy form: artifact with suggestions, project from the known ones or a folder.
pub fn deploy_form(projects: &[entity::projects::Model]) -> Markup {
    html! {
        details #deploy-details.detail {
            summary { "Deploy an artifact to a project" }
            form #deploy-form.toolbar {
                span.field {
                    label for="deploy-artifact" { "Artifact" }
                    input #deploy-artifact name="artifact_id" required autocomplete="off" list="artifact-options"
                        placeholder="Type to search" aria-describedby="deploy-artifact-hint"
                        hx-get="/ui/deploy/artifact-options" hx-trigger="input changed delay:200ms, focus once"
                        hx-target="#artifact-options";
                    datalist #artifact-options {}
                    span #deploy-artifact-hint.muted { "a name, or type:name" }
                }
                span.field {
                    label for="deploy-project-id" { "Project" }
                    select #deploy-project-id name="project_id" {
                        @for p in projects {
                            option value=(p.id) { (p.name) " — " (p.path) }
                        }
                        option value="" selected[projects.is_empty()] { "Another folder…" }
                    }
                }
                span #deploy-folder-field.toolbar.flush hidden[!projects.is_empty()] {
                    label for="deploy-project" { "Project folder" }
                    input #deploy-project name="project_path" placeholder="~/projects/my-app"
                        hx-get="/ui/deploy/check-folder" hx-trigger="change" hx-target="#folder-check"
                        hx-swap="outerHTML" aria-describedby="folder-check";
                    span #folder-check.muted data-ok="" aria-live="polite" {}
                }
                button.primary type="submit" { "Deploy" }
            }
        }
    }
}

/// Suggestions for the artifact field (fragment).
#[derive(Debug, Deserialize)]
pub struct OptionsQuery {
    #[serde(default)]
    artifact_id: String,
}

/// The `<option>`s of artifacts matching what was typed.
#[handler]
pub async fn artifact_options(
    Data(state): Data<&AppState>,
    Query(query): Query<OptionsQuery>,
) -> Response {
    let typed = query.artifact_id.trim();
    // `skill:ui` searches for `ui`; the type part narrows nothing more than the name does.
    let search = typed.split_once(':').map(|(_, n)| n).unwrap_or(typed);
    let filter = ArtifactFilter {
        search: Some(search.to_string()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let page = PageRequest {
        limit: OPTIONS_SHOWN,
        after: None,
        sort: SortField::Name,
        descending: false,
    };
    match listing::list_artifacts(&state.db, &filter, &page).await {
        Ok(page) => html! {
            @for a in &page.items {
                option value=(a.artifact_id) { (a.name) " (" (a.artifact_type) ")" }
            }
        }
        .into_response(),
        Err(e) => error_response(e),
    }
}

/// The folder to check.
#[derive(Debug, Deserialize)]
pub struct FolderQuery {
    #[serde(default)]
    project_path: String,
}

/// Whether a folder can take deployments (inside the allowed roots, an existing folder), said
/// before the form is sent (fragment).
#[handler]
pub async fn check_folder(
    Data(state): Data<&AppState>,
    Query(query): Query<FolderQuery>,
) -> Response {
    let raw = query.project_path.trim();
    let (ok, message) = if raw.is_empty() {
        (false, "Give the project's folder.".to_string())
    } else {
        match state.deployments.check_project_folder(raw) {
            Ok(path) => (true, format!("OK: {}", path.display())),
            Err(e) => (false, ApiError::from(e).parts().1.detail.clone()),
        }
    };
    html! {
        span #folder-check.muted.folder-check data-ok=(ok) aria-live="polite" { (message) }
    }
    .into_response()
}

/// How the sources panel is asked for again: open when the user had it open.
#[derive(Debug, Deserialize)]
pub struct SourcesQuery {
    #[serde(default)]
    open: bool,
}

/// Where projects are found (fragment, reloaded after a change; the page sends `open=true`
/// when the panel was open, so an action taken in it does not fold it away).
#[handler]
pub async fn sources_fragment(
    Data(state): Data<&AppState>,
    Query(query): Query<SourcesQuery>,
) -> Response {
    match sources_section(state, query.open).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// The search folders with their add and remove controls, and the form registering one project.
pub async fn sources_section(state: &AppState, open: bool) -> Result<Markup, ApiError> {
    let roots = state.deployments.search_roots().await?;
    Ok(html! {
        details #project-sources.detail hx-get="/ui/deploy/sources" hx-trigger="sources-changed from:body"
            hx-swap="outerHTML" open[open] {
            summary { "Where projects are found" }
            p.muted {
                "Folders searched " (state.settings.deploy.search_depth) " levels deep, at start-up and at every "
                "refresh, for projects holding SkillMeat's deployment records. Configured ones come from "
                code { "deploy.search_roots" } "."
            }
            ul #search-roots {
                @for r in &roots {
                    li {
                        code { (r.path) } " "
                        @if r.configured { span.muted { "(configured)" } } @else {
                            span.muted { "(added " (time(r.added_at)) ")" }
                        }
                        @if !r.exists { " " span.badge.status.missing { "missing" } }
                        @if let Some(id) = &r.id {
                            " "
                            button type="button" data-remove-root=(id) data-path=(r.path)
                                aria-label=(format!("Stop searching {}", r.path)) { "Remove" }
                        }
                    }
                }
            }
            form #add-root-form.toolbar {
                label for="add-root-path" { "Search folder" }
                input #add-root-path name="path" required placeholder="~/code";
                button type="submit" { "Add and search" }
            }
            form #register-project-form.toolbar {
                label for="register-project-path" { "Single project" }
                input #register-project-path name="path" required placeholder="~/work/my-app";
                button type="submit" { "Register" }
            }
        }
    })
}
