use chrono::Utc;
use entity::cached_artifacts;
use poem::http::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::TestApp;

async fn expire(app: &TestApp, artifact_id: &str) {
    cached_artifacts::Entity::update_many()
        .col_expr(
            cached_artifacts::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(cached_artifacts::Column::ArtifactId.eq(artifact_id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fresh_start_reports_an_empty_cold_cache() {
    for app in TestApp::all_backends().await {
        let r = app.get("/api/v1/cache/status").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["entries"], 0);
        assert_eq!(r.body["hits"], 0);
        assert_eq!(r.body["misses"], 0);
        assert_eq!(r.body["hit_rate"], 0.0);
        assert!(r.body["last_full_sync"].is_null());
        assert_eq!(r.body["schema_version"], "1");
    }
}

#[tokio::test]
async fn status_counts_entries_bytes_hits_and_misses() {
    for app in TestApp::all_backends().await {
        app.list_all("").await;
        app.get("/api/v1/artifacts/skill:nested-tree").await;
        app.get("/api/v1/artifacts/skill:nope").await;
        let r = app.get("/api/v1/cache/status").await;
        assert_eq!(r.body["entries"], 16);
        assert!(r.body["bytes"].as_u64().unwrap() > 1000);
        assert_eq!(r.body["hits"], 1);
        assert_eq!(r.body["misses"], 1);
        assert_eq!(r.body["hit_rate"], 0.5);
        assert!(r.body["oldest_entry"].is_string() && r.body["newest_entry"].is_string());
        assert!(r.body["last_full_sync"].is_string());
    }
}

#[tokio::test]
async fn an_expired_entry_is_reread_and_picks_up_changes() {
    for app in TestApp::all_backends().await {
        let before = app.get("/api/v1/artifacts/command:review-pr").await;
        assert_eq!(
            app.get("/api/v1/artifacts/command:review-pr")
                .await
                .header("x-cache"),
            Some("hit")
        );
        let file = app.collection_dir("default").join("commands/review-pr.md");
        std::fs::write(&file, "---\ndescription: Changed on disk\n---\n").unwrap();
        // Still fresh: the cache answers with what it has.
        let cached = app.get("/api/v1/artifacts/command:review-pr").await;
        assert_eq!(cached.body["description"], before.body["description"]);

        expire(&app, "command:review-pr").await;
        let after = app.get("/api/v1/artifacts/command:review-pr").await;
        assert_eq!(after.header("x-cache"), Some("miss"));
        assert_eq!(after.body["description"], "Changed on disk");
        assert_ne!(after.body["content_hash"], before.body["content_hash"]);
        assert_eq!(
            app.get("/api/v1/artifacts/command:review-pr")
                .await
                .header("x-cache"),
            Some("hit")
        );
    }
}

#[tokio::test]
async fn an_expired_but_unchanged_entry_is_revalidated_without_rehashing() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts/skill:nested-tree").await;
    let reads = app.source_reads();
    expire(&app, "skill:nested-tree").await;
    let r = app.get("/api/v1/artifacts/skill:nested-tree").await;
    assert_eq!(r.header("x-cache"), Some("miss"));
    assert_eq!(
        app.source_reads(),
        reads,
        "a stat fingerprint match must not re-read"
    );
    assert_eq!(
        app.get("/api/v1/artifacts/skill:nested-tree")
            .await
            .header("x-cache"),
        Some("hit")
    );
}

#[tokio::test]
async fn invalidating_one_entry_forces_the_next_read_to_the_source() {
    for app in TestApp::all_backends().await {
        app.get("/api/v1/artifacts/skill:bom-skill").await;
        let r = app.delete("/api/v1/cache/skill:bom-skill").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        app.delete("/api/v1/cache/skill:bom-skill")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.delete("/api/v1/cache/skill:..")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(
            app.get("/api/v1/artifacts/skill:bom-skill")
                .await
                .header("x-cache"),
            Some("miss")
        );
    }
}

#[tokio::test]
async fn clearing_empties_the_cache_and_the_next_read_refills_it() {
    for app in TestApp::all_backends().await {
        assert_eq!(app.list_all("").await.len(), 16);
        let r = app.post("/api/v1/cache/clear").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["cleared"], 16);
        let status = app.get("/api/v1/cache/status").await;
        assert_eq!(status.body["entries"], 0);
        assert!(status.body["last_full_sync"].is_null());
        assert_eq!(app.list_all("").await.len(), 16);
        // The files were not touched.
        assert!(
            app.collection_dir("default")
                .join("skills/nested-tree/SKILL.md")
                .is_file()
        );
    }
}

#[tokio::test]
async fn a_cold_entry_read_by_many_requests_at_once_reads_the_source_once() {
    for app in TestApp::all_backends().await {
        let before = app.source_reads();
        let requests = (0..24).map(|_| app.get("/api/v1/artifacts/skill:nested-tree"));
        let replies = futures::future::join_all(requests).await;
        assert!(replies.iter().all(|r| r.status == StatusCode::OK));
        assert_eq!(app.source_reads() - before, 1, "{:?}", app.backend);
        let misses = replies
            .iter()
            .filter(|r| r.header("x-cache") == Some("miss"))
            .count();
        assert_eq!(misses, 1);
    }
}

#[tokio::test]
async fn a_cold_list_read_by_many_requests_at_once_fills_the_cache_once() {
    let app = TestApp::spawn().await;
    let requests = (0..10).map(|_| app.get("/api/v1/artifacts?limit=50"));
    let replies = futures::future::join_all(requests).await;
    assert!(
        replies
            .iter()
            .all(|r| r.body["page_info"]["total_count"] == 16)
    );
    assert_eq!(app.source_reads(), 16, "each artifact read once");
    assert_eq!(app.state.cache.metrics().syncs.get(), 1);
}

#[tokio::test]
async fn refresh_rereads_only_what_changed_and_drops_what_vanished() {
    for app in TestApp::all_backends().await {
        let cache = &app.state.cache;
        let first = cache.sync_all(false).await.unwrap();
        assert_eq!((first.listed, first.added, first.updated), (16, 16, 0));

        let second = cache.sync_all(false).await.unwrap();
        assert_eq!(
            (
                second.unchanged,
                second.updated,
                second.added,
                second.removed
            ),
            (16, 0, 0, 0)
        );

        let dir = app.collection_dir("default");
        std::fs::write(dir.join("skills/crlf-skill/extra.txt"), "new file").unwrap();
        std::fs::remove_file(dir.join("agents/multiline-agent.md")).unwrap();
        std::fs::create_dir_all(dir.join("skills/brand-new")).unwrap();
        std::fs::write(
            dir.join("skills/brand-new/SKILL.md"),
            "---\ndescription: New\n---\n",
        )
        .unwrap();
        let reads = app.source_reads();
        let third = cache.sync_all(false).await.unwrap();
        assert_eq!(
            (third.updated, third.added, third.removed, third.unchanged),
            (1, 1, 1, 14)
        );
        assert_eq!(app.source_reads() - reads, 2);
        app.get("/api/v1/artifacts/agent:multiline-agent")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let new = app.get("/api/v1/artifacts/skill:brand-new").await;
        assert_eq!(new.header("x-cache"), Some("hit"));
        assert_eq!(new.body["in_manifest"], false);

        let forced = cache.sync_all(true).await.unwrap();
        assert_eq!(forced.updated, 16);
    }
}

#[tokio::test]
async fn cleanup_drops_only_expired_entries() {
    let app = TestApp::spawn().await;
    app.state.cache.sync_all(false).await.unwrap();
    expire(&app, "skill:bom-skill").await;
    assert!(
        app.state
            .cache
            .get("skill:bom-skill")
            .await
            .unwrap()
            .is_none(),
        "get ignores expired rows"
    );
    assert_eq!(app.state.cache.cleanup().await.unwrap(), 1);
    let left = cached_artifacts::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left.len(), 15);
}

#[tokio::test]
async fn a_vanished_artifact_is_dropped_on_its_next_detail_miss() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts/command:no-frontmatter").await;
    std::fs::remove_file(
        app.collection_dir("default")
            .join("commands/no-frontmatter.md"),
    )
    .unwrap();
    expire(&app, "command:no-frontmatter").await;
    app.get("/api/v1/artifacts/command:no-frontmatter")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert!(
        app.state
            .cache
            .get("command:no-frontmatter")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_text_format() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/artifacts/skill:nested-tree").await;
    app.get("/api/v1/artifacts/skill:nested-tree").await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.text.contains("skillmeat_cache_hits_total 1"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("skillmeat_cache_misses_total 1"),
        "{}",
        r.text
    );
    assert!(r.text.contains("skillmeat_cache_entries 1"), "{}", r.text);
}
