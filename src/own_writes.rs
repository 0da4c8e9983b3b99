//! Files this server has just written itself (a push into a collection, a merge into a
//! project), so the watcher does not queue a refresh for the echo of its own write. Each path
//! is remembered with the stat fingerprint it was left with; a change seen there is an echo
//! only while that fingerprint still holds, so an edit made by someone else right after is
//! still picked up. Entries expire after a short while.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::source::hash;

/// How long a write is remembered: longer than any debounce window plus a slow file system.
const REMEMBERED_FOR: Duration = Duration::from_secs(30);

/// The paths written lately; cheap to clone.
#[derive(Clone, Default)]
pub struct OwnWrites {
    written: Arc<Mutex<Vec<Written>>>,
}

struct Written {
    path: PathBuf,
    /// Stat fingerprint of what was left there; `None` when nothing was left (a staging copy
    /// moved away).
    state: Option<String>,
    until: Instant,
}

/// A path's stat fingerprint (names, sizes, modification times of every file), or `None`
/// when nothing is there.
fn state_of(path: &Path) -> Option<String> {
    hash::list_files(path)
        .ok()
        .map(|files| hash::fingerprint(&files, ""))
}

impl OwnWrites {
    /// Remembers `paths` as just written by this server, as they are now.
    pub fn note(&self, paths: &[PathBuf]) {
        let until = Instant::now() + REMEMBERED_FOR;
        let noted: Vec<Written> = paths
            .iter()
            .map(|p| Written {
                path: p.clone(),
                state: state_of(p),
                until,
            })
            .collect();
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        written.retain(|w| w.until > now && !paths.contains(&w.path));
        written.extend(noted);
    }

    /// Whether a change seen at `changed` is the echo of one of this server's writes: it lies
    /// in a written path which is still as the write left it.
    pub fn is_echo(&self, changed: &Path) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        written.retain(|w| w.until > now);
        written
            .iter()
            .filter(|w| changed.starts_with(&w.path))
            .any(|w| state_of(&w.path) == w.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_an_echo_until_someone_else_changes_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("skill");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("SKILL.md"), "ours").unwrap();
        let gone = tmp.path().join(".staging");
        let writes = OwnWrites::default();
        writes.note(&[dir.clone(), gone.clone()]);
        assert!(writes.is_echo(&dir.join("SKILL.md")));
        assert!(writes.is_echo(&gone.join("SKILL.md")));
        assert!(!writes.is_echo(&tmp.path().join("other")));
        std::fs::write(dir.join("SKILL.md"), "someone else's edit").unwrap();
        assert!(!writes.is_echo(&dir.join("SKILL.md")));
    }
}
