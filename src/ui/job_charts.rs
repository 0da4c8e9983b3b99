//! The job dashboard's charts, drawn on the server as SVG: runs per time bucket by status
//! (stacked bars) and the median and 95th-percentile duration per kind. Each is an image with
//! a label saying what it shows, and its numbers are in a table behind a toggle.

use maud::{Markup, html};
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use super::error_response;
use crate::api::job_control::load_charts;
use crate::error::ApiError;
use crate::jobs::charts::{Charts, Window};
use crate::state::AppState;

/// Statuses in the order they are stacked, with their labels.
const STACK: [(&str, &str); 4] = [
    ("succeeded", "succeeded"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
    ("active", "queued or running"),
];
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
/// Room for the axis labels.
const MARGIN: f64 = 24.0;

/// The window asked for.
#[derive(Debug, Default, Deserialize)]
pub struct ChartsQuery {
    #[serde(default)]
    window: String,
}

impl ChartsQuery {
    fn window(&self) -> Window {
        if self.window == "day" {
            Window::Day
        } else {
            Window::Hour
        }
    }
}

/// The charts (fragment).
#[handler]
pub async fn charts_fragment(
    Data(state): Data<&AppState>,
    Query(query): Query<ChartsQuery>,
) -> Response {
    match charts_section(state, query.window()).await {
        Ok(m) => m.into_response(),
        Err(e) => error_response(e),
    }
}

/// Both charts for `window`, with the window switch.
pub async fn charts_section(state: &AppState, window: Window) -> Result<Markup, ApiError> {
    let charts = load_charts(state, window).await?;
    Ok(html! {
        section #job-charts.detail hx-get="/ui/jobs/charts" hx-include="#chart-window"
            hx-trigger="jobs-changed from:body delay:1s" hx-swap="outerHTML" aria-labelledby="charts-title" {
            div.toolbar.flush {
                h2 #charts-title { "Activity" }
                label.muted for="chart-window" { "Over" }
                select #chart-window name="window" hx-get="/ui/jobs/charts" hx-target="#job-charts"
                    hx-swap="outerHTML" {
                    option value="hour" selected[window == Window::Hour] { "the last hour" }
                    option value="day" selected[window == Window::Day] { "the last day" }
                }
            }
            div.charts {
                figure { (runs_chart(&charts)) figcaption.muted { (runs_label(&charts)) } }
                figure { (durations_chart(&charts)) figcaption.muted { (durations_label(&charts)) } }
            }
            details {
                summary { "Show the numbers as tables" }
                (runs_table(&charts))
                (durations_table(&charts))
            }
        }
    })
}

fn bucket_words(window: Window) -> (&'static str, &'static str) {
    match window {
        Window::Hour => ("5 minutes", "the last hour"),
        Window::Day => ("hour", "the last day"),
    }
}

fn count(charts: &Charts, index: usize, status: &str) -> u64 {
    let b = &charts.buckets[index];
    match status {
        "active" => {
            b.by_status.get("queued").copied().unwrap_or(0)
                + b.by_status.get("running").copied().unwrap_or(0)
        }
        other => b.by_status.get(other).copied().unwrap_or(0),
    }
}

/// What the runs chart shows, in words (its label).
fn runs_label(charts: &Charts) -> String {
    let (per, over) = bucket_words(charts.window);
    let totals: Vec<String> = STACK
        .iter()
        .map(|(status, label)| {
            let n: u64 = (0..charts.buckets.len())
                .map(|i| count(charts, i, status))
                .sum();
            format!("{n} {label}")
        })
        .collect();
    format!(
        "Job runs per {per} over {over}, by status: {}.",
        totals.join(", ")
    )
}

fn runs_chart(charts: &Charts) -> Markup {
    let n = charts.buckets.len().max(1);
    let max = charts
        .buckets
        .iter()
        .map(|b| b.total())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = (WIDTH - MARGIN) / n as f64;
    let plot = HEIGHT - MARGIN;
    let time = |i: usize| {
        charts.buckets[i]
            .start
            .format(if charts.window == Window::Day {
                "%H:00"
            } else {
                "%H:%M"
            })
            .to_string()
    };
    // Each bucket's statuses stacked from the axis up.
    let mut rects = Vec::new();
    for i in 0..charts.buckets.len() {
        let x = MARGIN + i as f64 * slot + 1.0;
        let mut y = plot;
        for (status, _) in STACK {
            let h = count(charts, i, status) as f64 / max as f64 * (plot - 4.0);
            if h > 0.0 {
                y -= h;
                rects.push((status, x, y, (slot - 2.0).max(1.0), h));
            }
        }
    }
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(runs_label(charts)) {
            line.axis x1=(MARGIN) y1=(plot) x2=(WIDTH) y2=(plot) {}
            text.tick x="0" y="10" { (max) }
            text.tick x="0" y=(plot) { "0" }
            @for (status, x, y, w, h) in &rects {
                rect class=(format!("bar {status}")) x=(format!("{x:.1}")) y=(format!("{y:.1}"))
                    width=(format!("{w:.1}")) height=(format!("{h:.1}")) {}
            }
            text.tick x=(MARGIN) y=(HEIGHT - 6.0) { (time(0)) }
            text.tick x=(WIDTH) y=(HEIGHT - 6.0) text-anchor="end" { (time(charts.buckets.len() - 1)) }
        }
        p.legend aria-hidden="true" {
            @for (status, label) in STACK { span { svg.swatch viewBox="0 0 10 10" { rect class=(format!("bar {status}")) width="10" height="10" {} } (label) } " " }
        }
    }
}

