//! What differs between a deployment's project copy and the collection's current version (or
//! the deployment's base, when a snapshot of it was kept): per file added, removed, modified or
//! unchanged, with a unified diff for text (`similar`), "binary" for the rest, and large files
//! left out with a marker.

use std::collections::BTreeMap;

use super::snapshots::read_copy;
use super::*;

/// Largest file shown as a diff; a larger one is compared but its lines are not shown.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;
/// Most bytes read of one collection file to compare it.
pub(super) const MAX_READ_BYTES: u64 = 32 * 1024 * 1024;

/// What the project copy is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffAgainst {
    /// The collection's current version.
    Collection,
    /// What was deployed (the deployment's base).
    Base,
}

/// How one file differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    /// Only in the project copy.
    Added,
    /// Only in the other side.
    Removed,
    /// In both, different.
    Modified,
    /// In both, the same.
    Unchanged,
}

impl FileChange {
    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            FileChange::Added => "added",
            FileChange::Removed => "removed",
            FileChange::Modified => "modified",
            FileChange::Unchanged => "unchanged",
        }
    }
}

/// One file's difference.
#[derive(Debug, Clone)]
pub struct FileDiff {
    /// Path inside the artifact.
    pub path: String,
    /// How it differs.
    pub change: FileChange,
    /// True when either side is not UTF-8 text (no lines are shown).
    pub binary: bool,
    /// True when a side is over [`MAX_DIFF_BYTES`] (no lines are shown).
    pub too_large: bool,
    /// Size on the other side (collection or base), when there.
    pub other_size: Option<u64>,
    /// Size in the project copy, when there.
    pub project_size: Option<u64>,
    /// Unified diff, other side first (`-`) and project copy second (`+`).
    pub unified: Option<String>,
}

/// A deployment's differences.
#[derive(Debug, Clone)]
pub struct DeploymentDiff {
    /// What the project copy was compared with.
    pub against: DiffAgainst,
    /// The other side's content hash.
    pub other_hash: Option<String>,
    /// The project copy's content hash.
    pub project_hash: Option<String>,
    /// True when the deployment's base content is kept (a merge is possible).
    pub base_available: bool,
    /// Every file of either side, by path.
    pub files: Vec<FileDiff>,
}

impl DeployService {
    /// The differences of deployment `id`'s project copy from the collection's version or from
    /// its base. No base kept: 409 (the copy was already edited when this server first saw it).
    pub async fn diff(
        &self,
        id: &str,
        against: DiffAgainst,
        context: usize,
    ) -> Result<DeploymentDiff, DeployError> {
        let row = self.find_deployment(id).await?;
        self.inner.roots.check_known(&row.project_path)?;
        let artifact_id = ArtifactId::parse(&row.artifact_id).map_err(DeployError::BadRequest)?;
        let copy = copy_path(&row)?;
        let base = self
            .inner
            .snapshots
            .files(&row.recorded_hash)
            .map_err(io("reading the deployment's base"))?;
        let base_available = base.is_some();
        let (other, other_hash) = match against {
            DiffAgainst::Base => match base {
                Some(files) => (files, Some(row.recorded_hash.clone())),
                None => {
                    return Err(DeployError::Conflict(format!(
                        "no base content is kept for this deployment (hash {}): its copy was already \
                         edited when this server first saw it; compare with the \
                         collection instead (against=collection)",
                        row.recorded_hash
                    )));
                }
            },
            DiffAgainst::Collection => {
                let artifact = self.fresh_artifact(&artifact_id).await?;
                let files = self.collection_files(&artifact).await?;
                (files, Some(artifact.content_hash))
            }
        };
        let project = same_file_key(read_project_copy(&copy).await?, &copy, &other);
        let project_hash = (!project.is_empty())
            .then(|| hash::content_hash(&copy).ok())
            .flatten();
        Ok(DeploymentDiff {
            against,
            other_hash,
            project_hash,
            base_available,
            files: compare(&other, &project, context),
        })
    }
}

