//! Artifacts added and managed through the API, on both databases: imports from a folder and
//! from a `file://` git repository made here with the `git` CLI (SkillMeat's hash in the lock,
//! the manifest entry as SkillMeat writes it), bad input refused with nothing left behind,
//! create, edits checked against the content hash, delete into the trash and restore. Upstreams
//! and git sources are in `upstream.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use poem::http::StatusCode;
use serde_json::{Value, json};

use skillmeat_server::source::hash::content_hash;

use crate::helpers::{Backend, TestApp, pg_base_url, temp_root};

/// Runs `git` in `dir` with a fixed identity.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with `skills/painter` (a skill) and `commands/tidy.md`, one commit on `main`.
pub fn skills_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("skills/painter/scripts")).unwrap();
    std::fs::create_dir_all(repo.join("commands")).unwrap();
    std::fs::write(
        repo.join("skills/painter/SKILL.md"),
        "---\nname: painter\ndescription: Paints\n---\nVersion one.\n",
    )
    .unwrap();
    std::fs::write(repo.join("skills/painter/scripts/run.sh"), "echo paint\n").unwrap();
    std::fs::write(
        repo.join("commands/tidy.md"),
        "---\ndescription: Tidies\n---\nTidy up.\n",
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "one"]);
    repo
}

/// `file://` URL of a folder.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

pub fn lock_entry(app: &TestApp, key: &str) -> toml::Value {
    let text =
        std::fs::read_to_string(app.collection_dir("default").join("collection.lock")).unwrap();
    let lock: toml::Value = toml::from_str(&text).expect("collection.lock stays valid TOML");
    lock["lock"]["entries"]
        .get(key)
        .cloned()
        .unwrap_or(toml::Value::Boolean(false))
}

fn manifest_entry(app: &TestApp, name: &str) -> Option<toml::Value> {
    let text =
        std::fs::read_to_string(app.collection_dir("default").join("collection.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).expect("collection.toml stays valid TOML");
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .cloned()
}

/// Names in a folder that a failed write must not leave (staging copies).
fn leftovers(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".skillmeat-tmp-") || n.starts_with(".skillmeat-old-"))
        .collect()
}

pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if pg_base_url().is_some() {
        b.push(Backend::Postgres);
    }
    b
}

