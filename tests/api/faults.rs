//! Faults: the database going away under a running server and coming back (the server talks to
//! the test PostgreSQL through a TCP proxy the test can cut, so the machine's PostgreSQL keeps
//! serving the other tests; runs when SKILLMEAT_TEST_DATABASE_URL is set), and an artifact
//! folder deleted while a refresh runs, a deploy killed mid-copy, and a full disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use poem::http::StatusCode;

use serde_json::json;
use skillmeat_server::startup::{build_routes, build_state};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{PgDatabase, ServerProcess, TestApp, copy_tree, fixture_dir, test_settings};

/// A TCP proxy that forwards to `upstream` until cut: then every open connection is dropped
/// and new ones are closed at once, as when the database server stops.
struct CuttableProxy {
    addr: String,
    cut: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    listener: JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, list) = (cut.clone(), connections.clone());
        let listener = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                list.lock().unwrap().push(task);
            }
        });
        CuttableProxy {
            addr,
            cut,
            connections,
            listener,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.listener.abort();
        self.cut();
    }
}

#[tokio::test]
async fn when_postgresql_goes_away_requests_get_503_and_all_recovers_without_a_restart() {
    if !crate::helpers::postgres_available("faults") {
        return;
    }
    let pg = PgDatabase::create().await;
    let upstream = pg
        .url
        .split_once("@")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(host, _)| host.to_string())
        .expect("host:port in the database URL");
    let proxy = CuttableProxy::start(upstream.clone()).await;
    let url = pg.url.replacen(&upstream, &proxy.addr, 1);

    let dir = tempfile::tempdir().unwrap();
    let data_home = dir.path().join("home/.skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &data_home);
    let state = build_state(test_settings(&data_home, url))
        .await
        .expect("build state");
    let client = crate::helpers::test_client(build_routes(state.clone()));
    let status_of = |path: &'static str| {
        let request = client.get(path);
        async move { request.send().await.0.status() }
    };
    assert_eq!(status_of("/api/v1/artifacts?limit=1").await, StatusCode::OK);
    let created = client
        .post("/api/v1/user-collections")
        .body_json(&json!({"name": "Before"}))
        .send()
        .await;
    created.assert_status(StatusCode::CREATED);

    proxy.cut();
    let started = Instant::now();
    let ready = client.get("/health/ready").send().await;
    ready.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value =
        serde_json::from_str(&ready.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(body["database"], "unreachable", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    for path in ["/api/v1/user-collections", "/api/v1/deployments/summary"] {
        let started = Instant::now();
        let r = client.get(path).send().await.0;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let body: serde_json::Value =
            serde_json::from_str(&r.into_body().into_string().await.unwrap()).unwrap();
        assert_eq!(body["code"], "service_unavailable", "{path}: {body}");
        assert!(
            !body["detail"].as_str().unwrap_or("").contains("postgres"),
            "no connection details leak: {body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{path} waited {:?}",
            started.elapsed()
        );
    }
    let write = client
        .post("/api/v1/user-collections")
        .body_json(&json!({"name": "During"}))
        .send()
        .await
        .0;
    assert_eq!(write.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back: the same process answers again, with what it had and nothing half-written.
    proxy.restore();
    crate::helpers::poll("ready again", Duration::from_secs(30), || async {
        let status = status_of("/health/ready").await;
        if status == StatusCode::OK {
            Ok(())
        } else {
            Err(status.to_string())
        }
    })
    .await;
    let list = client.get("/api/v1/user-collections").send().await;
    list.assert_status_is_ok();
    let list: serde_json::Value =
        serde_json::from_str(&list.0.into_body().into_string().await.unwrap()).unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Before"), "{names:?}");
    assert!(!names.contains(&"During"), "{names:?}");
    client
        .post("/api/v1/user-collections")
        .body_json(&json!({"name": "After"}))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    drop(state);
}

#[tokio::test]
async fn an_artifact_folder_deleted_mid_refresh_is_dropped_and_the_run_succeeds() {
    let (app, source) = TestApp::spawn_faulty().await;
    let _jobs = app.start_jobs().await;
    let before = app.get("/api/v1/artifacts?limit=100").await;
    assert_eq!(before.body["page_info"]["total_count"], 16);
    source.delete_after_next_list(app.collection_dir("default").join("skills/nested-tree"));

    // A forced refresh re-reads everything, including the folder deleted after the listing.
    let job = app
        .wait_job(app.refresh_now(json!({"force": true})).await)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["errors"], 0, "a vanished folder is not an error: {job}");
    let after = app.get("/api/v1/artifacts?limit=100").await;
    assert_eq!(after.body["page_info"]["total_count"], 15, "{}", after.text);
    assert_eq!(
        app.get("/api/v1/artifacts/skill:nested-tree").await.status,
        StatusCode::NOT_FOUND
    );
    // The next refresh agrees, and nothing else changed.
    let job = app.wait_job(app.refresh_now(json!({})).await).await;
    assert_eq!(
        (&job["status"], &job["removed"]),
        (&json!("succeeded"), &json!(0)),
        "{job}"
    );
}

/// The `.skillmeat-tmp-*` staging folders under `folder`.
fn staging_copies(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(".skillmeat-tmp-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_deploy_killed_mid_copy_leaves_the_project_as_it_was_and_its_staging_copy_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &home);
    // A skill big enough (240 files of 1 MiB) that its copy takes a while.
    let big = home.join("collections/default/skills/big-skill");
    std::fs::create_dir_all(big.join("data")).unwrap();
    std::fs::write(big.join("SKILL.md"), "---\ndescription: Big\n---\n").unwrap();
    let block = vec![b'x'; 1 << 20];
    for i in 0..240 {
        std::fs::write(big.join(format!("data/part-{i:03}.bin")), &block).unwrap();
    }
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let env = crate::helpers::quiet_server_env(&home, &dir.path().join("cache.db"));
    let server = ServerProcess::start(&env).await;
    let skills = project.join(".claude/skills");
    let deploy = {
        let url = format!("{}/api/v1/deployments", server.base);
        let body = json!({"artifact_id": "skill:big-skill", "project_path": project});
        tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await })
    };
    // Kill it as soon as its staging copy appears, mid-copy.
    let every = Duration::from_millis(5);
    crate::helpers::poll_every(
        every,
        "the deploy to start copying",
        Duration::from_secs(60),
        || async {
            if staging_copies(&skills).is_empty() {
                Err("no staging copy yet".to_string())
            } else {
                Ok(())
            }
        },
    )
    .await;
    server.kill();
    let _ = deploy.await;
    assert!(
        !skills.join("big-skill").exists(),
        "no half-written deployment"
    );
    let record = std::fs::read_to_string(project.join(".claude/.skillmeat-deployed.toml"))
        .unwrap_or_default();
    assert!(!record.contains("big-skill"), "no record of it: {record}");
    let leftovers = staging_copies(&skills);
    assert_eq!(
        leftovers.len(),
        1,
        "the killed copy is still there: {leftovers:?}"
    );

    // After a restart, once the leftover is old enough not to be another instance's live copy,
    // the project's next scan sweeps it; deploying again works and is complete.
    let status = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&leftovers[0])
        .status()
        .unwrap();
    assert!(status.success());
    let server = ServerProcess::start(&env).await;
    let http = reqwest::Client::new();
    let deployed = http
        .post(format!("{}/api/v1/deployments", server.base))
        .json(&json!({"artifact_id": "skill:big-skill", "project_path": project}))
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), StatusCode::CREATED);
    let deployed: serde_json::Value = deployed.json().await.unwrap();
    assert_eq!(
        std::fs::read_dir(skills.join("big-skill/data"))
            .unwrap()
            .count(),
        240
    );
    let job: serde_json::Value = http
        .post(format!("{}/api/v1/cache/refresh", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = server
        .wait_job(job["job"]["id"].as_i64().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(staging_copies(&skills).is_empty(), "the leftover was swept");
    let detail = server
        .get(&format!(
            "/api/v1/deployments/{}",
            deployed["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail["status"], "synced", "{detail}");
}

#[tokio::test]
async fn a_full_disk_answers_507_changes_nothing_and_recovers_when_space_returns() {
    // The data home and the database on a small tmpfs of their own, in a mount namespace of
    // the server's (root and util-linux's unshare, as on the CI machine).
    let namespaces = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !namespaces {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must be able to run this test (unshare -m)"
        );
        eprintln!("\n*** FULL-DISK TEST SKIPPED: `unshare -m` is not permitted here ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=16m tmpfs '{disk}' && cp -r '{fixture}' '{disk}/home' && exec '{bin}' serve",
        disk = disk.display(),
        fixture = fixture_dir().join("home/.skillmeat").display(),
        bin = env!("CARGO_BIN_EXE_skillmeat-server"),
    );
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("SKILLMEAT_DATA_HOME", disk.join("home"))
        .env(
            "SKILLMEAT_DATABASE__URL",
            format!("sqlite://{}", disk.join("cache.db").display()),
        )
        .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
        .env("SKILLMEAT_WATCH__ENABLED", "false")
        .env("SKILLMEAT_CACHE__REFRESH_INTERVAL_SECS", "0")
        .env("NO_COLOR", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // The server's view of its tmpfs, from outside its mount namespace.
    let inside =
        PathBuf::from(format!("/proc/{}/root", server.id())).join(disk.strip_prefix("/").unwrap());
    let base = format!(
        "http://127.0.0.1:{}",
        crate::helpers::listening_port(&log_path).await
    );
    let http = reqwest::Client::new();
    crate::helpers::poll("the server to answer", Duration::from_secs(60), || async {
        match http
            .get(format!("{base}/api/v1/artifacts?limit=1"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(r.status().to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    let create = |name: &'static str| {
        let request = http
            .post(format!("{base}/api/v1/user-collections"))
            .json(&json!({ "name": name }));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(create("Before").await.status(), StatusCode::CREATED);

    // Fill the disk.
    let filler = inside.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
    }
    let refused = create("During").await;
    let status = refused.status();
    let body: serde_json::Value = refused.json().await.unwrap();
    if status != StatusCode::INSUFFICIENT_STORAGE {
        let _ = server.kill();
        panic!(
            "{status} {body}; server log: {}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        );
    }
    assert_eq!(body["code"], "insufficient_storage", "{body}");
    // Reads go on.
    let listed = http
        .get(format!("{base}/api/v1/artifacts/skill:nested-tree"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);

    // Space again: writes work, and nothing of the refused one is there.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(create("After").await.status(), StatusCode::CREATED);
    let list: serde_json::Value = http
        .get(format!("{base}/api/v1/user-collections"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Before") && names.contains(&"After"),
        "{names:?}"
    );
    assert!(!names.contains(&"During"), "{names:?}");
    let _ = server.kill();
    let _ = server.wait();
}
