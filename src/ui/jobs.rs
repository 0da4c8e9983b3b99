//! The job dashboard (`/jobs`): per-kind figures, the runs filterable by kind and status, a
//! run's detail with its errors, "Refresh now" and "Retry". It updates live: the page's script
//! listens to the job events and htmx reloads the figures and the table.

use std::collections::HashMap;

use entity::job_runs;
use jobs::{RunFilter, RunStatus};
use maud::{Markup, html};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::job_charts::charts_section;
use super::job_panels::{instances_section, overview_section, schedules_section};
use super::{Nav, error_response, layout, page_error, refresh_icon, time};
use crate::error::ApiError;
use crate::jobs::charts::Window;
use crate::security::Viewer;
use crate::state::AppState;

/// Runs shown in the table.
const RUNS_SHOWN: u64 = 50;

/// The table's filters.
#[derive(Debug, Default, Deserialize)]
pub struct RunsQuery {
    /// `warm`, `refresh`, `purge`, or empty.
    #[serde(default)]
    kind: String,
    /// `queued`, `running`, `succeeded`, `failed`, or empty.
    #[serde(default)]
    status: String,
}

/// The job dashboard.
#[handler]
pub async fn dashboard(
    Data(state): Data<&AppState>,
    Query(query): Query<RunsQuery>,
    viewer: Viewer,
) -> Response {
    let parts = async {
        Ok::<_, ApiError>((
            overview_section(state).await?,
            charts_section(state, Window::Hour).await?,
            schedules_section(state).await?,
            instances_section(state).await?,
            stats_section(state).await?,
            runs_table(state, &query).await?,
        ))
    };
    let (overview, charts, schedules, instances, stats, runs) = match parts.await {
        Ok(parts) => parts,
        Err(e) => return page_error("Jobs", Nav::Jobs, e),
    };
    let body = html! {
        h1 { "Jobs" }
        (overview)
        (charts)
        div.panels { (schedules) (instances) }
        details.detail {
            summary { "Figures per kind" }
            (stats)
        }
        div.toolbar {
            form #job-filters hx-get="/ui/jobs/runs" hx-target="#runs" hx-trigger="change" {
                label.muted for="kind" { "Kind" }
                select #kind name="kind" {
                    option value="" { "All kinds" }
                    @for k in crate::jobs::ALL_KINDS {
                        option value=(k) selected[query.kind == k] { (k) }
                    }
                }
                label.muted for="status" { "Status" }
                select #status name="status" {
                    option value="" { "All statuses" }
                    @for s in RunStatus::ALL {
                        option value=(s.as_str()) selected[query.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            span.spacer {}
            button #refresh-now.primary type="button" { (refresh_icon()) " Refresh now" }
        }
        div #job-batch.toolbar {
            span #job-selected.muted { "0 selected" }
            button type="button" data-job-batch="retry" data-scope="selected" disabled { "Retry selected" }
            button type="button" data-job-batch="cancel" data-scope="selected" disabled { "Cancel selected" }
            button type="button" data-job-batch="retry" data-scope="filter" { "Retry all matching" }
            button type="button" data-job-batch="cancel" data-scope="filter" { "Cancel all matching" }
        }
        div #runs hx-get="/ui/jobs/runs" hx-trigger="jobs-changed from:body delay:300ms"
            hx-include="#job-filters" { (runs) }
        div #job-detail aria-live="polite" {}
    };
    layout("Jobs", Nav::Jobs, viewer, body).into_response()
}

