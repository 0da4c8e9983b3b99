//! One folder or file of a git repository's ref, fetched into a throw-away bare repository
//! and read into memory for an import (see [`crate::git`] for the fetching itself).

use std::path::Path;
use std::time::Duration;

use git2::{ObjectType, Repository, Tree};

pub use crate::git::FetchProgress;
use crate::git::GitError;

use super::AuthoringError;
use super::files::{Budget, FileSet, Files, Limits};

/// A tree read from a repository.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The files under the path asked for.
    pub set: FileSet,
    /// The commit they come from.
    pub sha: String,
    /// Whether the path was a folder.
    pub is_dir: bool,
    /// The names of the files directly in that folder (for type inference).
    pub top_level: Vec<String>,
}

impl From<GitError> for AuthoringError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::BadUrl(d) => AuthoringError::BadRequest(d),
            GitError::NoSuchRef(d) => AuthoringError::NotFound(d),
            GitError::Failed(d) => AuthoringError::Git(d),
        }
    }
}

/// The commit `git_ref` names at `url` (see [`crate::git::resolve_ref`]).
pub fn resolve_ref(
    url: &str,
    git_ref: &str,
    timeout: Duration,
) -> Result<(String, String), AuthoringError> {
    Ok(crate::git::resolve_ref(url, git_ref, timeout)?)
}

fn git_error(url: &str, e: git2::Error) -> AuthoringError {
    AuthoringError::Git(format!("git repository '{url}': {}", e.message()))
}

/// Fetches `git_ref` of `url` shallowly and reads `path` of its tree (the whole tree when
/// empty), within `limits`. Links in the tree are followed only when they stay under `path`.
pub fn fetch(
    url: &str,
    git_ref: &str,
    path: &str,
    limits: Limits,
    timeout: Duration,
    on_progress: impl FnMut(FetchProgress),
) -> Result<Fetched, AuthoringError> {
    let (sha, fetch_name) = resolve_ref(url, git_ref, timeout)?;
    let tmp = tempfile::Builder::new()
        .prefix("skillmeat-git-")
        .tempdir()
        .map_err(|e| AuthoringError::Io {
            path: std::env::temp_dir(),
            source: e,
        })?;
    let repo = Repository::init_bare(tmp.path()).map_err(|e| git_error(url, e))?;
    crate::git::fetch_ref(&repo, url, &fetch_name, timeout, on_progress)?;
    let oid = git2::Oid::from_str(&sha).map_err(|e| git_error(url, e))?;
    let commit = repo.find_commit(oid).map_err(|e| git_error(url, e))?;
    let tree = commit.tree().map_err(|e| git_error(url, e))?;
    read_path(&repo, &tree, path, limits).map(|(set, is_dir, top_level)| Fetched {
        set,
        sha,
        is_dir,
        top_level,
    })
}

/// Reads `path` of `tree` into memory.
fn read_path(
    repo: &Repository,
    tree: &Tree<'_>,
    path: &str,
    limits: Limits,
) -> Result<(FileSet, bool, Vec<String>), AuthoringError> {
    let missing = || AuthoringError::NotFound(format!("the repository has no '{path}'"));
    let sub = path.trim_matches('/');
    let (subtree, prefix) = if sub.is_empty() {
        (tree.clone(), String::new())
    } else {
        let rel = super::files::checked_path(sub)?;
        let entry = tree.get_path(Path::new(&rel)).map_err(|_| missing())?;
        match entry.kind() {
            Some(ObjectType::Blob) => {
                if entry.filemode() == 0o120000 {
                    return Err(AuthoringError::BadRequest(format!(
                        "'{rel}' is a symbolic link in the repository"
                    )));
                }
                let blob = repo.find_blob(entry.id()).map_err(|_| missing())?;
                Budget::new(limits).take(blob.size() as u64)?;
                let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                let files = Files::from([(name, blob.content().to_vec())]);
                return Ok((
                    FileSet {
                        files,
                        single_file: true,
                    },
                    false,
                    Vec::new(),
                ));
            }
            Some(ObjectType::Tree) => (repo.find_tree(entry.id()).map_err(|_| missing())?, rel),
            _ => return Err(missing()),
        }
    };
    let top_level = subtree
        .iter()
        .filter_map(|e| e.name().map(String::from))
        .collect();
    let mut budget = Budget::new(limits);
    let mut files = Files::new();
    let mut failure = None;
    subtree
        .walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let rel = format!("{dir}{}", entry.name().unwrap_or_default());
            let read = read_blob(repo, &subtree, &prefix, &rel, entry.filemode(), entry.id())
                .and_then(|bytes| {
                    budget.take(bytes.len() as u64)?;
                    Ok(bytes)
                });
            match read {
                Ok(bytes) => {
                    files.insert(rel, bytes);
                    git2::TreeWalkResult::Ok
                }
                Err(e) => {
                    failure = Some(e);
                    git2::TreeWalkResult::Abort
                }
            }
        })
        .map_err(|e| {
            failure
                .take()
                .unwrap_or_else(|| AuthoringError::Git(e.message().to_string()))
        })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if files.is_empty() {
        return Err(AuthoringError::BadRequest(format!(
            "'{path}' holds no files"
        )));
    }
    Ok((
        FileSet {
            files,
            single_file: false,
        },
        true,
        top_level,
    ))
}

/// A blob's bytes; a link is followed inside `subtree` only.
fn read_blob(
    repo: &Repository,
    subtree: &Tree<'_>,
    prefix: &str,
    rel: &str,
    mode: i32,
    id: git2::Oid,
) -> Result<Vec<u8>, AuthoringError> {
    let blob = repo
        .find_blob(id)
        .map_err(|e| AuthoringError::Git(e.message().to_string()))?;
    if mode != 0o120000 {
        return Ok(blob.content().to_vec());
    }
    let target = String::from_utf8_lossy(blob.content()).into_owned();
    let base = Path::new(rel).parent().unwrap_or(Path::new(""));
    let joined = base.join(&target);
    let resolved = crate::source::filesystem::safe_relative(&joined.to_string_lossy())
        .filter(|_| !target.starts_with('/'))
        .ok_or_else(|| {
            AuthoringError::BadRequest(format!(
                "'{prefix}/{rel}' is a link that leads out of '{prefix}'"
            ))
        })?;
    let entry = subtree.get_path(&resolved).map_err(|_| {
        AuthoringError::BadRequest(format!("'{prefix}/{rel}' is a link that leads nowhere"))
    })?;
    if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == 0o120000 {
        return Err(AuthoringError::BadRequest(format!(
            "'{prefix}/{rel}' links to something that is not a file"
        )));
    }
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| AuthoringError::Git(e.message().to_string()))?;
    Ok(blob.content().to_vec())
}
