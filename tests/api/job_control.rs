//! Job control through the API, on both databases: cancelling a queued and a running job,
//! batch retry and cancel by ids and by filter, schedules paused and resumed (no scheduled run
//! while paused) and re-timed, the instances with their heartbeats, the counts per state and
//! the chart figures.

use std::time::Duration;

use poem::http::StatusCode;
use serde_json::{Value, json};
use skillmeat_server::jobs::refresh::RefreshJob;

use crate::helpers::{Backend, TestApp, poll};

/// Runs of `kind` with `trigger`.
async fn runs(app: &TestApp, query: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/jobs?limit=500&{query}"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_queued_job_cancelled_never_runs_and_a_finished_one_answers_409() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres
            && !crate::helpers::postgres_available("cancel on PostgreSQL")
        {
            continue;
        }
        let app = TestApp::spawn_on(backend).await;
        let id = app.refresh_now(json!({})).await;
        let cancelled = app.post(&format!("/api/v1/jobs/{id}/cancel")).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
        assert_eq!(cancelled.body["outcome"], "cancelled");
        assert_eq!(cancelled.body["job"]["status"], "cancelled");

        let _jobs = app.start_jobs().await;
        // Another refresh queued after it runs, so the worker has looked at the queue.
        let later = app.refresh_now(json!({"force": true})).await;
        assert_eq!(app.wait_job(later).await["status"], "succeeded");
        let job = app.get(&format!("/api/v1/jobs/{id}")).await.body;
        assert_eq!(job["status"], "cancelled", "{job}");
        assert!(
            job["started_at"].is_null(),
            "a cancelled queued job started: {job}"
        );
        assert_eq!(job["attempts"], 0, "{job}");

        app.post(&format!("/api/v1/jobs/{later}/cancel"))
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        app.post("/api/v1/jobs/999999/cancel")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // A cancelled job can be retried.
        let retried = app.post(&format!("/api/v1/jobs/{id}/retry")).await;
        assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text);
    }
}

#[tokio::test]
async fn a_running_refresh_stops_at_its_next_artifact_and_keeps_its_counts() {
    let (app, source) = TestApp::spawn_faulty().await;
    let _jobs = app.start_jobs().await;
    source.hold_reads_of("skill:bom-skill");
    let id = app.refresh_now(json!({"force": true})).await;
    poll("the refresh running", Duration::from_secs(30), || async {
        let job = app.get(&format!("/api/v1/jobs/{id}")).await.body;
        (job["status"] == "running")
            .then_some(())
            .ok_or(job.to_string())
    })
    .await;
    let stopping = app.post(&format!("/api/v1/jobs/{id}/cancel")).await;
    assert_eq!(stopping.status, StatusCode::OK, "{}", stopping.text);
    assert_eq!(stopping.body["outcome"], "stopping");
    assert!(stopping.body["job"]["cancel_requested_at"].is_string());
    source.stop_holding_reads();
    let job = app.wait_job(id).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    let listed = job["checked"].as_i64().unwrap();
    let read = job["refreshed"].as_i64().unwrap() + job["added"].as_i64().unwrap();
    assert!(
        listed > 0 && read < listed,
        "it read every artifact after the cancel: {job}"
    );
    assert!(job["duration_ms"].is_i64(), "{job}");
    // The cache keeps what it had; a later refresh reads the rest.
    let next = app.refresh_now(json!({"force": true})).await;
    assert_eq!(app.wait_job(next).await["status"], "succeeded");
}

