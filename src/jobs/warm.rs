//! The start-up warm: re-validate and pre-load what was read in the last day, then fill
//! whatever the sources have that the cache lacks. Queued once per start; the server answers
//! meanwhile.

use ::jobs::{BoxError, Payload, RunReport};

use super::JobServices;

/// Payload of a warm: it always covers everything.
#[derive(Debug, Clone, Copy)]
pub struct WarmJob;

impl WarmJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "warm";
}

impl Payload for WarmJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        "all".into()
    }

    fn from_run(_scope: &str, _force: bool) -> Result<Self, BoxError> {
        Ok(WarmJob)
    }
}

/// Warms the cache, then brings collections and deployment statuses up to date with it.
pub async fn warm(_job: WarmJob, services: JobServices) -> Result<RunReport, BoxError> {
    let report = services.cache.warm().await?;
    super::refresh::after_cache_change(&services, report).await
}
