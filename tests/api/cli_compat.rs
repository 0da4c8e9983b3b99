//! The calls SkillMeat's CLI makes, answered in the shapes it reads (additions beside ours):
//! groups listed under `items` too, and the cache refresh of user collections, waited for.

use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn groups_are_listed_under_items_too() {
    let app = TestApp::spawn().await;
    let id = app.create_group("default", "Reviewers").await;
    let r = app.get("/api/v1/groups?collection_id=default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"], r.body["groups"]);
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    assert_eq!(r.body["items"][0]["artifact_count"], 0);
}

#[tokio::test]
async fn the_cache_refresh_of_user_collections_is_waited_for() {
    for app in TestApp::all_backends().await {
        let _jobs = app.start_jobs().await;
        let all = app.post("/api/v1/user-collections/refresh-cache").await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        assert_eq!(all.body["success"], true);
        assert_eq!(all.body["collections_refreshed"], 1, "{}", all.text);
        assert!(all.body["total_updated"].is_u64() && all.body["total_skipped"].is_u64());
        assert_eq!(all.body["job"]["scope"], "all");
        assert_eq!(all.body["job"]["status"], "succeeded");
        assert!(all.body.get("collection_id").is_none());

        // One collection, by id or name; its folder of the same name is what is refreshed.
        for key in ["default", "default collection"] {
            let one = app
                .post(&format!(
                    "/api/v1/user-collections/{}/refresh-cache",
                    key.replace(' ', "%20")
                ))
                .await;
            assert_eq!(one.status, StatusCode::OK, "{}", one.text);
            assert_eq!(one.body["collection_id"], key);
            assert_eq!(one.body["job"]["scope"], "collection:default");
            assert_eq!(one.body["updated_count"], one.body["total_updated"]);
            assert_eq!(one.body["skipped_count"], one.body["total_skipped"]);
        }
        app.post("/api/v1/user-collections/nope/refresh-cache")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post("/api/v1/user-collections/refresh-cache?wait_secs=61")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn a_refresh_that_takes_longer_than_the_wait_answers_202_with_its_job() {
    // No job runner: the refresh stays queued.
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/v1/user-collections/refresh-cache?wait_secs=0")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["job"]["status"], "queued");
    let again = app
        .post_json(
            "/api/v1/user-collections/default/refresh-cache?wait_secs=0",
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
}

#[tokio::test]
async fn a_record_lost_to_a_concurrent_rewrite_is_written_back_and_an_undeploy_is_not() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("shared");
        for id in ["command:review-pr", "skill:nested-tree"] {
            let r = app
                .post_json(
                    "/api/v1/deployments",
                    json!({"artifact_id": id, "project_path": project}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let record = project.join(".claude/.skillmeat-deployed.toml");
        let full = std::fs::read_to_string(&record).unwrap();
        // SkillMeat's deploy read the records before ours was written and wrote its own list
        // back: ours is gone from the file, its copy is still there.
        let doc: toml::Value = toml::from_str(&full).unwrap();
        let kept: Vec<&toml::Value> = doc["deployed"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["artifact_name"].as_str() != Some("review-pr"))
            .collect();
        let mut rewritten = String::new();
        for entry in kept {
            rewritten.push_str("[[deployed]]\n");
            rewritten.push_str(&toml::to_string(entry).unwrap());
        }
        std::fs::write(&record, rewritten).unwrap();
        app.state.deployments.refresh_all().await.unwrap();
        let text = std::fs::read_to_string(&record).unwrap();
        assert!(text.contains("\"review-pr\""), "written back: {text}");
        let list = app.get("/api/v1/deployments?limit=10").await;
        assert_eq!(list.body["page_info"]["total_count"], 2, "{}", list.text);

        // An undeploy elsewhere removes the copy with the entry: it stays gone.
        std::fs::remove_dir_all(project.join(".claude/skills/nested-tree")).unwrap();
        let text = std::fs::read_to_string(&record).unwrap();
        let doc: toml::Value = toml::from_str(&text).unwrap();
        let mut rewritten = String::new();
        for entry in doc["deployed"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["artifact_name"].as_str() != Some("nested-tree"))
        {
            rewritten.push_str("[[deployed]]\n");
            rewritten.push_str(&toml::to_string(entry).unwrap());
        }
        std::fs::write(&record, rewritten).unwrap();
        app.state.deployments.refresh_all().await.unwrap();
        let list = app.get("/api/v1/deployments?limit=10").await;
        assert_eq!(list.body["page_info"]["total_count"], 1, "{}", list.text);
        assert!(
            !std::fs::read_to_string(&record)
                .unwrap()
                .contains("nested-tree")
        );
    }
}

#[tokio::test]
async fn skillmeat_lock_files_are_neither_artifacts_nor_changes() {
    let app = TestApp::spawn().await;
    let _jobs = app.start_jobs().await;
    let _watch = app.start_watcher().await;
    let project = app.empty_project("locked");
    app.deploy_to("skill:nested-tree", &project).await;
    let count = || async {
        let jobs = app.get("/api/v1/jobs?kind=refresh&limit=500").await;
        jobs.body["items"].as_array().unwrap().len()
    };
    // The project is watched once an edit in it queues a refresh.
    let start = count().await;
    let edited = project.join(".claude/skills/nested-tree/SKILL.md");
    crate::helpers::poll(
        "the project watched",
        std::time::Duration::from_secs(30),
        || async {
            std::fs::write(&edited, format!("edit {:?}\n", std::time::Instant::now())).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let n = count().await;
            if n > start {
                Ok(())
            } else {
                Err(n.to_string())
            }
        },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = count().await;
    let artifacts =
        app.get("/api/v1/artifacts?limit=1").await.body["page_info"]["total_count"].clone();
    // SkillMeat takes its locks beside what it writes, in projects and in collections.
    let collection = app.collection_dir("default");
    for lock in [
        project.join(".claude/..skillmeat-deployed.toml.skillmeat-lock"),
        project.join(".claude/skills/.nested-tree.skillmeat-lock"),
        collection.join("skills/.nested-tree.skillmeat-lock"),
        collection.join("commands/.review-pr.md.skillmeat-lock"),
    ] {
        std::fs::write(&lock, "").unwrap();
        let held = skillmeat_server::skillmeat_lock::acquire_blocking(
            &lock.parent().unwrap().join(
                lock.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .trim_start_matches('.')
                    .trim_end_matches(".skillmeat-lock"),
            ),
        )
        .unwrap();
        drop(held);
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(count().await, before, "no refresh for lock files");
    app.state.cache.sync_all(false).await.unwrap();
    let after = app.get("/api/v1/artifacts?limit=1").await.body["page_info"]["total_count"].clone();
    assert_eq!(after, artifacts);
}
