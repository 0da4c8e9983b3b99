//! User collections, memberships, move/copy (spec acceptance checks 1-6).

use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_default_collection_exists_and_holds_every_artifact() {
    for app in TestApp::all_backends().await {
        app.refresh_everything(false).await;
        let r = app.get("/api/v1/user-collections/default").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["name"], "Default Collection");
        assert_eq!(r.body["artifact_count"], 16);
        assert_eq!(r.body["groups"], json!([]));
        // Ensuring it again (a restart) is a no-op.
        app.state.collections.ensure_default().await.unwrap();
        assert_eq!(
            app.get("/api/v1/user-collections").await.body["page_info"]["total_count"],
            1
        );
    }
}

#[tokio::test]
async fn an_artifact_removed_from_the_default_collection_stays_removed_after_a_refresh() {
    let app = TestApp::spawn().await;
    app.refresh_everything(false).await;
    let r = app
        .delete("/api/v1/user-collections/default/artifacts/skill:bom-skill")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.state.cache.clear().await.unwrap();
    app.refresh_everything(true).await;
    assert_eq!(
        app.get("/api/v1/user-collections/default").await.body["artifact_count"],
        15
    );
    // Adding it back lifts the removal.
    let r = app
        .post_json(
            "/api/v1/user-collections/default/artifacts",
            json!({"artifact_ids": ["skill:bom-skill"]}),
        )
        .await;
    assert_eq!(r.body["added"], json!(["skill:bom-skill"]));
    app.refresh_everything(true).await;
    assert_eq!(
        app.get("/api/v1/user-collections/default").await.body["artifact_count"],
        16
    );
}

