//! Groups: validation, ordering, copy, write-through to collection.toml (checks 7-12).

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

fn member_positions(group: &Value) -> Vec<(String, i64)> {
    group["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["artifact_id"].as_str().unwrap().to_string(),
                m["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn group_order(app: &TestApp) -> Vec<(String, i64)> {
    let r = app.get("/api/v1/groups?collection_id=default").await;
    r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn ids(group: &Value) -> Vec<String> {
    member_positions(group)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn assert_gapless(group: &Value) {
    let positions: Vec<i64> = member_positions(group)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        positions,
        (0..positions.len() as i64).collect::<Vec<_>>(),
        "{group}"
    );
}

#[tokio::test]
async fn a_new_group_gets_defaults_and_normalised_fields() {
    for app in TestApp::all_backends().await {
        let r = app
            .post_json(
                "/api/v1/groups",
                json!({"collection_id": "default", "name": "Plain"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            (
                r.body["tags"].clone(),
                r.body["color"].clone(),
                r.body["icon"].clone()
            ),
            (json!([]), json!("slate"), json!("layers"))
        );
        assert_eq!(r.body["position"], 0);
        let r = app
            .post_json(
                "/api/v1/groups",
                json!({"collection_id": "default", "name": "Fancy", "tags": [" Frontend ", "frontend", "Critical_Path"], "color": "#22C55E", "icon": "Folder"}),
            )
            .await;
        assert_eq!(r.body["tags"], json!(["frontend", "critical_path"]));
        assert_eq!(r.body["color"], "#22c55e");
        assert_eq!(r.body["icon"], "Folder");
        assert_eq!(r.body["position"], 1, "appended when no position is given");
    }
}

#[tokio::test]
async fn invalid_group_fields_are_rejected() {
    for app in TestApp::all_backends().await {
        let base = json!({"collection_id": "default", "name": "G"});
        for (field, value) in [
            ("tags", json!(["invalid tag!"])),
            ("color", json!("purple")),
            ("color", json!("#12")),
            (
                "tags",
                json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()),
            ),
            ("icon", json!("x".repeat(33))),
            ("name", json!(" ")),
        ] {
            let mut body = base.clone();
            body[field] = value;
            app.post_json("/api/v1/groups", body)
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        }
        app.create_group("default", "G").await;
        app.post_json("/api/v1/groups", base.clone())
            .await
            .assert_error(StatusCode::BAD_REQUEST, "duplicate_name");
        app.post_json(
            "/api/v1/groups",
            json!({"collection_id": "nope", "name": "G"}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/groups")
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.get("/api/v1/groups?collection_id=nope")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn partial_update_changes_only_what_is_sent() {
    for app in TestApp::all_backends().await {
        let r = app
            .post_json("/api/v1/groups", json!({"collection_id": "default", "name": "G", "tags": ["a"], "icon": "star", "description": "d"}))
            .await;
        let id = r.body["id"].as_str().unwrap().to_string();
        let u = app
            .put_json(&format!("/api/v1/groups/{id}"), json!({"color": "green"}))
            .await;
        assert_eq!(u.status, StatusCode::OK, "{}", u.text);
        assert_eq!(
            (
                u.body["color"].clone(),
                u.body["tags"].clone(),
                u.body["icon"].clone(),
                u.body["description"].clone()
            ),
            (json!("green"), json!(["a"]), json!("star"), json!("d"))
        );
        let listed = app.get("/api/v1/groups?collection_id=default").await;
        assert_eq!(listed.body["total"], 1);
        assert_eq!(listed.body["groups"][0]["color"], "green");
        assert_eq!(listed.body["groups"][0]["tags"], json!(["a"]));
        app.put_json(&format!("/api/v1/groups/{id}"), json!({}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        app.create_group("default", "Other").await;
        app.put_json(&format!("/api/v1/groups/{id}"), json!({"name": "Other"}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "duplicate_name");
        app.put_json("/api/v1/groups/nope", json!({"name": "x"}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn groups_are_inserted_reordered_and_compacted_without_gaps() {
    for app in TestApp::all_backends().await {
        let a = app.create_group("default", "A").await;
        let b = app.create_group("default", "B").await;
        let c = app.create_group("default", "C").await;
        let first = app
            .post_json(
                "/api/v1/groups",
                json!({"collection_id": "default", "name": "First", "position": 0}),
            )
            .await;
        let first = first.body["id"].as_str().unwrap().to_string();

        assert_eq!(
            group_order(&app).await,
            [
                ("First".into(), 0),
                ("A".into(), 1),
                ("B".into(), 2),
                ("C".into(), 3)
            ]
        );
        app.put_json(&format!("/api/v1/groups/{c}"), json!({"position": 0}))
            .await;
        assert_eq!(
            group_order(&app).await,
            [
                ("C".into(), 0),
                ("First".into(), 1),
                ("A".into(), 2),
                ("B".into(), 3)
            ]
        );

        let path = "/api/v1/user-collections/default/groups/order";
        let r = app
            .put_json(path, json!({"group_ids": [a, b, c, first]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["total"], 4);
        assert_eq!(
            group_order(&app).await,
            [
                ("A".into(), 0),
                ("B".into(), 1),
                ("C".into(), 2),
                ("First".into(), 3)
            ]
        );
        app.put_json(path, json!({"group_ids": [a, b, c]}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.put_json(path, json!({"group_ids": [a, b, c, first, "nope"]}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.put_json(path, json!({"group_ids": [a, b, c, first, a]}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.put_json(
            "/api/v1/user-collections/nope/groups/order",
            json!({"group_ids": []}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

        assert_eq!(
            app.delete(&format!("/api/v1/groups/{b}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            group_order(&app).await,
            [("A".into(), 0), ("C".into(), 1), ("First".into(), 2)]
        );
        app.delete(&format!("/api/v1/groups/{b}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let coll = app.get("/api/v1/user-collections/default").await;
        assert_eq!(coll.body["groups"].as_array().unwrap().len(), 3);
        assert_eq!(coll.body["group_count"], 3);
    }
}

#[tokio::test]
async fn members_are_inserted_removed_reordered_and_moved_gaplessly() {
    for app in TestApp::all_backends().await {
        let g = app.create_group("default", "G").await;
        let add_path = format!("/api/v1/groups/{g}/artifacts");
        let add = |body: Value| app.post_json(&add_path, body);
        let r = add(json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r =
            add(json!({"artifact_ids": ["command:review-pr", "skill:nested-tree"], "position": 1}))
                .await;
        assert_eq!(
            ids(&r.body),
            ["skill:nested-tree", "command:review-pr", "skill:bom-skill"]
        );
        assert_gapless(&r.body);
        add(json!({"artifact_ids": ["skill:ghost"]}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        add(json!({"artifact_ids": []}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

        assert_eq!(
            app.delete(&format!("/api/v1/groups/{g}/artifacts/skill:nested-tree"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let r = app.get(&format!("/api/v1/groups/{g}")).await;
        assert_eq!(ids(&r.body), ["command:review-pr", "skill:bom-skill"]);
        assert_gapless(&r.body);
        app.delete(&format!("/api/v1/groups/{g}/artifacts/skill:nested-tree"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        let order = format!("/api/v1/groups/{g}/artifacts/order");
        let r = app
            .put_json(
                &order,
                json!({"artifact_ids": ["skill:bom-skill", "command:review-pr"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(ids(&r.body), ["skill:bom-skill", "command:review-pr"]);
        app.put_json(&order, json!({"artifact_ids": ["skill:bom-skill"]}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.put_json(
            &order,
            json!({"artifact_ids": ["skill:bom-skill", "skill:crlf-skill"]}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

        // Move within the group, then to another group.
        add(json!({"artifact_ids": ["skill:crlf-skill"]})).await;
        let r = app
            .post_json(
                &format!("/api/v1/groups/{g}/artifacts/skill:crlf-skill/move"),
                json!({"target_group_id": g, "position": 0}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            ids(&r.body),
            ["skill:crlf-skill", "skill:bom-skill", "command:review-pr"]
        );
        let other = app.create_group("default", "Other").await;
        let r = app
            .post_json(
                &format!("/api/v1/groups/{g}/artifacts/skill:bom-skill/move"),
                json!({"target_group_id": other}),
            )
            .await;
        assert_eq!(ids(&r.body), ["skill:bom-skill"]);
        let source = app.get(&format!("/api/v1/groups/{g}")).await;
        assert_eq!(ids(&source.body), ["skill:crlf-skill", "command:review-pr"]);
        assert_gapless(&source.body);
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts/skill:bom-skill/move"),
            json!({"target_group_id": other}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts/skill:crlf-skill/move"),
            json!({"target_group_id": "nope"}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        // Listing groups by artifact.
        let holding = app
            .get("/api/v1/groups?collection_id=default&artifact_id=skill:bom-skill")
            .await;
        assert_eq!(holding.body["total"], 1);
        assert_eq!(holding.body["groups"][0]["name"], "Other");
        let searched = app
            .get("/api/v1/groups?collection_id=default&search=OTH")
            .await;
        assert_eq!(searched.body["total"], 1);
    }
}

#[tokio::test]
async fn adding_to_a_group_adds_to_its_collection() {
    let app = TestApp::spawn().await;
    let c = app.create_collection("Fresh").await;
    let g = app.create_group(&c, "G").await;
    app.post_json(
        &format!("/api/v1/groups/{g}/artifacts"),
        json!({"artifact_ids": ["skill:nested-tree"]}),
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/user-collections/{c}")).await.body["artifact_count"],
        1
    );
}

#[tokio::test]
async fn copying_a_group_names_it_copy_and_brings_its_members() {
    for app in TestApp::all_backends().await {
        let g = app.create_group("default", "Src").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree", "command:review-pr", "skill:bom-skill"]}),
        )
        .await;
        let target = app.create_collection("Target").await;
        app.create_group(&target, "Existing").await;
        let r = app
            .post_json(
                &format!("/api/v1/groups/{g}/copy"),
                json!({"target_collection_id": target}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["name"], "Src (Copy)");
        assert_eq!(r.body["artifact_count"], 3);
        assert_eq!(r.body["position"], 1);
        let copy = app
            .get(&format!(
                "/api/v1/groups/{}",
                r.body["id"].as_str().unwrap()
            ))
            .await;
        let source = app.get(&format!("/api/v1/groups/{g}")).await;
        assert_eq!(member_positions(&copy.body), member_positions(&source.body));
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{target}"))
                .await
                .body["artifact_count"],
            3
        );
        app.post_json(
            &format!("/api/v1/groups/{g}/copy"),
            json!({"target_collection_id": target}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "duplicate_name");
        app.post_json(
            &format!("/api/v1/groups/{g}/copy"),
            json!({"target_collection_id": "nope"}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post_json(
            "/api/v1/groups/nope/copy",
            json!({"target_collection_id": target}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let same = app
            .post_json(
                &format!("/api/v1/groups/{g}/copy"),
                json!({"target_collection_id": "default"}),
            )
            .await;
        assert_eq!(same.status, StatusCode::CREATED);
        assert_eq!(same.body["collection_id"], "default");
    }
}

#[tokio::test]
async fn fifty_concurrent_moves_leave_no_duplicate_or_missing_positions() {
    for app in TestApp::all_backends().await {
        let a = app.create_group("default", "A").await;
        let b = app.create_group("default", "B").await;
        app.refresh_everything(false).await;
        let everything: Vec<String> = app
            .list_all("")
            .await
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        app.post_json(
            &format!("/api/v1/groups/{a}/artifacts"),
            json!({"artifact_ids": everything}),
        )
        .await;
        let moves = (0..50).map(|i| {
            let id = everything[i % everything.len()].clone();
            let (from, to) = if i % 3 == 0 {
                (a.clone(), b.clone())
            } else {
                (a.clone(), a.clone())
            };
            let app = &app;
            async move {
                app.post_json(
                    &format!("/api/v1/groups/{from}/artifacts/{id}/move"),
                    json!({"target_group_id": to, "position": (i * 7) % 5}),
                )
                .await
            }
        });
        let replies = futures::future::join_all(moves).await;
        for r in &replies {
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND,
                "{} {}",
                r.status,
                r.text
            );
        }
        let ga = app.get(&format!("/api/v1/groups/{a}")).await;
        let gb = app.get(&format!("/api/v1/groups/{b}")).await;
        assert_gapless(&ga.body);
        assert_gapless(&gb.body);
        let mut all: Vec<String> = ids(&ga.body).into_iter().chain(ids(&gb.body)).collect();
        all.sort();
        let mut expected = everything.clone();
        expected.sort();
        assert_eq!(
            all, expected,
            "every artifact is in exactly one of the two groups ({:?})",
            app.backend
        );
    }
}

#[tokio::test]
async fn concurrent_group_reorders_stay_gapless() {
    for app in TestApp::all_backends().await {
        let mut groups = Vec::new();
        for i in 0..6 {
            groups.push(app.create_group("default", &format!("G{i}")).await);
        }
        let updates = (0..30).map(|i| {
            let id = groups[i % groups.len()].clone();
            let app = &app;
            async move {
                app.put_json(
                    &format!("/api/v1/groups/{id}"),
                    json!({"position": (i * 5) % 6}),
                )
                .await
            }
        });
        for r in futures::future::join_all(updates).await {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        let listed = app.get("/api/v1/groups?collection_id=default").await;
        let mut positions: Vec<i64> = listed.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["position"].as_i64().unwrap())
            .collect();
        positions.sort();
        assert_eq!(positions, (0..6).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn groups_are_mirrored_into_collection_toml_and_survive_a_lost_database() {
    let app = TestApp::spawn_on(Backend::Sqlite).await;
    let manifest = app.collection_dir("default").join("collection.toml");
    let before = std::fs::read_to_string(&manifest).unwrap();
    let g = app
        .post_json("/api/v1/groups", json!({"collection_id": "default", "name": "Review kit", "color": "blue", "description": "For PRs"}))
        .await;
    let g = g.body["id"].as_str().unwrap().to_string();
    app.post_json(
        &format!("/api/v1/groups/{g}/artifacts"),
        json!({"artifact_ids": ["command:review-pr", "agent:code-reviewer"]}),
    )
    .await;
    app.create_group("default", "Second").await;

    let after = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        after.starts_with(&before.trim_end()[..before.trim_end().len() - 10]),
        "the rest of the file is kept"
    );
    let doc: toml::Table = after.parse().unwrap();
    let groups = doc["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["name"].as_str(), Some("Review kit"));
    assert_eq!(groups[0]["color"].as_str(), Some("blue"));
    assert_eq!(groups[0]["position"].as_integer(), Some(0));
    assert_eq!(
        groups[0]["members"],
        toml::Value::Array(vec![
            "command:review-pr".into(),
            "agent:code-reviewer".into()
        ])
    );
    assert_eq!(
        doc["artifacts"].as_array().unwrap().len(),
        15,
        "artifacts untouched"
    );

    // A new database over the same data home gets the groups back.
    let fresh = crate::helpers::TestApp::spawn_over(&app).await;
    let listed = fresh.get("/api/v1/groups?collection_id=default").await;
    assert_eq!(listed.body["total"], 2, "{}", listed.text);
    assert_eq!(listed.body["groups"][0]["name"], "Review kit");
    let restored = fresh
        .get(&format!(
            "/api/v1/groups/{}",
            listed.body["groups"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        ids(&restored.body),
        ["command:review-pr", "agent:code-reviewer"]
    );

    // Deleting every group empties [[groups]] and keeps the rest of the manifest.
    let all = app.get("/api/v1/groups?collection_id=default").await;
    let every: Vec<String> = all.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(every.len(), 2, "{}", all.text);
    for id in &every {
        let r = app.delete(&format!("/api/v1/groups/{id}")).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let doc: toml::Table = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    assert_eq!(
        doc.get("groups")
            .and_then(|g| g.as_array())
            .map_or(0, |g| g.len()),
        0,
        "{doc}"
    );
    assert!(
        doc.contains_key("artifacts") && doc.contains_key("collection"),
        "{doc}"
    );
}

#[tokio::test]
async fn a_folder_with_groups_but_no_collection_gets_one_on_start_up() {
    let app = TestApp::spawn_on(Backend::Sqlite).await;
    let manifest = app.collection_dir("work").join("collection.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[[groups]]\nname = \"Work stuff\"\ncolor = \"rose\"\nicon = \"briefcase\"\nposition = 0\nmembers = [\"skill:work-skill\", \"not an id\"]\n");
    std::fs::write(&manifest, text).unwrap();
    let fresh = TestApp::spawn_over(&app).await;
    let list = fresh.get("/api/v1/user-collections?search=work").await;
    assert_eq!(list.body["items"][0]["name"], "work", "{}", list.text);
    assert_eq!(list.body["items"][0]["group_count"], 1);
    assert_eq!(list.body["items"][0]["artifact_count"], 1);
}

#[tokio::test]
async fn every_route_is_reachable_and_none_shadows_another() {
    let app = TestApp::spawn().await;
    let c = app.create_collection("Routes").await;
    let g = app.create_group(&c, "G").await;
    let g2 = app.create_group(&c, "H").await;
    let calls: Vec<(&str, String, Option<Value>, StatusCode)> = vec![
        (
            "GET",
            "/api/v1/user-collections".into(),
            None,
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/api/v1/user-collections/{c}"),
            None,
            StatusCode::OK,
        ),
        (
            "PUT",
            format!("/api/v1/user-collections/{c}"),
            Some(json!({"description": "x"})),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/api/v1/user-collections/{c}/artifacts"),
            Some(json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill"]})),
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/api/v1/user-collections/{c}/artifacts"),
            None,
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/api/v1/user-collections/{c}/artifacts/copy"),
            Some(json!({"artifact_ids": ["skill:bom-skill"], "target_collection_id": "default"})),
            StatusCode::OK,
        ),
        (
            "PUT",
            format!("/api/v1/user-collections/{c}/groups/order"),
            Some(json!({"group_ids": [g2, g]})),
            StatusCode::OK,
        ),
        (
            "GET",
            format!("/api/v1/groups?collection_id={c}"),
            None,
            StatusCode::OK,
        ),
        ("GET", format!("/api/v1/groups/{g}"), None, StatusCode::OK),
        (
            "PUT",
            format!("/api/v1/groups/{g}"),
            Some(json!({"icon": "x"})),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/api/v1/groups/{g}/artifacts"),
            Some(json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill"]})),
            StatusCode::CREATED,
        ),
        (
            "PUT",
            format!("/api/v1/groups/{g}/artifacts/order"),
            Some(json!({"artifact_ids": ["skill:bom-skill", "skill:nested-tree"]})),
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/api/v1/groups/{g}/artifacts/skill:bom-skill/move"),
            Some(json!({"target_group_id": g2})),
            StatusCode::OK,
        ),
        (
            "DELETE",
            format!("/api/v1/groups/{g}/artifacts/skill:nested-tree"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "POST",
            format!("/api/v1/groups/{g}/copy"),
            Some(json!({"target_collection_id": c})),
            StatusCode::CREATED,
        ),
        (
            "POST",
            format!("/api/v1/user-collections/{c}/artifacts/move"),
            Some(json!({"artifact_ids": ["skill:bom-skill"], "target_collection_id": "default"})),
            StatusCode::OK,
        ),
        (
            "DELETE",
            format!("/api/v1/user-collections/{c}/artifacts/skill:nested-tree"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "DELETE",
            format!("/api/v1/groups/{g}"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "DELETE",
            format!("/api/v1/user-collections/{c}"),
            None,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, path, body, expected) in calls {
        let r = match (method, body) {
            ("GET", _) => app.get(&path).await,
            ("DELETE", _) => app.delete(&path).await,
            ("POST", Some(b)) => app.post_json(&path, b).await,
            ("PUT", Some(b)) => app.put_json(&path, b).await,
            _ => unreachable!(),
        };
        assert_eq!(r.status, expected, "{method} {path}: {}", r.text);
    }
}

#[tokio::test]
async fn a_deleted_collection_does_not_come_back_and_a_renamed_one_keeps_its_folder() {
    let app = TestApp::spawn_on(Backend::Sqlite).await;
    // "work" has a folder; a collection of that name mirrors into it.
    let work = app.create_collection("work").await;
    let g = app.create_group(&work, "Kept").await;
    app.post_json(
        &format!("/api/v1/groups/{g}/artifacts"),
        json!({"artifact_ids": ["skill:work-skill"]}),
    )
    .await;
    let manifest = app.collection_dir("work").join("collection.toml");
    assert!(std::fs::read_to_string(&manifest).unwrap().contains("Kept"));
    // Renamed: still mirrored into the same folder.
    app.put_json(
        &format!("/api/v1/user-collections/{work}"),
        json!({"name": "Work stuff"}),
    )
    .await;
    app.create_group(&work, "After rename").await;
    assert!(
        std::fs::read_to_string(&manifest)
            .unwrap()
            .contains("After rename")
    );
    // Deleted: the folder's groups are cleared, so a restart does not resurrect it.
    assert_eq!(
        app.delete(&format!("/api/v1/user-collections/{work}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let doc: toml::Table = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    assert!(doc.get("groups").is_none(), "{doc:?}");
    let fresh = TestApp::spawn_over(&app).await;
    assert_eq!(
        fresh.get("/api/v1/user-collections").await.body["page_info"]["total_count"],
        1,
        "only the default collection"
    );
}

#[tokio::test]
async fn searches_ignore_case_beyond_ascii_on_both_backends() {
    for app in TestApp::all_backends().await {
        app.create_group("default", "Équipe Ünïcode").await;
        app.create_group("default", "Other").await;
        let r = app
            .get("/api/v1/groups?collection_id=default&search=%C3%A9QUIPE%20%C3%BC")
            .await;
        assert_eq!(r.body["total"], 1, "{:?}: {}", app.backend, r.text);
        let project = app.empty_project("unicode");
        app.post_json(
            "/api/v1/deployments",
            json!({"artifact_id": "skill:unicode-desc", "project_path": project}),
        )
        .await;
        let d = app.get("/api/v1/deployments?search=UNICODE-DESC").await;
        assert_eq!(d.body["page_info"]["total_count"], 1, "{}", d.text);
    }
}
