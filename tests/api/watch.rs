//! The file watcher (changes on disk become refresh jobs without a manual refresh or the
//! schedule) and the live event stream.

use std::time::{Duration, Instant};

use futures::StreamExt;
use poem::http::StatusCode;
use serde_json::{Value, json};

use skillmeat_server::watcher::WatchState;

use skillmeat_server::jobs::refresh::enqueue_watched;
use skillmeat_server::scope::Scope;

use crate::helpers::{Backend, TestApp};

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn description(r: &crate::helpers::Reply) -> Option<&str> {
    r.body["metadata"]["description"].as_str()
}

#[tokio::test]
async fn edits_additions_deletions_and_renames_show_up_without_a_manual_refresh() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let _watch = app.start_watcher().await;
        let ready = app.get("/health/ready").await;
        assert_eq!(ready.body["watcher"], "ok", "{}", ready.text);
        let dir = app.collection_dir("default");

        write(
            &dir.join("skills/bom-skill/SKILL.md"),
            "---\ndescription: Saved in an editor\n---\n",
        );
        app.eventually("/api/v1/artifacts/skill:bom-skill", |r| {
            description(r) == Some("Saved in an editor")
        })
        .await;

        write(
            &dir.join("skills/brand-new/SKILL.md"),
            "---\ndescription: New\n---\n",
        );
        // Lists never read through to the disk: only a refresh can put it there.
        app.eventually("/api/v1/artifacts?search=brand-new", |r| {
            r.body["page_info"]["total_count"] == 1
        })
        .await;

        std::fs::remove_file(dir.join("agents/multiline-agent.md")).unwrap();
        app.eventually("/api/v1/artifacts/agent:multiline-agent", |r| {
            r.status == StatusCode::NOT_FOUND
        })
        .await;

        std::fs::rename(
            dir.join("skills/crlf-skill"),
            dir.join("skills/crlf-renamed"),
        )
        .unwrap();
        app.eventually("/api/v1/artifacts?search=crlf", |r| {
            let items = r.body["items"].as_array().cloned().unwrap_or_default();
            items.len() == 1 && items[0]["id"] == "skill:crlf-renamed"
        })
        .await;

        let jobs = app.get("/api/v1/jobs?kind=refresh&limit=100").await;
        let items = jobs.body["items"].as_array().unwrap();
        assert!(!items.is_empty());
        assert!(
            items.iter().all(|j| j["trigger"] == "watch"),
            "only the watcher refreshed: {}",
            jobs.text
        );
        assert!(
            items
                .iter()
                .any(|j| j["scope"] == "artifact:skill:bom-skill"),
            "targeted jobs: {}",
            jobs.text
        );
    }
}

#[tokio::test]
async fn a_burst_of_500_file_changes_costs_a_handful_of_jobs() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let _watch = app.start_watcher().await;
    let skills = app.collection_dir("default").join("skills");
    // A `git checkout`: 100 new skills of five files each.
    for i in 0..100 {
        let root = skills.join(format!("burst-{i:03}"));
        write(
            &root.join("SKILL.md"),
            &format!("---\ndescription: Burst {i}\n---\n"),
        );
        for f in 0..4 {
            write(&root.join(format!("references/part-{f}.md")), "text");
        }
    }
    app.eventually("/api/v1/artifacts?limit=1", |r| {
        r.body["page_info"]["total_count"] == 116
    })
    .await;
    let jobs = app.get("/api/v1/jobs?kind=refresh&limit=500").await;
    let count = jobs.body["page_info"]["total_count"].as_u64().unwrap();
    assert!(
        (1..=6).contains(&count),
        "500 changed files queued {count} jobs: {}",
        jobs.text
    );
    assert!(
        jobs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["scope"] == "collection:default"),
        "coalesced into a collection refresh: {}",
        jobs.text
    );
}

