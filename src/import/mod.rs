//! Bringing SkillMeat's organisation over: its user collections, their members, its groups
//! and their members in order, read from SkillMeat's database ([`skillmeat_db`]) and created
//! here through the collection service (so every rule, event and `collection.toml` mirror
//! applies).
//!
//! Idempotent: every item brought over is recorded by its SkillMeat id (`skillmeat_imports`),
//! so a second run adds only what is new in SkillMeat and never brings back what the user
//! deleted or removed here. Existing collections and groups of the same name are used, not
//! duplicated.

pub mod report;
pub mod skillmeat_db;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::Utc;
use entity::{collection_exclusions, groups as group_rows, skillmeat_imports, user_collections};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use crate::collections::groups::NewGroup;
use crate::collections::{
    CollectionService, DEFAULT_COLLECTION_ID, NewCollection, OrgError, validate,
};
pub use report::{ImportReport, ItemOutcome, Outcome, Skipped};
use skillmeat_db::{ReadError, SmMember};

/// Where SkillMeat keeps its database, relative to the data home.
pub const SKILLMEAT_DB: &str = "cache/cache.db";
/// `cache_meta` key: when SkillMeat's organisation was last imported.
pub const META_LAST_IMPORT: &str = "skillmeat_import_at";

/// Serialises imports within this process (the ledger's keys keep instances from duplicating).
static IMPORT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why an import could not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// SkillMeat's database could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Creating something here failed.
    #[error(transparent)]
    Org(#[from] OrgError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// SkillMeat's database in a data home.
pub fn skillmeat_db(data_home: &Path) -> PathBuf {
    data_home.join(SKILLMEAT_DB)
}

/// True when the data home has SkillMeat's database and nothing was imported from it yet: the
/// start-up then imports once by itself.
pub async fn first_start_due(collections: &CollectionService) -> Result<bool, DbErr> {
    if !skillmeat_db(&collections.data_home).is_file() {
        return Ok(false);
    }
    Ok(collections.cache.meta(META_LAST_IMPORT).await?.is_none())
}

/// The ledger: (kind, SkillMeat id) -> id here.
type Ledger = HashMap<(String, String), String>;

const COLLECTION: &str = "collection";
const MEMBER: &str = "member";
const GROUP: &str = "group";
const GROUP_MEMBER: &str = "group_member";

/// Imports SkillMeat's organisation from `db_file` (read without changing it).
pub async fn import_skillmeat(
    collections: &CollectionService,
    db_file: &Path,
) -> Result<ImportReport, ImportError> {
    let org = skillmeat_db::read(db_file).await?;
    let _one_at_a_time = IMPORT_LOCK.lock().await;
    let db = &collections.db;
    let mut run = Run {
        collections,
        ledger: load_ledger(db).await?,
        report: ImportReport {
            database: db_file.display().to_string(),
            warnings: org.warnings.clone(),
            ..Default::default()
        },
        known: HashSet::new(),
        excluded: default_exclusions(db).await?,
    };
    let mapped: Vec<String> = org
        .collections
        .iter()
        .flat_map(|c| &c.members)
        .chain(org.groups.iter().flat_map(|g| &g.members))
        .filter_map(|m| m.artifact_id.clone())
        .filter(|id| crate::source::ArtifactId::parse(id).is_ok())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (known, _) = collections.partition_known(&mapped).await?;
    run.known = known.into_iter().collect();

    let mut local_of: HashMap<String, String> = HashMap::new();
    for c in &org.collections {
        let local = run.collection(c).await?;
        if let Some(local) = local {
            let added = run
                .members(MEMBER, &c.id, &c.name, &local, &c.members)
                .await?;
            let ids = ids_of(&added);
            if !ids.is_empty() {
                collections.add_members(&local, &ids).await?;
                // Recorded once they are in, so a failed run imports them next time.
                run.record_members(MEMBER, &added).await?;
            }
            let added = ids;
            if let Some(o) = run.report.collections.last_mut() {
                o.members_added = added.len() as u64;
            }
            run.report.totals.members_added += added.len() as u64;
            local_of.insert(c.id.clone(), local);
        }
    }
    for g in &org.groups {
        let Some(collection) = local_of.get(&g.collection_id).cloned() else {
            let reason = if org.collections.iter().any(|c| c.id == g.collection_id) {
                "its collection was not imported"
            } else {
                "its collection is not in SkillMeat's database"
            };
            run.skip(GROUP, &g.id, &g.name, reason);
            continue;
        };
        let Some(local) = run.group(g, &collection).await? else {
            continue;
        };
        let added = run
            .members(GROUP_MEMBER, &g.id, &g.name, &collection, &g.members)
            .await?;
        let ids = ids_of(&added);
        if !ids.is_empty() {
            collections.add_group_members(&local, &ids, None).await?;
            run.record_members(GROUP_MEMBER, &added).await?;
        }
        let added = ids;
        if let Some(o) = run.report.groups.last_mut() {
            o.members_added = added.len() as u64;
        }
        run.report.totals.group_members_added += added.len() as u64;
    }
    collections
        .cache
        .set_meta(META_LAST_IMPORT, &Utc::now().to_rfc3339())
        .await?;
    Ok(run.report)
}

async fn load_ledger(db: &DatabaseConnection) -> Result<Ledger, DbErr> {
    Ok(skillmeat_imports::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| ((r.kind, r.source_id), r.local_id))
        .collect())
}

