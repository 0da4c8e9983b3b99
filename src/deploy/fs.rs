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

/// Replaces `dest` with `staging` atomically (see [`crate::atomic`]).
pub(super) fn swap_into_place(staging: &Path, dest: &Path) -> Result<(), DeployError> {
    crate::atomic::swap_into_place(staging, dest).map_err(|e| DeployError::Io {
        context: format!("moving the new copy into {}", dest.display()),
        source: e,
    })
}

pub(super) use crate::atomic::remove_path;

/// SkillMeat's write lock of `target` (see [`crate::skillmeat_lock`]); a lock another process
/// keeps past the wait is a 409.
pub(super) async fn write_lock(
    target: &Path,
) -> Result<crate::skillmeat_lock::WriteLock, DeployError> {
    crate::skillmeat_lock::acquire(target)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => DeployError::Conflict(e.to_string()),
            _ => DeployError::Io {
                context: format!("locking {}", target.display()),
                source: e,
            },
        })
}

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
            crate::atomic::sweep_stale_staging(&folder.path());
        }
    }
}