#[tokio::test]
async fn a_collections_folder_deleted_and_created_again_is_still_watched() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let _watch = app.start_watcher().await;
    let collections = app.data_home.join("collections");
    let aside = app.data_home.join("collections-away");
    std::fs::rename(&collections, &aside).unwrap();
    app.eventually("/api/v1/artifacts?limit=1", |r| {
        r.body["page_info"]["total_count"] == 0
    })
    .await;
    // Created again as new folders (new inodes), as a restore from a backup would.
    crate::helpers::copy_tree(&aside, &collections);
    std::fs::remove_dir_all(&aside).unwrap();
    app.eventually("/api/v1/artifacts?limit=1", |r| {
        r.body["page_info"]["total_count"] == 16
    })
    .await;
    // The folder is a new watch now: an edit inside it is seen.
    write(
        &collections.join("default/skills/bom-skill/SKILL.md"),
        "---\ndescription: After the comeback\n---\n",
    );
    app.eventually("/api/v1/artifacts/skill:bom-skill", |r| {
        description(r) == Some("After the comeback")
    })
    .await;
    assert_eq!(app.get("/health/ready").await.body["watcher"], "ok");
}

#[tokio::test]
async fn project_copies_edited_on_disk_change_their_deployment_status() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let project = app.empty_project("watched");
    let deployed = app
        .post_json(
            "/api/v1/deployments",
            json!({"artifact_id": "skill:bom-skill", "project_path": project}),
        )
        .await;
    assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text);
    let id = deployed.body["id"].as_str().unwrap().to_string();
    assert_eq!(deployed.body["status"], "synced");
    let _watch = app.start_watcher().await;
    // The watcher watches the data home, `collections/` and the project's `.claude`.
    crate::helpers::poll("three watched folders", Duration::from_secs(30), || async {
        match app.state.watch_status.get() {
            WatchState::Watching { folders } if folders >= 3 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let copy = project.join(".claude/skills/bom-skill/SKILL.md");
    let mut text = std::fs::read_to_string(&copy).unwrap();
    text.push_str("\nLocal note\n");
    std::fs::write(&copy, text).unwrap();
    app.eventually(&format!("/api/v1/deployments/{id}"), |r| {
        r.body["status"] == "modified"
    })
    .await;
    let jobs = app.get("/api/v1/jobs?kind=refresh").await;
    assert!(
        jobs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["scope"].as_str().unwrap().starts_with("project:")),
        "{}",
        jobs.text
    );
}

#[tokio::test]
async fn the_watcher_is_off_when_disabled() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.watch.enabled = false).await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["watcher"], "off");
}

/// Reads server-sent events from a response body until `enough` says so (20 s at most).
async fn read_events<B: AsRef<[u8]>>(
    body: &mut (impl futures::Stream<Item = std::io::Result<B>> + Unpin),
    buffer: &mut String,
    enough: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = json!({});
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event["event_line"] = json!(v);
                } else if let Some(v) = line.strip_prefix("id: ") {
                    event["id_line"] = json!(v);
                } else if let Some(v) = line.strip_prefix("data: ") {
                    event["data"] = serde_json::from_str(v).unwrap();
                }
            }
            if event.get("data").is_some() {
                events.push(event);
            }
        }
        if enough(&events) {
            return events;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .unwrap_or_else(|_| panic!("events so far: {events:?}"))
            .expect("stream open")
            .unwrap();
        buffer.push_str(std::str::from_utf8(chunk.as_ref()).unwrap());
    }
}

fn has(events: &[Value], event: &str, key: &str, value: &str) -> bool {
    events
        .iter()
        .any(|e| e["data"]["event"] == event && e["data"][key] == value)
}

