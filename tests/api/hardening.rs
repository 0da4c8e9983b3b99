//! The smaller holes of the security review, each through the real server: record files that
//! are links or huge, parse errors that would log a file's contents, too many event streams,
//! artifact files too large to serve, a key file others can read, passwords in database URLs.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{ServerProcess, copy_tree, fixture_dir, pg_base_url, poll};
use crate::live::LiveServer;

/// A record entry SkillMeat could have written.
const RECORD: &str = "[[deployed]]\nartifact_name = \"nested-tree\"\nartifact_type = \"skill\"\n\
                      from_collection = \"default\"\ndeployed_at = \"2026-01-01T00:00:00\"\n\
                      artifact_path = \"skills/nested-tree\"\ncontent_hash = \"abc\"\n";

async fn register(server: &LiveServer, path: &std::path::Path) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/projects"))
        .json(&json!({"path": path}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_record_file_that_is_a_link_or_too_large_is_not_read() {
    let server = LiveServer::start().await;
    // A link to a record elsewhere (it could be any file of the user's).
    let outside = server.folder("outside");
    std::fs::write(outside.join("record.toml"), RECORD).unwrap();
    let linked = server.folder("projects/linked");
    std::fs::create_dir_all(linked.join(".claude")).unwrap();
    std::os::unix::fs::symlink(
        outside.join("record.toml"),
        linked.join(".claude/.skillmeat-deployed.toml"),
    )
    .unwrap();
    let project = register(&server, &linked).await;
    assert_eq!(project["deployment_count"], 0, "{project}");
    assert_eq!(
        std::fs::read_to_string(outside.join("record.toml")).unwrap(),
        RECORD,
        "the linked file is untouched"
    );
    // Over a mebibyte: not read.
    let huge = server.folder("projects/huge");
    std::fs::create_dir_all(huge.join(".claude")).unwrap();
    let padding = format!("# {}\n", "x".repeat(1024)).repeat(1100);
    std::fs::write(
        huge.join(".claude/.skillmeat-deployed.toml"),
        format!("{RECORD}{padding}"),
    )
    .unwrap();
    let project = register(&server, &huge).await;
    assert_eq!(project["deployment_count"], 0, "{project}");
    // The same record as a plain file is read, so the two above were refused for what they are.
    let plain = server.folder("projects/plain");
    std::fs::create_dir_all(plain.join(".claude")).unwrap();
    std::fs::write(plain.join(".claude/.skillmeat-deployed.toml"), RECORD).unwrap();
    let project = register(&server, &plain).await;
    assert_eq!(project["deployment_count"], 1, "{project}");
}

#[tokio::test]
async fn a_broken_record_is_logged_without_its_contents_and_secrets_stay_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home/.skillmeat");
    copy_tree(&fixture_dir().join("home/.skillmeat"), &home);
    let project = dir.path().join("projects/broken");
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    std::fs::write(
        project.join(".claude/.skillmeat-deployed.toml"),
        "[[deployed]]\nartifact_name = \"x\"\ntoken = \"TOKEN-5ecret-in-a-record\" = broken\n",
    )
    .unwrap();
    // A key file anyone may read.
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, format!("{}\n", crate::security::KEY)).unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("SKILLMEAT_DATA_HOME".into(), home.display().to_string()),
        ("SKILLMEAT_WATCH__ENABLED".into(), "false".into()),
        (
            "SKILLMEAT_AUTH__API_KEY_FILE".into(),
            key_file.display().to_string(),
        ),
        ("RUST_LOG".into(), "debug".into()),
    ];
    // PostgreSQL when there is one: its URL carries passwords in both places they can be.
    let _pg = match pg_base_url() {
        Some(_) => {
            let pg = crate::helpers::PgDatabase::create().await;
            let url = pg.url.replacen(
                "postgres://postgres@",
                "postgres://postgres:hunter2-user@",
                1,
            );
            let sep = if url.contains('?') { '&' } else { '?' };
            env.push((
                "SKILLMEAT_DATABASE__URL".into(),
                format!("{url}{sep}password=hunter3-query"),
            ));
            Some(pg)
        }
        None => {
            env.push((
                "SKILLMEAT_DATABASE__URL".into(),
                format!("sqlite://{}", dir.path().join("db.sqlite").display()),
            ));
            None
        }
    };
    let server = ServerProcess::start(&env).await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/projects", server.base))
        .header("x-api-key", crate::security::KEY)
        .json(&json!({"path": project.canonicalize().unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    poll("the record's warning", Duration::from_secs(10), || async {
        let log = server.log_text();
        if log.contains("unreadable deployment record") {
            Ok(())
        } else {
            Err(log)
        }
    })
    .await;
    let log = server.log_text();
    assert!(log.contains("not valid TOML at line 3"), "{log}");
    assert!(!log.contains("TOKEN-5ecret"), "{log}");
    assert!(log.contains("chmod 600"), "{log}");
    for secret in ["hunter2-user", "hunter3-query", crate::security::KEY] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
}

#[test]
fn a_database_url_that_cannot_be_opened_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
        .current_dir(dir.path())
        .env("SKILLMEAT_DATA_HOME", dir.path())
        .env("SKILLMEAT_LISTEN", "127.0.0.1:0")
        .env(
            "SKILLMEAT_DATABASE__URL",
            "postgres://someone:hunter2-user@127.0.0.1:1/db?password=hunter3-query",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("127.0.0.1:1"), "{all}");
    assert!(
        !all.contains("hunter2") && !all.contains("hunter3"),
        "{all}"
    );
}

#[tokio::test]
async fn event_streams_are_capped() {
    let server = LiveServer::start_configured(
        |home| copy_tree(&fixture_dir().join("home/.skillmeat"), home),
        |s| s.server.max_event_streams = 2,
    )
    .await;
    let open = || reqwest::get(server.url("/api/v1/events"));
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("server.max_event_streams")
    );
    // A client that goes away frees its place.
    drop(first);
    let again = poll(
        "the closed stream's place freed",
        Duration::from_secs(10),
        || async {
            let again = open().await.unwrap();
            if again.status() == 200 {
                Ok(again)
            } else {
                Err(again.status().to_string())
            }
        },
    )
    .await;
    drop(again);
    drop(second);
}

#[tokio::test]
async fn an_artifact_file_too_large_to_serve_is_refused_without_reading_it_whole() {
    let server = LiveServer::start_with(|home| {
        copy_tree(&fixture_dir().join("home/.skillmeat"), home);
        let skill = home.join("collections/default/skills/huge-file");
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(skill.join("SKILL.md"), "---\ndescription: big\n---\nbig\n").unwrap();
        std::fs::write(skill.join("data.txt"), "x".repeat(5 * 1024 * 1024)).unwrap();
    })
    .await;
    let r = reqwest::get(server.url("/api/v1/artifacts/skill:huge-file/files/data.txt"))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    let small = reqwest::get(server.url("/api/v1/artifacts/skill:huge-file/files/SKILL.md"))
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
}
