//! The deployment dashboard (`/deployments`): counts per status, filters (status, project,
//! type, search), a table or by-artifact / by-project views, per-deployment "Update" and
//! "Undeploy" (with confirmation), and a form to deploy an artifact into a project.

use maud::{Markup, html};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::deploy_form::{deploy_form, sources_section};
use super::{Nav, encode, error_response, layout, page_error, project_name, time, url_pairs};
use crate::deploy::{DeploymentFilter, DeploymentPage, DeploymentSort, DeploymentStatus};
use crate::error::ApiError;
use crate::security::Viewer;
use crate::source::ArtifactType;
use crate::state::AppState;

/// Deployments per page of the list.
const PAGE_SIZE: u64 = 100;

/// The list's filters and view.
#[derive(Debug, Default, Deserialize)]
pub struct DeploymentsQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    project: String,
    #[serde(default, rename = "type")]
    artifact_type: String,
    #[serde(default)]
    search: String,
    /// `table` (default), `artifact` or `project`.
    #[serde(default)]
    view: String,
    /// The cursor of the last row shown: this asks for the rows after it.
    #[serde(default)]
    after: String,
    /// The group (artifact or project) of the last row shown, so a group that goes on in the
    /// next page gets no second heading.
    #[serde(default)]
    prev_group: String,
}

impl DeploymentsQuery {
    fn filter(&self) -> DeploymentFilter {
        DeploymentFilter {
            statuses: DeploymentStatus::parse(&self.status).into_iter().collect(),
            project: Some(self.project.clone()).filter(|p| !p.is_empty()),
            types: self
                .artifact_type
                .parse::<ArtifactType>()
                .into_iter()
                .collect(),
            search: Some(self.search.trim().to_string()).filter(|s| !s.is_empty()),
            ..Default::default()
        }
    }

    /// These filters and view as URL parameters, without the cursor.
    fn params(&self) -> String {
        url_pairs(&[
            ("status", &self.status),
            ("project", &self.project),
            ("type", &self.artifact_type),
            ("search", &self.search),
            ("view", &self.view),
        ])
    }

    fn sort(&self) -> DeploymentSort {
        match self.view.as_str() {
            "project" => DeploymentSort::Project,
            _ => DeploymentSort::Artifact,
        }
    }
}

/// The deployment dashboard.
#[handler]
pub async fn dashboard(
    Data(state): Data<&AppState>,
    Query(query): Query<DeploymentsQuery>,
    viewer: Viewer,
) -> Response {
    let page = async {
        let summary = summary_section(state).await?;
        let list = list_section(state, &query).await?;
        let projects = state.deployments.all_projects().await?;
        let sources = sources_section(state, false).await?;
        Ok::<_, ApiError>((summary, list, projects, sources))
    };
    let (summary, list, projects, sources) = match page.await {
        Ok(parts) => parts,
        Err(e) => return page_error("Deployments", Nav::Deployments, e),
    };
    let body = html! {
        h1 { "Deployments" }
        (summary)
        div.toolbar {
            form #dep-filters hx-get="/ui/deployments/list" hx-target="#deployments"
                hx-trigger="change, input changed delay:300ms from:input[name=search]" {
                label.muted for="dep-status" { "Status" }
                select #dep-status name="status" {
                    option value="" { "All statuses" }
                    @for s in DeploymentStatus::ALL {
                        option value=(s.as_str()) selected[query.status == s.as_str()] { (s.as_str()) }
                    }
                }
                label.muted for="dep-project" { "Project" }
                select #dep-project name="project" {
                    option value="" { "All projects" }
                    @for p in &projects {
                        option value=(p.id) selected[query.project == p.id] { (p.name) }
                    }
                }
                label.muted for="dep-type" { "Type" }
                select #dep-type name="type" {
                    option value="" { "All types" }
                    @for t in ArtifactType::ALL {
                        option value=(t.as_str()) selected[query.artifact_type == t.as_str()] { (t.as_str()) }
                    }
                }
                input type="search" name="search" value=(query.search)
                    placeholder="Search artifacts" aria-label="Search deployed artifacts";
                label.muted for="dep-view" { "View" }
                select #dep-view name="view" {
                    option value="table" { "Table" }
                    option value="artifact" selected[query.view == "artifact"] { "By artifact" }
                    option value="project" selected[query.view == "project"] { "By project" }
                }
            }
        }
        (deploy_form(&projects))
        (sources)
        // "Load more" carries the filters in its own URL: it must not inherit the include.
        div #deployment-diff aria-live="polite" {}
        div #deployments hx-get="/ui/deployments/list" hx-include="#dep-filters" hx-disinherit="hx-include"
            hx-trigger="deployments-changed from:body delay:200ms" { (list) }
    };
    layout("Deployments", Nav::Deployments, viewer, body).into_response()
}