/// The project copy's files (none when it is missing).
pub(super) async fn read_project_copy(
    copy: &Path,
) -> Result<BTreeMap<String, Vec<u8>>, DeployError> {
    if std::fs::symlink_metadata(copy).is_err() {
        return Ok(BTreeMap::new());
    }
    let copy = copy.to_path_buf();
    tokio::task::spawn_blocking(move || read_copy(&copy))
        .await
        .map_err(|e| DeployError::Io {
            context: "reading the project copy".into(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(io("reading the project copy"))
}

/// A single-file copy (a command or agent) under the other side's one file name, so the two
/// are compared whatever each is named.
pub(super) fn same_file_key(
    project: BTreeMap<String, Vec<u8>>,
    copy: &Path,
    other: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, Vec<u8>> {
    match (copy.is_file(), other.keys().collect::<Vec<_>>().as_slice()) {
        (true, [key]) if project.len() == 1 => {
            project.into_values().map(|b| ((*key).clone(), b)).collect()
        }
        _ => project,
    }
}

/// A deployment's project copy, when its recorded path stays plainly inside the project.
pub(super) fn copy_path(row: &deployments::Model) -> Result<PathBuf, DeployError> {
    let rel = PathBuf::from(&row.profile_root).join(&row.artifact_path);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(DeployError::BadRequest(format!(
            "the recorded path '{}' is not a plain path inside the project",
            printable(&rel.display().to_string())
        )));
    }
    let copy = PathBuf::from(&row.project_path).join(rel);
    ensure_inside_project(Path::new(&row.project_path), &copy)?;
    Ok(copy)
}

impl DeployService {
    /// The collection's files of `artifact` (each at most 32 MiB + 1 byte read).
    pub(super) async fn collection_files(
        &self,
        artifact: &crate::source::SourceArtifact,
    ) -> Result<BTreeMap<String, Vec<u8>>, DeployError> {
        let source = self.inner.cache.source();
        let mut files = BTreeMap::new();
        for f in &artifact.files {
            if let Some(bytes) = source
                .read_file(&artifact.item, &f.path, MAX_READ_BYTES)
                .await?
            {
                files.insert(f.path.clone(), bytes);
            }
        }
        Ok(files)
    }
}

/// Every path of either side with its difference, in path order.
pub fn compare(
    other: &BTreeMap<String, Vec<u8>>,
    project: &BTreeMap<String, Vec<u8>>,
    context: usize,
) -> Vec<FileDiff> {
    let mut paths: Vec<&String> = other.keys().chain(project.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let (a, b) = (other.get(path), project.get(path));
            let change = match (a, b) {
                (None, _) => FileChange::Added,
                (_, None) => FileChange::Removed,
                (Some(a), Some(b)) if a == b => FileChange::Unchanged,
                _ => FileChange::Modified,
            };
            let (ta, tb) = (as_text(a), as_text(b));
            let binary = ta.is_none() || tb.is_none();
            let too_large = [a, b]
                .iter()
                .any(|s| s.is_some_and(|s| s.len() > MAX_DIFF_BYTES));
            let unified = match (change, ta, tb) {
                (FileChange::Unchanged, ..) => None,
                _ if too_large => None,
                (_, Some(ta), Some(tb)) => Some(
                    similar::TextDiff::from_lines(ta, tb)
                        .unified_diff()
                        .context_radius(context)
                        .header(&format!("a/{path}"), &format!("b/{path}"))
                        .to_string(),
                ),
                _ => None,
            };
            FileDiff {
                path: path.clone(),
                change,
                binary,
                too_large,
                other_size: a.map(|s| s.len() as u64),
                project_size: b.map(|s| s.len() as u64),
                unified,
            }
        })
        .collect()
}

/// A side as text: empty when absent, `None` when binary (a NUL byte, or not UTF-8).
fn as_text(bytes: Option<&Vec<u8>>) -> Option<&str> {
    match bytes {
        None => Some(""),
        Some(b) if b.contains(&0) => None,
        Some(b) => std::str::from_utf8(b).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect()
    }

    #[test]
    fn each_file_is_classified_and_text_gets_a_unified_diff() {
        let other = files(&[
            ("SKILL.md", b"one\ntwo\nthree\n"),
            ("gone.md", b"bye\n"),
            ("same.md", b"same\n"),
            ("logo.png", b"\x89PNG\0\x01"),
        ]);
        let project = files(&[
            ("SKILL.md", b"one\ntwo, edited\nthree\n"),
            ("new.md", b"hello\n"),
            ("same.md", b"same\n"),
            ("logo.png", b"\x89PNG\0\x02"),
        ]);
        let diff = compare(&other, &project, 3);
        let by_path: BTreeMap<&str, &FileDiff> =
            diff.iter().map(|f| (f.path.as_str(), f)).collect();
        assert_eq!(by_path["SKILL.md"].change, FileChange::Modified);
        let unified = by_path["SKILL.md"].unified.as_deref().unwrap();
        assert!(
            unified.contains("-two\n") && unified.contains("+two, edited\n"),
            "{unified}"
        );
        assert!(
            unified.starts_with("--- a/SKILL.md\n+++ b/SKILL.md\n"),
            "{unified}"
        );
        assert_eq!(by_path["new.md"].change, FileChange::Added);
        assert!(
            by_path["new.md"]
                .unified
                .as_deref()
                .unwrap()
                .contains("+hello")
        );
        assert_eq!(by_path["gone.md"].change, FileChange::Removed);
        assert_eq!(by_path["same.md"].change, FileChange::Unchanged);
        assert!(by_path["same.md"].unified.is_none());
        assert!(by_path["logo.png"].binary && by_path["logo.png"].unified.is_none());
        let big = files(&[("big.md", &vec![b'a'; MAX_DIFF_BYTES + 1])]);
        let diff = compare(&big, &files(&[("big.md", b"a")]), 3);
        assert!(diff[0].too_large && diff[0].unified.is_none());
    }
}
