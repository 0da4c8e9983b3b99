//! An artifact's files held in memory while they are checked and staged: read from a folder
//! (links out of it refused), from a git tree, or from a request; bounded in count and size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::AuthoringError;
use crate::source::filesystem::safe_relative;
use crate::source::hash;

/// Relative path (`/`-separated) to bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// How much one artifact may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most files.
    pub max_files: usize,
    /// Most bytes, all files together.
    pub max_total_bytes: u64,
}

/// An artifact's content: a folder's files, or the one file of a single-file artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSet {
    /// The files.
    pub files: Files,
    /// A single `.md` file (a command or an agent) rather than a folder.
    pub single_file: bool,
}

impl FileSet {
    /// SkillMeat's content hash of these files once written.
    pub fn content_hash(&self) -> String {
        hash::hash_of_files(&self.files, !self.single_file)
    }

    /// Total size in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|b| b.len() as u64).sum()
    }
}

/// Keeps a running count against `limits`, so a too-large source is refused before it is all
/// read.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    files: usize,
    bytes: u64,
}

impl Budget {
    /// A fresh count.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            files: 0,
            bytes: 0,
        }
    }

    /// Counts one more file of `size` bytes; 413 when over a limit.
    pub fn take(&mut self, size: u64) -> Result<(), AuthoringError> {
        self.files += 1;
        self.bytes += size;
        if self.files > self.limits.max_files {
            return Err(AuthoringError::TooLarge(format!(
                "more than {} files (artifacts.max_files)",
                self.limits.max_files
            )));
        }
        if self.bytes > self.limits.max_total_bytes {
            return Err(AuthoringError::TooLarge(format!(
                "more than {} bytes in all (artifacts.max_total_bytes)",
                self.limits.max_total_bytes
            )));
        }
        Ok(())
    }
}

/// Reads a folder (or one file) into memory. Links are followed only when they stay inside
/// `root`; a link that leads out of it (or dangles) is refused, as is anything that is neither
/// a file nor a folder.
pub fn read_source(root: &Path, limits: Limits) -> Result<FileSet, AuthoringError> {
    let meta = std::fs::symlink_metadata(root)
        .map_err(|e| AuthoringError::BadRequest(format!("cannot read {}: {e}", root.display())))?;
    if meta.file_type().is_symlink() {
        return Err(AuthoringError::BadRequest(format!(
            "{} is a symbolic link; give the folder or file it points to",
            root.display()
        )));
    }
    let mut budget = Budget::new(limits);
    if meta.is_file() {
        budget.take(meta.len())?;
        let name = file_name(root)?;
        let bytes = std::fs::read(root).map_err(|e| io_error(root, e))?;
        return Ok(FileSet {
            files: BTreeMap::from([(name, bytes)]),
            single_file: true,
        });
    }
    let real_root = root.canonicalize().map_err(|e| io_error(root, e))?;
    let mut files = Files::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| AuthoringError::BadRequest(e.to_string()))?;
        let path = entry.path();
        let rel = relative(root, path)?;
        if rel.is_empty() {
            continue;
        }
        let file_type = entry.file_type();
        let target = if file_type.is_symlink() {
            let Ok(target) = path.canonicalize() else {
                return Err(AuthoringError::BadRequest(format!(
                    "'{rel}' is a link that leads nowhere"
                )));
            };
            if !target.starts_with(&real_root) {
                return Err(AuthoringError::BadRequest(format!(
                    "'{rel}' is a link that leads out of {}",
                    root.display()
                )));
            }
            if target.is_dir() {
                // A link to a folder inside: its files are read where they really are.
                continue;
            }
            target
        } else if file_type.is_dir() {
            continue;
        } else if file_type.is_file() {
            path.to_path_buf()
        } else {
            return Err(AuthoringError::BadRequest(format!(
                "'{rel}' is neither a file nor a folder"
            )));
        };
        let size = std::fs::metadata(&target)
            .map_err(|e| io_error(&target, e))?
            .len();
        budget.take(size)?;
        let bytes = std::fs::read(&target).map_err(|e| io_error(&target, e))?;
        files.insert(rel, bytes);
    }
    if files.is_empty() {
        return Err(AuthoringError::BadRequest(format!(
            "{} holds no files",
            root.display()
        )));
    }
    Ok(FileSet {
        files,
        single_file: false,
    })
}

/// Checks request-given files: relative paths without `..`, within the limits.
pub fn from_request(
    files: BTreeMap<String, String>,
    single_file: bool,
    limits: Limits,
) -> Result<FileSet, AuthoringError> {
    let mut budget = Budget::new(limits);
    let mut out = Files::new();
    for (raw, text) in files {
        let rel = checked_path(&raw)?;
        budget.take(text.len() as u64)?;
        out.insert(rel, text.into_bytes());
    }
    Ok(FileSet {
        files: out,
        single_file,
    })
}

/// A file path inside an artifact, normalised (`./a//b` is `a/b`); 400 when it is absolute,
/// climbs with `..` or is empty.
pub fn checked_path(raw: &str) -> Result<String, AuthoringError> {
    let rel = safe_relative(raw).ok_or_else(|| {
        AuthoringError::BadRequest(format!(
            "file path '{}' must be relative to the artifact, without '..'",
            crate::source::printable(raw)
        ))
    })?;
    Ok(rel_string(&rel))
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn relative(root: &Path, path: &Path) -> Result<String, AuthoringError> {
    let rel = path
        .strip_prefix(root)
        .map_err(|e| AuthoringError::BadRequest(e.to_string()))?;
    Ok(rel_string(rel))
}

fn file_name(path: &Path) -> Result<String, AuthoringError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| {
            AuthoringError::BadRequest(format!("{} has no usable file name", path.display()))
        })
}

fn io_error(path: &Path, source: std::io::Error) -> AuthoringError {
    AuthoringError::Io {
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_files: 3,
        max_total_bytes: 100,
    };

    #[test]
    fn links_inside_are_read_and_links_out_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("skill");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("SKILL.md"), "hi").unwrap();
        std::fs::write(root.join("docs/a.md"), "a").unwrap();
        std::os::unix::fs::symlink(root.join("docs/a.md"), root.join("b.md")).unwrap();
        let set = read_source(&root, LIMITS).unwrap();
        assert_eq!(
            set.files.keys().collect::<Vec<_>>(),
            ["SKILL.md", "b.md", "docs/a.md"]
        );
        std::fs::write(tmp.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join("docs/s")).unwrap();
        let err = read_source(&root, LIMITS).unwrap_err();
        assert!(err.to_string().contains("leads out"), "{err}");
    }

    #[test]
    fn limits_refuse_too_many_or_too_large() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..4 {
            std::fs::write(tmp.path().join(format!("{i}.md")), "x").unwrap();
        }
        assert!(matches!(
            read_source(tmp.path(), LIMITS),
            Err(AuthoringError::TooLarge(_))
        ));
        let big = BTreeMap::from([("a.md".to_string(), "x".repeat(101))]);
        assert!(matches!(
            from_request(big, true, LIMITS),
            Err(AuthoringError::TooLarge(_))
        ));
        assert!(checked_path("../x").is_err());
        assert_eq!(checked_path("./a//b").unwrap(), "a/b");
    }
}
