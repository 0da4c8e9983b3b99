//! What the pages say before there is anything to show, and names where ids were: a fresh
//! machine says where artifacts, deployments and runs come from; a job's project scope shows
//! the project's name and folder.

use poem::http::StatusCode;
use serde_json::json;
use skillmeat_server::jobs::refresh::RefreshJob;
use skillmeat_server::scope::Scope;

use crate::helpers::{Backend, TestApp};

#[tokio::test]
async fn an_empty_machine_says_where_everything_comes_from() {
    for app in TestApp::all_backends().await {
        std::fs::remove_dir_all(app.data_home.join("collections")).unwrap();
        let home = app.data_home.display().to_string();

        let page = app.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        for words in [
            "No artifacts yet",
            home.as_str(),
            "SKILLMEAT_DATA_HOME",
            "skills/&lt;name&gt;/SKILL.md",
            "href=\"/docs\"",
        ] {
            assert!(
                page.text.contains(words),
                "the collections page lacks {words:?}"
            );
        }
        let deployments = app.get("/deployments").await;
        assert!(
            deployments.text.contains("No deployments yet"),
            "{}",
            deployments.text
        );
        assert!(deployments.text.contains(".skillmeat-deployed.toml"));
        assert!(
            deployments.text.contains("No search folder exists"),
            "tests search no folder"
        );
        let jobs = app.get("/jobs").await;
        assert!(jobs.text.contains("No job runs yet"), "{}", jobs.text);

        // Filters that match nothing say so instead.
        let filtered = app.get("/ui/deployments/list?status=conflict").await;
        assert!(
            filtered.text.contains("No deployments match these filters"),
            "{}",
            filtered.text
        );
        let none = app.get("/ui/jobs/runs?kind=purge").await;
        assert!(
            none.text.contains("No runs match these filters"),
            "{}",
            none.text
        );
    }
}

#[tokio::test]
async fn an_empty_collection_says_how_to_fill_it() {
    let app = TestApp::spawn_on(Backend::Sqlite).await;
    let id = app.create_collection("Empty").await;
    let grid = app.get(&format!("/ui/artifacts?collection={id}")).await;
    assert!(
        grid.text.contains("This collection is empty"),
        "{}",
        grid.text
    );
    let searched = app.get("/ui/artifacts?search=zzz-nothing").await;
    assert!(
        searched.text.contains("No artifacts match these filters"),
        "{}",
        searched.text
    );
}

#[tokio::test]
async fn a_jobs_project_scope_shows_the_projects_name_and_folder() {
    let app = TestApp::spawn().await;
    let project = app.demo_project();
    let registered = app
        .post_json(
            "/api/v1/projects",
            json!({"path": project.display().to_string()}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let id = registered.body["id"].as_str().unwrap().to_string();
    app.state
        .jobs
        .enqueue(
            RefreshJob {
                scope: Scope::Project(id.clone()),
                force: false,
            },
            jobs::Trigger::Manual,
        )
        .await
        .unwrap();
    let runs = app.get("/ui/jobs/runs").await;
    assert!(
        !runs.text.contains(&format!("project:{id}")),
        "{}",
        runs.text
    );
    assert!(
        runs.text.contains("project <strong>demo-project</strong>"),
        "{}",
        runs.text
    );
    assert!(
        runs.text.contains(&project.display().to_string()),
        "{}",
        runs.text
    );
}
