//! The file watcher: turns changes under the collections and the projects' profile folders into
//! targeted refresh jobs on the job queue, so a saved file shows in the API within a second.
//! The scheduled refresh stays as the safety net for what the watcher cannot see (network file
//! systems that send no events, a watch limit reached).
//!
//! Changes (not reads: inotify reports every open) are debounced: a burst is collected until
//! it has been quiet for `watch.debounce_ms`, or for at most twice that. Each burst is
//! coalesced: one refresh per changed
//! artifact, one per collection when more than [`COLLECTION_THRESHOLD`] of its artifacts (or its
//! manifest) changed, one of everything when a collection folder itself came or went, one per
//! project whose profile folders changed. The set of watched folders is reconciled every
//! [`RECONCILE_EVERY`] (and at once when `collections/` appears), so folders created, deleted
//! or re-created while the server runs are followed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs::{Enqueued, JobRunner, Scope};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::deploy::{DeployService, Profile};
use crate::source::filesystem::{ChangedPath, changed_path};

/// Artifacts of one collection changed in one burst above which the whole collection is
/// refreshed instead (one job, not dozens).
pub const COLLECTION_THRESHOLD: usize = 20;
/// How often the watched folders are compared with what exists.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// What the watcher is doing, for `/health/ready` and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchState {
    /// `watch.enabled = false`.
    Off,
    /// Not started yet.
    Starting,
    /// Every folder that exists is watched.
    Watching {
        /// Folders watched.
        folders: usize,
    },
    /// Some changes are left to the scheduled refresh; the text says which and why.
    Degraded(String),
}

/// The watcher's state, shared with the health endpoint; cheap to clone.
#[derive(Debug, Clone)]
pub struct WatchStatus(Arc<Mutex<WatchState>>);

impl WatchStatus {
    /// A status starting in `state`.
    pub fn new(state: WatchState) -> Self {
        Self(Arc::new(Mutex::new(state)))
    }

    /// The current state.
    pub fn get(&self) -> WatchState {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `off`, `starting`, `ok` or `degraded: <why>`.
    pub fn describe(&self) -> String {
        match self.get() {
            WatchState::Off => "off".into(),
            WatchState::Starting => "starting".into(),
            WatchState::Watching { .. } => "ok".into(),
            WatchState::Degraded(why) => format!("degraded: {why}"),
        }
    }

    /// Sets the state; logs when it changes.
    fn set(&self, state: WatchState) {
        let mut current = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if *current == state {
            return;
        }
        match &state {
            WatchState::Degraded(why) => {
                tracing::warn!(
                    why,
                    "file watcher degraded; the scheduled refresh covers the rest"
                )
            }
            WatchState::Watching { folders } => tracing::info!(folders, "file watcher watching"),
            _ => {}
        }
        *current = state;
    }
}

/// A watched folder and the identity it had when the watch was added (a folder deleted and
/// created again is a new inode and needs a new watch).
struct Watched {
    identity: (u64, u64),
}

/// The file watcher.
pub struct FileWatcher {
    data_home: PathBuf,
    debounce: Duration,
    jobs: JobRunner,
    deployments: DeployService,
    status: WatchStatus,
}

impl FileWatcher {
    /// A watcher over `data_home` and the known projects, queueing on `jobs`.
    pub fn new(
        data_home: PathBuf,
        debounce: Duration,
        jobs: JobRunner,
        deployments: DeployService,
        status: WatchStatus,
    ) -> Self {
        Self {
            data_home,
            debounce,
            jobs,
            deployments,
            status,
        }
    }

