//! `/api/v1/import/skillmeat`: bring SkillMeat's collections and groups over from its database.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::error::ApiError;
use crate::import::{self, ImportReport, ItemOutcome, Skipped};
use crate::state::AppState;

/// Import endpoints.
pub struct ImportApi {
    /// Shared state.
    pub state: AppState,
}

/// A SkillMeat collection or group and what became of it here.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportedItem {
    /// SkillMeat's id.
    pub skillmeat_id: String,
    /// Its name.
    pub name: String,
    /// For a group: the collection here it is in.
    pub collection_id: Option<String>,
    /// Its id here.
    pub id: Option<String>,
    /// `created`, `matched` (one of the same id or name existed and was used) or `unchanged`
    /// (imported by an earlier run).
    pub outcome: String,
    /// Members this run added, in SkillMeat's order.
    pub members_added: u64,
}

/// Something not imported, and why.
#[derive(Debug, Object)]
pub struct SkippedItem {
    /// `collection`, `member`, `group` or `group_member`.
    pub kind: String,
    /// SkillMeat's id (for a member, the artifact uuid).
    pub skillmeat_id: String,
    /// What it is (`skill:x in Frontend Kit`).
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Counts over the run.
#[derive(Debug, Object)]
pub struct ImportTotals {
    /// Collections created.
    pub collections_created: u64,
    /// Groups created.
    pub groups_created: u64,
    /// Collection memberships added.
    pub members_added: u64,
    /// Group memberships added.
    pub group_members_added: u64,
    /// Memberships imported by an earlier run, left as they are here.
    pub unchanged: u64,
    /// Items skipped (see `skipped`).
    pub skipped: u64,
}

/// What an import did.
#[derive(Debug, Object)]
pub struct SkillMeatImport {
    /// The SkillMeat database read (left unchanged).
    pub database: String,
    /// Counts.
    pub totals: ImportTotals,
    /// Each SkillMeat collection.
    pub collections: Vec<ImportedItem>,
    /// Each SkillMeat group, in order.
    pub groups: Vec<ImportedItem>,
    /// What was not imported, and why.
    pub skipped: Vec<SkippedItem>,
    /// Tables or columns SkillMeat's database lacks, values adjusted to this server's rules.
    pub warnings: Vec<String>,
}

/// Import outcomes.
#[derive(ApiResponse)]
pub enum ImportSkillMeatResponse {
    /// Imported; the report says what was added and what was skipped.
    #[oai(status = 200)]
    Ok(Json<SkillMeatImport>),
}

#[OpenApi(tag = "ApiTags::Collections")]
impl ImportApi {
    /// Import collections and groups from SkillMeat
    ///
    /// Reads SkillMeat's database (`<data home>/cache/cache.db`, without changing it) and
    /// creates its user collections, their members, its groups (name, description, colour,
    /// icon, tags, order) and their members in order. Idempotent: a second run adds only what
    /// is new in SkillMeat, and nothing deleted or removed here comes back. 404
    /// `skillmeat_not_found` when the data home has no SkillMeat database; 422 when the file
    /// is not one.
    #[oai(
        path = "/api/v1/import/skillmeat",
        method = "post",
        operation_id = "import_skillmeat"
    )]
    async fn import_skillmeat(&self) -> Result<ImportSkillMeatResponse, ApiError> {
        let file = import::skillmeat_db(&self.state.settings.data_home_path());
        let report = import::import_skillmeat(&self.state.collections, &file).await?;
        Ok(ImportSkillMeatResponse::Ok(Json(report.into())))
    }
}

fn item(o: ItemOutcome) -> ImportedItem {
    ImportedItem {
        skillmeat_id: o.skillmeat_id,
        name: o.name,
        collection_id: o.collection_id,
        id: o.id,
        outcome: o.outcome.as_str().into(),
        members_added: o.members_added,
    }
}

fn skipped(s: Skipped) -> SkippedItem {
    SkippedItem {
        kind: s.kind,
        skillmeat_id: s.skillmeat_id,
        name: s.name,
        reason: s.reason,
    }
}

impl From<ImportReport> for SkillMeatImport {
    fn from(r: ImportReport) -> Self {
        let t = r.totals;
        SkillMeatImport {
            database: r.database,
            totals: ImportTotals {
                collections_created: t.collections_created,
                groups_created: t.groups_created,
                members_added: t.members_added,
                group_members_added: t.group_members_added,
                unchanged: t.unchanged,
                skipped: t.skipped,
            },
            collections: r.collections.into_iter().map(item).collect(),
            groups: r.groups.into_iter().map(item).collect(),
            skipped: r.skipped.into_iter().map(skipped).collect(),
            warnings: r.warnings,
        }
    }
}
