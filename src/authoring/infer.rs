//! What an imported path is, inferred as SkillMeat's `infer_artifact_type` does for the types
//! the server serves: a folder holding its type's main document first (`SKILL.md`, ...), then
//! the nearest parent folder named for a type (`skills/`, `commands/`, `agents/`, ...).

use std::path::Path;

use crate::source::ArtifactType;

/// The main documents that make a folder an artifact of a type.
const MANIFEST_FILES: [(ArtifactType, &[&str]); 5] = [
    (ArtifactType::Skill, &["SKILL.md", "skill.md"]),
    (ArtifactType::Command, &["COMMAND.md", "command.md"]),
    (ArtifactType::Agent, &["AGENT.md", "agent.md"]),
    (ArtifactType::Hook, &["settings.json"]),
    (ArtifactType::Mcp, &[".mcp.json", "mcp.json"]),
];

/// Folder names that say what their entries are (SkillMeat's container names).
const CONTAINERS: [(ArtifactType, &[&str]); 5] = [
    (ArtifactType::Skill, &["skills", "skill", "claude-skills"]),
    (
        ArtifactType::Command,
        &["commands", "command", "claude-commands"],
    ),
    (
        ArtifactType::Agent,
        &["agents", "agent", "subagents", "claude-agents"],
    ),
    (ArtifactType::Hook, &["hooks", "hook", "claude-hooks"]),
    (
        ArtifactType::Mcp,
        &["mcp", "mcp-servers", "servers", "mcp_servers", "claude-mcp"],
    ),
];

/// The type of the artifact at `path` (`is_dir` says what it is; `has_file` whether the folder
/// holds a file of that name), or `None` when nothing tells.
pub fn infer_type(
    path: &Path,
    is_dir: bool,
    has_file: impl Fn(&str) -> bool,
) -> Option<ArtifactType> {
    if is_dir {
        for (t, names) in MANIFEST_FILES {
            if names.iter().any(|n| has_file(n)) {
                return Some(t);
            }
        }
    }
    // Commands and agents may nest (commands/git/commit.md); the other types are found only
    // in their container's own folder.
    for (depth, ancestor) in path.ancestors().skip(1).take(10).enumerate() {
        let Some(name) = ancestor.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let name = name.to_lowercase();
        if let Some((t, _)) = CONTAINERS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
            && (depth == 0 || matches!(t, ArtifactType::Command | ArtifactType::Agent))
        {
            return Some(*t);
        }
    }
    None
}

/// The artifact's name from its path: the folder's name, or the file's name without `.md`.
pub fn name_from_path(path: &Path, is_dir: bool) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if is_dir {
        return Some(name.to_string());
    }
    Some(name.strip_suffix(".md").unwrap_or(name).to_string())
}

/// Whether artifacts of type `t` are stored as one file (`commands/<name>.md`).
pub fn is_single_file(t: ArtifactType) -> bool {
    matches!(t, ArtifactType::Command | ArtifactType::Agent)
}

/// Where an artifact of type `t` named `name` lives in a collection, as SkillMeat writes it
/// (`skills/<name>`, `commands/<name>.md`, ...).
pub fn collection_path(t: ArtifactType, name: &str, single_file: bool) -> String {
    let folder = match t {
        ArtifactType::Skill => "skills",
        ArtifactType::Command => "commands",
        ArtifactType::Agent => "agents",
        ArtifactType::Hook => "hooks",
        ArtifactType::Mcp => "mcp",
    };
    if single_file {
        format!("{folder}/{name}.md")
    } else {
        format!("{folder}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_inferred_as_skillmeat_infers_them() {
        let none = |_: &str| false;
        let skill_md = |n: &str| n == "SKILL.md";
        assert_eq!(
            infer_type(Path::new("/x/anything"), true, skill_md),
            Some(ArtifactType::Skill)
        );
        assert_eq!(
            infer_type(Path::new("/x/commands/review.md"), false, none),
            Some(ArtifactType::Command)
        );
        assert_eq!(
            infer_type(Path::new("/x/agents/ops/deploy.md"), false, none),
            Some(ArtifactType::Agent)
        );
        assert_eq!(
            infer_type(Path::new("/x/skills/deep/thing"), true, none),
            None
        );
        assert_eq!(infer_type(Path::new("/x/notes.md"), false, none), None);
        assert_eq!(
            name_from_path(Path::new("/x/review.md"), false).as_deref(),
            Some("review")
        );
        assert_eq!(
            collection_path(ArtifactType::Command, "review", true),
            "commands/review.md"
        );
    }
}
