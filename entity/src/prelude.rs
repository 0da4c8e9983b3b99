//! Short names for every entity.

pub use crate::cache_meta::Entity as CacheMeta;
pub use crate::cached_artifacts::Entity as CachedArtifacts;
