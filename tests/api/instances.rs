//! Several server processes against one PostgreSQL, as a team runs them behind a load
//! balancer: scheduled work runs once in all, any instance does queued work, writes are seen by
//! every instance at once, and an instance killed mid-job loses no job. PostgreSQL only.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{PgDatabase, ServerProcess, generated_home};

const INTERVAL_SECS: i64 = 2;

#[tokio::test]
async fn three_instances_share_one_postgresql_without_running_anything_twice_or_losing_a_job() {
    if !crate::helpers::postgres_available("instances") {
        return;
    }
    let pg = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    // Enough artifacts that a forced refresh runs for a while (it re-hashes every file).
    let home = generated_home(dir.path(), 1500, 48 * 1024);
    let env: Vec<(String, String)> = [
        ("SKILLMEAT_DATA_HOME", home.display().to_string()),
        ("SKILLMEAT_DATABASE__URL", pg.url.clone()),
        (
            "SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS",
            INTERVAL_SECS.to_string(),
        ),
        ("SKILLMEAT_JOBS__PURGE_INTERVAL_SECS", "0".into()),
        ("SKILLMEAT_JOBS__HEARTBEAT_SECS", "1".into()),
        ("SKILLMEAT_JOBS__POLL_INTERVAL_MS", "100".into()),
        ("SKILLMEAT_JOBS__RETRY_BACKOFF_MS", "100".into()),
        ("SKILLMEAT_WATCH__ENABLED", "false".into()),
        ("RUST_LOG", "info".into()),
        ("NO_COLOR", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The first applies the migrations; the others start against a ready schema.
    let mut servers = vec![ServerProcess::start(&env).await];
    servers.push(ServerProcess::start(&env).await);
    servers.push(ServerProcess::start(&env).await);
    let http = reqwest::Client::new();

    // A write on one instance is visible on the others at once.
    let created: Value = http
        .post(format!("{}/api/v1/user-collections", servers[0].base))
        .json(&json!({"name": "Shared"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("created").to_string();
    for other in &servers[1..] {
        let seen = other.get(&format!("/api/v1/user-collections/{id}")).await;
        assert_eq!(seen["name"], "Shared", "{seen}");
    }

    // The schedule: every slot of the interval gets one refresh in all, not one per instance.
    // (A slot whose time comes while a refresh still runs is skipped: the start-up warm of
    // 1,500 artifacts takes several slots, so the window opens after it.)
    crate::helpers::poll("the start-up warm", Duration::from_secs(120), || async {
        let status = servers[0].get("/api/v1/cache/status").await;
        if status["last_refresh_at"].is_string() && status["refreshing"] == json!(false) {
            Ok(())
        } else {
            Err(status.to_string())
        }
    })
    .await;
    let window_start = Utc::now();
    tokio::time::sleep(Duration::from_secs(4 * INTERVAL_SECS as u64 + 1)).await;
    let window_end = Utc::now();
    let runs = servers[1].get("/api/v1/jobs?kind=refresh&limit=500").await;
    let scheduled: Vec<&Value> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["trigger"] == "schedule")
        .collect();
    let slot_of = |r: &Value| {
        let at: DateTime<Utc> = r["enqueued_at"].as_str().unwrap().parse().unwrap();
        (at, at.timestamp() / INTERVAL_SECS)
    };
    let mut slots = HashSet::new();
    let mut in_window = 0;
    for run in &scheduled {
        let (at, slot) = slot_of(run);
        assert!(
            slots.insert(slot),
            "two scheduled refreshes in one slot: {runs}"
        );
        if at >= window_start && at <= window_end {
            in_window += 1;
        }
    }
    let expected = (window_end.timestamp() - window_start.timestamp()) / INTERVAL_SECS;
    // Unloaded, one per slot; a busy machine may skip a slot while a run is still going.
    assert!(
        in_window >= 1 && in_window <= expected + 1,
        "{in_window} scheduled refreshes in a window of {expected} slots: {runs}"
    );

    // An on-demand refresh queued on one instance is done (by whichever worker takes it).
    let queued: Value = http
        .post(format!("{}/api/v1/cache/refresh", servers[2].base))
        // Its own scope, so no scheduled refresh of everything can stand in for it.
        .json(&json!({"scope": "collection", "collection": "default", "force": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = queued["job"]["id"].as_i64().expect("a job");
    // Kill the instance that runs it, mid-job: another one finishes it.
    let started = format!("run_id={job_id} ");
    let runner = crate::helpers::poll(
        &format!("job {job_id} to start"),
        Duration::from_secs(60),
        || async {
            servers
                .iter()
                .position(|s| {
                    s.log_text()
                        .lines()
                        .any(|l| l.contains("job started") && l.contains(&started))
                })
                .ok_or_else(|| "no instance logged it".to_string())
        },
    )
    .await;
    let before = servers[(runner + 1) % 3]
        .get(&format!("/api/v1/jobs/{job_id}"))
        .await;
    assert_eq!(before["status"], "running", "killed too late: {before}");
    servers.remove(runner).kill();
    let job = servers[0].wait_job(job_id, Duration::from_secs(120)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["attempts"].as_i64().unwrap() >= 2, "{job}");
    let finished_by = servers
        .iter()
        .filter(|s| {
            s.log_text()
                .lines()
                .any(|l| l.contains("job started") && l.contains(&started))
        })
        .count();
    assert_eq!(finished_by, 1, "one surviving instance took the job over");
    let cached = servers[1].get("/api/v1/cache/status").await;
    assert_eq!(cached["entries"], 1500, "{cached}");
}

/// Reads server-sent events from `resp` into `seen` until one of type `event` whose data
/// contains `needle` arrives; `None` after `within`.
async fn next_event(
    resp: &mut reqwest::Response,
    seen: &mut String,
    event: &str,
    needle: &str,
    within: Duration,
) -> Option<String> {
    tokio::time::timeout(within, async {
        loop {
            if let Some(block) = seen
                .split("\n\n")
                .find(|b| b.contains(&format!("event: {event}\n")) && b.contains(needle))
            {
                return block.to_string();
            }
            match resp.chunk().await.unwrap() {
                Some(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                None => panic!("the stream ended: {seen}"),
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn what_one_instance_does_reaches_the_event_streams_of_the_others() {
    if !crate::helpers::postgres_available("events across instances") {
        return;
    }
    let pg = std::sync::Arc::new(PgDatabase::create().await);
    let a = crate::live::LiveServer::sharing(&pg, |_| {}).await;
    let b = crate::live::LiveServer::sharing(&pg, |_| {}).await;
    let mut stream = reqwest::get(b.url("/api/v1/events")).await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut seen = String::new();
    let http = reqwest::Client::new();
    // B's relay listens shortly after it starts (LISTEN is not retroactive): collections made
    // on A until the first one shows on B's stream prove it is there.
    let mut relayed = false;
    for attempt in 0..20 {
        let created = http
            .post(a.url("/api/v1/user-collections"))
            .json(&json!({ "name": format!("Seen elsewhere {attempt}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let within = Duration::from_millis(500);
        if next_event(&mut stream, &mut seen, "collection.changed", &id, within)
            .await
            .is_some()
        {
            relayed = true;
            break;
        }
    }
    assert!(
        relayed,
        "no collection made on A reached B's stream: {seen}"
    );
    // A deploy made through A's API reaches B's stream.
    let project = a.folder("projects/p");
    let deployed = http
        .post(a.url("/api/v1/deployments"))
        .json(&json!({"artifact_id": "skill:nested-tree", "project_path": project}))
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let within = Duration::from_secs(20);
    let data = next_event(
        &mut stream,
        &mut seen,
        "deployment.deployed",
        "skill:nested-tree",
        within,
    )
    .await
    .unwrap_or_else(|| panic!("the deploy never reached B: {seen}"));
    assert!(data.contains("\"status\":\"synced\""), "{data}");
}

#[tokio::test]
async fn a_project_being_changed_by_another_instance_waits_for_it() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if !crate::helpers::postgres_available("the cross-instance project lock") {
        return;
    }
    let pg = std::sync::Arc::new(PgDatabase::create().await);
    let server = crate::live::LiveServer::sharing(&pg, |_| {}).await;
    let http = reqwest::Client::new();
    let project = server.folder("projects/locked");
    let registered: Value = http
        .post(server.url("/api/v1/projects"))
        .json(&json!({ "path": project }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project_id = registered["id"].as_str().unwrap().to_string();
    // Another instance holds the project's lock.
    let other = sea_orm::Database::connect(&pg.url).await.unwrap();
    let holder = other.begin().await.unwrap();
    holder
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [skillmeat_server::deploy::lock::advisory_key(&project_id).into()],
        ))
        .await
        .unwrap();
    let deploy = {
        let url = server.url("/api/v1/deployments");
        let body = json!({"artifact_id": "skill:nested-tree", "project_id": project_id});
        tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !deploy.is_finished(),
        "the deploy went ahead under another instance's lock"
    );
    assert!(!project.join(".claude/skills/nested-tree").exists());
    holder.rollback().await.unwrap();
    let done = deploy.await.unwrap().unwrap();
    assert_eq!(done.status(), 201);
    assert!(
        project
            .join(".claude/skills/nested-tree/SKILL.md")
            .is_file()
    );
}
