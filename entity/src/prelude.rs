//! Short names for every entity.

pub use crate::artifact_upstreams::Entity as ArtifactUpstreams;
pub use crate::cache_meta::Entity as CacheMeta;
pub use crate::cached_artifacts::Entity as CachedArtifacts;
pub use crate::collection_artifacts::Entity as CollectionArtifacts;
pub use crate::collection_exclusions::Entity as CollectionExclusions;
pub use crate::deployments::Entity as Deployments;
pub use crate::group_artifacts::Entity as GroupArtifacts;
pub use crate::groups::Entity as Groups;
pub use crate::job_instances::Entity as JobInstances;
pub use crate::job_runs::Entity as JobRuns;
pub use crate::job_schedules::Entity as JobSchedules;
pub use crate::projects::Entity as Projects;
pub use crate::search_roots::Entity as SearchRoots;
pub use crate::sessions::Entity as Sessions;
pub use crate::skillmeat_imports::Entity as SkillmeatImports;
pub use crate::user_collections::Entity as UserCollections;