    /// Watches until `shutdown` turns true. Never fails: a watcher that cannot start or watch
    /// says so in its status and leaves the changes to the schedule.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Result<Vec<PathBuf>>>();
        // Reads are events too (inotify reports every open): only changes count, or the
        // refresh's own reads would queue more refreshes.
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let forwarded = match res {
                Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
                Ok(event) => Ok(event.paths),
                Err(e) => Err(e),
            };
            let _ = tx.send(forwarded);
        });
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                self.status.set(WatchState::Degraded(format!(
                    "cannot start watching ({}); changes are picked up by the scheduled refresh",
                    describe_error(&e)
                )));
                return;
            }
        };
        let mut watched: HashMap<PathBuf, Watched> = HashMap::new();
        let mut projects = self.reconcile(&mut watcher, &mut watched).await;
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The burst being collected: its paths, when it began, when it is due.
        let mut burst: HashSet<PathBuf> = HashSet::new();
        let mut began = Instant::now();
        let mut due: Option<Instant> = None;
        loop {
            let flush_at = due.unwrap_or_else(|| Instant::now() + RECONCILE_EVERY);
            tokio::select! {
                // The guard `wait_for` returns must not live across the other arms' awaits.
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => break,
                _ = tick.tick() => projects = self.reconcile(&mut watcher, &mut watched).await,
                _ = tokio::time::sleep_until(flush_at), if due.is_some() => {
                    due = None;
                    let paths: Vec<PathBuf> = burst.drain().collect();
                    if self.queue_refreshes(&paths, &projects).await {
                        projects = self.reconcile(&mut watcher, &mut watched).await;
                    }
                }
                changed = rx.recv() => match changed {
                    Some(Ok(paths)) => {
                        let now = Instant::now();
                        if due.is_none() {
                            began = now;
                        }
                        burst.extend(paths);
                        // Due once quiet for the debounce, but a burst that never goes quiet
                        // is flushed after twice the debounce.
                        due = Some((now + self.debounce).min(began + self.debounce * 2));
                    }
                    Some(Err(e)) => {
                        if is_watch_limit(&e) {
                            self.status.set(WatchState::Degraded(limit_message("some folders")));
                        } else {
                            tracing::warn!(error = %describe_error(&e), "file watcher error");
                        }
                    }
                    None => break,
                },
            }
        }
        tracing::info!("file watcher stopped");
    }

    /// Watches every folder that should be watched and exists, drops watches of folders that
    /// went away or were replaced; returns the project roots (profile folder, project id).
    async fn reconcile(
        &self,
        watcher: &mut RecommendedWatcher,
        watched: &mut HashMap<PathBuf, Watched>,
    ) -> Vec<(PathBuf, String)> {
        let mut desired: Vec<(PathBuf, RecursiveMode)> = Vec::new();
        // The data home itself (not recursively): notices `collections/` being created.
        desired.push((self.data_home.clone(), RecursiveMode::NonRecursive));
        desired.push((self.data_home.join("collections"), RecursiveMode::Recursive));
        let mut project_roots = Vec::new();
        match self.deployments.all_projects().await {
            Ok(projects) => {
                for project in projects {
                    for profile in Profile::ALL {
                        let root = Path::new(&project.path).join(profile.root());
                        desired.push((root.clone(), RecursiveMode::Recursive));
                        project_roots.push((root, project.id.clone()));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "file watcher could not list the projects"),
        }
        let mut problems = Vec::new();
        let existing: Vec<(PathBuf, RecursiveMode, (u64, u64))> = desired
            .into_iter()
            .filter_map(|(path, mode)| identity(&path).map(|id| (path, mode, id)))
            .collect();
        // Drop watches of folders that are gone or were replaced.
        let keep: HashMap<&PathBuf, (u64, u64)> =
            existing.iter().map(|(p, _, id)| (p, *id)).collect();
        let stale: Vec<PathBuf> = watched
            .iter()
            .filter(|(path, w)| keep.get(path) != Some(&w.identity))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            let _ = watcher.unwatch(&path);
            watched.remove(&path);
        }
        for (path, mode, id) in existing {
            if watched.contains_key(&path) {
                continue;
            }
            match watcher.watch(&path, mode) {
                Ok(()) => {
                    watched.insert(path, Watched { identity: id });
                }
                Err(e) if is_watch_limit(&e) => {
                    problems.push(limit_message(&path.display().to_string()));
                }
                Err(e) => problems.push(format!(
                    "cannot watch {} ({}); its changes are picked up by the scheduled refresh",
                    path.display(),
                    describe_error(&e)
                )),
            }
        }
        if problems.is_empty() {
            self.status.set(WatchState::Watching {
                folders: watched.len(),
            });
        } else {
            self.status.set(WatchState::Degraded(problems.join("; ")));
        }
        project_roots
    }

    /// Queues the refreshes a burst of changed paths needs. Returns true when the watched
    /// folders themselves may have changed (a collection folder came or went).
    async fn queue_refreshes(&self, paths: &[PathBuf], projects: &[(PathBuf, String)]) -> bool {
        tracing::debug!(paths = ?paths, "files changed");
        let mut everything = false;
        let mut rewatch = false;
        let mut whole: BTreeSet<String> = BTreeSet::new();
        let mut artifacts: BTreeMap<String, BTreeMap<String, Vec<&Path>>> = BTreeMap::new();
        let mut project_paths: BTreeMap<String, Vec<&Path>> = BTreeMap::new();
        let mut collection_paths: BTreeMap<String, Vec<&Path>> = BTreeMap::new();
        for path in paths {
            if let Some((_, id)) = projects.iter().find(|(root, _)| path.starts_with(root)) {
                project_paths.entry(id.clone()).or_default().push(path);
                continue;
            }
            if path.parent() == Some(self.data_home.as_path()) {
                rewatch = true;
            }
            match changed_path(&self.data_home, path) {
                ChangedPath::Everything => {
                    everything = true;
                    rewatch = true;
                }
                ChangedPath::Collection(c) => {
                    collection_paths.entry(c.clone()).or_default().push(path);
                    whole.insert(c);
                }
                ChangedPath::Artifact { collection, id } => {
                    collection_paths
                        .entry(collection.clone())
                        .or_default()
                        .push(path);
                    artifacts
                        .entry(collection)
                        .or_default()
                        .entry(id.to_string())
                        .or_default()
                        .push(path);
                }
                ChangedPath::Nothing => {}
            }
        }
        let mut scopes: Vec<(Scope, String)> = Vec::new();
        if everything {
            let all: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
            scopes.push((Scope::All, self.change_signature(&all)));
        } else {
            for (collection, ids) in &artifacts {
                if whole.contains(collection) || ids.len() > COLLECTION_THRESHOLD {
                    whole.insert(collection.clone());
                    continue;
                }
                for (id, changed) in ids {
                    scopes.push((Scope::Artifact(id.clone()), self.change_signature(changed)));
                }
            }
            for collection in &whole {
                let changed = collection_paths
                    .get(collection)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                scopes.push((
                    Scope::Collection(collection.clone()),
                    self.change_signature(changed),
                ));
            }
        }
        for (id, changed) in &project_paths {
            scopes.push((Scope::Project(id.clone()), self.change_signature(changed)));
        }
        for (scope, change) in scopes {
            match self.jobs.enqueue_watched(scope.clone(), &change).await {
                Ok(Enqueued::New(run)) => {
                    tracing::debug!(run_id = run.id, scope = %scope.key(), "watched change queued")
                }
                Ok(_) => tracing::debug!(scope = %scope.key(), "watched change already queued"),
                Err(e) => tracing::warn!(
                    scope = %scope.key(),
                    error = %crate::error::error_chain(&e),
                    "could not queue a refresh for changed files; the schedule will pick them up"
                ),
            }
        }
        rewatch
    }

    /// Names a change so every instance seeing it computes the same name, and a later change
    /// of the same files gets a new one: a digest of each changed path with its inode,
    /// modification time and size (or "gone"); when every path is gone, also the debounce
    /// window it happened in (a path deleted again later is a new change).
    fn change_signature(&self, paths: &[&Path]) -> String {
        let mut lines: Vec<String> = paths
            .iter()
            .map(|p| match std::fs::symlink_metadata(p) {
                Ok(m) => format!(
                    "{}|{}|{}|{}",
                    p.display(),
                    m.ino(),
                    m.modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .unwrap_or_default()
                        .as_nanos(),
                    m.len()
                ),
                Err(_) => format!("{}|gone", p.display()),
            })
            .collect();
        lines.sort();
        lines.dedup();
        let all_gone = lines.iter().all(|l| l.ends_with("|gone"));
        let digest = Sha256::digest(lines.join("\n").as_bytes());
        let mut signature = hex::encode(&digest[..12]);
        if all_gone {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            signature.push_str(&format!("-g{}", now / self.debounce.as_millis().max(1)));
        }
        signature
    }
}

/// A folder's (device, inode), or None when it is not a folder.
fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_dir().then(|| (meta.dev(), meta.ino()))
}

fn is_watch_limit(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => true,
        // ENOSPC from inotify_add_watch: the watch limit, not the disk.
        notify::ErrorKind::Io(io) => io.raw_os_error() == Some(28),
        _ => false,
    }
}

fn limit_message(what: &str) -> String {
    format!(
        "the inotify watch limit (fs.inotify.max_user_watches) is reached: changes under {what} \
         are picked up by the scheduled refresh; raise the limit to watch them"
    )
}

fn describe_error(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::Generic(s) => s.clone(),
        notify::ErrorKind::Io(io) => io.to_string(),
        notify::ErrorKind::PathNotFound => "path not found".into(),
        notify::ErrorKind::WatchNotFound => "watch not found".into(),
        notify::ErrorKind::InvalidConfig(_) => "invalid configuration".into(),
        notify::ErrorKind::MaxFilesWatch => "watch limit reached".into(),
    }
}
