//! Where projects may be: strictly inside one of `deploy.allowed_roots` (default `~`), never a
//! root itself, `/`, or a system folder. A path outside gets the same answer whether it exists
//! or not, so the API cannot be used to probe the disk.

use std::path::{Component, Path, PathBuf};

use super::DeployError;
use crate::source::printable;

/// Folders no project may be in or be, whatever the roots say: the operating system's own.
const SYSTEM_FOLDERS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib",
    "/var/log",
    "/var/run",
    "/var/spool",
    "/var/cache",
    "/var/mail",
    "/System",
    "/Library",
    "/private/etc",
    "/private/var",
];

/// The allowed project roots.
#[derive(Debug, Clone)]
pub struct ProjectRoots {
    /// Each root as configured (expanded) and, when it exists, resolved through links.
    roots: Vec<PathBuf>,
}

impl ProjectRoots {
    /// Roots from expanded absolute folders (see `Settings::allowed_roots`).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        let mut all = Vec::new();
        for root in roots {
            if let Ok(resolved) = root.canonicalize()
                && resolved != root
            {
                all.push(resolved);
            }
            all.push(root);
        }
        Self { roots: all }
    }

    /// Whether `path` (absolute, without `..`) is strictly inside a root and not a system
    /// folder.
    pub fn contains(&self, path: &Path) -> bool {
        let system = SYSTEM_FOLDERS.iter().any(|s| path.starts_with(s));
        !system
            && path.parent().is_some()
            && self
                .roots
                .iter()
                .any(|root| path != root && path.starts_with(root))
    }

    /// The refusal for a project at `raw`.
    pub fn outside(&self, raw: &str) -> DeployError {
        DeployError::OutsideRoots(format!(
            "project path '{}' is not inside deploy.allowed_roots; projects must lie strictly \
             inside one of them (never a root itself, /, or a system folder)",
            printable(raw)
        ))
    }

    /// A project folder from a user's path: absolute (`~` expanded), without `..`, inside the
    /// roots both as written and resolved through links, and an existing folder. Outside the
    /// roots is refused before the disk is looked at.
    pub fn project_folder(&self, raw: &str) -> Result<PathBuf, DeployError> {
        let expanded = crate::config::expand_home(raw.trim());
        if raw.contains('\0') || !expanded.is_absolute() {
            return Err(DeployError::BadRequest(format!(
                "project path '{}' must be absolute",
                printable(raw)
            )));
        }
        let mut lexical = PathBuf::new();
        for part in expanded.components() {
            match part {
                Component::ParentDir => {
                    return Err(DeployError::BadRequest(format!(
                        "project path '{}' must not contain '..'",
                        printable(raw)
                    )));
                }
                Component::CurDir => {}
                other => lexical.push(other.as_os_str()),
            }
        }
        if !self.contains(&lexical) {
            return Err(self.outside(raw));
        }
        let canonical = match lexical.canonicalize() {
            Ok(c) if c.is_dir() => c,
            _ => {
                return Err(DeployError::BadRequest(format!(
                    "project path '{}' is not an existing folder",
                    printable(raw)
                )));
            }
        };
        if !self.contains(&canonical) {
            return Err(self.outside(raw));
        }
        Ok(canonical)
    }

    /// `Ok` when a known project's stored path is still inside the roots.
    pub fn check_known(&self, path: &str) -> Result<(), DeployError> {
        if self.contains(Path::new(path)) {
            Ok(())
        } else {
            Err(self.outside(path))
        }
    }
}
