//! Deployments on real project folders: SkillMeat's own records, every status, deploy/undeploy/
//! update rules, bad destinations, a failed copy, and the dashboard API.

use std::path::Path;

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fixture_dir};

async fn register(app: &TestApp, path: &Path) -> String {
    let r = app
        .post_json("/api/v1/projects", json!({"path": path}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn deploy(app: &TestApp, body: Value) -> crate::helpers::Reply {
    app.post_json("/api/v1/deployments", body).await
}

async fn deployment_of(app: &TestApp, project: &str, artifact_id: &str) -> Value {
    let r = app
        .get(&format!(
            "/api/v1/deployments?project={project}&artifact_id={artifact_id}"
        ))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    r.body["items"][0].clone()
}

#[tokio::test]
async fn skillmeats_own_deployments_get_the_expected_statuses() {
    for app in TestApp::all_backends().await {
        app.state.cache.sync_all(false).await.unwrap();
        let project = app.demo_project();
        let pid = register(&app, &project).await;
        let expected =
            std::fs::read_to_string(fixture_dir().join("expected-deployments.tsv")).unwrap();
        for line in expected.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (name, kind, hash, status) = (cols[0], cols[1], cols[2], cols[3]);
            let d = deployment_of(&app, &pid, &format!("{kind}:{name}")).await;
            assert_eq!(d["status"], status, "{kind}:{name} on {:?}", app.backend);
            assert_eq!(d["recorded_hash"], hash);
            assert_eq!(d["from_collection"], cols[4]);
            if !cols[6].is_empty() {
                assert_eq!(d["local_hash"], cols[6], "{kind}:{name} current hash");
            }
        }
        let projects = app.get("/api/v1/projects").await;
        assert_eq!(projects.body["items"][0]["deployment_count"], 5);
        // Reading changed nothing on disk.
        let record = std::fs::read(project.join(".claude/.skillmeat-deployed.toml")).unwrap();
        assert!(
            record
                == std::fs::read(
                    fixture_dir().join("projects/demo-project/.claude/.skillmeat-deployed.toml")
                )
                .unwrap()
        );
    }
}

#[tokio::test]
async fn deploy_copies_the_files_and_writes_a_record_in_skillmeats_format() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("fresh");
        let r = deploy(
            &app,
            json!({"artifact_id": "skill:nested-tree", "project_path": project}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["status"], "synced");
        assert_eq!(r.body["artifact_path"], "skills/nested-tree");
        let copy = project.join(".claude/skills/nested-tree");
        assert_eq!(
            skillmeat_server::source::hash::content_hash(&copy).unwrap(),
            "41d2a5ab212e28cdf7f90d9bdf33b2a2aaedbddd07017c46ec79ff18783fa9d4"
        );
        let cmd = deploy(
            &app,
            json!({"artifact_id": "command:review-pr", "project_path": project}),
        )
        .await;
        assert_eq!(cmd.status, StatusCode::CREATED, "{}", cmd.text);
        assert!(project.join(".claude/commands/review-pr.md").is_file());

        // The record has every key SkillMeat writes, with the same types.
        let ours: toml::Table =
            std::fs::read_to_string(project.join(".claude/.skillmeat-deployed.toml"))
                .unwrap()
                .parse()
                .unwrap();
        let theirs: toml::Table = std::fs::read_to_string(
            fixture_dir().join("projects/demo-project/.claude/.skillmeat-deployed.toml"),
        )
        .unwrap()
        .parse()
        .unwrap();
        let ours_first = ours["deployed"][0].as_table().unwrap();
        let theirs_first = theirs["deployed"][0].as_table().unwrap();
        for (key, value) in theirs_first {
            assert_eq!(ours_first[key].type_str(), value.type_str(), "{key}");
        }
        assert_eq!(
            ours_first["content_hash"].as_str(),
            theirs_first["content_hash"].as_str()
        );
        assert_eq!(
            ours_first["artifact_path"].as_str(),
            Some("skills/nested-tree")
        );
        assert!(
            chrono::NaiveDateTime::parse_from_str(
                ours_first["deployed_at"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S%.f"
            )
            .is_ok()
        );
        assert!(!project.read_dir().unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".skillmeat-tmp")
        }));
    }
}

