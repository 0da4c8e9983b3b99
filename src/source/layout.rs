//! Where things are in SkillMeat's layout: which folder entries are artifacts of which type,
//! their main documents, safe relative paths that stay inside a folder, and what a changed path
//! under a data home means for the cache (the file watcher's question).

use std::path::{Component, Path, PathBuf};

use super::{ArtifactId, ArtifactType};

/// Folder names SkillMeat accepts for each type.
pub(crate) fn type_folders(t: ArtifactType) -> &'static [&'static str] {
    match t {
        ArtifactType::Skill => &["skills", "skill", "claude-skills"],
        ArtifactType::Command => &["commands", "command"],
        ArtifactType::Agent => &["agents", "agent", "subagents"],
        ArtifactType::Hook => &["hooks", "hook"],
        ArtifactType::Mcp => &["mcp", "mcp_servers", "mcp-servers"],
    }
}

/// Is `path`, with symlinks resolved, still under `root`? Guards against a symlinked folder
/// inside an artifact that points elsewhere.
pub(crate) fn inside(root: &Path, path: &Path) -> bool {
    let (Ok(root), Some(parent)) = (root.canonicalize(), path.parent()) else {
        return false;
    };
    match parent.canonicalize() {
        Ok(parent) => parent.starts_with(&root) || root.is_file(),
        Err(_) => false,
    }
}

/// A relative path made only of normal components, or `None` (absolute, `..`, empty, NUL,
/// backslash).
pub fn safe_relative(raw: &str) -> Option<PathBuf> {
    if raw.is_empty() || raw.contains(['\0', '\\']) {
        return None;
    }
    let path = Path::new(raw);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

pub(crate) fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `path`, with every symbolic link on the way resolved, lies inside `dir` (so a symlinked type
/// folder or a manifest path through a link cannot reach outside the collection).
pub(crate) fn contained(dir: &Path, path: &Path) -> bool {
    match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(path)) => path.starts_with(dir),
        _ => false,
    }
}

/// Exists and is not a symbolic link.
pub(crate) fn is_real(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| !m.file_type().is_symlink())
        .unwrap_or(false)
}

/// Recognises an entry of a type folder as an artifact: its name and root.
pub(crate) fn recognise(t: ArtifactType, path: &Path) -> Option<(String, PathBuf)> {
    let file_name = path.file_name()?.to_str()?.to_string();
    if file_name.starts_with('.') {
        return None;
    }
    let meta = std::fs::symlink_metadata(path).ok()?;
    let is_dir = meta.is_dir();
    let is_file = meta.is_file();
    match t {
        ArtifactType::Skill if is_dir => (path.join("SKILL.md").is_file()
            || path.join("skill.md").is_file())
        .then(|| (file_name, path.to_path_buf())),
        ArtifactType::Command | ArtifactType::Agent if is_file => file_name
            .strip_suffix(".md")
            .map(|stem| (stem.to_string(), path.to_path_buf())),
        ArtifactType::Command | ArtifactType::Agent if is_dir => {
            main_document(t, path).map(|_| (file_name, path.to_path_buf()))
        }
        ArtifactType::Hook | ArtifactType::Mcp if is_dir => Some((file_name, path.to_path_buf())),
        ArtifactType::Hook | ArtifactType::Mcp if is_file => {
            let stem = [".json", ".toml", ".md", ".yaml", ".yml"]
                .iter()
                .find_map(|ext| file_name.strip_suffix(ext))?;
            Some((stem.to_string(), path.to_path_buf()))
        }
        _ => None,
    }
}

/// The names a folder artifact's main document may have, in the order they are looked for.
pub(crate) fn main_document_names(t: ArtifactType) -> &'static [&'static str] {
    match t {
        // SkillMeat only reads SKILL.md for metadata; skill.md is accepted as a manifest by its
        // validator, so we read it too instead of leaving the description empty.
        ArtifactType::Skill => &["SKILL.md", "skill.md"],
        ArtifactType::Command => &["command.md", "COMMAND.md"],
        ArtifactType::Agent => &["AGENT.md", "agent.md"],
        ArtifactType::Hook => &["HOOK.md", "hook.md", "README.md"],
        ArtifactType::Mcp => &["MCP.md", "mcp.md", "README.md"],
    }
}

/// The Markdown file that carries an artifact's front matter.
pub(crate) fn main_document(t: ArtifactType, root: &Path) -> Option<PathBuf> {
    if root.is_file() {
        return root
            .extension()
            .is_some_and(|e| e == "md")
            .then(|| root.to_path_buf());
    }
    if let Some(found) = main_document_names(t)
        .iter()
        .map(|c| root.join(c))
        .find(|p| is_real(p) && p.is_file())
    {
        return Some(found);
    }
    if matches!(t, ArtifactType::Command | ArtifactType::Agent) {
        let mut mds: Vec<PathBuf> = std::fs::read_dir(root)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md") && is_real(p) && p.is_file())
            .collect();
        mds.sort();
        return mds.into_iter().next();
    }
    None
}

