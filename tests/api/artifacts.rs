use std::collections::HashSet;

use poem::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn list_pages_with_cursors_without_gaps_or_duplicates() {
    for app in TestApp::all_backends().await {
        let first = app.get("/api/v1/artifacts?limit=5").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        assert_eq!(first.body["items"].as_array().unwrap().len(), 5);
        assert_eq!(first.body["page_info"]["has_next_page"], true);
        assert_eq!(first.body["page_info"]["total_count"], 16);

        for sort in ["name", "type", "updated"] {
            for order in ["asc", "desc"] {
                let items = app.list_all(&format!("sort={sort}&order={order}")).await;
                let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
                assert_eq!(ids.len(), 16, "{sort} {order} {:?}", app.backend);
                assert_eq!(
                    ids.iter().collect::<HashSet<_>>().len(),
                    16,
                    "duplicates in {ids:?}"
                );
                if sort == "name" {
                    let names: Vec<&str> =
                        items.iter().map(|i| i["name"].as_str().unwrap()).collect();
                    let mut sorted = names.clone();
                    sorted.sort();
                    if order == "desc" {
                        sorted.reverse();
                    }
                    assert_eq!(names, sorted);
                }
                if sort == "type" && order == "asc" {
                    assert!(
                        ids[0].starts_with("agent:") && ids[15].starts_with("skill:"),
                        "{ids:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn bad_cursors_are_400() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts?after=not-a-cursor")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let cursor = app.get("/api/v1/artifacts?limit=2").await.body["page_info"]["end_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    // A cursor issued for one sort is refused for another.
    let r = app
        .get(&format!(
            "/api/v1/artifacts?limit=2&sort=updated&after={cursor}"
        ))
        .await;
    r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid cursor")
    );
}

#[tokio::test]
async fn filters_apply_before_paging() {
    for app in TestApp::all_backends().await {
        let ids = |items: Vec<serde_json::Value>| -> Vec<String> {
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect()
        };
        let agents_and_commands = ids(app.list_all("type=agent,command").await);
        assert_eq!(agents_and_commands.len(), 5, "{agents_and_commands:?}");
        assert!(
            agents_and_commands
                .iter()
                .all(|i| i.starts_with("agent:") || i.starts_with("command:"))
        );

        let page = app.get("/api/v1/artifacts?type=agent&limit=1").await;
        assert_eq!(page.body["page_info"]["total_count"], 2);

        assert_eq!(
            ids(app.list_all("collection=work").await),
            vec!["command:review-pr", "skill:work-skill"]
        );
        assert_eq!(
            ids(app.list_all("tags=CRLF,nothing").await),
            vec!["skill:crlf-skill"]
        );
        let glob = ids(app.list_all("tools=glob").await);
        assert_eq!(glob, vec!["agent:code-reviewer"]);
        // Search matches name or description, case-insensitively, including non-ASCII text.
        assert_eq!(
            ids(app.list_all("search=BYTE%20ORDER").await),
            vec!["skill:bom-skill"]
        );
        assert_eq!(
            ids(app.list_all("search=%C3%A9sum%C3%A9").await),
            vec!["skill:unicode-desc"]
        );
        assert_eq!(
            ids(app.list_all("search=nested").await),
            vec!["skill:nested-tree"]
        );
        // LIKE wildcards in the search are literal.
        assert!(app.list_all("search=%25").await.is_empty());
        assert!(
            app.list_all("search=_").await.iter().all(|i| i["name"]
                .as_str()
                .unwrap()
                .contains('_')
                || i["description"].as_str().unwrap_or("").contains('_'))
        );
    }
}

#[tokio::test]
async fn invalid_filters_are_rejected() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts?type=skill,widget")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/v1/artifacts?collection=nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.get("/api/v1/artifacts?limit=0")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/v1/artifacts?limit=501")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/v1/artifacts?sort=size")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(
        app.get("/api/v1/artifacts?limit=500").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn detail_is_a_miss_then_a_hit() {
    for app in TestApp::all_backends().await {
        let first = app.get("/api/v1/artifacts/skill:nested-tree").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.header("x-cache"), Some("miss"));
        let second = app.get("/api/v1/artifacts/skill:nested-tree").await;
        assert_eq!(second.header("x-cache"), Some("hit"));
        assert_eq!(first.body["content_hash"], second.body["content_hash"]);
        let files: Vec<(&str, u64)> = second.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["size"].as_u64().unwrap()))
            .collect();
        assert_eq!(files[0], ("README.md", 58));
        assert!(files.contains(&("assets/blob.bin", 256)));
        assert!(files.contains(&("references/empty.md", 0)));
        assert!(second.body["cached_at"].is_string());
        assert_eq!(second.body["collection"], "default");
    }
}

