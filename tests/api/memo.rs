//! The memory tier (`src/memo`): answers kept in memory are served only while the database
//! is as it was when they were built, whichever instance changed it.

use poem::http::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

const DETAIL: &str = "/api/v1/artifacts/skill:bom-skill";
const LIST: &str = "/api/v1/artifacts?search=bom&limit=5";

#[tokio::test]
async fn memoised_reads_never_outlive_a_change_made_by_another_instance() {
    for app in TestApp::all_backends().await {
        let other = app.second_instance().await;
        let first = app.get(DETAIL).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let again = app.get(DETAIL).await;
        assert_eq!(again.text, first.text, "{:?}", app.backend);
        assert_eq!(again.header("x-cache"), Some("hit"));
        assert_eq!(again.header("etag"), first.header("etag"));
        assert_eq!(
            again.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert!(!app.state.hot.detail.is_empty(), "the detail is held");
        let listed = app.get(LIST).await;
        assert_eq!(app.get(LIST).await.text, listed.text);
        assert!(!app.state.hot.lists.is_empty(), "the list is held");
        let collections = app.get("/api/v1/user-collections").await;
        app.get("/api/v1/user-collections").await;

        // The other instance edits the artifact; this one's very next reads show it.
        let tag = other.get(DETAIL).await.header("etag").unwrap().to_string();
        let r = other
            .client
            .put(format!("{DETAIL}/files/SKILL.md"))
            .header("If-Match", tag)
            .body_json(&json!({"content": "---\ndescription: Edited elsewhere\n---\n"}))
            .send()
            .await;
        r.assert_status_is_ok();
        let after = app.get(DETAIL).await;
        assert_eq!(
            after.body["description"], "Edited elsewhere",
            "{:?}",
            app.backend
        );
        assert_ne!(after.header("etag"), first.header("etag"));
        let listed_after = app.get(LIST).await;
        assert_eq!(
            listed_after.body["items"][0]["description"],
            "Edited elsewhere"
        );

        // It makes a collection: this one lists it at once.
        other.create_collection("Made elsewhere").await;
        let now = app.get("/api/v1/user-collections").await;
        assert_eq!(
            now.body["page_info"]["total_count"],
            collections.body["page_info"]["total_count"]
                .as_u64()
                .unwrap()
                + 1
        );

        // A change on disk refreshed by the other instance: seen here at once.
        std::fs::write(
            app.collection_dir("default")
                .join("skills/bom-skill/SKILL.md"),
            "---\ndescription: Changed on disk\n---\n",
        )
        .unwrap();
        other.refresh_everything(false).await;
        let refreshed = app.get(DETAIL).await;
        assert_eq!(refreshed.body["description"], "Changed on disk");
        assert_eq!(
            app.get(LIST).await.body["items"][0]["description"],
            "Changed on disk"
        );
    }
}

#[tokio::test]
async fn the_data_version_moves_with_every_commit_and_only_then() {
    let app = TestApp::spawn_on(Backend::Sqlite).await;
    let version = &app.state.hot.version;
    let before = version
        .current()
        .await
        .expect("a file database has a version");
    assert_eq!(
        version.current().await,
        Some(before.clone()),
        "nothing changed"
    );
    app.create_collection("One more").await;
    let after = version.current().await.unwrap();
    assert_ne!(after, before, "a commit by the pool is seen by the probe");
    assert_eq!(version.latest(), Some(after));
}

#[tokio::test]
async fn concurrent_reads_share_probes_and_all_get_their_answer() {
    let app = TestApp::spawn().await;
    let expected = app.get(DETAIL).await.text;
    let reads = (0..32).map(|_| app.get(DETAIL));
    for reply in futures::future::join_all(reads).await {
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text, expected);
    }
}
