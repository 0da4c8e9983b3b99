//! The job runner: refresh, warm, purge, on-demand refresh with dedupe, retries, the history
//! endpoints, the schema-version rebuild, and a server killed mid-refresh.

use std::time::{Duration, Instant};

use entity::{cache_meta, cached_artifacts, job_runs};
use poem::http::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use skillmeat_server::jobs::refresh::RefreshJob;

use crate::helpers::{Backend, PgDatabase, ServerProcess, TestApp, generated_home, pg_base_url};

#[tokio::test]
async fn refresh_picks_up_an_edit_a_new_artifact_and_a_deleted_one() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let dir = app.collection_dir("default");
        std::fs::write(
            dir.join("skills/bom-skill/SKILL.md"),
            "---\ndescription: Edited on disk\n---\nbody\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("skills/brand-new")).unwrap();
        std::fs::write(
            dir.join("skills/brand-new/SKILL.md"),
            "---\ndescription: New\n---\n",
        )
        .unwrap();
        std::fs::remove_file(dir.join("agents/multiline-agent.md")).unwrap();

        let id = app.refresh_now(json!({})).await;
        let job = app.wait_job(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["kind"], "refresh");
        assert_eq!(job["trigger"], "manual");
        assert_eq!(
            (
                &job["refreshed"],
                &job["added"],
                &job["removed"],
                &job["errors"]
            ),
            (&json!(1), &json!(1), &json!(1), &json!(0)),
            "{job}"
        );
        assert_eq!(job["checked"], 16);
        assert!(job["duration_ms"].as_i64().is_some());

        let edited = app.get("/api/v1/artifacts/skill:bom-skill").await;
        assert_eq!(edited.header("x-cache"), Some("hit"));
        assert_eq!(edited.body["metadata"]["description"], "Edited on disk");
        let new = app.get("/api/v1/artifacts/skill:brand-new").await;
        assert_eq!(new.header("x-cache"), Some("hit"), "{}", new.text);
        app.get("/api/v1/artifacts/agent:multiline-agent")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn an_unchanged_tree_is_not_re_read_and_only_expired_entries_are_revalidated() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let reads = app.source_reads();
        let before = cached_artifacts::Entity::find()
            .filter(cached_artifacts::Column::ArtifactId.eq("skill:crlf-skill"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        // One entry's TTL has run out.
        cached_artifacts::Entity::update_many()
            .col_expr(
                cached_artifacts::Column::ExpiresAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::seconds(5)),
            )
            .filter(cached_artifacts::Column::ArtifactId.eq("skill:bom-skill"))
            .exec(&app.state.db)
            .await
            .unwrap();

        let job = app.wait_job(app.refresh_now(json!({})).await).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!((&job["refreshed"], &job["added"]), (&json!(0), &json!(0)));
        assert_eq!(job["details"]["unchanged"], 16);
        assert_eq!(job["details"]["revalidated"], 1, "{job}");
        assert_eq!(app.source_reads(), reads, "nothing was re-read");

        let revalidated = cached_artifacts::Entity::find()
            .filter(cached_artifacts::Column::ArtifactId.eq("skill:bom-skill"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert!(revalidated.expires_at > chrono::Utc::now());
        let untouched = cached_artifacts::Entity::find()
            .filter(cached_artifacts::Column::ArtifactId.eq("skill:crlf-skill"))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            untouched.last_updated, before.last_updated,
            "an entry within its TTL is not written"
        );

        // force re-reads everything.
        let forced = app
            .wait_job(app.refresh_now(json!({"force": true})).await)
            .await;
        assert_eq!(forced["refreshed"], 16, "{forced}");
        assert_eq!(app.source_reads(), reads + 16);
    }
}

#[tokio::test]
async fn collection_and_artifact_scopes_refresh_only_their_part() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let dir = app.collection_dir("default");
    std::fs::write(
        dir.join("skills/bom-skill/SKILL.md"),
        "---\ndescription: Scoped\n---\n",
    )
    .unwrap();
    let job = app
        .wait_job(
            app.refresh_now(json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}))
                .await,
        )
        .await;
    assert_eq!(job["scope"], "artifact:skill:bom-skill");
    assert_eq!((&job["checked"], &job["refreshed"]), (&json!(1), &json!(1)));
    let r = app.get("/api/v1/artifacts/skill:bom-skill").await;
    assert_eq!(r.body["metadata"]["description"], "Scoped");

    // The `work` collection: only its items are looked at and re-read.
    let items = app.state.cache.source().list().await.unwrap();
    let in_work: Vec<String> = items
        .iter()
        .filter(|i| i.collections.iter().any(|c| c == "work"))
        .map(|i| i.artifact_id.clone())
        .collect();
    assert!(!in_work.is_empty() && in_work.len() < items.len());
    let outside = items
        .iter()
        .find(|i| !i.collections.iter().any(|c| c == "work"))
        .unwrap()
        .artifact_id
        .clone();
    let row = |id: String| {
        let db = app.state.db.clone();
        async move {
            cached_artifacts::Entity::find()
                .filter(cached_artifacts::Column::ArtifactId.eq(id))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let before = row(outside.clone()).await;
    let reads = app.source_reads();
    let job = app
        .wait_job(
            app.refresh_now(json!({"scope": "collection", "collection": "work", "force": true}))
                .await,
        )
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["scope"], "collection:work");
    assert_eq!(job["checked"], in_work.len() as i64, "{job}");
    assert_eq!(job["refreshed"], in_work.len() as i64, "{job}");
    assert_eq!(job["removed"], 0, "{job}");
    assert_eq!(app.source_reads() - reads, in_work.len() as u64);
    assert_eq!(row(outside).await.last_updated, before.last_updated);
    let status = app.get("/api/v1/cache/status").await;
    assert_eq!(status.body["entries"], 16);

    app.post_json(
        "/api/v1/cache/refresh",
        json!({"scope": "collection", "collection": "nope"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.post_json("/api/v1/cache/refresh", json!({"scope": "collection"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.post_json("/api/v1/cache/refresh", json!({"scope": "everything"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.post_json(
        "/api/v1/cache/refresh",
        json!({"scope": "artifact", "artifact_id": "../etc"}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn a_refresh_already_queued_for_the_same_scope_is_returned_instead_of_a_duplicate() {
    for app in TestApp::all_backends().await {
        app.state.cache.sync_all(false).await.unwrap();
        // No workers run: queued jobs stay queued.
        let first = app.post_json("/api/v1/cache/refresh", json!({})).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
        assert_eq!(first.body["deduplicated"], false);
        assert_eq!(first.body["job"]["status"], "queued");
        assert_eq!(first.body["job"]["force"], false);
        // A forced request upgrades the queued run instead of queueing a second one.
        let forced = app
            .post_json("/api/v1/cache/refresh", json!({"force": true}))
            .await;
        assert_eq!(forced.body["deduplicated"], true);
        assert_eq!(forced.body["job"]["id"], first.body["job"]["id"]);
        assert_eq!(forced.body["job"]["force"], true, "{}", forced.text);
        let second = app
            .post_json("/api/v1/cache/refresh", json!({"scope": "all"}))
            .await;
        assert_eq!(second.body["deduplicated"], true);
        assert_eq!(second.body["job"]["id"], first.body["job"]["id"]);
        let other = app
            .post_json(
                "/api/v1/cache/refresh",
                json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}),
            )
            .await;
        assert_eq!(other.body["deduplicated"], false);
        assert_ne!(other.body["job"]["id"], first.body["job"]["id"]);
        let status = app.get("/api/v1/cache/status").await;
        assert_eq!(status.body["refreshing"], true);

        // Once the workers run, the queued job completes and the scope is free again.
        let _jobs = app.start_jobs().await;
        let done = app
            .wait_job(first.body["job"]["id"].as_i64().unwrap())
            .await;
        assert_eq!(done["status"], "succeeded");
        assert_eq!(done["refreshed"], 16, "ran forced: {done}");
        let third = app.post_json("/api/v1/cache/refresh", json!({})).await;
        assert_eq!(third.body["deduplicated"], false);
        assert_ne!(third.body["job"]["id"], first.body["job"]["id"]);
        app.wait_job(third.body["job"]["id"].as_i64().unwrap())
            .await;
        let status = app.get("/api/v1/cache/status").await;
        assert_eq!(status.body["refreshing"], false, "{}", status.body);
        assert!(status.body["last_refresh_at"].is_string());
        assert!(
            status.body["next_refresh_at"].is_null(),
            "the schedule is off in tests"
        );
    }
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_recorded_as_failed_and_can_be_retried() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let collections = app.data_home.join("collections");
        let aside = app.data_home.join("collections-aside");
        std::fs::rename(&collections, &aside).unwrap();
        std::fs::write(&collections, "not a folder").unwrap();

        let id = app.refresh_now(json!({})).await;
        let job = app.wait_job(id).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert_eq!(job["attempts"], 3);
        assert_eq!(job["max_attempts"], 3);
        let error = job["error"].as_str().unwrap();
        assert!(error.contains("collections"), "{error}");
        assert!(job["finished_at"].is_string());
        // The failure dropped nothing from the cache.
        let status = app.get("/api/v1/cache/status").await;
        assert_eq!(status.body["entries"], 16);

        let failed = app.get("/api/v1/jobs?kind=refresh&status=failed").await;
        assert_eq!(failed.body["page_info"]["total_count"], 1);

        std::fs::remove_file(&collections).unwrap();
        std::fs::rename(&aside, &collections).unwrap();
        let retry = app.post(&format!("/api/v1/jobs/{id}/retry")).await;
        assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text);
        assert_eq!(retry.body["job"]["retry_of"], id);
        let retried = app
            .wait_job(retry.body["job"]["id"].as_i64().unwrap())
            .await;
        assert_eq!(retried["status"], "succeeded", "{retried}");
        assert_eq!(retried["attempts"], 1);

        app.post(&format!("/api/v1/jobs/{}/retry", retried["id"]))
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        app.post("/api/v1/jobs/999999/retry")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/jobs/999999")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        let stats = app.get("/api/v1/jobs/stats").await;
        let refresh = stats.body["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == "refresh")
            .unwrap()
            .clone();
        assert_eq!(
            (&refresh["succeeded"], &refresh["failed"]),
            (&json!(1), &json!(1))
        );
        assert_eq!(refresh["success_rate"], 0.5);
        assert!(refresh["p50_duration_ms"].is_u64());
        assert!(refresh["p95_duration_ms"].is_u64());
        assert_eq!(refresh["last_run"]["id"], retried["id"]);
        let metrics = app.get("/metrics").await.text;
        assert!(
            metrics.contains("skillmeat_job_runs_total{kind=\"refresh\",status=\"failed\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("skillmeat_job_duration_seconds_count{kind=\"refresh\"}"));
    }
}

#[tokio::test]
async fn purge_drops_stale_entries_and_old_job_records() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        // A refresh that finished just now: its record must stay.
        let recent = app.wait_job(app.refresh_now(json!({})).await).await;
        assert_eq!(recent["status"], "succeeded", "{recent}");
        let old = chrono::Utc::now() - chrono::Duration::days(8);
        // Neither read nor confirmed by a refresh for 8 days: expired 8 days ago.
        cached_artifacts::Entity::update_many()
            .col_expr(cached_artifacts::Column::LastAccessed, Expr::value(old))
            .col_expr(cached_artifacts::Column::LastUpdated, Expr::value(old))
            .col_expr(cached_artifacts::Column::ExpiresAt, Expr::value(old))
            .filter(
                cached_artifacts::Column::ArtifactId.is_in(["skill:bom-skill", "skill:crlf-skill"]),
            )
            .exec(&app.state.db)
            .await
            .unwrap();
        // Read recently but not refreshed for 8 days: kept.
        cached_artifacts::Entity::update_many()
            .col_expr(cached_artifacts::Column::LastUpdated, Expr::value(old))
            .col_expr(cached_artifacts::Column::ExpiresAt, Expr::value(old))
            .filter(cached_artifacts::Column::ArtifactId.eq("skill:nested-tree"))
            .exec(&app.state.db)
            .await
            .unwrap();
        // Not read for 8 days, but within a long TTL (the refresh only extends expired
        // entries): confirmed, kept.
        cached_artifacts::Entity::update_many()
            .col_expr(cached_artifacts::Column::LastAccessed, Expr::value(old))
            .col_expr(cached_artifacts::Column::LastUpdated, Expr::value(old))
            .filter(cached_artifacts::Column::ArtifactId.eq("agent:multiline-agent"))
            .exec(&app.state.db)
            .await
            .unwrap();
        // The warm finished 8 days ago, as far as the history knows.
        job_runs::Entity::update_many()
            .col_expr(job_runs::Column::FinishedAt, Expr::value(old))
            .filter(job_runs::Column::Kind.eq("warm"))
            .exec(&app.state.db)
            .await
            .unwrap();

        let r = app.post("/api/v1/cache/purge").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let job = app.wait_job(r.body["job"]["id"].as_i64().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["kind"], "purge");
        assert_eq!(job["removed"], 2, "{job}");
        assert_eq!(job["details"]["job_runs_removed"], 1, "{job}");
        let left = cached_artifacts::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap();
        assert_eq!(left, 14);
        let warms = app.get("/api/v1/jobs?kind=warm").await;
        assert_eq!(warms.body["page_info"]["total_count"], 0);
        // Recent records and fresh entries are kept: the purge is not a wipe.
        let kept = app.get(&format!("/api/v1/jobs/{}", recent["id"])).await;
        assert_eq!(kept.status, StatusCode::OK, "the recent run was purged");
        assert!(app.get("/api/v1/artifacts/skill:nested-tree").await.status == StatusCode::OK);
    }
}

#[tokio::test]
async fn job_history_pages_newest_first_and_rejects_bad_filters() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = app.refresh_now(json!({})).await;
        app.wait_job(id).await;
        ids.push(id);
    }
    let page = app.get("/api/v1/jobs?limit=2").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.body["page_info"]["total_count"], 4,
        "three refreshes and the warm"
    );
    let first: Vec<i64> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first, vec![ids[2], ids[1]]);
    assert_eq!(page.body["page_info"]["has_next_page"], true);
    let cursor = page.body["page_info"]["end_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/api/v1/jobs?limit=2&after={cursor}"))
        .await;
    let second: Vec<i64> = next.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(second.len(), 2);
    assert_eq!(second[0], ids[0]);
    assert_eq!(next.body["page_info"]["has_next_page"], false);

    let warm = app.get("/api/v1/jobs?kind=warm").await;
    assert_eq!(warm.body["items"][0]["trigger"], "startup");
    app.get("/api/v1/jobs?kind=bogus")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/v1/jobs?status=done")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/v1/jobs?after=garbage")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn a_schema_version_mismatch_rebuilds_only_the_cache_and_queues_a_warm() {
    let app = TestApp::spawn().await;
    app.state.cache.sync_all(false).await.unwrap();
    let collection = app.create_collection("Keep me").await;
    cache_meta::Entity::update_many()
        .col_expr(cache_meta::Column::Value, Expr::value("0"))
        .filter(cache_meta::Column::Key.eq("schema_version"))
        .exec(&app.state.db)
        .await
        .unwrap();

    let settings = (*app.state.settings).clone();
    let state = skillmeat_server::startup::build_state(settings)
        .await
        .unwrap();
    assert_eq!(
        cached_artifacts::Entity::find()
            .count(&state.db)
            .await
            .unwrap(),
        0,
        "the cache rows were dropped"
    );
    let version = cache_meta::Entity::find_by_id("schema_version".to_string())
        .one(&state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version.value, skillmeat_server::cache::CACHE_SCHEMA_VERSION);
    let kept = app
        .get(&format!("/api/v1/user-collections/{collection}"))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "collections are not touched");

    // The start-up warm refills the cache.
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(state.jobs.clone().run(rx));
    app.wait_for_warm().await;
    assert_eq!(
        cached_artifacts::Entity::find()
            .count(&state.db)
            .await
            .unwrap(),
        16
    );
    let _ = stop.send(true);
}

#[tokio::test]
async fn the_server_answers_while_a_long_warm_runs() {
    let (app, source) = TestApp::spawn_faulty().await;
    app.state.cache.sync_all(false).await.unwrap();
    source.gate_lists();

    let _jobs = app.start_jobs_nowait();
    // The warm is stuck listing the source until the gate opens.
    app.eventually("/api/v1/jobs?kind=warm&status=running", |r| {
        r.body["page_info"]["total_count"] == 1
    })
    .await;
    let started = Instant::now();
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
    let list = app.get("/api/v1/artifacts?limit=100").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["page_info"]["total_count"], 16);
    let one = app.get("/api/v1/artifacts/skill:bom-skill").await;
    assert_eq!(one.header("x-cache"), Some("hit"));
    let status = app.get("/api/v1/cache/status").await;
    assert_eq!(status.body["refreshing"], true);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "requests were served from the cache, not held behind the warm"
    );

    source.open_list_gate(1);
    app.wait_for_warm().await;
}

