//! Generated data for the benchmarks and the scale tests: a collection of artifacts in
//! SkillMeat's on-disk format, and deployment rows in many projects. Not used by the server
//! itself.

use std::path::Path;

use chrono::Utc;
use entity::{cache_meta, deployments, projects};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set};

use crate::deploy::META_DEPLOYMENTS_VERSION;

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(path))?;
    std::fs::write(path, text)
}

/// Writes `count` artifacts into `collection` (60% skills of SKILL.md plus three files, 25%
/// commands, 15% agents, all in the manifest) and returns their ids.
pub fn write_collection(collection: &Path, count: usize) -> std::io::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    let mut manifest = String::from("[collection]\nname = \"default\"\nversion = \"1.0.0\"\n");
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    for i in 0..count {
        let (kind, name, path) = match i % 20 {
            0..=11 => (
                "skill",
                format!("skill-{i:04}"),
                format!("skills/skill-{i:04}"),
            ),
            12..=16 => (
                "command",
                format!("command-{i:04}"),
                format!("commands/command-{i:04}.md"),
            ),
            _ => (
                "agent",
                format!("agent-{i:04}"),
                format!("agents/agent-{i:04}.md"),
            ),
        };
        let front = format!(
            "---\nname: {name}\ndescription: Generated {kind} number {i}\n\
             tags: [generated, group-{}]\ntools: Read, Grep, Bash\nauthor: generator\nversion: 1.0.{i}\n---\n\n# {name}\n\n{body}\n",
            i % 10
        );
        if kind == "skill" {
            let root = collection.join(&path);
            write(&root.join("SKILL.md"), &front)?;
            write(&root.join("references/guide.md"), &body)?;
            write(&root.join("scripts/run.py"), "print('hello')\n")?;
            write(&root.join("README.md"), &body)?;
        } else {
            write(&collection.join(&path), &front)?;
        }
        manifest.push_str(&format!(
            "\n[[artifacts]]\nname = \"{name}\"\ntype = \"{kind}\"\npath = \"{path}\"\norigin = \"local\"\nadded = \"2026-11-26T00:00:00\"\n"
        ));
        ids.push(format!("{kind}:{name}"));
    }
    write(&collection.join("collection.toml"), &manifest)?;
    Ok(ids)
}

/// Writes `count` skills of a SKILL.md and one reference file each, named `skill-<i>`, without
/// a manifest (found by the folder scan).
pub fn write_skills(collection: &Path, count: usize) -> std::io::Result<()> {
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    for i in 0..count {
        let root = collection.join(format!("skills/skill-{i:05}"));
        write(
            &root.join("SKILL.md"),
            &format!("---\ndescription: Generated skill {i}\ntags: [generated]\n---\n\n{body}\n"),
        )?;
        write(&root.join("references/guide.md"), &body)?;
    }
    Ok(())
}

/// Inserts `projects` registered projects (`/work/projects/project-<p>`, which need not exist)
/// with `per_project` deployment rows each, as a refresh would store them: statuses spread
/// over all five (three in seven synced), types over skill, command and agent. Then marks the
/// deployment rows changed, so memoised summaries are recomputed.
pub async fn insert_deployments(
    db: &DatabaseConnection,
    projects: usize,
    per_project: usize,
) -> Result<(), DbErr> {
    let statuses = [
        "synced", "synced", "synced", "modified", "outdated", "conflict", "missing",
    ];
    let kinds = ["skill", "command", "agent"];
    let now = Utc::now();
    for p in 0..projects {
        let project_id = format!("{p:032x}");
        let path = format!("/work/projects/project-{p:03}");
        projects::Entity::insert(projects::ActiveModel {
            id: Set(project_id.clone()),
            path: Set(path.clone()),
            name: Set(format!("project-{p:03}")),
            registered: Set(true),
            created_at: Set(now),
            last_scanned_at: Set(Some(now)),
        })
        .exec_without_returning(db)
        .await?;
        let rows: Vec<deployments::ActiveModel> = (0..per_project)
            .map(|i| {
                let n = (p * 37 + i) % 1000;
                let kind = kinds[n % 3];
                deployments::ActiveModel {
                    id: Set(format!("{p:016x}{i:016x}")),
                    project_id: Set(project_id.clone()),
                    project_path: Set(path.clone()),
                    artifact_id: Set(format!("{kind}:artifact-{n:04}")),
                    artifact_type: Set(kind.into()),
                    artifact_name: Set(format!("artifact-{n:04}")),
                    artifact_name_key: Set(format!("artifact-{n:04}")),
                    profile: Set("claude_code".into()),
                    profile_root: Set(".claude".into()),
                    artifact_path: Set(format!("{kind}s/artifact-{n:04}")),
                    from_collection: Set("default".into()),
                    deployed_at: Set(now - chrono::Duration::minutes((p * per_project + i) as i64)),
                    recorded_hash: Set(format!("{n:064x}")),
                    local_hash: Set(Some(format!("{n:064x}"))),
                    local_fingerprint: Set(None),
                    collection_hash: Set(Some(format!("{n:064x}"))),
                    status: Set(statuses[(p + i) % statuses.len()].into()),
                    status_checked_at: Set(now),
                }
            })
            .collect();
        // 100 rows of 19 columns per statement stays under SQLite's bound-parameter limit.
        for chunk in rows.chunks(100) {
            deployments::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(db)
                .await?;
        }
    }
    cache_meta::Entity::insert(cache_meta::ActiveModel {
        key: Set(META_DEPLOYMENTS_VERSION.to_string()),
        value: Set(uuid::Uuid::new_v4().to_string()),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(cache_meta::Column::Key)
            .update_columns([cache_meta::Column::Value, cache_meta::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
