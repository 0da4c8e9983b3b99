//! The import of SkillMeat's collections and groups from its database: queued once at the
//! first start on a SkillMeat home (and retryable from the job dashboard).

use ::jobs::{BoxError, Payload, RunReport};

use super::JobServices;

/// Payload of an import: SkillMeat's database in the data home.
#[derive(Debug, Clone, Copy)]
pub struct ImportJob;

impl ImportJob {
    /// The kind's name.
    pub const KIND_NAME: &'static str = "import";
}

impl Payload for ImportJob {
    const KIND: &'static str = Self::KIND_NAME;

    fn scope(&self) -> String {
        "skillmeat".into()
    }

    fn from_run(_scope: &str, _force: bool) -> Result<Self, BoxError> {
        Ok(ImportJob)
    }
}

/// Imports SkillMeat's organisation; the run's details hold the whole report.
pub async fn import(_job: ImportJob, services: JobServices) -> Result<RunReport, BoxError> {
    use crate::import::{ImportError, skillmeat_db::ReadError};
    let file = crate::import::skillmeat_db(&services.collections.data_home);
    let report = match crate::import::import_skillmeat(&services.collections, &file).await {
        Ok(report) => report,
        // Not SkillMeat's file: retrying cannot help, and the next start need not try again.
        Err(ImportError::Read(e @ ReadError::NotSkillMeat(..))) => {
            tracing::warn!(error = %e, "nothing imported from SkillMeat");
            services
                .collections
                .cache
                .set_meta(
                    crate::import::META_LAST_IMPORT,
                    &chrono::Utc::now().to_rfc3339(),
                )
                .await?;
            return Ok(RunReport {
                details: serde_json::json!({ "not_imported": e.to_string() }),
                ..Default::default()
            });
        }
        Err(e) => return Err(e.into()),
    };
    let t = &report.totals;
    tracing::info!(
        collections = t.collections_created,
        groups = t.groups_created,
        members = t.members_added + t.group_members_added,
        skipped = t.skipped,
        "imported SkillMeat's collections and groups"
    );
    Ok(RunReport {
        checked: (report.collections.len() + report.groups.len()) as u64,
        added: t.collections_created + t.groups_created + t.members_added + t.group_members_added,
        details: serde_json::to_value(&report)?,
        ..Default::default()
    })
}