#[tokio::test]
async fn batch_retry_and_cancel_take_ids_or_the_filter() {
    for app in TestApp::all_backends().await {
        // Three queued refreshes of different scopes, no worker running.
        let mut ids = Vec::new();
        for scope in [
            json!({}),
            json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}),
            json!({"scope": "artifact", "artifact_id": "skill:crlf-skill"}),
        ] {
            ids.push(app.refresh_now(scope).await);
        }
        let by_ids = app
            .post_json(
                "/api/v1/jobs/cancel",
                json!({"ids": [ids[0], ids[1], ids[0]]}),
            )
            .await;
        assert_eq!(by_ids.status, StatusCode::OK, "{}", by_ids.text);
        assert_eq!(by_ids.body["matched"], 2);
        assert_eq!(by_ids.body["done"], json!([ids[0], ids[1]]));
        let by_filter = app
            .post_json(
                "/api/v1/jobs/cancel",
                json!({"filter": {"kind": "refresh"}}),
            )
            .await;
        assert_eq!(
            by_filter.body["done"],
            json!([ids[2]]),
            "{}",
            by_filter.text
        );
        assert_eq!(
            by_filter.body["skipped"].as_array().unwrap().len(),
            2,
            "{}",
            by_filter.text
        );

        let retried = app
            .post_json(
                "/api/v1/jobs/retry",
                json!({"filter": {"status": "cancelled"}}),
            )
            .await;
        assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
        assert_eq!(retried.body["matched"], 3);
        assert_eq!(
            retried.body["done"].as_array().unwrap().len(),
            3,
            "{}",
            retried.text
        );
        let queued = runs(&app, "status=queued").await;
        assert_eq!(queued.len(), 3);
        assert!(queued.iter().all(|r| r["retry_of"].is_i64()));

        let both = app
            .post_json("/api/v1/jobs/retry", json!({"ids": [1], "filter": {}}))
            .await;
        both.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let overview = app.get("/api/v1/jobs/overview").await.body;
        assert_eq!(overview["queued"], 3, "{overview}");
        assert_eq!(overview["cancelled"], 3, "{overview}");
        assert!(
            overview["oldest_queued_age_secs"].as_i64().unwrap() >= 0,
            "{overview}"
        );
    }
}

