//! SeaORM entities of skillmeat-server: one module per table, no HTTP types.
//!
//! The API layer converts these models into its own response objects, so a column never
//! leaks into the public contract by accident.

pub mod artifact_upstreams;
pub mod cache_meta;
pub mod cached_artifacts;
pub mod collection_artifacts;
pub mod collection_exclusions;
pub mod deployments;
pub mod group_artifacts;
pub mod groups;
pub mod job_instances;
pub mod job_runs;
pub mod job_schedules;
pub mod prelude;
pub mod projects;
pub mod search_roots;
pub mod sessions;
pub mod skillmeat_imports;
pub mod user_collections;
