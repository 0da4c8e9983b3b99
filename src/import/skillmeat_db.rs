//! Reading SkillMeat's own database (`<data home>/cache/cache.db`) without changing it.
//!
//! SkillMeat keeps user collections and groups only there. The file and its `-wal` and `-shm`
//! stay byte-identical: the database and its write-ahead log are copied into a temporary
//! folder (again if SkillMeat wrote to them meanwhile) and the copy is opened, so the rows
//! still in the log are seen and nothing touches the originals. Tables and columns are looked
//! up first: a database of another SkillMeat version that lacks one is reported, not a crash.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult, Statement};

/// How often the copy is taken again when SkillMeat wrote to the files while it was copied.
const COPY_ATTEMPTS: usize = 5;

/// SkillMeat's database could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No file at the path.
    #[error("no SkillMeat database at {0}")]
    Missing(String),
    /// The file is not a SQLite database with SkillMeat's tables.
    #[error("{0} is not SkillMeat's database: {1}")]
    NotSkillMeat(String, String),
    /// Copying or opening failed.
    #[error("reading {0}: {1}")]
    Io(String, String),
}

/// Where a group sorts: its collection, its position, its creation time.
type GroupOrder = (String, i64, Option<DateTime<Utc>>);

/// A SkillMeat collection with its members in the order SkillMeat added them.
#[derive(Debug, Clone)]
pub struct SmCollection {
    /// SkillMeat's id (`default`, or 32 hex characters).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Members: (SkillMeat's artifact reference, the `type:name` it maps to when known).
    pub members: Vec<SmMember>,
}

/// One membership as SkillMeat stored it.
#[derive(Debug, Clone)]
pub struct SmMember {
    /// The artifact uuid (SkillMeat 0.7x) or `type:name` (older versions).
    pub reference: String,
    /// `type:name`, when SkillMeat's `artifacts` table names it.
    pub artifact_id: Option<String>,
}

/// A SkillMeat group with its members in order.
#[derive(Debug, Clone)]
pub struct SmGroup {
    /// SkillMeat's id.
    pub id: String,
    /// The SkillMeat collection it belongs to.
    pub collection_id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Colour token or hex.
    pub color: Option<String>,
    /// Icon name.
    pub icon: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Members by position, then by when they were added.
    pub members: Vec<SmMember>,
}

/// Everything read, in SkillMeat's order (groups by position, then creation time), and what
/// could not be read.
#[derive(Debug, Clone, Default)]
pub struct SmOrganisation {
    /// Collections by creation time (`default` first).
    pub collections: Vec<SmCollection>,
    /// Groups in order within each collection.
    pub groups: Vec<SmGroup>,
    /// Tables or columns this version of SkillMeat's database lacks, and what that skipped.
    pub warnings: Vec<String>,
}

/// Reads SkillMeat's organisation from `db_file`, leaving the file and its `-wal`/`-shm` as
/// they were.
pub async fn read(db_file: &Path) -> Result<SmOrganisation, ReadError> {
    let shown = db_file.display().to_string();
    if !db_file.is_file() {
        return Err(ReadError::Missing(shown));
    }
    let dir = tempfile::tempdir().map_err(|e| ReadError::Io(shown.clone(), e.to_string()))?;
    let copy = dir.path().join("cache.db");
    let source = db_file.to_path_buf();
    let target = copy.clone();
    tokio::task::spawn_blocking(move || copy_consistently(&source, &target))
        .await
        .map_err(|e| ReadError::Io(shown.clone(), e.to_string()))?
        .map_err(|e| ReadError::Io(shown.clone(), e.to_string()))?;
    let url = format!("sqlite://{}?mode=rw", copy.display());
    let db = Database::connect(&url)
        .await
        .map_err(|e| ReadError::NotSkillMeat(shown.clone(), e.to_string()))?;
    let result = read_open(&db, &shown).await;
    let _ = db.close().await;
    result
}

