//! SkillMeat's content hash (spec section 3.5), byte for byte.
//!
//! A file hashes as SHA-256 of its bytes. A folder hashes as one SHA-256 over every regular file
//! below it, hidden ones included, each fed as its `/`-separated relative path (UTF-8) followed by
//! its bytes, with no separators. Files are visited in Python's `sorted(Path.rglob("*"))` order,
//! which compares path *components* ordinally: `scripts/run.py` sorts before
//! `scripts-extra/notes.txt`. A depth-first walk with each folder's entries sorted by name gives
//! exactly that order. Symbolic links are skipped, so a hash never reads outside the artifact.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

/// One regular file of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the artifact root, `/`-separated.
    pub relative_path: String,
    /// Absolute path on disk.
    pub absolute_path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: i128,
}

/// Lists an artifact's regular files in hash order. A file artifact lists itself with its file
/// name as relative path.
pub fn list_files(root: &Path) -> io::Result<Vec<FileEntry>> {
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![FileEntry {
            relative_path: name,
            absolute_path: root.to_path_buf(),
            size: meta.len(),
            modified_ns: modified_ns(&meta),
        }]);
    }
    let mut files = Vec::new();
    for entry in WalkDir::new(root)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().cmp(b.file_name()))
    {
        let entry = entry.map_err(io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .map_err(io::Error::other)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.push(FileEntry {
            relative_path: rel,
            absolute_path: entry.path().to_path_buf(),
            size: meta.len(),
            modified_ns: modified_ns(&meta),
        });
    }
    Ok(files)
}

/// SkillMeat's content hash of a file or folder, hex encoded.
pub fn content_hash(root: &Path) -> io::Result<String> {
    let is_file = std::fs::symlink_metadata(root)?.is_file();
    let files = list_files(root)?;
    hash_listed_files(&files, !is_file)
}

/// Hashes files already listed by [`list_files`]; `with_paths` is true for folders.
pub fn hash_listed_files(files: &[FileEntry], with_paths: bool) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for file in files {
        if with_paths {
            hasher.update(file.relative_path.as_bytes());
        }
        let mut f = File::open(&file.absolute_path)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SkillMeat's content hash of files held in memory (relative path to bytes), in the order
/// [`list_files`] walks them (path component by component); `with_paths` is true for folders.
pub fn hash_of_files(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    with_paths: bool,
) -> String {
    let mut ordered: Vec<(&String, &Vec<u8>)> = files.iter().collect();
    ordered.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    let mut hasher = Sha256::new();
    for (path, bytes) in ordered {
        if with_paths {
            hasher.update(path.as_bytes());
        }
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}

fn modified_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Digest of every file's relative path, size and modification time plus `extra`: equal
/// fingerprints mean nothing a reader would see has changed, without reading a byte of content.
pub fn fingerprint(files: &[FileEntry], extra: &str) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.relative_path.as_bytes());
        h.update([0]);
        h.update(f.size.to_le_bytes());
        h.update(f.modified_ns.to_le_bytes());
    }
    h.update(extra.as_bytes());
    format!("v1:{}:{}", files.len(), &hex::encode(h.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_memory_hash_as_the_same_files_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let mut files = std::collections::BTreeMap::new();
        // "a.md" sorts before "a/b.md" as a string but after it as a walk: the walk decides.
        for (rel, text) in [
            ("a.md", "1"),
            ("a/b.md", "2"),
            ("a-c.md", "3"),
            ("SKILL.md", "4"),
        ] {
            let path = tmp.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            files.insert(rel.to_string(), text.as_bytes().to_vec());
        }
        assert_eq!(
            hash_of_files(&files, true),
            content_hash(tmp.path()).unwrap()
        );
        let single = tmp.path().join("a.md");
        let one = std::collections::BTreeMap::from([("a.md".to_string(), b"1".to_vec())]);
        assert_eq!(hash_of_files(&one, false), content_hash(&single).unwrap());
    }
}
