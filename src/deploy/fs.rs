//! Safe file operations in projects: default and owned paths, staying inside the project,
//! swapping a staged copy into place, and sweeping staging leftovers.

use super::*;

/// Where a deployed artifact goes under the profile root by default.
pub fn default_artifact_path(t: ArtifactType, name: &str, file_name: Option<&str>) -> String {
    let folder = match t {
        ArtifactType::Skill => "skills",
        ArtifactType::Command => "commands",
        ArtifactType::Agent => "agents",
        ArtifactType::Hook => "hooks",
        ArtifactType::Mcp => "mcp",
    };
    match file_name {
        Some(f) => {
            let ext = Path::new(f)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            format!("{folder}/{name}{ext}")
        }
        None => format!("{folder}/{name}"),
    }
}

/// Refuses a destination whose existing folders resolve outside the project (a symlinked
/// profile or type folder pointing elsewhere), or which is itself a symbolic link.
pub(super) fn ensure_inside_project(project_root: &Path, dest: &Path) -> Result<(), DeployError> {
    let outside = || {
        DeployError::BadRequest(format!(
            "the destination {} would leave the project",
            dest.display()
        ))
    };
    let root = project_root.canonicalize().map_err(|_| {
        DeployError::BadRequest(format!(
            "the project folder {} no longer exists",
            project_root.display()
        ))
    })?;
    if std::fs::symlink_metadata(dest)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
    {
        return Err(outside());
    }
    let mut ancestor = dest.parent();
    while let Some(a) = ancestor {
        if a.exists() {
            let resolved = a.canonicalize().map_err(|_| outside())?;
            return if resolved.starts_with(&root) {
                Ok(())
            } else {
                Err(outside())
            };
        }
        ancestor = a.parent();
    }
    Err(outside())
}

/// A path under the profile folder that can hold the artifact `name`: relative, no `..`, at
/// least `<folder>/<name>`, its last part `name` or `name.<ext>`, nothing of ours
/// (`.skillmeat*`). Deploys write and undeploys delete only such paths.
pub fn owned_path(raw: &str, name: &str) -> Option<PathBuf> {
    let rel = safe_relative(raw)?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() < 2 || parts.iter().any(|p| p.starts_with(".skillmeat")) {
        return None;
    }
    let last = parts.last()?;
    let stem = Path::new(last)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    (last == name || stem.as_deref() == Some(name)).then_some(rel)
}

/// The outermost folder on the way to `dir` that does not exist yet (what a failed deploy must
/// remove again), or `None` when `dir` exists.
pub(super) fn first_missing_ancestor(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut current = Some(dir);
    while let Some(d) = current {
        if d.exists() {
            break;
        }
        missing = Some(d.to_path_buf());
        current = d.parent();
    }
    missing
}

/// Replaces `dest` with `staging`. A file is renamed over the old one (atomic). A folder: the
/// old copy moves aside first and is removed last, and is put back if the new one cannot be
/// moved in.
pub(super) fn swap_into_place(
    staging: &Path,
    dest: &Path,
    is_file: bool,
) -> Result<(), DeployError> {
    let old_is_dir = std::fs::symlink_metadata(dest)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if is_file && !old_is_dir {
        return std::fs::rename(staging, dest).map_err(|e| {
            remove_path(staging);
            DeployError::Io {
                context: format!("moving the new copy into {}", dest.display()),
                source: e,
            }
        });
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    let backup = parent.join(format!(".skillmeat-old-{}", new_id()));
    let had_old = std::fs::symlink_metadata(dest).is_ok();
    if had_old {
        std::fs::rename(dest, &backup).map_err(io(format!(
            "moving the old copy at {} aside",
            dest.display()
        )))?;
    }
    if let Err(e) = std::fs::rename(staging, dest) {
        if had_old {
            let _ = std::fs::rename(&backup, dest);
        }
        remove_path(staging);
        return Err(DeployError::Io {
            context: format!("moving the new copy into {}", dest.display()),
            source: e,
        });
    }
    if had_old {
        remove_path(&backup);
    }
    Ok(())
}

pub(super) fn remove_path(path: &Path) {
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

/// Staging folders older than this are leftovers of a deploy that died mid-copy.
pub(super) const STAGING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes `.skillmeat-tmp-*` staging copies a killed deploy left in a profile's type folders
/// (never the `.skillmeat-old-*` copies, which may be the only copy of a deployment).
pub(super) fn sweep_staging_leftovers(project: &Path) {
    for profile in Profile::ALL {
        let Ok(folders) = std::fs::read_dir(project.join(profile.root())) else {
            continue;
        };
        for folder in folders
            .filter_map(Result::ok)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        {
            let Ok(entries) = std::fs::read_dir(folder.path()) else {
                continue;
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
                        .starts_with(".skillmeat-tmp-")
                {
                    tracing::info!(path = %entry.path().display(), "removing a staging copy left by an interrupted deploy");
                    remove_path(&entry.path());
                }
            }
        }
    }
}