/// The counts per status (fragment).
#[handler]
pub async fn summary_fragment(Data(state): Data<&AppState>) -> Response {
    match summary_section(state).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// The list (fragment).
#[handler]
pub async fn list_fragment(
    Data(state): Data<&AppState>,
    Query(query): Query<DeploymentsQuery>,
) -> Response {
    match list_section(state, &query).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

async fn summary_section(state: &AppState) -> Result<Markup, ApiError> {
    let s = state.deployments.summary().await?;
    let counts = s.by_status;
    let per_status = [
        ("synced", counts.synced),
        ("modified", counts.modified),
        ("outdated", counts.outdated),
        ("conflict", counts.conflict),
        ("missing", counts.missing),
    ];
    Ok(html! {
        section #dep-summary.toolbar aria-label="Deployments per status"
            hx-get="/ui/deployments/summary" hx-trigger="deployments-changed from:body delay:200ms"
            hx-swap="outerHTML" {
            span { strong { (counts.total) } " deployments" }
            @for (status, n) in per_status {
                a class=(format!("badge status {status}")) href=(format!("/deployments?status={status}")) {
                    (status) " " (n)
                }
            }
            span.muted { "Last checked " (time(s.last_updated)) }
        }
    })
}

async fn list_section(state: &AppState, query: &DeploymentsQuery) -> Result<Markup, ApiError> {
    let after = Some(query.after.as_str()).filter(|a| !a.is_empty());
    let page = state
        .deployments
        .list(&query.filter(), query.sort(), false, PAGE_SIZE, after)
        .await?;
    let rows = rows(query, &page);
    if after.is_some() {
        // "Load more": only the next rows, in place of the button's row.
        return Ok(rows);
    }
    if page.total_count == 0 {
        return empty_list(state, query).await;
    }
    Ok(html! {
        p.muted #dep-count { (page.total_count) " deployments" }
        div.table-wrap {
            table.stack {
                caption.skip { "Deployments" }
                thead { tr {
                    th scope="col" { "Artifact" } th scope="col" { "Project" }
                    th scope="col" { "Profile" } th scope="col" { "Status" } th scope="col" { "Deployed" }
                    th scope="col" { "Actions" }
                } }
                tbody { (rows) }
            }
        }
    })
}

/// A page of table rows, then a "Load more" row when more follow.
fn rows(query: &DeploymentsQuery, page: &DeploymentPage) -> Markup {
    let group_of = |d: &entity::deployments::Model| match query.view.as_str() {
        "artifact" => Some(d.artifact_id.clone()),
        "project" => Some(format!(
            "{} — {}",
            project_name(&d.project_path),
            d.project_path
        )),
        _ => None,
    };
    // In the grouped views, a heading row before the first deployment of each group.
    let mut last_group = Some(query.prev_group.clone()).filter(|g| !g.is_empty());
    let rows: Vec<(Option<String>, &entity::deployments::Model)> = page
        .items
        .iter()
        .map(|d| {
            let group = group_of(d);
            let heading = (group.is_some() && group != last_group).then(|| group.clone());
            last_group = group;
            (heading.flatten(), d)
        })
        .collect();
    html! {
        @for (heading, d) in &rows {
            @if let Some(heading) = heading {
                tr.group { th colspan="6" scope="colgroup" { (heading) } }
            }
            tr data-deployment=(d.id) {
                td data-label="Artifact" {
                    span class=(format!("badge {}", d.artifact_type)) { (d.artifact_type) } " "
                    strong { (d.artifact_name) }
                }
                td data-label="Project" {
                    (project_name(&d.project_path))
                    span.path.muted { (d.project_path) }
                }
                td data-label="Profile" { (d.profile) }
                td data-label="Status" {
                    span class=(format!("badge status {}", d.status)) { (d.status) }
                    @if d.collection_hash.is_none() {
                        " " span.badge.status.missing title="Its artifact is in no collection any more" { "orphaned" }
                    }
                }
                td data-label="Deployed" { (time(Some(d.deployed_at))) }
                td.actions {
                    button type="button" hx-get=(format!("/ui/deployments/{}/diff", encode(&d.id)))
                        hx-target="#deployment-diff" aria-label=(format!("Diff of {} in {}", d.artifact_id, d.project_path)) { "Diff" }
                    " "
                    button type="button" data-update-deployment=(d.id)
                        aria-label=(format!("Update {} in {}", d.artifact_id, d.project_path)) { "Update" }
                    " "
                    button type="button" data-undeploy=(d.id)
                        data-label=(format!("{} from {}", d.artifact_id, d.project_path))
                        aria-label=(format!("Undeploy {} from {}", d.artifact_id, d.project_path)) { "Undeploy" }
                }
            }
        }
        @if let (true, Some(cursor)) = (page.has_next_page, &page.end_cursor) {
            tr.load-more-row {
                td colspan="6" {
                    button.load-more type="button"
                        hx-get=(format!("/ui/deployments/list?{}&after={}&prev_group={}", query.params(),
                            encode(cursor), encode(last_group.as_deref().unwrap_or(""))))
                        hx-target="closest tr" hx-swap="outerHTML" { "Load more" }
                }
            }
        }
    }
}

/// What the list says when it is empty: that the filters match nothing, or where deployments
/// come from and how to get some.
async fn empty_list(state: &AppState, query: &DeploymentsQuery) -> Result<Markup, ApiError> {
    let filtered = !query.status.is_empty()
        || !query.project.is_empty()
        || !query.artifact_type.is_empty()
        || !query.search.trim().is_empty();
    if filtered {
        return Ok(html! {
            p.muted #dep-count { "0 deployments" }
            section.detail.empty-state {
                h2 { "No deployments match these filters" }
                p { "Choose \"All statuses\", \"All projects\" and \"All types\" and clear the search to see every deployment." }
            }
        });
    }
    let roots = state.deployments.search_roots().await?;
    let searched: Vec<String> = roots
        .iter()
        .filter(|r| r.exists)
        .map(|r| r.path.clone())
        .collect();
    Ok(html! {
        p.muted #dep-count { "0 deployments" }
        section.detail.empty-state {
            h2 { "No deployments yet" }
            p {
                "Deployments are the artifacts copied into projects, by this server or by SkillMeat. A project is "
                "found when one of its folders " code { ".claude" } ", " code { ".codex" } ", " code { ".gemini" }
                " or " code { ".cursor" } " holds SkillMeat's record " code { ".skillmeat-deployed.toml" } "."
            }
            @if searched.is_empty() {
                p { "No search folder exists on this machine, so no project was searched for." }
            } @else {
                p { "Searched (" (state.settings.deploy.search_depth) " levels deep): " (searched.join(", ")) "." }
            }
            p {
                "Deploy an artifact with the form above, add the folder your projects are in under "
                strong { "Where projects are found" } ", or register a single project there."
            }
        }
    })
}