#[tokio::test]
async fn a_second_deploy_needs_overwrite() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("p");
        let first = deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_path": project}),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let again = deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_path": project}),
        )
        .await;
        again.assert_error(StatusCode::CONFLICT, "conflict");
        assert!(
            again.body["detail"]
                .as_str()
                .unwrap()
                .contains("already deployed")
        );
        std::fs::write(project.join(".claude/skills/bom-skill/local.txt"), "mine").unwrap();
        let replaced = deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "overwrite": true}),
        )
        .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
        assert_eq!(replaced.body["id"], first.body["id"]);
        assert!(!project.join(".claude/skills/bom-skill/local.txt").exists());
        let doc: toml::Table =
            std::fs::read_to_string(project.join(".claude/.skillmeat-deployed.toml"))
                .unwrap()
                .parse()
                .unwrap();
        assert_eq!(
            doc["deployed"].as_array().unwrap().len(),
            1,
            "replaced, not duplicated"
        );
        // A folder that SkillMeat did not deploy is not overwritten silently either.
        std::fs::create_dir_all(project.join(".claude/skills/crlf-skill")).unwrap();
        deploy(
            &app,
            json!({"artifact_id": "skill:crlf-skill", "project_path": project}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
    }
}

#[tokio::test]
async fn every_status_is_detected_on_real_folders() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("statuses");
        let pid = register(&app, &project).await;
        for id in [
            "skill:nested-tree",
            "skill:bom-skill",
            "command:review-pr",
            "agent:code-reviewer",
        ] {
            assert_eq!(
                deploy(&app, json!({"artifact_id": id, "project_id": pid}))
                    .await
                    .status,
                StatusCode::CREATED
            );
        }
        let claude = project.join(".claude");
        let collection = app.collection_dir("default");
        // modified: a file added to the project copy of a skill
        std::fs::write(claude.join("skills/nested-tree/extra.md"), "added").unwrap();
        // outdated: the collection's copy changed
        std::fs::write(
            collection.join("skills/bom-skill/SKILL.md"),
            "---\ndescription: newer\n---\n",
        )
        .unwrap();
        // conflict: both changed
        std::fs::write(claude.join("commands/review-pr.md"), "local edit").unwrap();
        std::fs::write(
            collection.join("commands/review-pr.md"),
            "---\ndescription: upstream edit\n---\n",
        )
        .unwrap();
        // missing: the files are gone
        std::fs::remove_file(claude.join("agents/code-reviewer.md")).unwrap();

        app.state.cache.sync_all(false).await.unwrap();
        let report = app.state.deployments.refresh_all().await.unwrap();
        assert_eq!(report.status_changed, 4);
        for (id, status) in [
            ("skill:nested-tree", "modified"),
            ("skill:bom-skill", "outdated"),
            ("command:review-pr", "conflict"),
            ("agent:code-reviewer", "missing"),
        ] {
            assert_eq!(
                deployment_of(&app, &pid, id).await["status"],
                status,
                "{id} on {:?}",
                app.backend
            );
        }
        // On demand, for one deployment.
        std::fs::remove_file(claude.join("skills/nested-tree/extra.md")).unwrap();
        let d = deployment_of(&app, &pid, "skill:nested-tree").await;
        let id = d["id"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/api/v1/deployments/{id}")).await.body["status"],
            "modified",
            "stored, not recomputed"
        );
        assert_eq!(
            app.get(&format!("/api/v1/deployments/{id}?recheck=true"))
                .await
                .body["status"],
            "synced"
        );
        app.get("/api/v1/deployments/nope")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        // Both sides changed to the same content (SkillMeat's sync-pull does this without
        // touching the record): synced, not conflict.
        std::fs::copy(
            collection.join("commands/review-pr.md"),
            claude.join("commands/review-pr.md"),
        )
        .unwrap();
        let d = deployment_of(&app, &pid, "command:review-pr").await;
        let id = d["id"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/api/v1/deployments/{id}?recheck=true"))
                .await
                .body["status"],
            "synced",
            "equal content is synced on {:?}",
            app.backend
        );
    }
}

