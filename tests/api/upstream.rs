//! Git upstreams and git sources, on both databases: an upstream commit noticed and pulled (its
//! deployments turning outdated, local edits kept unless forced), and a repository served
//! read-only as a collection of its own.

use poem::http::StatusCode;
use serde_json::json;

use skillmeat_server::source::hash::content_hash;

use crate::authoring::{backends, file_url, git, lock_entry, skills_repo};
use crate::helpers::{TestApp, temp_root};

#[tokio::test]
async fn an_upstream_commit_is_noticed_and_pulled_and_deployments_turn_outdated() {
    for backend in backends() {
        let app = TestApp::spawn_on(backend).await;
        let _jobs = app.start_jobs().await;
        let tmp = tempfile::tempdir_in(temp_root()).unwrap();
        let repo = skills_repo(tmp.path());
        let r = app
            .post_json(
                "/api/v1/artifacts/import",
                json!({"source": "git", "url": file_url(&repo), "ref": "main", "path": "skills/painter"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let project = app.empty_project("paint-app");
        let deployment = app.deploy_to("skill:painter", &project).await;

        let check = app
            .post("/api/v1/artifacts/skill:painter/upstream/check")
            .await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["update_available"], false);
        std::fs::write(
            repo.join("skills/painter/SKILL.md"),
            "---\nname: painter\ndescription: Paints better\n---\nVersion two.\n",
        )
        .unwrap();
        git(&repo, &["commit", "-qam", "two"]);
        let two = git(&repo, &["rev-parse", "HEAD"]);
        let check = app
            .post("/api/v1/artifacts/skill:painter/upstream/check")
            .await;
        assert_eq!(check.body["latest_sha"], two.as_str(), "{}", check.text);
        assert_eq!(check.body["update_available"], true);
        assert!(check.body["checked_at"].is_string());
        let detail = app.get("/api/v1/artifacts/skill:painter").await;
        assert_eq!(detail.body["upstream"]["update_available"], true);

        let r = app
            .post("/api/v1/artifacts/skill:painter/upstream/update")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["resolved_sha"], two.as_str());
        assert_eq!(r.body["artifact"]["description"], "Paints better");
        assert_eq!(r.body["artifact"]["upstream"]["update_available"], false);
        let root = app.collection_dir("default").join("skills/painter");
        assert_eq!(
            lock_entry(&app, "painter::skill")["resolved_sha"].as_str(),
            Some(two.as_str())
        );
        assert_eq!(
            lock_entry(&app, "painter::skill")["content_hash"].as_str(),
            Some(content_hash(&root).unwrap().as_str())
        );
        let d = app.get(&format!("/api/v1/deployments/{deployment}")).await;
        assert_eq!(d.body["status"], "outdated", "{}", d.text);

        // Edits in the collection are not overwritten unless forced.
        std::fs::write(
            repo.join("skills/painter/SKILL.md"),
            "---\ndescription: Three\n---\n",
        )
        .unwrap();
        git(&repo, &["commit", "-qam", "three"]);
        std::fs::write(root.join("local.md"), "mine\n").unwrap();
        app.post("/api/v1/artifacts/skill:painter/upstream/update")
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        assert!(root.join("local.md").is_file());
        let r = app
            .post("/api/v1/artifacts/skill:painter/upstream/update?force=true")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!root.join("local.md").exists());
        assert_eq!(r.body["artifact"]["description"], "Three");
        // No upstream: 409.
        app.post("/api/v1/artifacts/skill:nested-tree/upstream/check")
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
    }
}

#[tokio::test]
async fn a_git_repository_is_served_read_only_as_a_collection() {
    let tmp = tempfile::tempdir_in(temp_root()).unwrap();
    let repo = skills_repo(tmp.path());
    let url = file_url(&repo);
    for backend in backends() {
        let url = url.clone();
        let app = TestApp::spawn_with(backend, move |s| {
            s.sources.git = vec![skillmeat_server::config::GitSourceSettings {
                url,
                git_ref: "main".into(),
                path: String::new(),
                name: "team".into(),
            }];
        })
        .await;
        let _jobs = app.start_jobs().await;
        let painter = app.get("/api/v1/artifacts/skill:painter").await;
        assert_eq!(painter.status, StatusCode::OK, "{}", painter.text);
        assert_eq!(painter.body["collection"], "team");
        assert_eq!(painter.body["description"], "Paints");
        let files: Vec<&str> = painter.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["SKILL.md", "scripts/run.sh"]);
        let list = app.list_all("collection=team").await;
        let ids: Vec<&str> = list.iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["skill:painter", "command:tidy"], "{list:?}");
        // Nothing was copied into the data home; writes are refused.
        assert!(!app.data_home.join("collections/team").exists());
        let tag = painter.header("etag").unwrap().to_string();
        let r = app
            .client
            .put("/api/v1/artifacts/skill:painter/files/SKILL.md")
            .header("If-Match", tag)
            .body_json(&json!({"content": "x"}))
            .send()
            .await;
        r.assert_status(StatusCode::CONFLICT);
        app.post_json(
            "/api/v1/artifacts",
            json!({"type": "command", "name": "x", "collection": "team", "files": {"x.md": "x"}}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
        app.delete("/api/v1/artifacts/skill:painter")
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        // Deployed from git like any other.
        let project = app.empty_project("from-git");
        app.deploy_to("command:tidy", &project).await;
        assert_eq!(
            std::fs::read_to_string(project.join(".claude/commands/tidy.md")).unwrap(),
            "---\ndescription: Tidies\n---\nTidy up.\n"
        );
    }
}