#[tokio::test]
async fn one_unreadable_artifact_is_counted_and_reported_without_failing_the_run() {
    let (app, source) = TestApp::spawn_faulty().await;
    source.fail_reads_of("skill:bom-skill");
    let _jobs = app.start_jobs_nowait();
    app.wait_for_warm().await;
    let warm = app.get("/api/v1/jobs?kind=warm").await.body["items"][0].clone();
    assert_eq!(warm["status"], "succeeded", "{warm}");
    assert_eq!(
        (&warm["added"], &warm["errors"]),
        (&json!(15), &json!(1)),
        "{warm}"
    );
    let messages = warm["details"]["error_messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let message = messages[0].as_str().unwrap();
    assert!(
        message.starts_with("skill:bom-skill: ") && message.contains("injected"),
        "{message}"
    );
    let listed = app.get("/api/v1/artifacts?limit=100").await;
    assert_eq!(
        listed.body["page_info"]["total_count"], 15,
        "the others were cached"
    );
}

#[tokio::test]
async fn a_server_killed_mid_refresh_finishes_the_job_after_restart_without_lost_or_duplicate_rows()
{
    let mut backends = vec![Backend::Sqlite];
    if pg_base_url().is_some() {
        backends.push(Backend::Postgres);
    }
    const ARTIFACTS: usize = 1500;
    for backend in backends {
        let dir = tempfile::tempdir().unwrap();
        let home = generated_home(dir.path(), ARTIFACTS, 48 * 1024);
        let pg = match backend {
            Backend::Postgres => Some(PgDatabase::create().await),
            Backend::Sqlite => None,
        };
        let db_url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!(
                "sqlite://{}",
                dir.path().join("db/artifact_cache.db").display()
            ),
        };
        let env: Vec<(String, String)> = [
            ("SKILLMEAT_DATA_HOME", home.display().to_string()),
            ("SKILLMEAT_DATABASE__URL", db_url.clone()),
            ("SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS", "0".into()),
            ("SKILLMEAT_JOBS__PURGE_INTERVAL_SECS", "0".into()),
            ("SKILLMEAT_JOBS__HEARTBEAT_SECS", "1".into()),
            ("SKILLMEAT_JOBS__POLL_INTERVAL_MS", "50".into()),
            ("SKILLMEAT_JOBS__RETRY_BACKOFF_MS", "50".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let server = ServerProcess::start(&env).await;
        let warm = server.get("/api/v1/jobs?kind=warm").await;
        let warm_id = warm["items"][0]["id"].as_i64().unwrap();
        let warm = server.wait_job(warm_id, Duration::from_secs(300)).await;
        assert_eq!(warm["status"], "succeeded", "{warm}");
        assert_eq!(warm["added"], ARTIFACTS as i64);

        // A forced refresh re-hashes everything; kill the server while it runs.
        let accepted: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/cache/refresh", server.base))
            .json(&json!({"force": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = accepted["job"]["id"].as_i64().unwrap();
        let every = Duration::from_millis(5);
        crate::helpers::poll_every(
            every,
            "the refresh to start",
            Duration::from_secs(60),
            || async {
                let job = server.get(&format!("/api/v1/jobs/{id}")).await;
                assert_ne!(
                    job["status"], "succeeded",
                    "the refresh finished before the kill: make it longer"
                );
                if job["status"] == "running" {
                    Ok(())
                } else {
                    Err(job.to_string())
                }
            },
        )
        .await;
        server.kill();

        let server = ServerProcess::start(&env).await;
        let job = server.wait_job(id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert!(
            job["attempts"].as_i64().unwrap() >= 2,
            "the interrupted job ran again: {job}"
        );
        assert_eq!(job["checked"], ARTIFACTS as i64);
        assert_eq!(job["refreshed"], ARTIFACTS as i64, "{job}");
        drop(server);

        let db = Database::connect(&db_url).await.unwrap();
        let rows = cached_artifacts::Entity::find().all(&db).await.unwrap();
        assert_eq!(rows.len(), ARTIFACTS, "no lost rows");
        let distinct: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.artifact_id.as_str()).collect();
        assert_eq!(distinct.len(), ARTIFACTS, "no duplicated rows");
        assert!(rows.iter().all(|r| {
            r.description
                .as_deref()
                .unwrap_or("")
                .starts_with("Generated")
        }));
        let runs = job_runs::Entity::find()
            .filter(job_runs::Column::Id.eq(id))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(runs, 1, "the re-run wrote to the same history row");
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_job_queue_file_that_is_not_ours_or_is_corrupt_stops_start_up_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.db");
    let db = Database::connect(format!("sqlite://{}?mode=rwc", foreign.display()))
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "CREATE TABLE artifacts (id TEXT PRIMARY KEY, body TEXT)",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5a_u8; 8192]).unwrap();

    for file in [&foreign, &corrupt] {
        let before = std::fs::read(file).unwrap();
        let mut settings = crate::helpers::test_settings(
            dir.path(),
            format!("sqlite://{}", dir.path().join("ours.db").display()),
        );
        settings.jobs.url = format!("sqlite://{}", file.display());
        let err = skillmeat_server::startup::build_state(settings)
            .await
            .err()
            .expect("must refuse");
        let text = err.to_string();
        assert!(
            text.contains("is not a skillmeat-server job queue"),
            "{text}"
        );
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(
            std::fs::read(file).unwrap() == before,
            "file must not change"
        );
    }

    // The binary says so and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .arg("serve")
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .env(
            "SKILLMEAT_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("ours.db").display()),
        )
        .env(
            "SKILLMEAT_JOBS__URL",
            format!("sqlite://{}", foreign.display()),
        )
        .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a skillmeat-server job queue"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_job_queue_that_sqlite_analysed_is_still_ours_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("jobs.db");
    let settings = |dir: &std::path::Path| {
        let mut s = crate::helpers::test_settings(
            dir,
            format!("sqlite://{}", dir.join("ours.db").display()),
        );
        s.jobs.url = format!("sqlite://{}", dir.join("jobs.db").display());
        s
    };
    let state = skillmeat_server::startup::build_state(settings(dir.path()))
        .await
        .unwrap();
    state.jobs.store().close().await;
    drop(state);
    // `ANALYZE` (or `PRAGMA optimize`) leaves SQLite's statistics tables in any file.
    let db = Database::connect(format!("sqlite://{}", queue.display()))
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ANALYZE")
        .await
        .unwrap();
    db.close().await.unwrap();
    skillmeat_server::startup::build_state(settings(dir.path()))
        .await
        .expect("our own queue, statistics and all, is accepted after a restart");
}

#[tokio::test]
async fn two_server_instances_never_run_two_refreshes_of_the_same_scope() {
    for app in TestApp::all_backends().await {
        // A second instance over the same database and queue (its own pools and memory).
        let other = skillmeat_server::startup::build_state((*app.state.settings).clone())
            .await
            .unwrap();
        let first = app.post_json("/api/v1/cache/refresh", json!({})).await;
        assert_eq!(first.body["deduplicated"], false);
        let theirs = other
            .jobs
            .enqueue(RefreshJob::everything(), jobs::Trigger::Manual)
            .await
            .unwrap();
        match theirs {
            jobs::Enqueued::Existing(run) => {
                assert_eq!(Some(run.id), first.body["job"]["id"].as_i64())
            }
            other => panic!("expected the first instance's job, got {other:?}"),
        }
        // Both instances run workers; the job runs once.
        let _mine = app.start_jobs().await;
        let (stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(other.jobs.clone().run(rx));
        let job = app
            .wait_job(first.body["job"]["id"].as_i64().unwrap())
            .await;
        assert_eq!(job["status"], "succeeded");
        assert_eq!(job["attempts"], 1, "run once, by one instance: {job}");
        let _ = stop.send(true);
    }
}

#[tokio::test]
async fn an_edit_on_disk_shows_up_within_one_scheduled_refresh() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.cache.refresh_interval_secs = 1).await;
    let _jobs = app.start_jobs().await;
    let status = app.get("/api/v1/cache/status").await;
    assert!(
        status.body["next_refresh_at"].is_string(),
        "{}",
        status.body
    );
    std::fs::write(
        app.collection_dir("default")
            .join("skills/bom-skill/SKILL.md"),
        "---\ndescription: Seen by the schedule\n---\n",
    )
    .unwrap();
    let edited_at = chrono::Utc::now();
    app.eventually("/api/v1/artifacts/skill:bom-skill", |r| {
        r.body["metadata"]["description"] == "Seen by the schedule"
    })
    .await;
    // The run is recorded as succeeded a moment after its rows are stored.
    let scheduled = app
        .eventually("/api/v1/jobs?kind=refresh&status=succeeded", |r| {
            r.body["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|j| j["refreshed"] == 1))
        })
        .await;
    let run = scheduled.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["refreshed"] == 1)
        .cloned()
        .expect("a run that re-read the edited skill");
    assert_eq!(run["trigger"], "schedule");
    let finished: chrono::DateTime<chrono::Utc> =
        run["finished_at"].as_str().unwrap().parse().unwrap();
    assert!(finished >= edited_at);
}

#[tokio::test]
async fn several_instances_queue_each_scheduled_run_once() {
    for backend in crate::live::backends() {
        // A long period, so the schedule itself queues nothing while the test runs.
        let app = TestApp::spawn_with(backend, |s| s.cache.refresh_interval_secs = 86_400).await;
        let other = skillmeat_server::startup::build_state((*app.state.settings).clone())
            .await
            .unwrap();
        let slot = 123_456;
        let mine = app
            .state
            .jobs
            .enqueue_scheduled("refresh", slot)
            .await
            .expect("refresh is scheduled")
            .unwrap();
        assert!(matches!(mine, jobs::Enqueued::New(_)), "{mine:?}");
        let theirs = other
            .jobs
            .enqueue_scheduled("refresh", slot)
            .await
            .expect("refresh is scheduled")
            .unwrap();
        assert!(matches!(theirs, jobs::Enqueued::SlotTaken), "{theirs:?}");
        let listed = app.get("/api/v1/jobs?kind=refresh").await;
        assert_eq!(listed.body["page_info"]["total_count"], 1);
        assert_eq!(listed.body["items"][0]["trigger"], "schedule");
    }
}

#[tokio::test]
async fn runs_nobody_works_on_any_more_are_recorded_as_abandoned() {
    for app in TestApp::all_backends().await {
        let history = app.state.jobs.history();
        let queued = app.refresh_now(json!({})).await;
        let running = app
            .refresh_now(json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}))
            .await;
        history
            .start_attempt(running, "gone")
            .await
            .unwrap()
            .unwrap();
        let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
        job_runs::Entity::update_many()
            .col_expr(job_runs::Column::HeartbeatAt, Expr::value(hour_ago))
            .filter(job_runs::Column::Id.eq(running))
            .exec(&app.state.db)
            .await
            .unwrap();
        // The running one lost its heartbeat; the queued one is within its lease.
        let reaped = history
            .reap_abandoned(Duration::from_secs(60), Duration::from_secs(1800))
            .await
            .unwrap();
        assert_eq!(reaped, 1);
        let job = app.get(&format!("/api/v1/jobs/{running}")).await.body;
        assert_eq!(job["status"], "failed");
        assert!(
            job["error"].as_str().unwrap().starts_with("abandoned"),
            "{job}"
        );
        // A late finish of the abandoned run does not flip it back.
        history
            .succeed(
                running,
                &jobs::RunReport::default(),
                Duration::from_millis(5),
            )
            .await
            .unwrap();
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{running}")).await.body["status"],
            "failed"
        );
        // Its scope is free again.
        let again = app
            .post_json(
                "/api/v1/cache/refresh",
                json!({"scope": "artifact", "artifact_id": "skill:bom-skill"}),
            )
            .await;
        assert_eq!(again.body["deduplicated"], false);
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{queued}")).await.body["status"],
            "queued"
        );
    }
}