#[tokio::test]
async fn update_brings_the_latest_version_and_respects_local_changes() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("upd");
        let pid = register(&app, &project).await;
        deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_id": pid}),
        )
        .await;
        deploy(
            &app,
            json!({"artifact_id": "skill:crlf-skill", "project_id": pid}),
        )
        .await;
        std::fs::write(
            app.collection_dir("default")
                .join("skills/bom-skill/SKILL.md"),
            "---\ndescription: v2\n---\n",
        )
        .unwrap();
        app.state.cache.sync_all(false).await.unwrap();
        app.state.deployments.refresh_all().await.unwrap();
        let outdated = deployment_of(&app, &pid, "skill:bom-skill").await;
        assert_eq!(outdated["status"], "outdated");
        let r = app
            .post(&format!(
                "/api/v1/deployments/{}/update",
                outdated["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "synced");
        assert_ne!(r.body["recorded_hash"], outdated["recorded_hash"]);
        assert_eq!(
            std::fs::read_to_string(project.join(".claude/skills/bom-skill/SKILL.md")).unwrap(),
            "---\ndescription: v2\n---\n"
        );

        std::fs::write(project.join(".claude/skills/crlf-skill/SKILL.md"), "local").unwrap();
        let modified = deployment_of(&app, &pid, "skill:crlf-skill").await;
        let path = format!(
            "/api/v1/deployments/{}/update",
            modified["id"].as_str().unwrap()
        );
        app.post(&path)
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(
            std::fs::read_to_string(project.join(".claude/skills/crlf-skill/SKILL.md")).unwrap(),
            "local"
        );
        let forced = app.post(&format!("{path}?force=true")).await;
        assert_eq!(forced.status, StatusCode::OK, "{}", forced.text);
        assert_eq!(forced.body["status"], "synced");
        app.post("/api/v1/deployments/nope/update")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn undeploy_removes_files_and_record() {
    for app in TestApp::all_backends().await {
        let project = app.empty_project("undeploy");
        let a = deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_path": project}),
        )
        .await;
        let b = deploy(
            &app,
            json!({"artifact_id": "command:review-pr", "project_path": project}),
        )
        .await;
        let a = a.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.delete(&format!("/api/v1/deployments/{a}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert!(!project.join(".claude/skills/bom-skill").exists());
        let doc: toml::Table =
            std::fs::read_to_string(project.join(".claude/.skillmeat-deployed.toml"))
                .unwrap()
                .parse()
                .unwrap();
        assert_eq!(doc["deployed"].as_array().unwrap().len(), 1);
        app.delete(&format!("/api/v1/deployments/{a}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!(
            "/api/v1/deployments/{}",
            b.body["id"].as_str().unwrap()
        ))
        .await;
        assert!(
            !project.join(".claude/.skillmeat-deployed.toml").exists(),
            "an empty record file is deleted"
        );
        assert!(!project.join(".claude/commands/review-pr.md").exists());
    }
}

#[tokio::test]
async fn bad_destinations_and_requests_write_nothing() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("safe");
    let outside = app.empty_project("outside");
    let cases = [
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "dest_path": "../escape"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "dest_path": "/tmp/abs"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "dest_path": "skills/../../x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": "relative/path"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": "/no/such/folder"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": format!("{}/../outside", project.display())}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "profile": "vim"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "widget:x", "project_path": project}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:..", "project_path": project}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"artifact_id": "skill:ghost", "project_path": project}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"artifact_id": "skill:bom-skill", "project_id": "nope"}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (body, status) in cases {
        let r = deploy(&app, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    assert!(!project.join(".claude").exists(), "nothing was written");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

    // A profile folder that is a symlink to somewhere else.
    std::os::unix::fs::symlink(&outside, project.join(".claude")).unwrap();
    let r = deploy(
        &app,
        json!({"artifact_id": "skill:bom-skill", "project_path": project}),
    )
    .await;
    r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the link"
    );
    // A type folder that is a symlink to somewhere else.
    std::fs::remove_file(project.join(".claude")).unwrap();
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    std::os::unix::fs::symlink(&outside, project.join(".claude/skills")).unwrap();
    deploy(
        &app,
        json!({"artifact_id": "skill:bom-skill", "project_path": project}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[tokio::test]
async fn a_copy_that_fails_half_way_leaves_the_project_as_it_was() {
    let (app, source) = TestApp::spawn_faulty().await;
    source.fail_copies_after(3);
    let project = app.demo_project();
    let before = snapshot(&project);
    // nested-tree has 8 files: the fourth copy fails. Redeploying over the existing copy.
    let r = deploy(
        &app,
        json!({"artifact_id": "skill:nested-tree", "project_path": project, "overwrite": true}),
    )
    .await;
    r.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(
        snapshot(&project) == before,
        "the project folder is unchanged"
    );
    let fresh = deploy(
        &app,
        json!({"artifact_id": "skill:hidden-files", "project_path": project}),
    )
    .await;
    assert!(fresh.status.is_server_error());
    assert!(snapshot(&project) == before);
}

/// Every path under `root` with its bytes, SkillMeat's (empty, lasting) lock files left out.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !skillmeat_server::skillmeat_lock::is_lock_file(e.path()))
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let bytes = if e.file_type().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (rel, bytes)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn profiles_deploy_into_their_own_folders() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("profiles");
    for profile in ["claude_code", "codex", "gemini", "cursor"] {
        let r = deploy(
            &app,
            json!({"artifact_id": "skill:bom-skill", "project_path": project, "profile": profile}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{profile}: {}", r.text);
    }
    for root in [".claude", ".codex", ".gemini", ".cursor"] {
        assert!(
            project
                .join(root)
                .join("skills/bom-skill/SKILL.md")
                .is_file(),
            "{root}"
        );
    }
    let list = app
        .get("/api/v1/deployments?artifact_id=skill:bom-skill")
        .await;
    assert_eq!(list.body["page_info"]["total_count"], 4);
    let codex = app.get("/api/v1/deployments?profile=codex").await;
    assert_eq!(codex.body["items"][0]["profile_root"], ".codex");
}

#[tokio::test]
async fn the_dashboard_lists_filters_sorts_and_summarises() {
    for app in TestApp::all_backends().await {
        app.state.cache.sync_all(false).await.unwrap();
        let demo = app.demo_project();
        let demo_id = register(&app, &demo).await;
        let other = app.empty_project("other");
        for id in [
            "skill:bom-skill",
            "skill:nested-tree",
            "agent:multiline-agent",
        ] {
            deploy(&app, json!({"artifact_id": id, "project_path": other})).await;
        }
        let list = app.get("/api/v1/deployments?limit=3").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(list.body["page_info"]["total_count"], 8);
        assert_eq!(list.body["items"][0]["artifact_id"], "agent:code-reviewer");
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => {
                    format!("/api/v1/deployments?limit=3&sort=deployed_at&order=desc&after={a}")
                }
                None => "/api/v1/deployments?limit=3&sort=deployed_at&order=desc".into(),
            };
            let r = app.get(&path).await;
            seen.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["id"].as_str().unwrap().to_string()),
            );
            if r.body["page_info"]["has_next_page"] == false {
                break;
            }
            after = r.body["page_info"]["end_cursor"].as_str().map(String::from);
        }
        assert_eq!(seen.len(), 8);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8);

        let count = |q: &'static str| {
            let app = &app;
            async move {
                app.get(&format!("/api/v1/deployments?{q}")).await.body["page_info"]["total_count"]
                    .as_u64()
                    .unwrap()
            }
        };
        assert_eq!(count("status=modified,missing").await, 2);
        assert_eq!(count("type=skill").await, 5);
        assert_eq!(count("search=NESTED").await, 2);
        assert_eq!(count("artifact_id=skill:nested-tree").await, 2);
        assert_eq!(
            app.get(&format!("/api/v1/deployments?project={demo_id}"))
                .await
                .body["page_info"]["total_count"],
            5
        );
        assert_eq!(
            app.get(&format!("/api/v1/deployments?project={}", other.display()))
                .await
                .body["page_info"]["total_count"],
            3
        );
        app.get("/api/v1/deployments?status=lost")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        app.get("/api/v1/deployments?after=junk")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let by_status = app.get("/api/v1/deployments?sort=status").await;
        assert_eq!(by_status.body["items"][0]["status"], "missing");

        let s = app.get("/api/v1/deployments/summary").await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(s.body["total"], 8);
        assert_eq!(
            s.body["by_status"],
            json!({"total": 8, "synced": 6, "modified": 1, "outdated": 0, "conflict": 0, "missing": 1})
        );
        assert_eq!(s.body["by_project"][0]["project_id"], demo_id);
        assert_eq!(s.body["by_project"][0]["count"], 5);
        assert_eq!(s.body["by_artifact"][0]["count"], 2);
        assert!(
            s.body["by_type"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "skill" && t["count"] == 5)
        );
        assert!(s.body["last_updated"].is_string());

        // Artifact responses carry their deployment counts.
        let detail = app.get("/api/v1/artifacts/skill:unicode-desc").await;
        assert_eq!(detail.body["deployment_count"], 1);
        assert_eq!(detail.body["deployments_by_status"]["modified"], 1);
        let listed = app.get("/api/v1/artifacts?search=nested").await;
        assert_eq!(listed.body["items"][0]["deployment_count"], 2);
    }
}