#[tokio::test]
async fn the_event_stream_delivers_changes_and_resumes_after_a_reconnect() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let resp = app.client.get("/api/v1/events").send().await;
    resp.assert_status_is_ok();
    resp.assert_header("content-type", "text/event-stream");
    let mut body = Box::pin(resp.0.into_body().into_bytes_stream());
    let mut buffer = String::new();

    write(
        &app.collection_dir("default")
            .join("skills/bom-skill/SKILL.md"),
        "---\ndescription: Streamed\n---\n",
    );
    let refresh = app.refresh_now(json!({})).await;
    app.wait_job(refresh).await;
    // The start-up warm's own `job.finished` may still arrive first: its record is written
    // before its event is published, so wait for this refresh's end by id.
    let events = read_events(&mut body, &mut buffer, |e| {
        e.iter()
            .any(|x| x["data"]["event"] == "job.finished" && x["data"]["job_id"] == refresh)
    })
    .await;
    assert!(
        has(
            &events,
            "artifact.changed",
            "artifact_id",
            "skill:bom-skill"
        ),
        "{events:?}"
    );
    assert!(has(&events, "job.started", "scope", "all"), "{events:?}");
    for e in &events {
        assert_eq!(
            e["event_line"], e["data"]["event"],
            "SSE event type = data.event"
        );
        assert_eq!(e["id_line"], e["data"]["id"], "SSE id = data.id");
        assert!(
            e["data"].get("deployment_id").is_none(),
            "unset fields are left out"
        );
    }
    let last_seen = events.last().unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(body);

    // While disconnected: an artifact goes away.
    std::fs::remove_file(
        app.collection_dir("default")
            .join("agents/multiline-agent.md"),
    )
    .unwrap();
    let missed = app.wait_job(app.refresh_now(json!({})).await).await;
    assert_eq!(missed["removed"], 1);

    let resp = app
        .client
        .get("/api/v1/events")
        .header("Last-Event-ID", &last_seen)
        .send()
        .await;
    let mut body = Box::pin(resp.0.into_body().into_bytes_stream());
    let mut buffer = String::new();
    let replayed = read_events(&mut body, &mut buffer, |e| {
        has(
            e,
            "artifact.removed",
            "artifact_id",
            "agent:multiline-agent",
        ) && e.iter().any(|x| x["data"]["event"] == "job.finished")
    })
    .await;
    assert!(
        replayed
            .iter()
            .all(|e| e["data"]["id"] != last_seen.as_str()),
        "nothing seen before is sent again"
    );
    assert_eq!(replayed[0]["data"]["event"], "job.started", "{replayed:?}");

    // An id from another server start: the client is told to resync.
    let resp = app
        .client
        .get("/api/v1/events")
        .header("Last-Event-ID", "1-5")
        .send()
        .await;
    let mut body = Box::pin(resp.0.into_body().into_bytes_stream());
    let mut buffer = String::new();
    let resync = read_events(&mut body, &mut buffer, |e| !e.is_empty()).await;
    assert_eq!(resync[0]["data"]["event"], "resync");
    assert!(resync[0]["data"]["reason"].is_string());
}

#[tokio::test]
async fn several_instances_seeing_the_same_change_queue_it_once() {
    for app in TestApp::all_backends().await {
        let other = skillmeat_server::startup::build_state((*app.state.settings).clone())
            .await
            .unwrap();
        let scope = Scope::Artifact("skill:bom-skill".into());
        let mine = enqueue_watched(&app.state.jobs, scope.clone(), "abc")
            .await
            .unwrap();
        let jobs::Enqueued::New(run) = mine else {
            panic!("{mine:?}")
        };
        // Finished before the other instance gets to it: the change's key still collapses it.
        app.state
            .jobs
            .history()
            .start_attempt(run.id, "test")
            .await
            .unwrap();
        app.state
            .jobs
            .history()
            .succeed(
                run.id,
                &jobs::RunReport::default(),
                Duration::from_millis(1),
            )
            .await
            .unwrap();
        let theirs = enqueue_watched(&other.jobs, scope.clone(), "abc")
            .await
            .unwrap();
        assert!(matches!(theirs, jobs::Enqueued::SlotTaken), "{theirs:?}");
        // A later change of the same file is a new job.
        let later = enqueue_watched(&other.jobs, scope, "def").await.unwrap();
        assert!(matches!(later, jobs::Enqueued::New(_)), "{later:?}");
    }
}

#[tokio::test]
async fn a_change_made_while_its_refresh_runs_is_refreshed_again() {
    let (app, source) = TestApp::spawn_faulty().await;
    let _jobs = app.start_jobs().await;
    let _watch = app.start_watcher().await;
    source.hold_reads_of("skill:bom-skill");
    let file = app
        .collection_dir("default")
        .join("skills/bom-skill/SKILL.md");
    write(&file, "---\ndescription: First save\n---\n");
    // Its refresh read the first save and is held before storing it.
    app.eventually("/api/v1/jobs?kind=refresh&status=running", |r| {
        r.body["page_info"]["total_count"] == 1
    })
    .await;
    write(&file, "---\ndescription: Second save\n---\n");
    // Let the watcher see the second save while the first refresh still runs.
    let queued_while_running = Instant::now() + Duration::from_secs(1);
    while Instant::now() < queued_while_running {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    source.stop_holding_reads();
    app.eventually("/api/v1/artifacts/skill:bom-skill", |r| {
        description(r) == Some("Second save")
    })
    .await;
}
