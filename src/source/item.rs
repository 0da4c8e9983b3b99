//! One artifact of the filesystem source: its listing item (files, stat fingerprint, newest
//! change) and its full read (metadata from the main document, SkillMeat's content hash).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::frontmatter::parse_document;
use super::hash::{self, FileEntry};
use super::layout::main_document;
use super::manifest::ManifestEntry;
use super::{ArtifactFile, ArtifactType, SourceArtifact, SourceError, SourceItem};

pub(super) fn make_item(
    artifact_type: ArtifactType,
    name: &str,
    collection: &str,
    path: String,
    root: &Path,
    manifest: Option<ManifestEntry>,
) -> Option<SourceItem> {
    let files = match hash::list_files(root) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(root = %root.display(), error = %e, "cannot list artifact files");
            return None;
        }
    };
    Some(SourceItem {
        artifact_id: format!("{artifact_type}:{name}"),
        artifact_type,
        name: name.to_string(),
        collection: collection.to_string(),
        collections: vec![collection.to_string()],
        path,
        in_manifest: manifest.is_some(),
        is_file: std::fs::symlink_metadata(root)
            .map(|m| m.is_file())
            .unwrap_or(false),
        fingerprint: fingerprint(&files, manifest.as_ref()),
        modified_at: newest_mtime(&files),
        manifest,
    })
}

/// The stat fingerprint of an artifact plus its manifest entry.
fn fingerprint(files: &[FileEntry], manifest: Option<&ManifestEntry>) -> String {
    hash::fingerprint(
        files,
        manifest.map(|m| m.entry_hash.as_str()).unwrap_or("-"),
    )
}

fn newest_mtime(files: &[FileEntry]) -> DateTime<Utc> {
    let ns = files.iter().map(|f| f.modified_ns).max().unwrap_or(0);
    DateTime::from_timestamp_nanos(ns.clamp(0, i64::MAX as i128) as i64)
}

pub(super) fn read_artifact(
    mut item: SourceItem,
    root: &Path,
) -> Result<Option<SourceArtifact>, SourceError> {
    let io = |e: std::io::Error| SourceError::Io {
        path: root.display().to_string(),
        source: e,
    };
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) if !m.file_type().is_symlink() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let files = match hash::list_files(root) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let content_hash = match hash::hash_listed_files(&files, meta.is_dir()) {
        Ok(h) => h,
        // A file vanished between the listing and the read: the artifact is changing under us;
        // report it gone and let the next read pick up the new state.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let doc = match main_document(item.artifact_type, root) {
        Some(path) => parse_document(&std::fs::read(&path).map_err(io)?),
        None => Default::default(),
    };
    let mut metadata = doc.metadata;
    if let Some(m) = &item.manifest {
        for tag in &m.tags {
            if !metadata.tags.contains(tag) {
                metadata.tags.push(tag.clone());
            }
        }
    }
    item.fingerprint = fingerprint(&files, item.manifest.as_ref());
    item.modified_at = newest_mtime(&files);
    Ok(Some(SourceArtifact {
        item,
        metadata,
        frontmatter: doc.frontmatter,
        frontmatter_error: doc.frontmatter_error,
        total_size: files.iter().map(|f| f.size).sum(),
        files: files
            .into_iter()
            .map(|f| ArtifactFile {
                path: f.relative_path,
                size: f.size,
            })
            .collect(),
        content_hash,
    }))
}