/// Artifacts the user removed from the default collection here: an import does not add them
/// back.
async fn default_exclusions(db: &DatabaseConnection) -> Result<HashSet<String>, DbErr> {
    Ok(collection_exclusions::Entity::find()
        .select_only()
        .column(collection_exclusions::Column::ArtifactId)
        .filter(collection_exclusions::Column::CollectionId.eq(DEFAULT_COLLECTION_ID))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// One import's state.
struct Run<'a> {
    collections: &'a CollectionService,
    ledger: Ledger,
    report: ImportReport,
    /// `type:name` ids the sources know.
    known: HashSet<String>,
    excluded: HashSet<String>,
}

impl Run<'_> {
    fn skip(&mut self, kind: &str, skillmeat_id: &str, name: &str, reason: impl Into<String>) {
        self.report.totals.skipped += 1;
        self.report.skipped.push(Skipped {
            kind: kind.into(),
            skillmeat_id: skillmeat_id.into(),
            name: name.into(),
            reason: reason.into(),
        });
    }

    async fn record(&mut self, kind: &str, source_id: &str, local_id: &str) -> Result<(), DbErr> {
        skillmeat_imports::Entity::insert(skillmeat_imports::ActiveModel {
            kind: Set(kind.into()),
            source_id: Set(source_id.into()),
            local_id: Set(local_id.into()),
            imported_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                skillmeat_imports::Column::Kind,
                skillmeat_imports::Column::SourceId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.collections.db)
        .await?;
        self.ledger
            .insert((kind.into(), source_id.into()), local_id.into());
        Ok(())
    }

    fn imported(&self, kind: &str, source_id: &str) -> Option<&String> {
        self.ledger.get(&(kind.to_string(), source_id.to_string()))
    }

    /// The collection here for a SkillMeat collection: the one imported before, the default,
    /// one with its id or name, or a new one. `None` when it is skipped.
    async fn collection(
        &mut self,
        c: &skillmeat_db::SmCollection,
    ) -> Result<Option<String>, ImportError> {
        let db = &self.collections.db;
        let find = |id: String| user_collections::Entity::find_by_id(id).one(db);
        let outcome = |outcome, id: &str| ItemOutcome {
            skillmeat_id: c.id.clone(),
            name: c.name.clone(),
            collection_id: None,
            id: Some(id.to_string()),
            outcome,
            members_added: 0,
        };
        if let Some(local) = self.imported(COLLECTION, &c.id).cloned() {
            if find(local.clone()).await?.is_none() {
                self.skip(
                    COLLECTION,
                    &c.id,
                    &c.name,
                    "deleted here after an earlier import; its members and groups were not imported either",
                );
                return Ok(None);
            }
            self.report
                .collections
                .push(outcome(Outcome::Unchanged, &local));
            return Ok(Some(local));
        }
        if c.id == DEFAULT_COLLECTION_ID {
            self.collections.ensure_default().await?;
        }
        let name = match validate::name(&c.name, "Collection") {
            Ok(name) => name,
            Err(e) => {
                self.skip(COLLECTION, &c.id, &c.name, e.to_string());
                return Ok(None);
            }
        };
        let existing = match find(c.id.clone()).await? {
            Some(found) => Some(found),
            None => {
                user_collections::Entity::find()
                    .filter(user_collections::Column::NameKey.eq(validate::name_key(&name)))
                    .one(db)
                    .await?
            }
        };
        let (local, how) = match existing {
            Some(found) => (found.id, Outcome::Matched),
            None => {
                let created = self
                    .collections
                    .create(NewCollection {
                        id: Some(c.id.clone()),
                        name,
                        description: c.description.clone(),
                        ..Default::default()
                    })
                    .await?;
                self.report.totals.collections_created += 1;
                (created.id, Outcome::Created)
            }
        };
        self.record(COLLECTION, &c.id, &local).await?;
        self.report.collections.push(outcome(how, &local));
        Ok(Some(local))
    }

    /// The group here for a SkillMeat group: the one imported before, one of the same name in
    /// the collection, or a new one appended after the collection's groups.
    async fn group(
        &mut self,
        g: &skillmeat_db::SmGroup,
        collection: &str,
    ) -> Result<Option<String>, ImportError> {
        let outcome = |outcome, id: &str| ItemOutcome {
            skillmeat_id: g.id.clone(),
            name: g.name.clone(),
            collection_id: Some(collection.to_string()),
            id: Some(id.to_string()),
            outcome,
            members_added: 0,
        };
        if let Some(local) = self.imported(GROUP, &g.id).cloned() {
            if group_rows::Entity::find_by_id(local.clone())
                .one(&self.collections.db)
                .await?
                .is_none()
            {
                self.skip(
                    GROUP,
                    &g.id,
                    &g.name,
                    "deleted here after an earlier import; its members were not imported either",
                );
                return Ok(None);
            }
            self.report.groups.push(outcome(Outcome::Unchanged, &local));
            return Ok(Some(local));
        }
        let name = match validate::name(&g.name, "Group") {
            Ok(name) => name,
            Err(e) => {
                self.skip(GROUP, &g.id, &g.name, e.to_string());
                return Ok(None);
            }
        };
        let same_name = self
            .collections
            .list_groups(collection, None, None)
            .await?
            .into_iter()
            .find(|existing| existing.group.name_key == name.to_lowercase());
        let (local, how) = match same_name {
            Some(existing) => (existing.group.id, Outcome::Matched),
            None => {
                let created = self
                    .collections
                    .create_group(NewGroup {
                        collection_id: collection.to_string(),
                        name,
                        description: g.description.clone(),
                        tags: self.valid_tags(g),
                        color: self.valid(g, "colour", g.color.as_deref(), validate::color),
                        icon: self.valid(g, "icon", g.icon.as_deref(), validate::icon),
                        position: None,
                    })
                    .await?;
                self.report.totals.groups_created += 1;
                (created.group.id, Outcome::Created)
            }
        };
        self.record(GROUP, &g.id, &local).await?;
        self.report.groups.push(outcome(how, &local));
        Ok(Some(local))
    }

    /// A SkillMeat value our rules accept, or `None` (the default) with a warning.
    fn valid(
        &mut self,
        g: &skillmeat_db::SmGroup,
        what: &str,
        raw: Option<&str>,
        check: fn(&str) -> Result<String, OrgError>,
    ) -> Option<String> {
        let raw = raw?;
        match check(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.report.warnings.push(format!(
                    "group '{}': {what} '{raw}' not accepted ({e}); the default is used",
                    g.name
                ));
                None
            }
        }
    }

    /// The group's tags our rules accept; the others are dropped with a warning.
    fn valid_tags(&mut self, g: &skillmeat_db::SmGroup) -> Vec<String> {
        let mut out = Vec::new();
        for tag in &g.tags {
            match validate::tags(std::slice::from_ref(tag)) {
                Ok(mut t) if out.len() < validate::MAX_TAGS => out.append(&mut t),
                Ok(_) => self.report.warnings.push(format!(
                    "group '{}': more than {} tags; '{tag}' dropped",
                    g.name,
                    validate::MAX_TAGS
                )),
                Err(e) => self
                    .report
                    .warnings
                    .push(format!("group '{}': {e}; dropped", g.name)),
            }
        }
        out.dedup();
        out
    }

    /// The members of a SkillMeat collection or group not imported before, mapped to
    /// `type:name` and known to the sources here, in order, with their ledger keys (recorded
    /// by [`Run::record_members`] once they are added); the rest counted as unchanged or
    /// skipped with the reason.
    async fn members(
        &mut self,
        kind: &str,
        container: &str,
        container_name: &str,
        collection: &str,
        members: &[SmMember],
    ) -> Result<Vec<(String, String)>, ImportError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for m in members {
            let key = format!("{container}/{}", m.reference);
            if self.imported(kind, &key).is_some() {
                self.report.totals.unchanged += 1;
                continue;
            }
            let label = format!(
                "{} in {container_name}",
                m.artifact_id.as_deref().unwrap_or(&m.reference)
            );
            let reason = match &m.artifact_id {
                None => Some("SkillMeat's artifacts table has no artifact with this uuid"),
                Some(id) if crate::source::ArtifactId::parse(id).is_err() => {
                    Some("a kind of artifact this server does not serve")
                }
                Some(id) if !self.known.contains(id) => Some(
                    "no such artifact in the collections folder (its files are gone, or the cache has not read them)",
                ),
                Some(id) if collection == DEFAULT_COLLECTION_ID && self.excluded.contains(id) => {
                    Some("removed from the default collection here")
                }
                Some(_) => None,
            };
            match (reason, &m.artifact_id) {
                (None, Some(id)) => out.push((key, id.clone())),
                (reason, _) => self.skip(kind, &m.reference, &label, reason.unwrap_or_default()),
            }
        }
        Ok(out)
    }

    /// Records members that were added in the ledger.
    async fn record_members(
        &mut self,
        kind: &str,
        added: &[(String, String)],
    ) -> Result<(), DbErr> {
        for (key, id) in added {
            self.record(kind, key, id).await?;
        }
        Ok(())
    }
}

/// The ids of members, each once, in order.
fn ids_of(members: &[(String, String)]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, id) in members {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}
