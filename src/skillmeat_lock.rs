//! SkillMeat 0.74's write locks, taken the same way so this server and SkillMeat's CLI take
//! turns on the same files: an exclusive `flock` on `<parent>/.<name>.skillmeat-lock` (created
//! empty with mode 0644 and never removed), tried every 50 ms for up to 10 s, held from the
//! staging copy to the rename. Readers take no lock: every write is a rename.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The suffix of SkillMeat's lock files (never artifacts, never project changes).
pub const LOCK_SUFFIX: &str = ".skillmeat-lock";
/// How long a writer waits for the lock, as SkillMeat does.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often it tries.
const POLL: Duration = Duration::from_millis(50);

/// A held lock; released when dropped (closing the file releases the `flock`). Holds nothing
/// when the target's folder does not exist (there is nothing to take turns on yet, and a lock
/// must not create folders).
#[derive(Debug)]
pub struct WriteLock {
    _file: Option<File>,
}

/// The lock file of `target`: `<parent>/.<name>.skillmeat-lock`, for files and folders alike.
pub fn lock_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".{name}{LOCK_SUFFIX}"))
}

/// Whether `path` is one of SkillMeat's lock files.
pub fn is_lock_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(LOCK_SUFFIX))
}

/// One try: the lock, or `None` when another process holds it.
fn try_lock(target: &Path) -> io::Result<Option<WriteLock>> {
    let lock = lock_path(target);
    if lock.parent().is_some_and(|p| !p.is_dir()) {
        return Ok(Some(WriteLock { _file: None }));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&lock)?;
    // SAFETY: a valid open descriptor, owned by `file` for as long as the lock is held.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Some(WriteLock { _file: Some(file) }));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(e)
    }
}

fn timed_out(target: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "{} is being written by another SkillMeat process (waited {} s for {}); try again",
            target.display(),
            WAIT.as_secs(),
            lock_path(target).display()
        ),
    )
}

/// Waits (blocking the thread) for the lock of `target`.
pub fn acquire_blocking(target: &Path) -> io::Result<WriteLock> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(lock) = try_lock(target)? {
            return Ok(lock);
        }
        if Instant::now() >= deadline {
            return Err(timed_out(target));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits for the lock of `target` on a blocking thread (never a runtime one).
pub async fn acquire(target: &Path) -> io::Result<WriteLock> {
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || acquire_blocking(&target))
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_sits_beside_its_target_and_is_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".claude")).unwrap();
        let record = tmp.path().join(".claude/.skillmeat-deployed.toml");
        assert_eq!(
            lock_path(&record),
            tmp.path()
                .join(".claude/..skillmeat-deployed.toml.skillmeat-lock")
        );
        assert_eq!(
            lock_path(&tmp.path().join("skills/canvas")),
            tmp.path().join("skills/.canvas.skillmeat-lock")
        );
        assert!(is_lock_file(&lock_path(&record)));
        let held = try_lock(&record).unwrap().expect("free");
        // flock locks belong to the open file: a second open is refused while it is held.
        assert!(try_lock(&record).unwrap().is_none());
        drop(held);
        assert!(try_lock(&record).unwrap().is_some());
        assert!(lock_path(&record).is_file(), "the lock file stays");
        let nowhere = tmp.path().join("missing/x");
        assert!(try_lock(&nowhere).unwrap().is_some());
        assert!(!tmp.path().join("missing").exists(), "no folder is created");
    }
}
