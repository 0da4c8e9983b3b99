//! Faults: the database going away under a running server and coming back. The server talks to
//! the test PostgreSQL through a TCP proxy the test can cut, so the machine's PostgreSQL keeps
//! serving the other tests. PostgreSQL only (runs when SKILLMEAT_TEST_DATABASE_URL is set).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::test::TestClient;
use serde_json::json;
use skillmeat_server::startup::{build_routes, build_state};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{PgDatabase, copy_tree, fixture_dir, pg_base_url, test_settings};

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
    if pg_base_url().is_none() {
        eprintln!("skipped: SKILLMEAT_TEST_DATABASE_URL is not set");
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
    let client = TestClient::new(build_routes(state.clone()));
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of("/health/ready").await != StatusCode::OK {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