/// Length and modification time of a file, or `None` when it does not exist.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn wal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Copies the database and its log, again when either changed while being copied (SkillMeat
/// running meanwhile), so the pair is one consistent state.
fn copy_consistently(source: &Path, target: &Path) -> std::io::Result<()> {
    let (wal, wal_target) = (wal_of(source), wal_of(target));
    for _ in 0..COPY_ATTEMPTS {
        let before = (stamp(source), stamp(&wal));
        std::fs::copy(source, target)?;
        let _ = std::fs::remove_file(&wal_target);
        if wal.is_file() {
            std::fs::copy(&wal, &wal_target)?;
        }
        if (stamp(source), stamp(&wal)) == before {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(std::io::Error::other(
        "SkillMeat kept writing its database while it was copied; try again when it is idle",
    ))
}

/// The columns of each table that exists.
async fn schema(db: &DatabaseConnection) -> Result<HashMap<String, HashSet<String>>, String> {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table'",
        ))
        .await
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for row in tables {
        let Ok(name) = row.try_get::<String>("", "name") else {
            continue;
        };
        let columns = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("PRAGMA table_info(\"{}\")", name.replace('"', "\"\"")),
            ))
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter_map(|c| c.try_get::<String>("", "name").ok())
            .collect();
        out.insert(name, columns);
    }
    Ok(out)
}

/// A column's value as text (whatever SQLite stored), `None` when null or absent.
fn text(row: &QueryResult, column: &str) -> Option<String> {
    row.try_get::<Option<String>>("", column)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get::<Option<i64>>("", column)
                .ok()
                .flatten()
                .map(|n| n.to_string())
        })
}

