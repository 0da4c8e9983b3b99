//! The job dashboard in the browser, on both databases: the charts are images with labels and
//! tables, a schedule pauses and resumes from its switch, failed runs are retried as a batch
//! after a confirmation that states the count, the instances are shown, and the page fits
//! 1,280 and 375 px with a clean accessibility audit.

use std::time::Duration;

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::poll;
use crate::live::{LiveServer, backends};

#[tokio::test]
async fn the_job_dashboard_charts_pauses_retries_in_batches_and_lists_instances() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    for backend in backends() {
        let server = LiveServer::on(backend, |s| s.cache.refresh_interval_secs = 3600).await;
        server.wait_for_warm().await;
        let b = &browser;
        b.goto(&server.url("/jobs")).await;

        // Two charts, each an image with a label, and their numbers behind a toggle.
        let labels = b
            .js("return [...document.querySelectorAll('#job-charts svg[role=img]')].map(s => s.getAttribute('aria-label'));")
            .await;
        let labels: Vec<&str> = labels
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert!(
            labels[0].starts_with("Job runs per 5 minutes over the last hour"),
            "{labels:?}"
        );
        assert!(
            labels[1].starts_with("Job durations per kind"),
            "{labels:?}"
        );
        b.click_css("#job-charts details summary").await;
        b.until(
            "the tables",
            "return document.querySelectorAll('#job-charts details[open] table').length === 2;",
        )
        .await;
        // The day view.
        b.c()
            .find(fantoccini::Locator::Css("#chart-window"))
            .await
            .unwrap()
            .select_by_value("day")
            .await
            .unwrap();
        b.until(
            "the day's chart",
            "return (document.querySelector('#job-charts svg[role=img]').getAttribute('aria-label') || '').includes('per hour over the last day');",
        )
        .await;

        // Pause the refresh schedule from its switch, then resume it.
        b.click_css("input[data-schedule='refresh']").await;
        poll("paused", Duration::from_secs(20), || async {
            let s = server.api("/api/v1/schedules").await;
            (s["items"][0]["paused"] == true)
                .then_some(())
                .ok_or(s.to_string())
        })
        .await;
        b.until(
            "the paused badge",
            "return document.getElementById('job-schedules').textContent.includes('paused');",
        )
        .await;
        b.click_css("input[data-schedule='refresh']").await;
        poll("resumed", Duration::from_secs(20), || async {
            let s = server.api("/api/v1/schedules").await;
            (s["items"][0]["paused"] == false)
                .then_some(())
                .ok_or(s.to_string())
        })
        .await;

        // This instance, with its heartbeat.
        b.until(
            "the instance",
            "return document.getElementById('job-instances').textContent.includes('this one');",
        )
        .await;

        // A failed run, retried from the batch bar after a confirmation stating the count.
        let collections = server.data_home.join("collections");
        let aside = server.data_home.join("collections-aside");
        std::fs::rename(&collections, &aside).unwrap();
        std::fs::write(&collections, "not a folder").unwrap();
        b.click_css("#refresh-now").await;
        b.until(
            "the failed run",
            "return !!document.querySelector('#runs [data-retry-job]');",
        )
        .await;
        std::fs::remove_file(&collections).unwrap();
        std::fs::rename(&aside, &collections).unwrap();
        let failed = b
            .js("return document.querySelector('#runs [data-retry-job]').dataset.retryJob;")
            .await;
        let failed = failed.as_str().unwrap().to_string();
        b.click_css(&format!("input[data-select-job='{failed}']"))
            .await;
        b.until(
            "one selected",
            "return document.getElementById('job-selected').textContent === '1 selected';",
        )
        .await;
        b.click_css("button[data-job-batch='retry'][data-scope='selected']")
            .await;
        let question = b.c().get_alert_text().await.unwrap();
        assert!(question.starts_with("Retry 1 job?"), "{question}");
        b.c().accept_alert().await.unwrap();
        let failed: i64 = failed.parse().unwrap();
        poll("the retry", Duration::from_secs(20), || async {
            let runs = server.api("/api/v1/jobs?limit=50").await;
            let retry: Option<Value> = runs["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["retry_of"] == failed)
                .cloned();
            retry
                .filter(|r| r["status"] == "succeeded")
                .ok_or(runs.to_string())
        })
        .await;

        let violations = b.accessibility_violations().await;
        assert!(violations.is_empty(), "{violations:#?}");
        for width in [1280, 375] {
            b.tables_fit(&server.url("/jobs"), width).await;
        }
        b.screenshot("jobs-dashboard").await;
        b.leave().await;
    }
    browser.finish().await;
}
