//! The web UI: server-rendered pages (maud, checked at compile time) with htmx (vendored, in
//! the binary) for partial updates and a small script for the refresh button, toasts and live
//! job events. No build step and no Node.js: `cargo build` produces everything.

pub mod artifact_drawer;
pub mod artifact_forms;
pub mod artifact_grid;
pub mod collections;
pub mod deploy_form;
pub mod deployment_diff;
pub mod deployments;
pub mod groups;
pub mod job_charts;
pub mod job_panels;
pub mod jobs;
pub mod login;
pub mod swagger;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use poem::http::header;
use poem::{IntoResponse, Response, Route, get, handler};

use crate::error::ApiError;
use crate::security::Viewer;

/// htmx 2.0.11 (BSD Zero Clause), from the npm package `htmx.org`, unmodified.
const HTMX: &str = include_str!("assets/htmx.min.js");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Adds the pages, their fragments and the assets to the route tree.
pub fn mount(routes: Route) -> Route {
    routes
        .at("/", get(collections::index))
        .at("/jobs", get(jobs::dashboard))
        .at("/deployments", get(deployments::dashboard))
        .at("/login", get(login::sign_in_page).post(login::sign_in))
        .at("/logout", poem::post(login::sign_out))
        .at(
            "/ui/deployments/summary",
            get(deployments::summary_fragment),
        )
        .at("/ui/deployments/list", get(deployments::list_fragment))
        .at(
            "/ui/deployments/:id/diff",
            get(deployment_diff::diff_fragment),
        )
        .at("/ui/deploy/sources", get(deploy_form::sources_fragment))
        .at(
            "/ui/deploy/artifact-options",
            get(deploy_form::artifact_options),
        )
        .at("/ui/deploy/check-folder", get(deploy_form::check_folder))
        .at("/ui/artifacts", get(collections::items_fragment))
        .at("/ui/artifacts/:id", get(artifact_drawer::drawer_fragment))
        .at("/ui/collections/:id/groups", get(groups::groups_fragment))
        .at("/ui/jobs/stats", get(jobs::stats_fragment))
        .at("/ui/jobs/overview", get(job_panels::overview_fragment))
        .at("/ui/jobs/schedules", get(job_panels::schedules_fragment))
        .at("/ui/jobs/instances", get(job_panels::instances_fragment))
        .at("/ui/jobs/charts", get(job_charts::charts_fragment))
        .at("/ui/jobs/runs", get(jobs::runs_fragment))
        .at("/ui/jobs/runs/:id", get(jobs::detail_fragment))
        .at("/ui/htmx.min.js", get(htmx))
        .at("/ui/app.js", get(app_js))
        .at("/ui/app.css", get(app_css))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    body.with_content_type(content_type)
        .with_header(header::CACHE_CONTROL, "public, max-age=3600")
        .into_response()
}

#[handler]
fn htmx() -> Response {
    asset(HTMX, "text/javascript; charset=utf-8")
}

/// The page script: built in, or `ui.script_file` when set (read at each request, never cached
/// by the browser, so a fresh copy is always served).
#[handler]
async fn app_js(poem::web::Data(state): poem::web::Data<&crate::state::AppState>) -> Response {
    let file = &state.settings.ui.script_file;
    if file.is_empty() {
        return asset(APP_JS, "text/javascript; charset=utf-8");
    }
    match tokio::fs::read_to_string(crate::config::expand_home(file)).await {
        Ok(script) => script
            .with_content_type("text/javascript; charset=utf-8")
            .with_header(header::CACHE_CONTROL, "no-store")
            .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[handler]
fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

/// Percent-encodes a value for a URL's path segment or query.
pub(crate) fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `key=value&...`, each value percent-encoded.
pub(crate) fn url_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Which page the navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`
    Collections,
    /// `/deployments`
    Deployments,
    /// `/jobs`
    Jobs,
}

/// The page frame: header with navigation (and the API docs link), main, toast area. A
/// read-only viewer's page is marked so its write controls are hidden (the server refuses
/// their requests anyway); a signed-in browser gets "Sign out".
pub fn layout(title: &str, nav: Nav, viewer: Viewer, body: Markup) -> Markup {
    let link = |href: &str, label: &str, this: Nav| {
        html! {
            @if nav == this {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · SkillMeat" }
                // No favicon: without this line browsers ask for /favicon.ico and log a 404.
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/ui/app.css";
                // htmx would add its indicator styles inline, which the page's
                // Content-Security-Policy forbids; app.css carries them instead.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
                script src="/ui/htmx.min.js" defer {}
                script src="/ui/app.js" defer {}
            }
            // The page script takes every event name from here (`ServerEvent`).
            body.read-only[!viewer.may_write()] data-events=(crate::events::ServerEvent::names_for_script().to_string()) {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/" { "SkillMeat" }
                    nav aria-label="Main" {
                        (link("/", "Collections", Nav::Collections))
                        (link("/deployments", "Deployments", Nav::Deployments))
                        (link("/jobs", "Jobs", Nav::Jobs))
                        a href="/docs" { "API docs" }
                    }
                    @if viewer.signed_in {
                        @if !viewer.may_write() {
                            span.badge title="This key may only read" { "Read-only" }
                        }
                        form #sign-out method="post" action="/logout" {
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
                div #toasts aria-live="polite" {}
            }
        }
    }
}

/// A time for people: "3 minutes ago", with the exact time (`2026-11-26 04:23:00 UTC`) on
/// hover; the page script keeps the relative text current.
pub fn time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! {
            time datetime=(at.to_rfc3339()) title=(at.format("%Y-%m-%d %H:%M:%S UTC")) data-relative {
                (relative(at, Utc::now()))
            }
        },
        None => html! { "—" },
    }
}

/// `at` relative to `now`: "just now", "5 minutes ago", "in 2 hours", "3 days ago".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    if amount < 60 {
        return "just now".into();
    }
    let (n, unit) = match amount {
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// A project's name for people: its folder's name.
pub(crate) fn project_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The circular-arrow icon of the refresh buttons.
pub fn refresh_icon() -> Markup {
    PreEscaped(
        r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 4a8 8 0 0 1 7.75 6h-2.1A6 6 0 1 0 18 14h2.06A8 8 0 1 1 12 4zm5 0h4v4l-1.5-1.5L17 4z"/></svg>"#
            .to_string(),
    )
}

/// An error while building a fragment: the API's error body, with its status (htmx does not
/// swap an error response into the page).
pub fn error_response(err: impl Into<ApiError>) -> Response {
    err.into().into_response()
}

/// An error while building a whole page: the same message, as a page a person can read, with
/// the error's status.
pub fn page_error(title: &str, nav: Nav, err: impl Into<ApiError>) -> Response {
    let err = err.into();
    let (status, body) = err.parts();
    layout(
        title,
        nav,
        Viewer::default(),
        html! {
            h1 { (title) }
            section.detail role="alert" {
                p { strong { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } }
                p { (body.detail) }
                p { a href="/" { "Back to all collections" } }
            }
        },
    )
    .with_status(status)
    .into_response()
}