/// SQLAlchemy's `DATETIME` text (`2026-11-30 04:11:39.697753`) or RFC 3339.
fn time(raw: Option<String>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    DateTime::parse_from_rfc3339(&raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Selects the wanted columns that exist (the others read as null).
async fn select(
    db: &DatabaseConnection,
    schema: &HashMap<String, HashSet<String>>,
    table: &str,
    wanted: &[&str],
) -> Result<Vec<QueryResult>, String> {
    let present = &schema[table];
    let columns: Vec<String> = wanted
        .iter()
        .filter(|c| present.contains(**c))
        .map(|c| format!("\"{c}\""))
        .collect();
    db.query_all_raw(Statement::from_string(
        DbBackend::Sqlite,
        format!("SELECT {} FROM \"{table}\"", columns.join(", ")),
    ))
    .await
    .map_err(|e| e.to_string())
}

/// The column a membership table names its artifact by: `artifact_uuid` (SkillMeat 0.7x) or
/// `artifact_id` (`type:name`, older versions).
fn member_column(columns: &HashSet<String>) -> Option<&'static str> {
    ["artifact_uuid", "artifact_id"]
        .into_iter()
        .find(|c| columns.contains(*c))
}

async fn read_open(db: &DatabaseConnection, shown: &str) -> Result<SmOrganisation, ReadError> {
    let not_sm = |why: String| ReadError::NotSkillMeat(shown.to_string(), why);
    let schema = schema(db).await.map_err(not_sm)?;
    let has = |table: &str, columns: &[&str]| {
        schema
            .get(table)
            .is_some_and(|c| columns.iter().all(|col| c.contains(*col)))
    };
    if !has("collections", &["id", "name"]) {
        return Err(not_sm(
            "it has no `collections` table with `id` and `name`".into(),
        ));
    }
    let mut org = SmOrganisation::default();

    // uuid -> type:name, from SkillMeat's artifacts table.
    let mut by_uuid: HashMap<String, String> = HashMap::new();
    if has("artifacts", &["id", "uuid"]) {
        for row in select(db, &schema, "artifacts", &["id", "uuid"])
            .await
            .map_err(not_sm)?
        {
            if let (Some(id), Some(uuid)) = (text(&row, "id"), text(&row, "uuid")) {
                by_uuid.insert(uuid, id);
            }
        }
    }
    let resolve = |column: &str, reference: String| SmMember {
        artifact_id: if column == "artifact_id" {
            Some(reference.clone())
        } else {
            by_uuid.get(&reference).cloned()
        },
        reference,
    };

    let mut collections: Vec<(Option<DateTime<Utc>>, SmCollection)> = select(
        db,
        &schema,
        "collections",
        &["id", "name", "description", "created_at"],
    )
    .await
    .map_err(not_sm)?
    .into_iter()
    .filter_map(|row| {
        Some((
            time(text(&row, "created_at")),
            SmCollection {
                id: text(&row, "id")?,
                name: text(&row, "name")?,
                description: text(&row, "description"),
                members: Vec::new(),
            },
        ))
    })
    .collect();
    collections.sort_by(|a, b| {
        (a.1.id != "default", a.0, &a.1.id).cmp(&(b.1.id != "default", b.0, &b.1.id))
    });
    let mut collections: Vec<SmCollection> = collections.into_iter().map(|(_, c)| c).collect();

    match schema
        .get("collection_artifacts")
        .and_then(|c| member_column(c).filter(|_| c.contains("collection_id")))
    {
        Some(column) => {
            let mut rows: Vec<(String, Option<DateTime<Utc>>, String)> = select(
                db,
                &schema,
                "collection_artifacts",
                &["collection_id", column, "added_at"],
            )
            .await
            .map_err(not_sm)?
            .into_iter()
            .filter_map(|row| {
                Some((
                    text(&row, "collection_id")?,
                    time(text(&row, "added_at")),
                    text(&row, column)?,
                ))
            })
            .collect();
            rows.sort();
            for (collection_id, _, reference) in rows {
                if let Some(c) = collections.iter_mut().find(|c| c.id == collection_id) {
                    c.members.push(resolve(column, reference));
                }
            }
        }
        None => org.warnings.push(
            "SkillMeat's database has no `collection_artifacts` table with `collection_id` and \
             `artifact_uuid` (or `artifact_id`): collection members were not imported"
                .into(),
        ),
    }

    if has("groups", &["id", "collection_id", "name"]) {
        let mut groups: Vec<(GroupOrder, SmGroup)> = select(
            db,
            &schema,
            "groups",
            &[
                "id",
                "collection_id",
                "name",
                "description",
                "color",
                "icon",
                "tags_json",
                "position",
                "created_at",
            ],
        )
        .await
        .map_err(not_sm)?
        .into_iter()
        .filter_map(|row| {
            let group = SmGroup {
                id: text(&row, "id")?,
                collection_id: text(&row, "collection_id")?,
                name: text(&row, "name")?,
                description: text(&row, "description"),
                color: text(&row, "color"),
                icon: text(&row, "icon"),
                tags: text(&row, "tags_json")
                    .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
                    .unwrap_or_default(),
                members: Vec::new(),
            };
            let position = text(&row, "position")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Some((
                (
                    group.collection_id.clone(),
                    position,
                    time(text(&row, "created_at")),
                ),
                group,
            ))
        })
        .collect();
        // SkillMeat can give two groups one position: creation time breaks the tie.
        groups.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        org.groups = groups.into_iter().map(|(_, g)| g).collect();
        match schema
            .get("group_artifacts")
            .and_then(|c| member_column(c).filter(|_| c.contains("group_id")))
        {
            Some(column) => {
                let mut rows: Vec<(String, i64, Option<DateTime<Utc>>, String)> = select(
                    db,
                    &schema,
                    "group_artifacts",
                    &["group_id", column, "position", "added_at"],
                )
                .await
                .map_err(not_sm)?
                .into_iter()
                .filter_map(|row| {
                    Some((
                        text(&row, "group_id")?,
                        text(&row, "position")
                            .and_then(|p| p.parse().ok())
                            .unwrap_or(0),
                        time(text(&row, "added_at")),
                        text(&row, column)?,
                    ))
                })
                .collect();
                rows.sort();
                for (group_id, _, _, reference) in rows {
                    if let Some(g) = org.groups.iter_mut().find(|g| g.id == group_id) {
                        g.members.push(resolve(column, reference));
                    }
                }
            }
            None => org.warnings.push(
                "SkillMeat's database has no `group_artifacts` table with `group_id` and \
                 `artifact_uuid` (or `artifact_id`): group members were not imported"
                    .into(),
            ),
        }
    } else {
        org.warnings.push(
            "SkillMeat's database has no `groups` table with `id`, `collection_id` and `name` \
             (a SkillMeat version without groups): groups were not imported"
                .into(),
        );
    }
    org.collections = std::mem::take(&mut collections);
    Ok(org)
}