#[tokio::test]
async fn a_paused_schedule_queues_nothing_until_resumed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres
            && !crate::helpers::postgres_available("schedules on PostgreSQL")
        {
            continue;
        }
        let app = TestApp::spawn_with(backend, |s| s.cache.refresh_interval_secs = 1).await;
        let list = app.get("/api/v1/schedules").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(list.body["items"][0]["kind"], "refresh", "{}", list.text);
        assert_eq!(list.body["items"][0]["interval_secs"], 1);

        let paused = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"paused": true}))
            .send()
            .await;
        paused.assert_status_is_ok();
        let _jobs = app.start_jobs().await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            runs(&app, "kind=refresh")
                .await
                .iter()
                .all(|r| r["trigger"] != "schedule"),
            "a scheduled run while paused"
        );
        let schedule = &app.get("/api/v1/schedules").await.body["items"][0];
        assert_eq!(schedule["paused"], true);
        assert!(schedule["next_run_at"].is_null());

        app.client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"paused": false}))
            .send()
            .await
            .assert_status_is_ok();
        poll(
            "a scheduled run after resuming",
            Duration::from_secs(30),
            || async {
                let all = runs(&app, "kind=refresh").await;
                all.iter()
                    .any(|r| r["trigger"] == "schedule")
                    .then_some(())
                    .ok_or(format!("{all:?}"))
            },
        )
        .await;

        // Re-timed (and back), and refused where it makes no sense.
        let retimed = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"interval_secs": 600}))
            .send()
            .await;
        retimed.assert_status_is_ok();
        let body: Value = retimed.json().await.value().deserialize();
        assert_eq!(body["interval_secs"], 600);
        assert_eq!(body["configured_interval_secs"], 1);
        let back = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"interval_secs": 0}))
            .send()
            .await;
        let back: Value = back.json().await.value().deserialize();
        assert_eq!(back["interval_secs"], 1);
        let short = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"interval_secs": 5}))
            .send()
            .await;
        short.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let huge = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({"interval_secs": u64::MAX}))
            .send()
            .await;
        huge.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let unknown = app
            .client
            .patch("/api/v1/schedules/warm")
            .body_json(&json!({"paused": true}))
            .send()
            .await;
        unknown.assert_status(StatusCode::NOT_FOUND);
        let empty = app
            .client
            .patch("/api/v1/schedules/refresh")
            .body_json(&json!({}))
            .send()
            .await;
        empty.assert_status(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn instances_are_listed_with_heartbeats_and_their_running_jobs() {
    for app in TestApp::all_backends().await {
        let (app, source) = if app.backend == Backend::Sqlite {
            drop(app);
            let (app, source) = TestApp::spawn_faulty().await;
            (app, Some(source))
        } else {
            (app, None)
        };
        let _jobs = app.start_jobs().await;
        let first = poll("this instance listed", Duration::from_secs(30), || async {
            let list = app.get("/api/v1/instances").await.body;
            list["items"]
                .as_array()
                .filter(|a| a.len() == 1)
                .map(|a| a[0].clone())
                .ok_or(list.to_string())
        })
        .await;
        assert_eq!(first["current"], true, "{first}");
        assert_eq!(first["stale"], false, "{first}");
        assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
        assert!(!first["host"].as_str().unwrap().is_empty());
        // Heartbeats move on (the test heartbeat is 1 s).
        poll("a later heartbeat", Duration::from_secs(30), || async {
            let now = app.get("/api/v1/instances").await.body["items"][0].clone();
            (now["heartbeat_at"] != first["heartbeat_at"])
                .then_some(())
                .ok_or(now.to_string())
        })
        .await;
        if let Some(source) = source {
            source.hold_reads_of("skill:bom-skill");
            let id = app.refresh_now(json!({"force": true})).await;
            poll(
                "the running job on the instance",
                Duration::from_secs(30),
                || async {
                    let list = app.get("/api/v1/instances").await.body;
                    let running = list["items"][0]["running"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    running
                        .iter()
                        .any(|r| r["id"] == id)
                        .then_some(())
                        .ok_or(list.to_string())
                },
            )
            .await;
            source.stop_holding_reads();
            app.wait_job(id).await;
        }
        // An instance that went silent is marked stale.
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        entity::job_instances::ActiveModel {
            id: Set("gone-1".into()),
            host: Set("elsewhere".into()),
            version: Set("0.0.1".into()),
            started_at: Set(chrono::Utc::now() - chrono::Duration::minutes(30)),
            heartbeat_at: Set(chrono::Utc::now() - chrono::Duration::minutes(20)),
            stopped_at: Set(None),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        let list = app.get("/api/v1/instances").await.body;
        let gone = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "gone-1")
            .unwrap()
            .clone();
        assert_eq!(gone["stale"], true, "{list}");
        assert_eq!(gone["current"], false);
    }
}

#[tokio::test]
async fn the_chart_figures_count_every_run_and_the_page_draws_them_accessibly() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        for _ in 0..2 {
            let id = app.refresh_now(json!({"force": true})).await;
            app.wait_job(id).await;
        }
        let cancelled = app
            .refresh_now(json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}))
            .await;
        let _ = app.post(&format!("/api/v1/jobs/{cancelled}/cancel")).await;
        app.wait_job(cancelled).await;
        let total = app.get("/api/v1/jobs").await.body["page_info"]["total_count"]
            .as_u64()
            .unwrap();
        for window in ["hour", "day"] {
            let charts = app
                .get(&format!("/api/v1/jobs/charts?window={window}"))
                .await;
            assert_eq!(charts.status, StatusCode::OK, "{}", charts.text);
            let buckets = charts.body["buckets"].as_array().unwrap();
            assert_eq!(buckets.len(), if window == "hour" { 12 } else { 24 });
            let counted: u64 = buckets
                .iter()
                .map(|b| {
                    ["succeeded", "failed", "cancelled", "active"]
                        .iter()
                        .map(|k| b[k].as_u64().unwrap())
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(counted, total, "{}", charts.text);
            let refresh = charts.body["durations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["kind"] == "refresh")
                .unwrap()
                .clone();
            assert!(
                refresh["p95_ms"].as_u64() >= refresh["p50_ms"].as_u64(),
                "{refresh}"
            );
        }
        let page = app.get("/jobs").await.text;
        assert!(
            page.contains(
                "role=\"img\" aria-label=\"Job runs per 5 minutes over the last hour, by status: "
            ),
            "{page}"
        );
        assert!(
            page.contains("aria-label=\"Job durations per kind over the last hour: "),
            "{page}"
        );
        assert!(page.contains("Show the numbers as tables"));
        let day = app.get("/ui/jobs/charts?window=day").await.text;
        assert!(day.contains("Job runs per hour over the last day"), "{day}");
    }
}

#[tokio::test]
async fn a_queued_refresh_cancelled_before_a_worker_takes_it_is_skipped_by_the_worker() {
    let app = TestApp::spawn().await;
    let queued = app
        .state
        .jobs
        .enqueue(RefreshJob::everything(), jobs::Trigger::Manual)
        .await
        .unwrap();
    let jobs::Enqueued::New(run) = queued else {
        panic!("a new run")
    };
    app.state.jobs.cancel(run.id).await.unwrap();
    let _jobs = app.start_jobs_nowait();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let job = app.get(&format!("/api/v1/jobs/{}", run.id)).await.body;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert_eq!(job["attempts"], 0, "{job}");
}
