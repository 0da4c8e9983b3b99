use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};
use skillmeat_server::db::{self, DbOpenError};
use skillmeat_server::startup::{StartupError, build_state};
use std::process::Command;

use crate::helpers::{PgDatabase, test_settings};

async fn run_up_down_up(url: &str) {
    db::open_and_migrate(url)
        .await
        .expect("migrate up")
        .close()
        .await
        .unwrap();
    let conn = db::connect_for_migrations(url).await.unwrap();
    let applied = Migrator::get_applied_migrations(&conn).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(
        conn.execute_unprepared("SELECT COUNT(*) FROM cached_artifacts")
            .await
            .is_ok()
    );

    Migrator::down(&conn, None)
        .await
        .expect("migrate down to zero");
    assert!(
        Migrator::get_applied_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        conn.execute_unprepared("SELECT COUNT(*) FROM cached_artifacts")
            .await
            .is_err()
    );

    Migrator::up(&conn, None).await.expect("migrate up again");
    assert_eq!(
        Migrator::get_pending_migrations(&conn).await.unwrap().len(),
        0
    );
    assert!(
        conn.execute_unprepared("SELECT COUNT(*) FROM cache_meta")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn migrations_go_up_down_to_zero_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // Parent folders are created on demand.
    let url = format!(
        "sqlite://{}",
        dir.path().join("a/b/artifact_cache.db").display()
    );
    run_up_down_up(&url).await;
}

#[tokio::test]
async fn migrations_go_up_down_to_zero_and_up_again_on_postgres() {
    if !crate::helpers::postgres_available("migrations") {
        return;
    }
    let pg = PgDatabase::create().await;
    run_up_down_up(&pg.url).await;
}

#[tokio::test]
async fn sqlite_database_uses_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let conn = db::open_and_migrate(&url).await.unwrap();
    let row = |sql: &'static str| {
        let conn = conn.clone();
        async move {
            conn.query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
        }
    };
    let mode: String = row("PRAGMA journal_mode")
        .await
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i32 = row("PRAGMA foreign_keys")
        .await
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(fk, 1);
    let timeout: i32 = row("PRAGMA busy_timeout")
        .await
        .try_get_by_index(0)
        .unwrap();
    assert!(timeout >= 5000, "busy timeout {timeout}");
}

#[tokio::test]
async fn a_database_that_is_not_ours_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let foreign = Database::connect(&url).await.unwrap();
    foreign
        .execute_unprepared("CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT)")
        .await
        .unwrap();
    foreign.close().await.unwrap();
    let before = std::fs::read(&file).unwrap();

    let settings = test_settings(dir.path(), format!("sqlite://{}", file.display()));
    let err = build_state(settings).await.err().expect("must refuse");
    assert!(
        matches!(err, StartupError::Database(DbOpenError::NotOurs { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("not a skillmeat-server database"));
    assert!(
        std::fs::read(&file).unwrap() == before,
        "file must not change"
    );
}

#[tokio::test]
async fn a_corrupt_database_file_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("artifact_cache.db");
    std::fs::write(
        &file,
        b"this is not a database, just some bytes that are long enough........",
    )
    .unwrap();
    let before = std::fs::read(&file).unwrap();
    let settings = test_settings(dir.path(), format!("sqlite://{}", file.display()));
    let err = build_state(settings).await.err().expect("must fail");
    assert!(err.to_string().contains("artifact_cache.db"), "{err}");
    assert!(
        std::fs::read(&file).unwrap() == before,
        "file must not change"
    );
}

#[test]
fn migrate_subcommand_reports_status_and_goes_down_and_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_skillmeat-server"))
            .current_dir(dir.path())
            .env("SKILLMEAT_DATABASE__URL", &url)
            .env("SKILLMEAT_DATA_HOME", dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&["migrate", "status"]).contains("pending"));
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert!(
        !status.contains("pending") && status.contains("applied"),
        "{status}"
    );
    run(&["migrate", "down"]);
    assert_eq!(run(&["migrate", "status"]).matches("pending").count(), 1);
    run(&["migrate", "down", "--all"]);
    assert_eq!(
        run(&["migrate", "status"]).matches("pending").count(),
        Migrator::migrations().len()
    );
}

/// The cause of a flake seen once under load ("index idx_collection_artifacts_artifact_id
/// already exists" on the second `up`): pooled connections left holding a `fetch_one`'s
/// statement still see the schema from before a `DROP TABLE` made on another connection. Run
/// on the pool, this test fails within a few rounds; schema changes therefore run on a
/// connection of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_changes_never_meet_a_pooled_connection_with_an_old_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let pool = db::open_and_migrate(&url).await.unwrap();
    for round in 0..10 {
        // Every pooled connection ends on a statement sqlx has not reset.
        let reads: Vec<_> = (0..16)
            .map(|_| {
                let c = pool.clone();
                tokio::spawn(async move {
                    c.query_one_raw(sea_orm::Statement::from_string(
                        c.get_database_backend(),
                        "SELECT * FROM collection_artifacts",
                    ))
                    .await
                    .unwrap();
                })
            })
            .collect();
        for r in reads {
            r.await.unwrap();
        }
        let schema = db::connect_for_migrations(&url).await.unwrap();
        Migrator::down(&schema, None).await.unwrap();
        Migrator::up(&schema, None)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        schema.close().await.unwrap();
    }
}