#[tokio::test]
async fn projects_are_registered_once_and_discovered_under_search_roots() {
    let app = TestApp::spawn_with(Backend::Sqlite, |_| {}).await;
    let demo = app.demo_project();
    let root = demo.parent().unwrap().to_path_buf();
    let discovering = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.deploy.search_roots = vec![root.display().to_string()];
        s.deploy.search_depth = 2;
    })
    .await;
    let report = discovering.state.deployments.refresh_all().await.unwrap();
    assert_eq!(report.discovered, 1);
    let projects = discovering.get("/api/v1/projects").await;
    assert_eq!(projects.body["items"][0]["registered"], false);
    assert_eq!(projects.body["items"][0]["deployment_count"], 5);
    assert_eq!(
        discovering
            .state
            .deployments
            .refresh_all()
            .await
            .unwrap()
            .discovered,
        0
    );

    let id = register(&app, &demo).await;
    let again = app
        .post_json("/api/v1/projects", json!({"path": demo}))
        .await;
    again.assert_error(StatusCode::CONFLICT, "conflict");
    app.post_json("/api/v1/projects", json!({"path": "not/absolute"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.post_json("/api/v1/projects", json!({"path": "/definitely/not/here"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "project_outside_roots");
    app.post_json(
        "/api/v1/projects",
        json!({"path": demo.parent().unwrap().join("not-here")}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let file = demo.join(".claude/commands/review-pr.md");
    app.post_json("/api/v1/projects", json!({"path": file}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(
        app.get(&format!("/api/v1/projects/{id}")).await.body["deployment_count"],
        5
    );
    let second = register(&app, &app.empty_project("zzz-second")).await;
    let page = app.get("/api/v1/projects?limit=1").await;
    assert_eq!(page.body["page_info"]["total_count"], 2);
    assert_eq!(page.body["page_info"]["has_next_page"], true);
    let cursor = page.body["page_info"]["end_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/api/v1/projects?limit=1&after={cursor}"))
        .await;
    assert_eq!(next.body["items"][0]["id"], second);
    app.get("/api/v1/projects?after=junk")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.delete(&format!("/api/v1/projects/{second}")).await;
    assert_eq!(
        app.delete(&format!("/api/v1/projects/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.delete(&format!("/api/v1/projects/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.get("/api/v1/deployments").await.body["page_info"]["total_count"],
        0
    );
    assert!(
        demo.join(".claude/.skillmeat-deployed.toml").is_file(),
        "records untouched"
    );
}

#[tokio::test]
async fn a_destination_must_belong_to_the_artifact_so_nothing_else_is_replaced() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("clobber");
    deploy(
        &app,
        json!({"artifact_id": "skill:nested-tree", "project_path": project}),
    )
    .await;
    std::fs::write(project.join(".claude/settings.json"), "{}").unwrap();
    for dest in [
        "skills",
        "settings.json",
        "skills/other-name",
        ".skillmeat-deployed.toml",
        "x/.skillmeat-tmp/bom-skill",
    ] {
        let r = deploy(&app, json!({"artifact_id": "skill:bom-skill", "project_path": project, "dest_path": dest, "overwrite": true})).await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    assert!(
        project
            .join(".claude/skills/nested-tree/SKILL.md")
            .is_file()
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".claude/settings.json")).unwrap(),
        "{}"
    );
    // Another deployment's path is never taken over, even with overwrite: an agent that happens
    // to share the skill's name may not replace the deployed skill folder.
    std::fs::write(
        app.collection_dir("default").join("agents/nested-tree.md"),
        "---\ndescription: same name, other type\n---\n",
    )
    .unwrap();
    let r = deploy(&app, json!({"artifact_id": "agent:nested-tree", "project_path": project, "dest_path": "skills/nested-tree", "overwrite": true})).await;
    r.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(
        project
            .join(".claude/skills/nested-tree/SKILL.md")
            .is_file()
    );
    // A custom destination inside the profile folder is fine.
    let custom = deploy(&app, json!({"artifact_id": "skill:bom-skill", "project_path": project, "dest_path": "skills/team/bom-skill"})).await;
    assert_eq!(custom.status, StatusCode::CREATED, "{}", custom.text);
    assert!(
        project
            .join(".claude/skills/team/bom-skill/SKILL.md")
            .is_file()
    );
    // Moving it with overwrite leaves no stale copy behind.
    let moved = deploy(
        &app,
        json!({"artifact_id": "skill:bom-skill", "project_path": project, "overwrite": true}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert!(!project.join(".claude/skills/team/bom-skill").exists());
    assert!(project.join(".claude/skills/bom-skill/SKILL.md").is_file());
}

#[tokio::test]
async fn a_record_pointing_at_a_foreign_path_never_deletes_it() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("hostile");
    std::fs::create_dir_all(project.join(".claude/skills/precious")).unwrap();
    std::fs::write(project.join(".claude/skills/precious/keep.md"), "mine").unwrap();
    std::fs::write(
        project.join(".claude/.skillmeat-deployed.toml"),
        "[[deployed]]\nartifact_name = \"bom-skill\"\nartifact_type = \"skill\"\nfrom_collection = \"default\"\n\
         deployed_at = \"2026-01-01T00:00:00\"\nartifact_path = \"skills\"\ncontent_hash = \"00\"\n",
    )
    .unwrap();
    let pid = register(&app, &project).await;
    // An artifact the collection has, so the update gets as far as the ownership check.
    let d = deployment_of(&app, &pid, "skill:bom-skill").await;
    let id = d["id"].as_str().unwrap();
    let forced = app
        .post(&format!("/api/v1/deployments/{id}/update?force=true"))
        .await;
    forced.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(
        forced.text.contains("does not belong to the artifact"),
        "{}",
        forced.text
    );
    assert!(!project.join(".claude/skills/SKILL.md").exists());
    assert_eq!(
        app.delete(&format!("/api/v1/deployments/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".claude/skills/precious/keep.md")).unwrap(),
        "mine"
    );
}

#[tokio::test]
async fn a_failed_deploy_into_a_fresh_project_leaves_nothing_behind() {
    let (app, source) = TestApp::spawn_faulty().await;
    source.fail_copies_after(2);
    let project = app.empty_project("fresh-fail");
    let r = deploy(
        &app,
        json!({"artifact_id": "skill:nested-tree", "project_path": project}),
    )
    .await;
    assert!(r.status.is_server_error(), "{}", r.text);
    assert_eq!(
        std::fs::read_dir(&project).unwrap().count(),
        0,
        "no .claude left behind"
    );
    assert_eq!(
        app.get("/api/v1/projects").await.body["page_info"]["total_count"],
        0,
        "the project was not registered"
    );
    // A refused deploy registers nothing either.
    deploy(
        &app,
        json!({"artifact_id": "skill:ghost", "project_path": project}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.get("/api/v1/projects").await.body["page_info"]["total_count"],
        0
    );
}

#[tokio::test]
async fn records_without_a_profile_id_belong_to_their_folder_and_duplicates_are_ignored() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("codex-records");
    std::fs::create_dir_all(project.join(".codex/skills/bom-skill")).unwrap();
    let record = "[[deployed]]\nartifact_name = \"bom-skill\"\nartifact_type = \"skill\"\nfrom_collection = \"default\"\n\
                  deployed_at = \"2026-01-01T00:00:00\"\nartifact_path = \"skills/bom-skill\"\ncontent_hash = \"00\"\n";
    std::fs::write(
        project.join(".codex/.skillmeat-deployed.toml"),
        format!("{record}\n{record}"),
    )
    .unwrap();
    let pid = register(&app, &project).await;
    let d = deployment_of(&app, &pid, "skill:bom-skill").await;
    assert_eq!(d["profile"], "codex");
    assert_eq!(d["profile_root"], ".codex");
}

#[tokio::test]
async fn deployments_of_a_vanished_project_become_missing_and_deletes_update_the_summary() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("vanishing");
    deploy(
        &app,
        json!({"artifact_id": "skill:bom-skill", "project_path": project}),
    )
    .await;
    std::fs::remove_dir_all(&project).unwrap();
    app.state.deployments.refresh_all().await.unwrap();
    let s = app.get("/api/v1/deployments/summary").await;
    assert_eq!(s.body["by_status"]["missing"], 1, "{}", s.text);
    let pid = app.get("/api/v1/projects").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/api/v1/projects/{pid}")).await;
    assert_eq!(
        app.get("/api/v1/deployments/summary").await.body["total"],
        0
    );
}

#[tokio::test]
async fn staging_copies_left_by_a_killed_deploy_are_swept() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("leftovers");
    let stale = project.join(".claude/skills/.skillmeat-tmp-deadbeef");
    let fresh = project.join(".claude/skills/.skillmeat-tmp-inflight");
    std::fs::create_dir_all(stale.join("scripts")).unwrap();
    std::fs::create_dir_all(&fresh).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::open(&stale)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    register(&app, &project).await;
    assert!(!stale.exists(), "an old staging copy is removed");
    assert!(
        fresh.exists(),
        "a recent one may belong to a deploy in progress"
    );
}

#[tokio::test]
async fn deploying_into_a_project_whose_folder_vanished_says_so() {
    let app = TestApp::spawn().await;
    let project = app.empty_project("gone");
    let pid = register(&app, &project).await;
    std::fs::remove_dir_all(&project).unwrap();
    let r = deploy(
        &app,
        json!({"artifact_id": "skill:bom-skill", "project_id": pid}),
    )
    .await;
    r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("no longer exists"),
        "{}",
        r.text
    );
    assert!(!project.exists(), "nothing was created");
}
