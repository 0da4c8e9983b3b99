//! Seeing drift: a deployment's diff against the collection's version and against what was
//! deployed (its base, kept as a snapshot by the deploy), on both databases; SkillMeat's own
//! deployments have no base here; unreferenced snapshots are purged.

use poem::http::StatusCode;
use serde_json::{Value, json};

use skillmeat_server::source::hash::content_hash;

use crate::helpers::{Backend, TestApp};

fn only_file(diff: &Value) -> &Value {
    let files = diff["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{diff}");
    &files[0]
}

#[tokio::test]
async fn a_local_edit_shows_as_plus_lines_against_the_collection_and_the_base() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("drift");
        let id = app.deploy_to("command:review-pr", &project).await;
        let unchanged = app.get(&format!("/api/v1/deployments/{id}/diff")).await;
        assert_eq!(unchanged.status, StatusCode::OK, "{}", unchanged.text);
        assert_eq!(only_file(&unchanged.body)["change"], "unchanged");
        assert_eq!(unchanged.body["base_available"], true);

        let local = project.join(".claude/commands/review-pr.md");
        let mut text = std::fs::read_to_string(&local).unwrap();
        text.push_str("A line added in the project\n");
        std::fs::write(&local, &text).unwrap();
        for against in ["collection", "base"] {
            let d = app
                .get(&format!("/api/v1/deployments/{id}/diff?against={against}"))
                .await;
            assert_eq!(d.status, StatusCode::OK, "{}", d.text);
            let file = only_file(&d.body);
            assert_eq!(file["change"], "modified", "{}", d.text);
            let unified = file["unified"].as_str().unwrap();
            assert!(
                unified.contains("\n+A line added in the project\n"),
                "{unified}"
            );
            assert!(
                unified.starts_with("--- a/review-pr.md\n+++ b/review-pr.md\n"),
                "{unified}"
            );
            assert_eq!(d.body["counts"]["modified"], 1);
        }

        // The collection moves on: against it both changes show; against the base only ours.
        let collection = app.collection_dir("default").join("commands/review-pr.md");
        let upstream = std::fs::read_to_string(&collection).unwrap().replacen(
            "---\n",
            "---\nupstream: yes\n",
            1,
        );
        std::fs::write(&collection, upstream).unwrap();
        app.state.cache.sync_all(false).await.unwrap();
        let both = app
            .get(&format!("/api/v1/deployments/{id}/diff?context=0"))
            .await;
        let unified = only_file(&both.body)["unified"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(unified.contains("-upstream: yes\n"), "{unified}");
        assert!(
            unified.contains("+A line added in the project\n"),
            "{unified}"
        );
        let base = app
            .get(&format!("/api/v1/deployments/{id}/diff?against=base"))
            .await;
        let unified = only_file(&base.body)["unified"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!unified.contains("upstream"), "{unified}");

        app.get(&format!("/api/v1/deployments/{id}/diff?context=101"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        app.get("/api/v1/deployments/nope/diff")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_skill_folder_diff_names_added_and_removed_files() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("folder");
    let id = app.deploy_to("skill:nested-tree", &project).await;
    let copy = project.join(".claude/skills/nested-tree");
    std::fs::write(copy.join("NEW.md"), "new file\n").unwrap();
    let first = walkdir::WalkDir::new(&copy)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(&copy)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .find(|p| p != "SKILL.md" && p != "NEW.md")
        .unwrap();
    std::fs::remove_file(copy.join(&first)).unwrap();
    let d = app.get(&format!("/api/v1/deployments/{id}/diff")).await;
    let files = d.body["files"].as_array().unwrap();
    let change = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["change"].clone())
    };
    assert_eq!(change("NEW.md"), Some(json!("added")), "{}", d.text);
    assert_eq!(change(&first), Some(json!("removed")), "{}", d.text);
    assert_eq!(change("SKILL.md"), Some(json!("unchanged")), "{}", d.text);
}

