//! A first run on a home made by SkillMeat 0.74: its recorded deployments are found by the
//! default search, its collections and groups (kept only in its database) come over in order,
//! and its database is left byte-identical.

use std::path::{Path, PathBuf};
use std::time::Duration;

use poem::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, ServerProcess, TestApp, copy_tree, fixture_074_dir, poll, temp_root,
};

/// SHA-256 of `cache.db`, `cache.db-wal` and `cache.db-shm`.
fn database_digests(data_home: &Path) -> Vec<(String, String)> {
    ["cache.db", "cache.db-wal", "cache.db-shm"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(data_home.join("cache").join(name)).unwrap();
            (name.to_string(), hex_digest(&bytes))
        })
        .collect()
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The collections by name with their member ids in order.
async fn collections_by_name(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    let list = app.get("/api/v1/user-collections?limit=100").await;
    let mut out = Vec::new();
    for c in list.body["items"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap().to_string();
        let members = app
            .get(&format!(
                "/api/v1/user-collections/{id}/artifacts?limit=100"
            ))
            .await;
        let mut ids: Vec<String> = members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        out.push((c["name"].as_str().unwrap().to_string(), id, ids));
    }
    out
}

/// A collection's groups in order: (name, colour, icon, description, members in order).
async fn groups_of(
    app: &TestApp,
    collection: &str,
) -> Vec<(String, String, String, String, Vec<String>)> {
    let list = app
        .get(&format!("/api/v1/groups?collection_id={collection}"))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let mut out = Vec::new();
    for g in list.body["groups"].as_array().unwrap() {
        let detail = app
            .get(&format!("/api/v1/groups/{}", g["id"].as_str().unwrap()))
            .await;
        let members = detail.body["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["artifact_id"].as_str().unwrap().to_string())
            .collect();
        out.push((
            g["name"].as_str().unwrap().into(),
            g["color"].as_str().unwrap().into(),
            g["icon"].as_str().unwrap().into(),
            g["description"].as_str().unwrap_or("").into(),
            members,
        ));
    }
    out
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn skillmeats_collections_and_groups_come_over_in_order_and_its_database_is_untouched() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres
            && !crate::helpers::postgres_available("the SkillMeat import on PostgreSQL")
        {
            continue;
        }
        let app = TestApp::spawn_074(backend).await;
        let before = database_digests(&app.data_home);

        let r = app.post("/api/v1/import/skillmeat").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let totals = &r.body["totals"];
        assert_eq!(totals["collections_created"], 2, "{}", r.text);
        assert_eq!(totals["groups_created"], 3, "{}", r.text);
        assert_eq!(totals["members_added"], 13, "{}", r.text);
        assert_eq!(totals["group_members_added"], 6, "{}", r.text);
        assert_eq!(totals["skipped"], 0, "{}", r.text);
        assert_eq!(
            database_digests(&app.data_home),
            before,
            "SkillMeat's database changed"
        );

        let collections = collections_by_name(&app).await;
        let all8 = strings(&[
            "command:lint-all",
            "command:ship-it",
            "skill:api-client",
            "skill:deploy-check",
            "skill:doc-writer",
            "skill:form-helper",
            "skill:sql-review",
            "skill:ui-kit",
        ]);
        let names: Vec<(&str, &Vec<String>)> = collections
            .iter()
            .map(|(n, _, m)| (n.as_str(), m))
            .collect();
        assert_eq!(
            names,
            [
                ("Default Collection", &all8),
                (
                    "Frontend Kit",
                    &strings(&["command:lint-all", "skill:form-helper", "skill:ui-kit"])
                ),
                ("Ops", &strings(&["command:ship-it", "skill:deploy-check"])),
            ]
        );
        // SkillMeat's ids are kept, so its clients' links keep working.
        let frontend = &collections[1].1;
        assert_eq!(frontend, "aac90c4001d34f599576d99bec005e8b");
        assert_eq!(
            groups_of(&app, frontend).await,
            [(
                "Components".into(),
                "blue".into(),
                "layers".into(),
                "building blocks".into(),
                strings(&["skill:form-helper", "skill:ui-kit"])
            )]
        );
        // Both of default's groups had position 0 in SkillMeat: creation time decides.
        assert_eq!(
            groups_of(&app, "default").await,
            [
                (
                    "Backend".into(),
                    "green".into(),
                    "server".into(),
                    "server side".into(),
                    strings(&["skill:sql-review", "skill:api-client", "command:ship-it"])
                ),
                (
                    "Docs".into(),
                    "rose".into(),
                    "layers".into(),
                    "writing".into(),
                    strings(&["skill:doc-writer"])
                ),
            ]
        );
        let positions: Vec<i64> =
            app.get("/api/v1/groups?collection_id=default").await.body["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["position"].as_i64().unwrap())
                .collect();
        assert_eq!(positions, [0, 1]);

        // Again: nothing new, nothing changed.
        let again = app.post("/api/v1/import/skillmeat").await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        let t = &again.body["totals"];
        assert_eq!(
            (
                &t["collections_created"],
                &t["groups_created"],
                &t["members_added"],
                &t["group_members_added"]
            ),
            (&json!(0), &json!(0), &json!(0), &json!(0)),
            "{}",
            again.text
        );
        assert_eq!(t["unchanged"], 19, "{}", again.text);
        assert!(
            again.body["collections"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["outcome"] == "unchanged")
        );
        assert_eq!(collections_by_name(&app).await, collections);

        // What the user deletes or removes here stays deleted.
        let ops = &collections[2].1;
        assert_eq!(
            app.delete(&format!("/api/v1/user-collections/{ops}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let removed = app
            .delete(&format!(
                "/api/v1/user-collections/{frontend}/artifacts/skill:ui-kit"
            ))
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let third = app.post("/api/v1/import/skillmeat").await;
        assert_eq!(third.status, StatusCode::OK, "{}", third.text);
        let skipped = third.body["skipped"].as_array().unwrap();
        assert!(
            skipped.iter().any(|s| s["kind"] == "collection"
                && s["name"] == "Ops"
                && s["reason"].as_str().unwrap().contains("deleted here")),
            "{}",
            third.text
        );
        let after: Vec<String> = collections_by_name(&app)
            .await
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(after, ["Default Collection", "Frontend Kit"]);
        assert_eq!(
            collections_by_name(&app).await[1].2,
            strings(&["command:lint-all", "skill:form-helper"])
        );
        assert_eq!(
            database_digests(&app.data_home),
            before,
            "SkillMeat's database changed"
        );
    }
}

#[tokio::test]
async fn members_whose_artifacts_are_gone_are_skipped_with_the_reason() {
    let app = TestApp::spawn_074(Backend::Sqlite).await;
    std::fs::remove_dir_all(app.collection_dir("default").join("skills/ui-kit")).unwrap();
    let r = app.post("/api/v1/import/skillmeat").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let skipped: Vec<(&str, &str)> = r.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["name"].as_str().unwrap()))
        .collect();
    // In default, in Frontend Kit, and in the Components group.
    assert_eq!(
        skipped,
        [
            ("member", "skill:ui-kit in Default Collection"),
            ("member", "skill:ui-kit in Frontend Kit"),
            ("group_member", "skill:ui-kit in Components"),
        ],
        "{}",
        r.text
    );
    assert!(
        r.body["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no such artifact")
    );
    assert_eq!(
        r.body["skipped"][0]["skillmeat_id"],
        "19b5c75c5352492b96d84fd5b2674ec1"
    );
    assert_eq!(r.body["totals"]["group_members_added"], 5);
}

/// A SkillMeat database of an older layout: memberships by `artifact_id`, no groups table.
async fn older_database(file: &Path) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE collections (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)",
        "CREATE TABLE collection_artifacts (collection_id VARCHAR, artifact_id VARCHAR)",
        "INSERT INTO collections VALUES ('0123456789abcdef0123456789abcdef', 'Old Kit')",
        "INSERT INTO collection_artifacts VALUES ('0123456789abcdef0123456789abcdef', 'skill:bom-skill')",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn another_skillmeat_layout_is_reported_and_a_foreign_file_refused() {
    let app = TestApp::spawn().await;
    let missing = app.post("/api/v1/import/skillmeat").await;
    missing.assert_error(StatusCode::NOT_FOUND, "skillmeat_not_found");

    let file = app.data_home.join("cache/cache.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    older_database(&file).await;
    let r = app.post("/api/v1/import/skillmeat").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["totals"]["collections_created"], 1, "{}", r.text);
    assert_eq!(r.body["totals"]["members_added"], 1, "{}", r.text);
    assert!(
        r.body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no `groups` table")),
        "{}",
        r.text
    );

    std::fs::write(&file, b"not a database at all").unwrap();
    let foreign = app.post("/api/v1/import/skillmeat").await;
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.text
    );
}

#[tokio::test]
async fn the_first_start_on_a_skillmeat_home_imports_once() {
    let app = TestApp::spawn_074(Backend::Sqlite).await;
    let _jobs = app.start_jobs().await;
    let job = poll(
        "the import at start-up",
        Duration::from_secs(60),
        || async {
            let runs = app.get("/api/v1/jobs?kind=import").await;
            let run = runs.body["items"][0].clone();
            crate::helpers::finished(&run).ok_or(runs.text)
        },
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["trigger"], "startup", "{job}");
    let names: Vec<String> = collections_by_name(&app)
        .await
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(names, ["Default Collection", "Frontend Kit", "Ops"]);
    // Done once: a server started again on this database does not queue it.
    assert!(
        !skillmeat_server::import::first_start_due(&app.state.collections)
            .await
            .unwrap(),
        "a second start would import again"
    );
}

#[tokio::test]
async fn skillmeats_recorded_deployments_appear_without_set_up() {
    for app in [TestApp::spawn_074(Backend::Sqlite).await] {
        let report = app.refresh_everything(false).await;
        assert_eq!(report.errors, 0, "{report:?}");
        let summary = app.get("/api/v1/deployments/summary").await;
        assert_eq!(summary.body["by_status"]["synced"], 3, "{}", summary.text);
        assert_eq!(summary.body["by_status"]["total"], 3, "{}", summary.text);
    }
}

/// A home folder (`$HOME`) holding the 0.74 fixture as `~/.skillmeat` and `~/projects`.
fn home_from_fixture(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    copy_tree(
        &fixture_074_dir().join("home/.skillmeat"),
        &home.join(".skillmeat"),
    );
    copy_tree(&fixture_074_dir().join("projects"), &home.join("projects"));
    home.canonicalize().unwrap()
}

#[tokio::test]
async fn the_binary_with_the_default_configuration_finds_everything_under_home() {
    let dir = tempfile::TempDir::new_in(temp_root()).unwrap();
    let home = home_from_fixture(dir.path());
    let before = database_digests(&home.join(".skillmeat"));
    let env = vec![
        ("HOME".to_string(), home.display().to_string()),
        // The default allowed root (~) is this home.
        (
            "SKILLMEAT_DEPLOY__ALLOWED_ROOTS".to_string(),
            "[\"~\"]".to_string(),
        ),
    ];
    let server = ServerProcess::start(&env).await;
    let summary = poll(
        "the recorded deployments",
        Duration::from_secs(60),
        || async {
            let s = server.get("/api/v1/deployments/summary").await;
            (s["by_status"]["synced"] == 3)
                .then_some(s.clone())
                .ok_or(s.to_string())
        },
    )
    .await;
    assert_eq!(
        summary["by_project"][0]["project"],
        home.join("projects/shop").display().to_string()
    );
    let collections = poll(
        "SkillMeat's collections",
        Duration::from_secs(60),
        || async {
            let c = server.get("/api/v1/user-collections").await;
            (c["items"].as_array().map(Vec::len) == Some(3))
                .then_some(c.clone())
                .ok_or(c.to_string())
        },
    )
    .await;
    let names: Vec<&str> = collections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default Collection", "Frontend Kit", "Ops"]);
    let roots = server.get("/api/v1/search-roots").await;
    let paths: Vec<&str> = roots["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let under = |p: &str| home.join(p).display().to_string();
    assert_eq!(
        paths,
        [
            under("projects"),
            under("dev"),
            under("workspace"),
            under("src")
        ]
    );
    drop(server);
    assert_eq!(database_digests(&home.join(".skillmeat")), before);
}

#[tokio::test]
async fn the_command_line_import_prints_the_report() {
    let dir = tempfile::TempDir::new_in(temp_root()).unwrap();
    let home = home_from_fixture(dir.path());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
            .args(args)
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let first = run(&["import-skillmeat"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        text.contains("2 collections and 3 groups created"),
        "{text}"
    );
    assert!(
        text.contains("group \"Backend\": created, 3 members added"),
        "{text}"
    );
    let second = run(&["import-skillmeat", "--json"]);
    assert!(second.status.success());
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["totals"]["collections_created"], 0, "{report}");
    assert_eq!(report["totals"]["unchanged"], 19, "{report}");
}

#[tokio::test]
async fn search_roots_can_be_added_listed_and_removed() {
    for app in TestApp::all_backends().await {
        let projects = app.data_home.parent().unwrap().join("more-projects");
        copy_tree(&fixture_074_dir().join("projects"), &projects);
        let added = app
            .post_json(
                "/api/v1/search-roots",
                json!({"path": projects.display().to_string()}),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        assert_eq!(
            added.body["projects_found"][0]["name"], "shop",
            "{}",
            added.text
        );
        assert_eq!(
            added.body["projects_found"][0]["deployment_count"], 3,
            "{}",
            added.text
        );
        let id = added.body["root"]["id"].as_str().unwrap().to_string();

        let again = app
            .post_json(
                "/api/v1/search-roots",
                json!({"path": projects.display().to_string()}),
            )
            .await;
        again.assert_error(StatusCode::CONFLICT, "conflict");
        let outside = app
            .post_json("/api/v1/search-roots", json!({"path": "/etc"}))
            .await;
        outside.assert_error(StatusCode::FORBIDDEN, "project_outside_roots");
        let missing = app
            .post_json(
                "/api/v1/search-roots",
                json!({"path": projects.join("nope").display().to_string()}),
            )
            .await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.text);

        let list = app.get("/api/v1/search-roots").await;
        assert_eq!(list.body["items"][0]["id"], id.as_str(), "{}", list.text);
        assert_eq!(list.body["items"][0]["configured"], false);
        assert_eq!(
            app.delete(&format!("/api/v1/search-roots/{id}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        app.delete(&format!("/api/v1/search-roots/{id}"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // The projects found stay known.
        let known = app.get("/api/v1/projects").await;
        assert_eq!(known.body["page_info"]["total_count"], 1, "{}", known.text);
    }
}

#[tokio::test]
async fn a_cache_db_that_is_not_skillmeats_is_reported_once_not_retried() {
    let app = TestApp::spawn().await;
    let file = app.data_home.join("cache/cache.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"somebody else's file").unwrap();
    assert!(
        skillmeat_server::import::first_start_due(&app.state.collections)
            .await
            .unwrap()
    );
    let report = skillmeat_server::jobs::import::import(
        skillmeat_server::jobs::import::ImportJob,
        app.state.job_services(),
    )
    .await
    .expect("the run succeeds");
    assert!(
        report.details["not_imported"]
            .as_str()
            .unwrap()
            .contains("is not SkillMeat's database"),
        "{:?}",
        report.details
    );
    assert!(
        !skillmeat_server::import::first_start_due(&app.state.collections)
            .await
            .unwrap()
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"somebody else's file");
}
