//! The job dashboard's panels: the runs in each state with the queue's latency, the schedules
//! with their pause switches, and the server instances with their heartbeats and running jobs.

use maud::{Markup, html};
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use super::{error_response, time};
use crate::error::ApiError;
use crate::state::AppState;

/// The counts per state (fragment).
#[handler]
pub async fn overview_fragment(Data(state): Data<&AppState>) -> Response {
    match overview_section(state).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// Runs queued, running, retrying, succeeded, failed and cancelled, each a link to those runs,
/// and how long the oldest queued run has waited.
pub async fn overview_section(state: &AppState) -> Result<Markup, ApiError> {
    let c = state.jobs.history().state_counts().await?;
    let states = [
        ("queued", "Queued", c.queued),
        ("running", "Running", c.running),
        ("retrying", "Retrying", c.retrying),
        ("succeeded", "Succeeded", c.succeeded),
        ("failed", "Failed", c.failed),
        ("cancelled", "Cancelled", c.cancelled),
    ];
    Ok(html! {
        section #job-overview.toolbar hx-get="/ui/jobs/overview" hx-trigger="jobs-changed from:body delay:300ms"
            hx-swap="outerHTML" aria-label="Runs per state" {
            @for (key, label, n) in states {
                @if key == "retrying" {
                    span class="badge status retrying" title="running again after a failed attempt" { (label) " " (n) }
                } @else {
                    a class=(format!("badge status {key}")) href=(format!("/jobs?status={key}")) { (label) " " (n) }
                }
            }
            span.muted {
                @match c.oldest_queued_at {
                    Some(at) => { "Oldest queued: " (time(Some(at))) }
                    None => { "Nothing waiting in the queue" }
                }
            }
        }
    })
}

/// The schedules (fragment).
#[handler]
pub async fn schedules_fragment(Data(state): Data<&AppState>) -> Response {
    match schedules_section(state).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// Each scheduled kind with its interval, next run and a pause switch.
pub async fn schedules_section(state: &AppState) -> Result<Markup, ApiError> {
    let schedules = state.jobs.schedules().await?;
    Ok(html! {
        section #job-schedules.detail hx-get="/ui/jobs/schedules" hx-trigger="schedules-changed from:body"
            hx-swap="outerHTML" aria-labelledby="schedules-title" {
            h2 #schedules-title { "Schedules" }
            @if schedules.is_empty() {
                p.muted { "No job runs on a schedule (the refresh and purge intervals are 0)." }
            }
            ul.plain {
                @for s in &schedules {
                    li {
                        label.switch {
                            input type="checkbox" role="switch" data-schedule=(s.kind) checked[!s.paused];
                            strong { (s.kind) }
                        }
                        " every " (every(s.interval.as_secs()))
                        @if s.interval != s.configured { span.muted { " (configured: " (every(s.configured.as_secs())) ")" } }
                        " · "
                        @match s.next_run_at {
                            Some(at) => { "next run " (time(Some(at))) }
                            None => { span.badge.status.paused { "paused" } }
                        }
                    }
                }
            }
        }
    })
}

/// "5 minutes", "1 hour", "90 seconds".
fn every(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The instances (fragment).
#[handler]
pub async fn instances_fragment(Data(state): Data<&AppState>) -> Response {
    match instances_section(state).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// Each instance with its host, version, start, heartbeat and running jobs.
pub async fn instances_section(state: &AppState) -> Result<Markup, ApiError> {
    let instances = state.jobs.instances().await?;
    let me = state.jobs.instance();
    Ok(html! {
        section #job-instances.detail hx-get="/ui/jobs/instances" hx-trigger="jobs-changed from:body delay:300ms, every 30s"
            hx-swap="outerHTML" aria-labelledby="instances-title" {
            h2 #instances-title { "Instances (" (instances.len()) ")" }
            @if instances.is_empty() {
                p.muted { "No instance has started its job workers yet." }
            }
            ul.plain {
                @for i in &instances {
                    li {
                        strong { (i.instance.host) } " "
                        span.muted { (i.instance.id) " · version " (i.instance.version) }
                        @if i.instance.id == me { " " span.badge { "this one" } }
                        @if i.stale { " " span.badge.status.failed title="silent for over three heartbeats" { "stale" } }
                        @if i.instance.stopped_at.is_some() { " " span.badge { "stopped" } }
                        br;
                        "Started " (time(Some(i.instance.started_at))) ", last heartbeat " (time(Some(i.instance.heartbeat_at)))
                        @if i.running.is_empty() { span.muted { " · idle" } } @else {
                            " · running "
                            @for r in &i.running { span.badge { "job " (r.id) " " (r.kind) } " " }
                        }
                    }
                }
            }
        }
    })
}