#[tokio::test]
async fn detail_strips_a_file_extension_from_the_id() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/artifacts/command:review-pr.md").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], "command:review-pr");
}

#[tokio::test]
async fn unknown_artifacts_are_404() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts/skill:does-not-exist")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn traversal_and_malformed_ids_are_400_and_never_touch_the_disk() {
    let app = TestApp::spawn().await;
    let before = app.source_reads();
    for id in [
        "skill:..",
        "skill:..%2F..%2Fetc",
        "skill:a%2Fb",
        "skill:a%5Cb",
        "skill:.hidden",
        "skill:a%00b",
        "skill:",
        "nested-tree",
        "widget:x",
    ] {
        let r = app.get(&format!("/api/v1/artifacts/{id}")).await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let r = app
            .get(&format!("/api/v1/artifacts/{id}/files/SKILL.md"))
            .await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    assert_eq!(app.source_reads(), before);
}

#[tokio::test]
async fn files_are_served_as_text_or_base64() {
    let app = TestApp::spawn().await;
    let r = app
        .get("/api/v1/artifacts/skill:nested-tree/files/scripts/run.py")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["encoding"], "utf-8");
    assert!(r.body["content"].as_str().unwrap().contains("greet"));
    let encoded = app
        .get("/api/v1/artifacts/skill:nested-tree/files/scripts%2Frun.py")
        .await;
    assert_eq!(encoded.body, r.body);

    let blob = app
        .get("/api/v1/artifacts/skill:nested-tree/files/assets/blob.bin")
        .await;
    assert_eq!(blob.body["encoding"], "base64");
    assert_eq!(blob.body["size"], 256);

    let unicode = app
        .get("/api/v1/artifacts/skill:unicode-desc/files/notes/%E6%97%A5%E6%9C%AC%E8%AA%9E.md")
        .await;
    assert_eq!(unicode.status, StatusCode::OK, "{}", unicode.text);

    let cmd = app
        .get("/api/v1/artifacts/command:review-pr/files/review-pr.md")
        .await;
    assert_eq!(cmd.status, StatusCode::OK, "{}", cmd.text);
    assert!(cmd.body["content"].as_str().unwrap().contains("/review-pr"));
}

#[tokio::test]
async fn file_paths_that_escape_the_artifact_are_refused() {
    let app = TestApp::spawn().await;
    let skill = app.collection_dir("default").join("skills/nested-tree");
    std::os::unix::fs::symlink("/etc/passwd", skill.join("passwd-link")).unwrap();
    std::os::unix::fs::symlink("/etc", skill.join("etc-link")).unwrap();
    for path in [
        "..%2F..%2Fcollection.toml",
        "../../collection.toml",
        "%2Fetc%2Fpasswd",
        "scripts/..%2F..%2F..%2Fcollection.toml",
        "a%5C..%5Cb",
    ] {
        let r = app
            .get(&format!("/api/v1/artifacts/skill:nested-tree/files/{path}"))
            .await;
        assert!(
            r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            r.status,
            r.text
        );
        assert!(!r.text.contains("root:"), "{path} leaked a file");
    }
    for path in [
        "passwd-link",
        "etc-link/passwd",
        "etc-link%2Fpasswd",
        "missing.md",
    ] {
        let r = app
            .get(&format!("/api/v1/artifacts/skill:nested-tree/files/{path}"))
            .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    // The links are not part of the artifact, so its hash is unchanged.
    let r = app.get("/api/v1/artifacts/skill:nested-tree").await;
    assert_eq!(
        r.body["content_hash"],
        "41d2a5ab212e28cdf7f90d9bdf33b2a2aaedbddd07017c46ec79ff18783fa9d4"
    );
}

#[tokio::test]
async fn an_empty_collection_is_known_and_lists_nothing() {
    let app = TestApp::spawn().await;
    std::fs::create_dir_all(app.data_home.join("collections/empty-one")).unwrap();
    let r = app.get("/api/v1/artifacts?collection=empty-one").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["page_info"]["total_count"], 0);
}
