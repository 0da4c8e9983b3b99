//! A few checks over real HTTP against a real listener, and the binary's signal handling.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use skillmeat_server::startup::Application;

use crate::helpers::{copy_tree, fixture_dir, test_settings};

#[tokio::test]
async fn the_real_server_serves_docs_spec_and_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &home);
    let settings = test_settings(&home, String::new());
    let app = Application::build(settings).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    // The default database lives under the data home, as SkillMeat users expect.
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");

    let docs = client.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );

    let spec: serde_json::Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            operations.push(op["operationId"].as_str().unwrap().to_string());
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "add_collection_artifacts",
            "add_group_artifacts",
            "add_search_root",
            "cache_status",
            "cancel_job",
            "cancel_jobs",
            "check_artifact_upstream",
            "clear_cache",
            "copy_collection_artifacts",
            "copy_group",
            "create_artifact",
            "create_group",
            "create_user_collection",
            "delete_artifact",
            "delete_artifact_file",
            "delete_group",
            "delete_project",
            "delete_user_collection",
            "deploy_artifact",
            "deployment_summary",
            "diff_deployment",
            "get_artifact",
            "get_artifact_file",
            "get_deployment",
            "get_group",
            "get_job",
            "get_project",
            "get_user_collection",
            "health",
            "health_ready",
            "import_artifact",
            "import_skillmeat",
            "invalidate_cache_entry",
            "job_charts",
            "job_overview",
            "job_stats",
            "list_artifacts",
            "list_collection_artifacts",
            "list_deployments",
            "list_groups",
            "list_instances",
            "list_jobs",
            "list_projects",
            "list_schedules",
            "list_search_roots",
            "list_trash",
            "list_user_collections",
            "merge_deployment",
            "move_collection_artifacts",
            "move_group_artifact",
            "order_collection_groups",
            "order_group_artifacts",
            "purge_cache",
            "push_deployment",
            "put_artifact_file",
            "refresh_cache",
            "refresh_collection_cache",
            "refresh_collections_cache",
            "register_project",
            "remove_collection_artifact",
            "remove_group_artifact",
            "remove_search_root",
            "restore_trash_entry",
            "retry_job",
            "retry_jobs",
            "stream_events",
            "undeploy_artifact",
            "update_artifact_from_upstream",
            "update_deployment",
            "update_group",
            "update_schedule",
            "update_user_collection",
        ]
    );

    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/artifacts?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["page_info"]["total_count"], 16);
    assert!(home.join("cache/artifact_cache.db").is_file());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("server stops on the shutdown signal")
        .unwrap()
        .unwrap();
}

#[test]
fn the_binary_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &home);
    let mut child = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .env("SKILLMEAT_DATA_HOME", &home)
        .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening"))
        .expect("server logs that it listens");
    assert!(listening.contains("127.0.0.1:"), "{listening}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

/// A client that sends half a request and stalls is cut off after `server.idle_timeout_secs`;
/// and the API key never reaches the log, whatever clients send.
#[test]
fn stalled_clients_are_cut_off_and_the_key_never_reaches_the_log() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &home);
    let key = "k3y-that-must-not-leak-0123456789abcdef";
    let log_path = dir.path().join("server.log");
    let err_path = dir.path().join("server.err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .env("SKILLMEAT_DATA_HOME", &home)
        .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
        .env("SKILLMEAT_AUTH__API_KEY", key)
        .env("SKILLMEAT_SERVER__IDLE_TIMEOUT_SECS", "1")
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        // A file, not a pipe: debug logging would fill a pipe nobody reads and stall the server.
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let listening = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("listening")) {
            break line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never listened: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let addr = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .expect("the address in the log line")
        .to_string();

    // Requests with the right key, a wrong one and a browser sign-in, all logged at debug.
    let send = |request: String| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let ok = send(format!(
        "GET /api/v1/cache/status HTTP/1.1\r\nhost: localhost\r\nx-api-key: {key}\r\nconnection: close\r\n\r\n"
    ));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let wrong = send(format!(
        "GET /api/v1/cache/status HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {key}x\r\nconnection: close\r\n\r\n"
    ));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let form = format!("key={key}&next=%2F");
    let signed_in = send(format!(
        "POST /login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
        form.len()
    ));
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");

    // Half a request, then nothing: the server closes the connection after about a second.
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stalled
        .write_all(b"GET /api/v1/cache/status HTTP/1.1\r\nhost: localhost\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    let read = stalled.read(&mut buffer);
    assert!(
        matches!(read, Ok(0)) || read.is_err() && started.elapsed() < Duration::from_secs(9),
        "the stalled connection stayed open: {read:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );

    // A quiet event stream is not idle: its keep-alives hold it open past the timeout.
    let mut events = std::net::TcpStream::connect(&addr).unwrap();
    events
        .write_all(
            format!("GET /api/v1/events HTTP/1.1\r\nhost: localhost\r\nx-api-key: {key}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    events
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let opened = std::time::Instant::now();
    let mut received = Vec::new();
    while opened.elapsed() < Duration::from_millis(2500) {
        let mut chunk = [0u8; 512];
        match events.read(&mut chunk) {
            Ok(0) => panic!(
                "the event stream was closed after {:?}: {}",
                opened.elapsed(),
                String::from_utf8_lossy(&received)
            ),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // poem's keep-alive is an SSE comment, `:` and a blank line; every 0.5 s with a 1 s timeout.
    assert!(text.matches(":\n\n").count() >= 3, "keep-alives: {text}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = [
        std::fs::read_to_string(&log_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap(),
    ];
    let log = log.join("\n");
    assert!(
        log.contains("401") || log.contains("wrong API key"),
        "requests were logged: {log}"
    );
    assert!(!log.contains(key), "the key is in the log");
}