/// The per-kind figures (fragment).
#[handler]
pub async fn stats_fragment(Data(state): Data<&AppState>) -> Response {
    match stats_section(state).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// The runs table (fragment).
#[handler]
pub async fn runs_fragment(
    Data(state): Data<&AppState>,
    Query(query): Query<RunsQuery>,
) -> Response {
    match runs_table(state, &query).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// One run's detail (fragment).
#[handler]
pub async fn detail_fragment(Data(state): Data<&AppState>, Path(id): Path<i64>) -> Response {
    let run = match state.jobs.history().get(id).await {
        Ok(Some(run)) => run,
        Ok(None) => return error_response(ApiError::not_found(format!("Job {id} not found"))),
        Err(e) => return error_response(e),
    };
    let messages: Vec<String> = run
        .details
        .as_ref()
        .and_then(|d| d.get("error_messages"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let details = run
        .details
        .as_ref()
        .and_then(|d| serde_json::to_string_pretty(d).ok());
    html! {
        section.detail aria-labelledby="job-detail-title" {
            h2 #job-detail-title { "Job " (run.id) ": " (run.kind) }
            p { "Scope: " code { (run.scope) } }
            p { (status_badge(&run.status)) " after " (run.attempts) " of " (run.max_attempts) " attempts" }
            @if let Some(error) = &run.error {
                h3 { "Error" }
                pre { (error) }
            }
            @if !messages.is_empty() {
                h3 { "Artifacts that could not be read (" (run.errors) ")" }
                ul { @for m in &messages { li { (m) } } }
            }
            @if let Some(details) = details {
                h3 { "Details" }
                pre { (details) }
            }
        }
    }
    .into_response()
}

async fn stats_section(state: &AppState) -> Result<Markup, ApiError> {
    let stats = state.jobs.history().stats(&crate::jobs::ALL_KINDS).await?;
    let mut next_runs = std::collections::HashMap::new();
    for s in &stats {
        next_runs.insert(s.kind.clone(), state.jobs.next_run_at(&s.kind).await);
    }
    Ok(html! {
        section #job-stats.stats hx-get="/ui/jobs/stats" hx-trigger="jobs-changed from:body delay:300ms"
            hx-swap="outerHTML" aria-label="Job figures" {
            @for s in &stats {
                article.card {
                    h2 { (s.kind) }
                    dl {
                        dt { "Runs" } dd { (s.runs) }
                        dt { "Success rate" }
                        dd { @match s.success_rate {
                            Some(r) => { (format!("{:.0}%", r * 100.0)) }
                            None => { "—" }
                        } }
                        dt { "p50 duration" } dd { (ms(s.p50_duration_ms)) }
                        dt { "p95 duration" } dd { (ms(s.p95_duration_ms)) }
                        dt { "Last run" }
                        dd { @match &s.last_run {
                            Some(run) => { (status_badge(&run.status)) " " (time(run.finished_at.or(run.started_at).or(Some(run.enqueued_at)))) }
                            None => { "never" }
                        } }
                        dt { "Next run" } dd { @match next_runs.get(&s.kind).copied().flatten() {
                            Some(at) => { (time(Some(at))) }
                            None => { "not scheduled" }
                        } }
                    }
                }
            }
        }
    })
}

async fn runs_table(state: &AppState, query: &RunsQuery) -> Result<Markup, ApiError> {
    let filter = RunFilter {
        kind: crate::jobs::ALL_KINDS
            .contains(&query.kind.as_str())
            .then(|| query.kind.clone()),
        status: RunStatus::parse(&query.status),
    };
    let (rows, total) = state.jobs.history().list(&filter, None, RUNS_SHOWN).await?;
    if total == 0 {
        return Ok(empty_runs(
            !query.kind.is_empty() || !query.status.is_empty(),
        ));
    }
    let projects: HashMap<String, (String, String)> = state
        .deployments
        .all_projects()
        .await?
        .into_iter()
        .map(|p| (p.id, (p.name, p.path)))
        .collect();
    Ok(html! {
        p.muted #runs-count data-total=(total) { (total) " runs" @if total > RUNS_SHOWN { ", newest " (RUNS_SHOWN) " shown" } }
        div.table-wrap {
            table.stack {
                caption.skip { "Job runs, newest first" }
                thead { tr {
                    th scope="col" {
                        input #select-all-jobs type="checkbox" aria-label="Select every run shown";
                    }
                    th scope="col" { "Job" } th scope="col" { "Trigger" }
                    th scope="col" { "Scope" } th scope="col" { "Status" } th scope="col" { "Started" }
                    th scope="col" { "Duration" } th scope="col" { "Results" }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @for run in &rows { (row(run, &projects)) }
                }
            }
        }
    })
}

/// What the table says when there are no runs.
fn empty_runs(filtered: bool) -> Markup {
    html! {
        p.muted { "0 runs" }
        section.detail.empty-state {
            @if filtered {
                h2 { "No runs match these filters" }
                p { "Choose \"All kinds\" and \"All statuses\" to see every run." }
            } @else {
                h2 { "No job runs yet" }
                p {
                    "Runs appear here as they happen: the warm at start-up, the refresh every few minutes, "
                    "after files change and when you press " strong { "Refresh now" } ", the purge, and the "
                    "import of SkillMeat's collections at the first start on a SkillMeat home."
                }
            }
        }
    }
}

/// A run's scope for people: a project by its name and folder, not its id.
fn scope_label(scope: &str, projects: &HashMap<String, (String, String)>) -> Markup {
    match crate::scope::Scope::from_key(scope) {
        Some(crate::scope::Scope::Project(id)) => match projects.get(&id) {
            Some((name, path)) => {
                html! { "project " strong { (name) } " " span.path.muted { (path) } }
            }
            None => html! { "a project since forgotten" },
        },
        Some(crate::scope::Scope::Collection(name)) => html! { "collection " strong { (name) } },
        Some(crate::scope::Scope::Artifact(id)) => html! { "artifact " strong { (id) } },
        Some(crate::scope::Scope::All) => html! { "everything" },
        None => html! { (scope) },
    }
}

fn row(run: &job_runs::Model, projects: &HashMap<String, (String, String)>) -> Markup {
    let active =
        run.status == RunStatus::Queued.as_str() || run.status == RunStatus::Running.as_str();
    let retryable =
        run.status == RunStatus::Failed.as_str() || run.status == RunStatus::Cancelled.as_str();
    html! {
        tr data-job=(run.id) {
            td {
                input type="checkbox" data-select-job=(run.id) aria-label=(format!("Select job {}", run.id));
            }
            td data-label="Job" { (run.id) " " strong { (run.kind) } }
            td data-label="Trigger" { (run.trigger) }
            td.wrap data-label="Scope" { (scope_label(&run.scope, projects)) }
            td data-label="Status" {
                (status_badge(&run.status))
                @if active && run.cancel_requested_at.is_some() { " " span.muted { "stopping…" } }
            }
            td data-label="Started" { (time(run.started_at)) }
            td data-label="Duration" { (ms(run.duration_ms.map(|d| d.max(0) as u64))) }
            td.wrap data-label="Results" { (results(run)) }
            td.actions {
                button type="button" hx-get=(format!("/ui/jobs/runs/{}", run.id))
                    hx-target="#job-detail" aria-label=(format!("Details of job {}", run.id)) { "Details" }
                @if retryable {
                    " "
                    button type="button" data-retry-job=(run.id)
                        aria-label=(format!("Retry job {}", run.id)) { "Retry" }
                }
                @if active {
                    " "
                    button type="button" data-cancel-job=(run.id)
                        aria-label=(format!("Cancel job {}", run.id)) { "Cancel" }
                }
            }
        }
    }
}

/// A run's counts in words, leaving out the zeros.
fn results(run: &job_runs::Model) -> String {
    let parts: Vec<String> = [
        (run.checked, "checked"),
        (run.refreshed, "refreshed"),
        (run.added, "added"),
        (run.removed, "removed"),
        (run.errors, "errors"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(", ")
    }
}

/// A status as text and colour (never colour alone).
fn status_badge(status: &str) -> Markup {
    html! { span class=(format!("badge status {status}")) { (status) } }
}

fn ms(v: Option<u64>) -> String {
    match v {
        Some(ms) if ms >= 1000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{ms} ms"),
        None => "—".into(),
    }
}