/// The id of `artifact`'s deployment in the project at `project_path`.
async fn deployment_in(app: &TestApp, artifact: &str, project_path: &str) -> String {
    let list = app
        .get(&format!(
            "/api/v1/deployments?artifact_id={artifact}&limit=100"
        ))
        .await;
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["project_path"] == project_path)
        .unwrap_or_else(|| panic!("{}", list.text))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn skillmeats_deployments_get_a_base_when_unchanged_and_snapshots_are_purged() {
    let app = TestApp::spawn_074(Backend::Sqlite).await;
    // Edited before this server ever saw it: what was deployed is unknown here.
    let shop = app.data_home.parent().unwrap().join("projects/shop");
    let edited = shop.join(".claude/commands/lint-all.md");
    let text = format!(
        "{}Edited before\n",
        std::fs::read_to_string(&edited).unwrap()
    );
    std::fs::write(&edited, text).unwrap();
    app.refresh_everything(false).await;
    let shop_path = shop.canonicalize().unwrap().display().to_string();
    let lint = deployment_in(&app, "command:lint-all", &shop_path).await;
    let d = app.get(&format!("/api/v1/deployments/{lint}/diff")).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body["base_available"], false, "{}", d.text);
    let base = app
        .get(&format!("/api/v1/deployments/{lint}/diff?against=base"))
        .await;
    base.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(
        base.body["detail"]
            .as_str()
            .unwrap()
            .contains("no base content"),
        "{}",
        base.text
    );

    // Unchanged since SkillMeat deployed it: its copy is kept as the base at the first scan.
    let ui_kit = deployment_in(&app, "skill:ui-kit", &shop_path).await;
    let d = app.get(&format!("/api/v1/deployments/{ui_kit}/diff")).await;
    assert_eq!(d.body["base_available"], true, "{}", d.text);
    let hash = d.body["project_hash"].as_str().unwrap().to_string();
    let snapshot = app.data_home.join("cache/deploy-snapshots").join(&hash);
    assert!(snapshot.is_dir());

    // A snapshot stays until no deployment records its hash.
    let project = app.empty_project("snap");
    let made = app.deploy_to("skill:ui-kit", &project).await;
    assert_eq!(app.state.deployments.purge_snapshots().await.unwrap(), 0);
    for id in [made, ui_kit] {
        assert_eq!(
            app.delete(&format!("/api/v1/deployments/{id}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
    }
    let others = app
        .get("/api/v1/deployments?artifact_id=skill:ui-kit")
        .await;
    let still_recorded = others.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["recorded_hash"] == hash.as_str());
    app.state.deployments.purge_snapshots().await.unwrap();
    assert_eq!(snapshot.is_dir(), still_recorded, "{}", others.text);

    // Content nothing else records goes with its last deployment.
    let only = app.collection_dir("default").join("skills/only-here");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::write(only.join("SKILL.md"), "---\ndescription: Only here\n---\n").unwrap();
    let id = app.deploy_to("skill:only-here", &project).await;
    let kept = app
        .data_home
        .join("cache/deploy-snapshots")
        .join(content_hash(&only).unwrap());
    assert!(kept.is_dir());
    assert_eq!(app.state.deployments.purge_snapshots().await.unwrap(), 0);
    app.delete(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(app.state.deployments.purge_snapshots().await.unwrap(), 1);
    assert!(!kept.exists());
}

#[tokio::test]
async fn a_record_path_that_climbs_is_refused_not_read() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("climb");
    let id = app.deploy_to("command:review-pr", &project).await;
    let record = project.join(".claude/.skillmeat-deployed.toml");
    let text = std::fs::read_to_string(&record).unwrap().replace(
        "artifact_path = \"commands/review-pr.md\"",
        "artifact_path = \"../../outside/review-pr.md\"",
    );
    std::fs::write(&record, text).unwrap();
    app.state.deployments.refresh_all().await.unwrap();
    let d = app.get(&format!("/api/v1/deployments/{id}/diff")).await;
    d.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        d.body["detail"]
            .as_str()
            .unwrap()
            .contains("not a plain path"),
        "{}",
        d.text
    );
}