#[tokio::test]
async fn create_validates_names_and_refuses_duplicates_ignoring_case() {
    for app in TestApp::all_backends().await {
        let r = app
            .post_json(
                "/api/v1/user-collections",
                json!({"name": "  Work  ", "description": "d"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["name"], "Work");
        assert_eq!(r.body["artifact_count"], 0);
        assert_eq!(r.body["id"].as_str().unwrap().len(), 32);

        let dup = app
            .post_json("/api/v1/user-collections", json!({"name": "work"}))
            .await;
        dup.assert_error(StatusCode::CONFLICT, "conflict");
        assert!(
            dup.body["detail"]
                .as_str()
                .unwrap()
                .contains("already exists")
        );
        app.post_json("/api/v1/user-collections", json!({"name": "   "}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post_json("/api/v1/user-collections", json!({"name": "x".repeat(256)}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post_json("/api/v1/user-collections", json!({"nom": "x"}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn names_are_unique_in_the_database_even_when_created_concurrently() {
    for app in TestApp::all_backends().await {
        let creates =
            (0..8).map(|_| app.post_json("/api/v1/user-collections", json!({"name": "Race"})));
        let replies = futures::future::join_all(creates).await;
        let created = replies
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        let conflicts = replies
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .count();
        assert_eq!(
            (created, conflicts),
            (1, 7),
            "{:?}",
            replies.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn update_is_partial_and_checks_names() {
    for app in TestApp::all_backends().await {
        let a = app.create_collection("Alpha").await;
        app.create_collection("Beta").await;
        let r = app
            .put_json(
                &format!("/api/v1/user-collections/{a}"),
                json!({"description": "new"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (r.body["name"].as_str(), r.body["description"].as_str()),
            (Some("Alpha"), Some("new"))
        );
        app.put_json(&format!("/api/v1/user-collections/{a}"), json!({}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let empty = app
            .put_json(
                &format!("/api/v1/user-collections/{a}"),
                json!({"name": null}),
            )
            .await;
        assert!(
            empty.body["detail"]
                .as_str()
                .unwrap()
                .contains("At least one update parameter")
        );
        app.put_json(
            &format!("/api/v1/user-collections/{a}"),
            json!({"name": "BETA"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
        assert_eq!(
            app.put_json(
                &format!("/api/v1/user-collections/{a}"),
                json!({"name": "Alpha"})
            )
            .await
            .status,
            StatusCode::OK
        );
        assert_eq!(
            app.put_json(
                &format!("/api/v1/user-collections/{a}"),
                json!({"name": "alpha"})
            )
            .await
            .body["name"],
            "alpha"
        );
        app.put_json("/api/v1/user-collections/nope", json!({"name": "x"}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/user-collections/nope")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn listing_is_ordered_by_name_searchable_and_cursor_paged() {
    for app in TestApp::all_backends().await {
        for name in ["delta", "Alpha", "charlie", "Bravo"] {
            app.create_collection(name).await;
        }
        let first = app.get("/api/v1/user-collections?limit=1").await;
        assert_eq!(first.body["items"][0]["name"], "Alpha");
        assert_eq!(first.body["page_info"]["has_next_page"], true);
        assert_eq!(first.body["page_info"]["total_count"], 5);
        assert_eq!(first.body["page_info"]["has_previous_page"], false);
        let cursor = first.body["page_info"]["end_cursor"].as_str().unwrap();
        let second = app
            .get(&format!("/api/v1/user-collections?limit=1&after={cursor}"))
            .await;
        assert_eq!(second.body["page_info"]["has_previous_page"], true);
        assert_eq!(second.body["items"][0]["name"], "Bravo");
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/api/v1/user-collections?limit=2&after={a}"),
                None => "/api/v1/user-collections?limit=2".into(),
            };
            let r = app.get(&path).await;
            names.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["name"].as_str().unwrap().to_string()),
            );
            if r.body["page_info"]["has_next_page"] == false {
                break;
            }
            after = r.body["page_info"]["end_cursor"].as_str().map(String::from);
        }
        assert_eq!(
            names,
            ["Alpha", "Bravo", "charlie", "Default Collection", "delta"]
        );
        let search = app.get("/api/v1/user-collections?search=AR").await;
        assert_eq!(search.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(search.body["items"][0]["name"], "charlie");
        app.get("/api/v1/user-collections?after=garbage")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        app.get("/api/v1/user-collections?limit=101")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test]
async fn adding_reports_added_already_present_and_unknown_ids() {
    for app in TestApp::all_backends().await {
        let c = app.create_collection("Mine").await;
        let path = format!("/api/v1/user-collections/{c}/artifacts");
        let r = app
            .post_json(
                &path,
                json!({"artifact_ids": ["skill:nested-tree", "command:review-pr", "skill:ghost"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.body["added"],
            json!(["skill:nested-tree", "command:review-pr"])
        );
        assert_eq!(r.body["unknown"], json!(["skill:ghost"]));
        assert_eq!(r.body["total_artifacts"], 2);
        let again = app
            .post_json(&path, json!({"artifact_ids": ["skill:nested-tree"]}))
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body["added"], json!([]));
        assert_eq!(again.body["already_present"], json!(["skill:nested-tree"]));
        assert_eq!(
            (
                again.body["added_count"].clone(),
                again.body["already_present_count"].clone()
            ),
            (json!(0), json!(1))
        );
        app.post_json(&path, json!({"artifact_ids": []}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        app.post_json(&path, json!({"artifact_ids": ["skill:../x"]}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        app.post_json(
            "/api/v1/user-collections/nope/artifacts",
            json!({"artifact_ids": ["skill:nested-tree"]}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn members_are_listed_by_id_with_filters_and_groups() {
    for app in TestApp::all_backends().await {
        let c = app.create_collection("Mine").await;
        let ids = [
            "skill:nested-tree",
            "command:review-pr",
            "agent:code-reviewer",
            "skill:bom-skill",
        ];
        app.post_json(
            &format!("/api/v1/user-collections/{c}/artifacts"),
            json!({"artifact_ids": ids}),
        )
        .await;
        let g = app.create_group(&c, "Reviewers").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["command:review-pr", "agent:code-reviewer"]}),
        )
        .await;

        let all = app
            .get(&format!("/api/v1/user-collections/{c}/artifacts?limit=3"))
            .await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        let got: Vec<&str> = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "agent:code-reviewer",
                "command:review-pr",
                "skill:bom-skill"
            ]
        );
        assert_eq!(all.body["page_info"]["total_count"], 4);
        assert_eq!(all.body["items"][0]["available"], true);
        assert!(all.body["items"][0]["groups"].is_null());
        let cursor = all.body["page_info"]["end_cursor"].as_str().unwrap();
        let next = app
            .get(&format!(
                "/api/v1/user-collections/{c}/artifacts?limit=3&after={cursor}"
            ))
            .await;
        assert_eq!(next.body["items"][0]["id"], "skill:nested-tree");

        let skills = app
            .get(&format!(
                "/api/v1/user-collections/{c}/artifacts?type=skill"
            ))
            .await;
        assert_eq!(skills.body["page_info"]["total_count"], 2);
        let grouped = app
            .get(&format!(
                "/api/v1/user-collections/{c}/artifacts?group_id={g}&include_groups=true"
            ))
            .await;
        assert_eq!(grouped.body["page_info"]["total_count"], 2);
        assert_eq!(grouped.body["items"][0]["groups"][0]["name"], "Reviewers");
        app.get(&format!(
            "/api/v1/user-collections/{c}/artifacts?group_id=nope"
        ))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/api/v1/user-collections/nope/artifacts")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_member_that_vanished_from_disk_is_kept_and_marked_unavailable() {
    let app = TestApp::spawn().await;
    let c = app.create_collection("Mine").await;
    app.post_json(
        &format!("/api/v1/user-collections/{c}/artifacts"),
        json!({"artifact_ids": ["command:no-frontmatter"]}),
    )
    .await;
    std::fs::remove_file(
        app.collection_dir("default")
            .join("commands/no-frontmatter.md"),
    )
    .unwrap();
    app.refresh_everything(false).await;
    let r = app
        .get(&format!("/api/v1/user-collections/{c}/artifacts"))
        .await;
    assert_eq!(r.body["items"][0]["id"], "command:no-frontmatter");
    assert_eq!(r.body["items"][0]["available"], false);
}

#[tokio::test]
async fn removing_a_member_is_idempotent_and_leaves_its_groups_gapless() {
    for app in TestApp::all_backends().await {
        let c = app.create_collection("Mine").await;
        let g = app.create_group(&c, "G").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill", "skill:crlf-skill"]}),
        )
        .await;
        let r = app
            .delete(&format!(
                "/api/v1/user-collections/{c}/artifacts/skill:nested-tree"
            ))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.delete(&format!(
                "/api/v1/user-collections/{c}/artifacts/skill:nested-tree"
            ))
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.delete(&format!(
                "/api/v1/user-collections/{c}/artifacts/skill:never-there"
            ))
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        let group = app.get(&format!("/api/v1/groups/{g}")).await;
        let members: Vec<(String, i64)> = group.body["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["artifact_id"].as_str().unwrap().to_string(),
                    m["position"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            members,
            [
                ("skill:bom-skill".to_string(), 0),
                ("skill:crlf-skill".to_string(), 1)
            ]
        );
        app.delete("/api/v1/user-collections/nope/artifacts/skill:x")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn deleting_a_collection_cascades_but_keeps_artifacts_and_files() {
    for app in TestApp::all_backends().await {
        let c = app.create_collection("Doomed").await;
        app.post_json(
            &format!("/api/v1/user-collections/{c}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree"]}),
        )
        .await;
        let g = app.create_group(&c, "G").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree"]}),
        )
        .await;
        assert_eq!(
            app.delete(&format!("/api/v1/user-collections/{c}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        app.get(&format!("/api/v1/groups/{g}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("/api/v1/user-collections/{c}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(
            entity::group_artifacts::Entity::find()
                .count(&app.state.db)
                .await
                .unwrap(),
            0
        );
        let leftovers = entity::collection_artifacts::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.collection_id == c)
            .count();
        assert_eq!(leftovers, 0);
        assert_eq!(
            app.get("/api/v1/artifacts/skill:nested-tree").await.status,
            StatusCode::OK
        );
        assert!(
            app.collection_dir("default")
                .join("skills/nested-tree/SKILL.md")
                .is_file()
        );
    }
}

#[tokio::test]
async fn move_and_copy_are_one_transaction() {
    for app in TestApp::all_backends().await {
        let a = app.create_collection("A").await;
        let b = app.create_collection("B").await;
        app.post_json(
            &format!("/api/v1/user-collections/{a}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill", "command:review-pr"]}),
        )
        .await;
        app.post_json(
            &format!("/api/v1/user-collections/{b}/artifacts"),
            json!({"artifact_ids": ["skill:bom-skill"]}),
        )
        .await;
        let g = app.create_group(&a, "G").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree", "command:review-pr"]}),
        )
        .await;

        // One id not in the source: nothing changes anywhere.
        let failed = app
            .post_json(&format!("/api/v1/user-collections/{a}/artifacts/move"), json!({"artifact_ids": ["skill:nested-tree", "skill:crlf-skill"], "target_collection_id": b}))
            .await;
        failed.assert_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{a}")).await.body["artifact_count"],
            3
        );
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{b}")).await.body["artifact_count"],
            1
        );
        app.post_json(
            &format!("/api/v1/user-collections/{a}/artifacts/move"),
            json!({"artifact_ids": ["skill:nested-tree"], "target_collection_id": "nope"}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{a}")).await.body["artifact_count"],
            3
        );
        app.post_json(
            &format!("/api/v1/user-collections/{a}/artifacts/copy"),
            json!({"artifact_ids": ["skill:nested-tree"], "target_collection_id": a}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

        let copy = app
            .post_json(&format!("/api/v1/user-collections/{a}/artifacts/copy"), json!({"artifact_ids": ["skill:nested-tree", "skill:bom-skill"], "target_collection_id": b}))
            .await;
        assert_eq!(copy.status, StatusCode::OK, "{}", copy.text);
        assert_eq!(copy.body["added"], json!(["skill:nested-tree"]));
        assert_eq!(copy.body["already_present"], json!(["skill:bom-skill"]));
        assert_eq!(copy.body["removed"], json!([]));
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{a}")).await.body["artifact_count"],
            3
        );

        let moved = app
            .post_json(
                &format!("/api/v1/user-collections/{a}/artifacts/move"),
                json!({"artifact_ids": ["command:review-pr"], "target_collection_id": b}),
            )
            .await;
        assert_eq!(moved.body["removed"], json!(["command:review-pr"]));
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{a}")).await.body["artifact_count"],
            2
        );
        assert_eq!(
            app.get(&format!("/api/v1/user-collections/{b}")).await.body["artifact_count"],
            3
        );
        let group = app.get(&format!("/api/v1/groups/{g}")).await;
        assert_eq!(
            group.body["artifacts"],
            json!([{"artifact_id": "skill:nested-tree", "position": 0, "added_at": group.body["artifacts"][0]["added_at"]}])
        );
    }
}

/// A trigger that makes the database refuse to remove `artifact_id` from any collection: a
/// real failure half-way through a move (the copy into the target has happened by then).
async fn refuse_removing(app: &TestApp, artifact_id: &str) {
    use sea_orm::ConnectionTrait;
    let statements = match app.backend {
        crate::helpers::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_removal BEFORE DELETE ON collection_artifacts \
             WHEN OLD.artifact_id = '{artifact_id}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )],
        crate::helpers::Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse_removal() RETURNS trigger AS $$ BEGIN \
                 IF OLD.artifact_id = '{artifact_id}' THEN RAISE EXCEPTION 'injected'; END IF; \
                 RETURN OLD; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_removal BEFORE DELETE ON collection_artifacts \
             FOR EACH ROW EXECUTE FUNCTION refuse_removal()"
                .to_string(),
        ],
    };
    for sql in statements {
        app.state.db.execute_unprepared(&sql).await.unwrap();
    }
}

#[tokio::test]
async fn a_move_that_fails_half_way_changes_neither_collection() {
    for app in TestApp::all_backends().await {
        let a = app.create_collection("A").await;
        let b = app.create_collection("B").await;
        app.post_json(
            &format!("/api/v1/user-collections/{a}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree", "command:review-pr"]}),
        )
        .await;
        let g = app.create_group(&a, "G").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["command:review-pr"]}),
        )
        .await;
        refuse_removing(&app, "command:review-pr").await;
        let failed = app
            .post_json(
                &format!("/api/v1/user-collections/{a}/artifacts/move"),
                json!({"artifact_ids": ["skill:nested-tree", "command:review-pr"], "target_collection_id": b}),
            )
            .await;
        assert!(failed.status.is_server_error(), "{}", failed.text);
        let members = |id: String| {
            let app = &app;
            async move {
                let r = app
                    .get(&format!(
                        "/api/v1/user-collections/{id}/artifacts?limit=100"
                    ))
                    .await;
                let mut ids: Vec<String> = r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_string())
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(
            members(a.clone()).await,
            ["command:review-pr", "skill:nested-tree"],
            "the source kept both"
        );
        assert!(
            members(b.clone()).await.is_empty(),
            "the copy into the target was rolled back"
        );
        assert_eq!(
            app.get(&format!("/api/v1/groups/{g}")).await.body["artifact_count"],
            1,
            "the group kept its member"
        );
    }
}

#[tokio::test]
async fn clearing_the_cache_keeps_collections_and_memberships() {
    for app in TestApp::all_backends().await {
        let c = app.create_collection("Kept").await;
        app.post_json(
            &format!("/api/v1/user-collections/{c}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree"]}),
        )
        .await;
        let g = app.create_group(&c, "G").await;
        app.post_json(
            &format!("/api/v1/groups/{g}/artifacts"),
            json!({"artifact_ids": ["skill:nested-tree"]}),
        )
        .await;
        app.post("/api/v1/cache/clear").await;
        let r = app
            .get(&format!("/api/v1/user-collections/{c}/artifacts"))
            .await;
        assert_eq!(r.body["items"][0]["id"], "skill:nested-tree");
        assert_eq!(
            r.body["items"][0]["available"], true,
            "the listing refilled the cache"
        );
        assert_eq!(
            app.get(&format!("/api/v1/groups/{g}")).await.body["artifact_count"],
            1
        );
    }
}

#[tokio::test]
async fn one_request_may_name_at_most_5000_ids() {
    let app = TestApp::spawn().await;
    let c = app.create_collection("Big").await;
    let ids: Vec<String> = (0..5001).map(|i| format!("skill:s{i}")).collect();
    let r = app
        .post_json(
            &format!("/api/v1/user-collections/{c}/artifacts"),
            json!({"artifact_ids": ids}),
        )
        .await;
    r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        app.get(&format!("/api/v1/user-collections/{c}")).await.body["artifact_count"],
        0
    );
    // Repeats count once.
    let r = app
        .post_json(
            &format!("/api/v1/user-collections/{c}/artifacts"),
            json!({"artifact_ids": ["skill:bom-skill", "skill:bom-skill"]}),
        )
        .await;
    assert_eq!(r.body["added"], json!(["skill:bom-skill"]));
}