/// What a changed path under a data home means for the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangedPath {
    /// The `collections/` folder or a collection folder itself (created, deleted, renamed):
    /// everything may have changed.
    Everything,
    /// A collection's manifest, or a file the layout does not place: the whole collection.
    Collection(String),
    /// A file or folder of one artifact.
    Artifact {
        /// The collection folder.
        collection: String,
        /// The artifact.
        id: ArtifactId,
    },
    /// Nothing served (hidden files, files beside the collections, ...).
    Nothing,
}

/// The name an entry of a type folder gives its artifact, from the entry's name alone (as
/// [`recognise`] would name it, without looking at the disk).
pub(crate) fn entry_name(t: ArtifactType, entry: &str) -> &str {
    let extensions: &[&str] = match t {
        ArtifactType::Skill => &[],
        ArtifactType::Command | ArtifactType::Agent => &[".md"],
        ArtifactType::Hook | ArtifactType::Mcp => &[".json", ".toml", ".md", ".yaml", ".yml"],
    };
    extensions
        .iter()
        .find_map(|ext| entry.strip_suffix(ext))
        .filter(|stem| !stem.is_empty())
        .unwrap_or(entry)
}

/// Maps a changed path to what it affects, from the path alone (a deleted file cannot be
/// looked at): `collections/<c>/<type folder>/<entry>/...` is the artifact `type:entry` (a
/// `.md`, `.json`, ... extension dropped), `collections/<c>/collection.toml` and other files in
/// a collection are the collection, `collections` and `collections/<c>` are everything.
pub fn changed_path(data_home: &Path, path: &Path) -> ChangedPath {
    let collections = data_home.join("collections");
    let Ok(rel) = path.strip_prefix(&collections) else {
        return ChangedPath::Nothing;
    };
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    if parts.iter().take(3).any(|p| p.starts_with('.')) {
        // Inside a hidden collection, type folder or entry (`.git`, editor swap files): not
        // served.
        return ChangedPath::Nothing;
    }
    match parts.as_slice() {
        [] | [_] => ChangedPath::Everything,
        [collection, rest @ ..] => {
            let collection = collection.to_string();
            if let [type_folder, entry, ..] = rest
                && let Some(t) = ArtifactType::ALL
                    .into_iter()
                    .find(|t| type_folders(*t).contains(type_folder))
            {
                return match ArtifactId::parse(&format!("{t}:{}", entry_name(t, entry))) {
                    Ok(id) => ChangedPath::Artifact { collection, id },
                    Err(_) => ChangedPath::Nothing,
                };
            }
            if let [type_folder] = rest
                && ArtifactType::ALL
                    .into_iter()
                    .any(|t| type_folders(t).contains(type_folder))
            {
                // A whole type folder appeared or went away.
                return ChangedPath::Collection(collection);
            }
            ChangedPath::Collection(collection)
        }
    }
}

#[cfg(test)]
mod changed_path_tests {
    use super::*;

    #[test]
    fn paths_map_to_what_they_affect() {
        let home = Path::new("/h/.skillmeat");
        let at = |rel: &str| changed_path(home, &home.join(rel));
        let artifact = |c: &str, id: &str| ChangedPath::Artifact {
            collection: c.into(),
            id: ArtifactId::parse(id).unwrap(),
        };
        assert_eq!(
            at("collections/default/skills/canvas/SKILL.md"),
            artifact("default", "skill:canvas")
        );
        assert_eq!(
            at("collections/default/skills/canvas/refs/a/b.md"),
            artifact("default", "skill:canvas")
        );
        assert_eq!(
            at("collections/work/commands/review.md"),
            artifact("work", "command:review")
        );
        assert_eq!(
            at("collections/work/subagents/helper.md"),
            artifact("work", "agent:helper")
        );
        assert_eq!(
            at("collections/default/collection.toml"),
            ChangedPath::Collection("default".into())
        );
        assert_eq!(
            at("collections/default/skills"),
            ChangedPath::Collection("default".into())
        );
        assert_eq!(
            at("collections/default/notes.txt"),
            ChangedPath::Collection("default".into())
        );
        assert_eq!(at("collections/default"), ChangedPath::Everything);
        assert_eq!(at("collections"), ChangedPath::Everything);
        assert_eq!(
            at("collections/default/commands/.review.md.swp"),
            ChangedPath::Nothing
        );
        assert_eq!(
            at("collections/default/mcp/server.toml"),
            artifact("default", "mcp:server")
        );
        assert_eq!(
            at("collections/default/hooks/pre.json"),
            artifact("default", "hook:pre")
        );
        assert_eq!(at("collections/.git/objects/ab/cdef"), ChangedPath::Nothing);
        assert_eq!(at("collections/default/.git/index"), ChangedPath::Nothing);
        assert_eq!(at("config.toml"), ChangedPath::Nothing);
        assert_eq!(
            changed_path(home, Path::new("/elsewhere/x")),
            ChangedPath::Nothing
        );
    }
}
