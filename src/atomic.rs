//! Replacing a folder or file with a staged copy so that a crash at any moment leaves either
//! the old content or the new one, never a mix or nothing: shared by deploys, pushes into a
//! collection and merges into a project.
//!
//! On Linux the staged copy and the old one trade places in one `renameat2(RENAME_EXCHANGE)`;
//! the old content then sits at the staging path and is removed (a crash before that leaves a
//! `.skillmeat-tmp-*` leftover, which the sweeps remove). Where the exchange is not supported
//! (another OS, a file system without it) the old copy moves aside first and back on failure.

use std::io;
use std::path::Path;

/// Prefix of staging copies (hidden, so the source and the watcher never take them for
/// artifacts).
pub const STAGING_PREFIX: &str = ".skillmeat-tmp-";
/// Prefix of an old copy moved aside by the fallback swap.
pub const BACKUP_PREFIX: &str = ".skillmeat-old-";

/// A fresh staging path beside `dest`.
pub fn staging_path(dest: &Path) -> std::path::PathBuf {
    let parent = dest.parent().unwrap_or(Path::new("."));
    parent.join(format!("{STAGING_PREFIX}{}", crate::db::new_id()))
}

/// Staging copies older than this are leftovers of a write that died mid-copy.
pub const STAGING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the staging copies in `dir` older than [`STAGING_MAX_AGE`] (a write killed
/// mid-copy left them; a younger one may belong to a write under way).
pub fn sweep_stale_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STAGING_MAX_AGE);
        if stale
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
        {
            tracing::info!(path = %entry.path().display(), "removing a staging copy left by an interrupted write");
            remove_path(&entry.path());
        }
    }
}

/// Puts `staging` where `dest` is. A file replacing a file is one rename; otherwise the two
/// are exchanged atomically where the OS can, and the old copy is removed after. On error
/// `dest` is as it was and `staging` is removed.
pub fn swap_into_place(staging: &Path, dest: &Path) -> io::Result<()> {
    let old = std::fs::symlink_metadata(dest).ok();
    let staged_is_file = std::fs::symlink_metadata(staging)?.is_file();
    let result = match old {
        None => std::fs::rename(staging, dest),
        Some(m) if staged_is_file && !m.is_dir() => std::fs::rename(staging, dest),
        Some(_) => match exchange(staging, dest) {
            // `staging` now holds the old copy.
            Ok(true) => {
                remove_path(staging);
                return Ok(());
            }
            Ok(false) => swap_aside(staging, dest),
            Err(e) => Err(e),
        },
    };
    if result.is_err() {
        remove_path(staging);
    }
    result
}

/// The fallback: the old copy aside, the new one in, the old one removed (or put back).
fn swap_aside(staging: &Path, dest: &Path) -> io::Result<()> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let backup = parent.join(format!("{BACKUP_PREFIX}{}", crate::db::new_id()));
    std::fs::rename(dest, &backup)?;
    if let Err(e) = std::fs::rename(staging, dest) {
        let _ = std::fs::rename(&backup, dest);
        return Err(e);
    }
    remove_path(&backup);
    Ok(())
}

/// Exchanges two existing paths in one step. `Ok(false)` when this OS or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Writes `text` to `file` through a synced temp file in the same folder and a rename (the
/// file keeps its permissions).
pub fn write_text(file: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let dir = file.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// Whether `path` lies in a staging copy that is gone again: the passing state of an atomic
/// write, whose result is seen at its final path.
pub fn in_finished_staging(path: &Path) -> bool {
    path.ancestors()
        .find(|a| {
            a.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(STAGING_PREFIX))
        })
        .is_some_and(|staging| std::fs::symlink_metadata(staging).is_err())
}

/// Removes a file or a folder tree; a path that is not there is fine.
pub fn remove_path(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Writes `files` (relative path to bytes) into a new folder `dir`, or, for a single-file
/// artifact, the one file at `dir` itself.
pub fn write_files(
    dir: &Path,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    single_file: bool,
) -> io::Result<()> {
    if single_file {
        let bytes = files.values().next().map(Vec::as_slice).unwrap_or_default();
        return std::fs::write(dir, bytes);
    }
    std::fs::create_dir_all(dir)?;
    for (rel, bytes) in files {
        let rel = crate::source::filesystem::safe_relative(rel)
            .ok_or_else(|| io::Error::other(format!("unsafe path '{rel}'")))?;
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    #[test]
    fn a_folder_is_replaced_whole_and_nothing_is_left_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("skill");
        tree(&dest, &[("SKILL.md", "old"), ("gone.md", "x")]);
        let staging = staging_path(&dest);
        tree(&staging, &[("SKILL.md", "new")]);
        swap_into_place(&staging, &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("SKILL.md")).unwrap(),
            "new"
        );
        assert!(!dest.join("gone.md").exists());
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("skill")]);
    }

    #[test]
    fn a_file_replaces_a_file_and_a_missing_destination_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("cmd.md");
        std::fs::write(&dest, "old").unwrap();
        let staging = staging_path(&dest);
        std::fs::write(&staging, "new").unwrap();
        swap_into_place(&staging, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        let fresh = tmp.path().join("fresh");
        let staging = staging_path(&fresh);
        tree(&staging, &[("a.md", "a")]);
        swap_into_place(&staging, &fresh).unwrap();
        assert!(fresh.join("a.md").is_file());
    }

    #[test]
    fn text_is_written_through_a_staging_file_that_does_not_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("record.toml");
        write_text(&file, "a = 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a = 1\n");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        let gone = tmp.path().join(format!("{STAGING_PREFIX}x/SKILL.md"));
        assert!(in_finished_staging(&gone));
        assert!(!in_finished_staging(&file));
        std::fs::create_dir(tmp.path().join(format!("{STAGING_PREFIX}x"))).unwrap();
        assert!(!in_finished_staging(&gone));
    }

    #[test]
    fn the_fallback_swap_puts_the_new_copy_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("skill");
        tree(&dest, &[("SKILL.md", "old")]);
        let staging = staging_path(&dest);
        tree(&staging, &[("SKILL.md", "new")]);
        swap_aside(&staging, &dest).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("SKILL.md")).unwrap(),
            "new"
        );
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
