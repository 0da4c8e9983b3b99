//! Append-only schema history of skillmeat-server.
//!
//! Each migration is one file with its own identifiers; none imports the `entity` crate, so old
//! migrations keep compiling whatever today's entities look like. All of them run on SQLite and
//! PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_cached_artifacts;
mod m20261126_000002_create_cache_meta;
mod m20261126_000003_create_user_collections;
mod m20261126_000004_create_groups;
mod m20261126_000005_create_projects_and_deployments;
mod m20261126_000006_create_job_runs;
mod m20261130_000007_create_sessions;
mod m20261130_000008_create_skillmeat_imports;
mod m20261130_000009_create_search_roots;
mod m20261130_000010_create_job_control;
mod m20261130_000011_create_artifact_upstreams;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_cached_artifacts::Migration),
            Box::new(m20261126_000002_create_cache_meta::Migration),
            Box::new(m20261126_000003_create_user_collections::Migration),
            Box::new(m20261126_000004_create_groups::Migration),
            Box::new(m20261126_000005_create_projects_and_deployments::Migration),
            Box::new(m20261126_000006_create_job_runs::Migration),
            Box::new(m20261130_000007_create_sessions::Migration),
            Box::new(m20261130_000008_create_skillmeat_imports::Migration),
            Box::new(m20261130_000009_create_search_roots::Migration),
            Box::new(m20261130_000010_create_job_control::Migration),
            Box::new(m20261130_000011_create_artifact_upstreams::Migration),
        ]
    }
}