/// What the durations chart shows, in words (its label).
fn durations_label(charts: &Charts) -> String {
    let (_, over) = bucket_words(charts.window);
    if charts.durations.is_empty() {
        return format!("Job durations over {over}: no finished runs.");
    }
    let parts: Vec<String> = charts
        .durations
        .iter()
        .map(|d| {
            format!(
                "{} median {} ms, 95th percentile {} ms",
                d.kind, d.p50_ms, d.p95_ms
            )
        })
        .collect();
    format!("Job durations per kind over {over}: {}.", parts.join("; "))
}

fn durations_chart(charts: &Charts) -> Markup {
    let rows = charts.durations.len().max(1);
    let max = charts
        .durations
        .iter()
        .map(|d| d.p95_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let band = HEIGHT / rows as f64;
    let left = 70.0;
    let bar = |ms: u64| (ms as f64 / max as f64 * (WIDTH - left - 90.0)).max(1.0);
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(durations_label(charts)) {
            @for (i, d) in charts.durations.iter().enumerate() {
                @let y = i as f64 * band;
                text.tick x="0" y=(format!("{:.1}", y + band / 2.0)) { (d.kind) }
                rect.bar.p95 x=(left) y=(format!("{:.1}", y + band * 0.15)) width=(format!("{:.1}", bar(d.p95_ms)))
                    height=(format!("{:.1}", band * 0.3)) {}
                rect.bar.p50 x=(left) y=(format!("{:.1}", y + band * 0.5)) width=(format!("{:.1}", bar(d.p50_ms)))
                    height=(format!("{:.1}", band * 0.3)) {}
                text.tick x=(format!("{:.1}", left + bar(d.p95_ms) + 6.0)) y=(format!("{:.1}", y + band * 0.4)) {
                    "p95 " (d.p95_ms) " ms"
                }
                text.tick x=(format!("{:.1}", left + bar(d.p50_ms) + 6.0)) y=(format!("{:.1}", y + band * 0.75)) {
                    "p50 " (d.p50_ms) " ms"
                }
            }
            @if charts.durations.is_empty() {
                text.tick x="10" y=(HEIGHT / 2.0) { "No finished runs" }
            }
        }
    }
}

fn runs_table(charts: &Charts) -> Markup {
    html! {
        table {
            caption { (runs_label(charts)) }
            thead { tr { th scope="col" { "From" } @for (_, label) in STACK { th scope="col" { (label) } } } }
            tbody {
                @for (i, b) in charts.buckets.iter().enumerate() {
                    tr {
                        th scope="row" { (b.start.format("%Y-%m-%d %H:%M UTC")) }
                        @for (status, _) in STACK { td { (count(charts, i, status)) } }
                    }
                }
            }
        }
    }
}

fn durations_table(charts: &Charts) -> Markup {
    html! {
        table {
            caption { (durations_label(charts)) }
            thead { tr { th scope="col" { "Kind" } th scope="col" { "Runs" } th scope="col" { "p50 (ms)" } th scope="col" { "p95 (ms)" } } }
            tbody {
                @for d in &charts.durations {
                    tr { th scope="row" { (d.kind) } td { (d.runs) } td { (d.p50_ms) } td { (d.p95_ms) } }
                }
            }
        }
    }
}
