//! Background jobs of skillmeat-server.
//!
//! The job runner (cache warming, scheduled refresh, purge, on-demand refresh on an apalis queue)
//! lands here in its own issue; until then the server refreshes the cache in-process
//! (`skillmeat_server::cache::CacheService::sync_all`).