#[tokio::test]
async fn imports_from_a_folder_and_a_git_repository_are_written_as_skillmeat_writes_them() {
    for backend in backends() {
        let app = TestApp::spawn_on(backend).await;
        let _jobs = app.start_jobs().await;
        let tmp = tempfile::tempdir_in(temp_root()).unwrap();
        let src = tmp.path().join("canvas");
        std::fs::create_dir_all(src.join("docs")).unwrap();
        std::fs::write(
            src.join("SKILL.md"),
            "---\ndescription: Draws\n---\nDraw.\n",
        )
        .unwrap();
        std::fs::write(src.join("docs/notes.md"), "notes\n").unwrap();

        let r = app
            .post_json(
                "/api/v1/artifacts/import",
                json!({"source": "path", "path": src, "collection": "default"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.header("location"), Some("/api/v1/artifacts/skill:canvas"));
        let written = app.collection_dir("default").join("skills/canvas");
        let hash = content_hash(&written).unwrap();
        assert_eq!(r.body["content_hash"], hash.as_str());
        assert_eq!(r.body["artifact"]["description"], "Draws");
        assert_eq!(
            lock_entry(&app, "canvas::skill")["content_hash"].as_str(),
            Some(hash.as_str())
        );
        let entry = manifest_entry(&app, "canvas").expect("listed in collection.toml");
        assert_eq!(entry["type"].as_str(), Some("skill"));
        assert_eq!(entry["path"].as_str(), Some("skills/canvas"));
        assert_eq!(entry["origin"].as_str(), Some("local"));
        assert!(entry["added"].as_str().is_some());

        // A command from a .md file: type inferred from its commands/ folder.
        std::fs::create_dir_all(tmp.path().join("commands")).unwrap();
        let cmd = tmp.path().join("commands/ship.md");
        std::fs::write(&cmd, "---\ndescription: Ships\n---\nShip.\n").unwrap();
        let r = app
            .post_json(
                "/api/v1/artifacts/import",
                json!({"source": "path", "path": cmd}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["id"], "command:ship");
        assert!(
            app.collection_dir("default")
                .join("commands/ship.md")
                .is_file()
        );

        // A clash is 409 unless overwrite.
        let again = json!({"source": "path", "path": src});
        app.post_json("/api/v1/artifacts/import", again.clone())
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        std::fs::write(src.join("SKILL.md"), "---\ndescription: Draws more\n---\n").unwrap();
        let mut over = again.clone();
        over["overwrite"] = json!(true);
        let r = app.post_json("/api/v1/artifacts/import", over).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["artifact"]["description"], "Draws more");
        assert_eq!(
            manifest_entry(&app, "canvas").unwrap()["added"],
            entry["added"],
            "a replaced entry keeps its added time"
        );

        // From git: the lock has SkillMeat's hash, the upstream and the commit.
        let repo = skills_repo(tmp.path());
        let head = git(&repo, &["rev-parse", "HEAD"]);
        let r = app
            .post_json(
                "/api/v1/artifacts/import",
                json!({"source": "git", "url": file_url(&repo), "ref": "main", "path": "skills/painter"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["id"], "skill:painter");
        assert_eq!(r.body["resolved_sha"], head.as_str());
        assert_eq!(r.body["job"]["kind"], "git_import");
        assert_eq!(r.body["job"]["status"], "succeeded");
        let written = app.collection_dir("default").join("skills/painter");
        assert!(written.join("scripts/run.sh").is_file());
        let hash = content_hash(&written).unwrap();
        let lock = lock_entry(&app, "painter::skill");
        assert_eq!(lock["content_hash"].as_str(), Some(hash.as_str()));
        assert_eq!(lock["resolved_sha"].as_str(), Some(head.as_str()));
        assert_eq!(lock["upstream"].as_str(), Some(file_url(&repo).as_str()));
        let entry = manifest_entry(&app, "painter").unwrap();
        assert_eq!(entry["upstream"].as_str(), Some(file_url(&repo).as_str()));
        assert_eq!(entry["version_spec"].as_str(), Some("main"));
        assert_eq!(entry["resolved_sha"].as_str(), Some(head.as_str()));
        let detail = app.get("/api/v1/artifacts/skill:painter").await;
        assert_eq!(
            detail.body["upstream"]["resolved_sha"],
            head.as_str(),
            "{}",
            detail.text
        );
        assert_eq!(detail.body["upstream"]["update_available"], false);
        // A single file of a repository, its type from its folder.
        let r = app
            .post_json(
                "/api/v1/artifacts/import",
                json!({"source": "git", "url": file_url(&repo), "path": "commands/tidy.md"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["id"], "command:tidy");
        assert_eq!(leftovers(&app.data_home), Vec::<String>::new());
    }
}

#[tokio::test]
async fn bad_imports_are_refused_and_leave_nothing_behind() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.artifacts.max_files = 3;
        s.artifacts.max_total_bytes = 1000;
        s.artifacts.git_timeout_secs = 5;
    })
    .await;
    let _jobs = app.start_jobs().await;
    let tmp = tempfile::tempdir_in(temp_root()).unwrap();
    let before = std::fs::read(app.collection_dir("default").join("collection.toml")).unwrap();
    let import = |body: Value| {
        let app = &app;
        async move { app.post_json("/api/v1/artifacts/import", body).await }
    };
    // Traversal, relative paths, paths outside the allowed roots.
    import(json!({"source": "path", "path": format!("{}/../etc", tmp.path().display())}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    import(json!({"source": "path", "path": "relative/skill"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    import(json!({"source": "path", "path": "/etc/passwd"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "path_outside_roots");
    // A link out of the source folder.
    let linked = tmp.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    std::fs::write(linked.join("SKILL.md"), "---\ndescription: L\n---\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", linked.join("stolen")).unwrap();
    import(json!({"source": "path", "path": linked}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    // Too many files, too many bytes.
    let many = tmp.path().join("many");
    std::fs::create_dir_all(&many).unwrap();
    std::fs::write(many.join("SKILL.md"), "---\ndescription: M\n---\n").unwrap();
    for i in 0..3 {
        std::fs::write(many.join(format!("{i}.txt")), "x").unwrap();
    }
    import(json!({"source": "path", "path": many}))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let big = tmp.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("SKILL.md"), "x".repeat(1001)).unwrap();
    import(json!({"source": "path", "path": big, "type": "skill"}))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Bad names and types.
    import(json!({"source": "path", "path": many, "name": "../x"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    import(json!({"source": "path", "path": many, "type": "widget"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    // Git: nothing listens, no such repository, no such ref, no such path, too large.
    let started = std::time::Instant::now();
    let r = import(json!({"source": "git", "url": "https://127.0.0.1:9/none.git"})).await;
    r.assert_error(StatusCode::BAD_GATEWAY, "git_error");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    import(json!({"source": "git", "url": file_url(&tmp.path().join("nowhere"))}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let not_a_repo = tmp.path().join("plain");
    std::fs::create_dir_all(&not_a_repo).unwrap();
    import(json!({"source": "git", "url": file_url(&not_a_repo)}))
        .await
        .assert_error(StatusCode::BAD_GATEWAY, "git_error");
    import(json!({"source": "git", "url": "file:///etc/git-repo"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "path_outside_roots");
    import(json!({"source": "git", "url": "ftp://example.com/x"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let repo = skills_repo(tmp.path());
    import(json!({"source": "git", "url": file_url(&repo), "ref": "nope"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    import(json!({"source": "git", "url": file_url(&repo), "path": "skills/absent"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    std::fs::write(repo.join("skills/painter/big.txt"), "y".repeat(2000)).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "big"]);
    import(json!({"source": "git", "url": file_url(&repo), "path": "skills/painter"}))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    assert_eq!(
        std::fs::read(app.collection_dir("default").join("collection.toml")).unwrap(),
        before,
        "no refused import touched collection.toml"
    );
    assert!(!app.collection_dir("default").join("skills/linked").exists());
    assert!(!app.collection_dir("default").join("skills/many").exists());
    assert!(
        !app.collection_dir("default")
            .join("skills/painter")
            .exists()
    );
    assert_eq!(leftovers(&app.data_home), Vec::<String>::new());
}

#[tokio::test]
async fn create_edit_with_the_tag_delete_into_the_trash_and_restore() {
    for backend in backends() {
        let app = TestApp::spawn_on(backend).await;
        let files =
            json!({"SKILL.md": "---\ndescription: Fresh\n---\nHello.\n", "ref/a.md": "a\n"});
        let r = app
            .post_json(
                "/api/v1/artifacts",
                json!({"type": "skill", "name": "fresh", "collection": "default", "files": files}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["artifact"]["description"], "Fresh");
        let root = app.collection_dir("default").join("skills/fresh");
        assert_eq!(
            std::fs::read_to_string(root.join("ref/a.md")).unwrap(),
            "a\n"
        );
        assert_eq!(
            lock_entry(&app, "fresh::skill")["content_hash"].as_str(),
            Some(content_hash(&root).unwrap().as_str())
        );
        // Front matter is checked; a clash is 409.
        app.post_json(
            "/api/v1/artifacts",
            json!({"type": "skill", "name": "broken", "files": {"SKILL.md": "---\nname: [x\n---\n"}}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post_json(
            "/api/v1/artifacts",
            json!({"type": "skill", "name": "nodesc", "files": {"SKILL.md": "---\nname: n\n---\n"}}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post_json(
            "/api/v1/artifacts",
            json!({"type": "skill", "name": "fresh", "files": files}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
        let r = app
            .post_json(
                "/api/v1/artifacts",
                json!({"type": "agent", "name": "helper", "files": {"whatever.md": "---\ndescription: Helps\n---\n"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert!(
            app.collection_dir("default")
                .join("agents/helper.md")
                .is_file()
        );

        // Edits need the current tag.
        let got = app.get("/api/v1/artifacts/skill:fresh").await;
        let tag = got.header("etag").unwrap().to_string();
        assert_eq!(
            tag,
            format!("\"{}\"", got.body["content_hash"].as_str().unwrap())
        );
        let put = |path: &str, tag: Option<&str>, text: &str| {
            let mut req = app
                .client
                .put(format!("/api/v1/artifacts/skill:fresh/files/{path}"));
            if let Some(t) = tag {
                req = req.header("If-Match", t);
            }
            req.body_json(&json!({"content": text})).send()
        };
        let r = put("SKILL.md", None, "x").await;
        r.assert_status(StatusCode::PRECONDITION_REQUIRED);
        let r = put("SKILL.md", Some("\"0000\""), "x").await;
        r.assert_status(StatusCode::PRECONDITION_FAILED);
        let r = put("ref/a.md", Some("W/\"0000\""), "changed\n").await;
        r.assert_status(StatusCode::PRECONDITION_FAILED);
        let r = put("ref/a.md", Some(&tag), "changed\n").await;
        r.assert_status_is_ok();
        let new_tag =
            r.0.headers()
                .get("etag")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
        assert_ne!(new_tag, tag);
        assert_eq!(
            std::fs::read_to_string(root.join("ref/a.md")).unwrap(),
            "changed\n"
        );
        let got = app.get("/api/v1/artifacts/skill:fresh").await;
        assert_eq!(
            got.header("etag"),
            Some(new_tag.as_str()),
            "the cache serves the edit"
        );
        // The old tag is stale now; a new file with raw slashes works with the new one.
        put("SKILL.md", Some(&tag), "x")
            .await
            .assert_status(StatusCode::PRECONDITION_FAILED);
        put("deep/er/b.md", Some(&new_tag), "b\n")
            .await
            .assert_status_is_ok();
        assert!(root.join("deep/er/b.md").is_file());
        put("../escape.md", Some(&new_tag), "x")
            .await
            .assert_status(StatusCode::BAD_REQUEST);
        let r = app
            .delete("/api/v1/artifacts/skill:fresh/files/deep%2Fer%2Fb.md")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!root.join("deep/er/b.md").exists());
        app.delete("/api/v1/artifacts/skill:fresh/files/SKILL.md")
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");

        // Delete: into the trash, out of lists, the manifest and the lock; its deployment
        // stays, orphaned.
        let project = app.empty_project("fresh-app");
        let deployment = app.deploy_to("skill:fresh", &project).await;
        let r = app.delete("/api/v1/artifacts/skill:fresh").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let entry = r.body["entry"].as_str().unwrap().to_string();
        assert!(!root.exists());
        let kept = app
            .data_home
            .join("trash")
            .join(&entry)
            .join("default/skills/fresh");
        assert!(kept.join("SKILL.md").is_file(), "{}", kept.display());
        app.get("/api/v1/artifacts/skill:fresh")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let list = app.list_all("").await;
        assert!(list.iter().all(|a| a["id"] != "skill:fresh"));
        assert!(manifest_entry(&app, "fresh").is_none());
        assert!(lock_entry(&app, "fresh::skill").as_table().is_none());
        let trash = app.get("/api/v1/trash").await;
        assert_eq!(trash.body["items"][0]["artifact_id"], "skill:fresh");
        let d = app.get(&format!("/api/v1/deployments/{deployment}")).await;
        assert_eq!(d.body["orphaned"], true, "{}", d.text);
        assert!(project.join(".claude/skills/fresh/SKILL.md").is_file());
        // Restore: back as it was.
        let r = app.post(&format!("/api/v1/trash/{entry}/restore")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(root.join("ref/a.md").is_file());
        assert!(manifest_entry(&app, "fresh").is_some());
        let got = app.get("/api/v1/artifacts/skill:fresh").await;
        assert_eq!(got.header("etag"), Some(new_tag.as_str()));
        assert_eq!(app.get("/api/v1/trash").await.body["items"], json!([]));
        let d = app.get(&format!("/api/v1/deployments/{deployment}")).await;
        assert_eq!(d.body["orphaned"], false, "{}", d.text);
        app.post(&format!("/api/v1/trash/{entry}/restore"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn the_purge_empties_the_trash_after_keep_days_and_upstream_checks_are_scheduled() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.trash.keep_days = 0).await;
    let r = app
        .post_json(
            "/api/v1/artifacts",
            json!({"type": "command", "name": "brief", "files": {"brief.md": "---\ndescription: Brief\n---\n"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let entry = app.delete("/api/v1/artifacts/command:brief").await.body["entry"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(app.data_home.join("trash").join(&entry).is_dir());
    assert_eq!(app.state.authoring.purge_trash().await.unwrap(), 1);
    assert!(!app.data_home.join("trash").join(&entry).exists());
    app.post(&format!("/api/v1/trash/{entry}/restore"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // The daily upstream check is a schedule like the others (and so can be paused).
    let schedules = app.get("/api/v1/schedules").await;
    let upstream = schedules.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "upstream")
        .cloned()
        .unwrap_or_else(|| panic!("no upstream schedule: {}", schedules.text));
    assert_eq!(upstream["interval_secs"], 86_400, "{upstream}");
}
