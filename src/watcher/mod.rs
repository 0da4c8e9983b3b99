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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs::{Enqueued, JobRunner, RunStatus};

use crate::scope::Scope;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

mod status;

pub use status::{WatchState, WatchStatus};

use crate::cache::CacheService;
use crate::deploy::{DeployService, Profile};
use crate::source::ArtifactId;
use crate::source::filesystem::{ChangedPath, changed_path};

/// Artifacts of one collection changed in one burst above which the whole collection is
/// refreshed instead (one job, not dozens).
pub const COLLECTION_THRESHOLD: usize = 20;
/// How often the watched folders are compared with what exists.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// A watched folder and the identity it had when the watch was added (a folder deleted and
/// created again is a new inode and needs a new watch).
struct Watched {
    identity: (u64, u64),
}

/// How long a watcher that hit the watch limit waits before it tries to watch everything again.
const LIMIT_RETRY_EVERY: Duration = Duration::from_secs(60);

/// What the watch loop keeps between events.
struct LoopState {
    watched: HashMap<PathBuf, Watched>,
    /// Profile folders of the known projects, with the project's id.
    projects: Vec<(PathBuf, String)>,
    /// A watch limit was hit: until this time, no new watches are tried.
    limit_retry_at: Option<Instant>,
    /// What the last watch attempts left to the schedule.
    problems: Vec<String>,
    /// The first reconcile is done: folders found later get a refresh of their own.
    started: bool,
    /// Changes whose scope was being refreshed when they were seen: queued again once that
    /// refresh finished (it may have read the files before they changed).
    deferred: HashMap<Scope, String>,
}

/// The file watcher.
pub struct FileWatcher {
    data_home: PathBuf,
    debounce: Duration,
    jobs: JobRunner,
    deployments: DeployService,
    cache: CacheService,
    status: WatchStatus,
}

impl FileWatcher {
    /// A watcher over `data_home` and the known projects, queueing on `jobs`.
    pub fn new(
        data_home: PathBuf,
        debounce: Duration,
        jobs: JobRunner,
        deployments: DeployService,
        cache: CacheService,
        status: WatchStatus,
    ) -> Self {
        Self {
            data_home,
            debounce,
            jobs,
            deployments,
            cache,
            status,
        }
    }

    /// Watches until `shutdown` turns true. Never fails: a watcher that cannot start or watch
    /// says so in its status and leaves the changes to the schedule.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Result<Vec<PathBuf>>>();
        let collections = self.data_home.join("collections");
        let handler = move |res: notify::Result<notify::Event>| {
            let forwarded = match res {
                // The kernel dropped events (its queue overflowed): anything may have changed.
                Ok(event) if event.need_rescan() => Ok(vec![collections.clone()]),
                // Reads are events too (inotify reports every open): only changes count, or
                // the refresh's own reads would queue more refreshes.
                Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
                Ok(event) => Ok(event.paths),
                Err(e) => Err(e),
            };
            let _ = tx.send(forwarded);
        };
        // Symbolic links are not followed: the source skips them, and a link to a large tree
        // would spend the watch limit on files that are never served.
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut watcher = match RecommendedWatcher::new(handler, config) {
            Ok(w) => w,
            Err(e) => {
                self.status.set(WatchState::Degraded(format!(
                    "cannot start watching ({}); changes are picked up by the scheduled refresh",
                    describe_error(&e)
                )));
                return;
            }
        };
        let mut state = LoopState {
            watched: HashMap::new(),
            projects: Vec::new(),
            limit_retry_at: None,
            problems: Vec::new(),
            started: false,
            deferred: HashMap::new(),
        };
        self.reconcile(&mut watcher, &mut state).await;
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut retry = tokio::time::interval(self.debounce);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The burst being collected: its paths, when it began, when it is due.
        let mut burst: HashSet<PathBuf> = HashSet::new();
        let mut began = Instant::now();
        let mut due: Option<Instant> = None;
        loop {
            let flush_at = due.unwrap_or_else(|| Instant::now() + RECONCILE_EVERY);
            tokio::select! {
                // The guard `wait_for` returns must not live across the other arms' awaits.
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => break,
                _ = tick.tick() => self.reconcile(&mut watcher, &mut state).await,
                _ = retry.tick(), if !state.deferred.is_empty() => {
                    let deferred: Vec<(Scope, String)> = state.deferred.drain().collect();
                    for (scope, change) in deferred {
                        self.queue(scope, change, &mut state.deferred).await;
                    }
                }
                _ = tokio::time::sleep_until(flush_at), if due.is_some() => {
                    due = None;
                    let paths: Vec<PathBuf> = burst.drain().collect();
                    if self.queue_refreshes(&paths, &mut state).await {
                        self.reconcile(&mut watcher, &mut state).await;
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
                            // A folder created inside a watched tree could not be watched: watch
                            // everything again later, and say so until that succeeds.
                            state.limit_retry_at = Some(Instant::now() + LIMIT_RETRY_EVERY);
                            for path in state.watched.keys() {
                                let _ = watcher.unwatch(path);
                            }
                            state.watched.clear();
                            state.problems = vec![limit_message("new folders")];
                            self.status.set(WatchState::Degraded(state.problems.join("; ")));
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
    /// went away or were replaced, and refreshes project folders that appeared since the start.
    async fn reconcile(&self, watcher: &mut RecommendedWatcher, state: &mut LoopState) {
        if state.limit_retry_at.is_some_and(|at| Instant::now() < at) {
            return; // still degraded by the watch limit; the schedule covers meanwhile
        }
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
        let existing: Vec<(PathBuf, RecursiveMode, (u64, u64))> = desired
            .into_iter()
            .filter_map(|(path, mode)| identity(&path).map(|id| (path, mode, id)))
            .collect();
        // Drop watches of folders that are gone or were replaced.
        let keep: HashMap<&PathBuf, (u64, u64)> =
            existing.iter().map(|(p, _, id)| (p, *id)).collect();
        let stale: Vec<PathBuf> = state
            .watched
            .iter()
            .filter(|(path, w)| keep.get(path) != Some(&w.identity))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            let _ = watcher.unwatch(&path);
            state.watched.remove(&path);
        }
        let mut problems = Vec::new();
        let mut new_projects = Vec::new();
        for (path, mode, id) in existing {
            if state.watched.contains_key(&path) {
                continue;
            }
            match watcher.watch(&path, mode) {
                Ok(()) => {
                    if let Some((_, project)) = project_roots.iter().find(|(r, _)| *r == path) {
                        new_projects.push(project.clone());
                    }
                    state.watched.insert(path, Watched { identity: id });
                }
                Err(e) if is_watch_limit(&e) => {
                    state.limit_retry_at = Some(Instant::now() + LIMIT_RETRY_EVERY);
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
            state.limit_retry_at = None;
            self.status.set(WatchState::Watching {
                folders: state.watched.len(),
            });
        } else {
            self.status.set(WatchState::Degraded(problems.join("; ")));
        }
        state.problems = problems;
        state.projects = project_roots;
        // A profile folder that appeared after the start may hold files written before its
        // watch existed (the start-up warm covered those that were there already).
        if state.started {
            new_projects.sort();
            new_projects.dedup();
            for project in new_projects {
                let change = format!("appeared-{}", self.window());
                self.queue(Scope::Project(project), change, &mut state.deferred)
                    .await;
            }
        }
        state.started = true;
    }

    /// Queues the refreshes a burst of changed paths needs. Returns true when the watched
    /// folders themselves may have changed (a collection folder came or went).
    async fn queue_refreshes(&self, paths: &[PathBuf], state: &mut LoopState) -> bool {
        tracing::debug!(paths = ?paths, "files changed");
        // This server's own writes (a deploy, a push, a merge, their staging copies) and
        // SkillMeat's lock files are not changes to refresh for.
        let own = self.deployments.own_writes();
        let paths: Vec<PathBuf> = paths
            .iter()
            .filter(|p| {
                !own.is_echo(p)
                    && !crate::atomic::in_finished_staging(p)
                    && !crate::skillmeat_lock::is_lock_file(p)
            })
            .cloned()
            .collect();
        let paths = paths.as_slice();
        let mut everything = false;
        let mut rewatch = false;
        let mut whole: BTreeSet<String> = BTreeSet::new();
        let mut artifacts: BTreeMap<String, BTreeMap<String, Vec<&Path>>> = BTreeMap::new();
        let mut project_paths: BTreeMap<String, Vec<&Path>> = BTreeMap::new();
        let mut collection_paths: BTreeMap<String, Vec<&Path>> = BTreeMap::new();
        for path in paths {
            if let Some((_, id)) = state
                .projects
                .iter()
                .find(|(root, _)| path.starts_with(root))
            {
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
                    if !self.is_known(&id).await {
                        // Not an id the cache or the sources know (a manifest entry named
                        // other than its folder, say): refresh the collection instead.
                        whole.insert(collection);
                        continue;
                    }
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
            self.queue(scope, change, &mut state.deferred).await;
        }
        rewatch
    }

    /// Whether the cache has this id or a source can locate it.
    async fn is_known(&self, id: &ArtifactId) -> bool {
        matches!(self.cache.contains(&id.to_string()).await, Ok(true))
            || matches!(self.cache.source().locate(id).await, Ok(Some(_)))
    }

    /// Queues one refresh; when a refresh of the scope is already running, remembers the change
    /// in `deferred` to queue it again after that one finished.
    async fn queue(&self, scope: Scope, change: String, deferred: &mut HashMap<Scope, String>) {
        match crate::jobs::refresh::enqueue_watched(&self.jobs, scope.clone(), &change).await {
            Ok(Enqueued::New(run)) => {
                tracing::debug!(run_id = run.id, scope = %scope.key(), "watched change queued")
            }
            Ok(Enqueued::Existing(run)) if run.status == RunStatus::Running.as_str() => {
                deferred.insert(scope, change);
            }
            Ok(_) => tracing::debug!(scope = %scope.key(), "watched change already queued"),
            Err(e) => tracing::warn!(
                scope = %scope.key(),
                error = %crate::error::error_chain(&e),
                "could not queue a refresh for changed files; the schedule will pick them up"
            ),
        }
    }

    /// The debounce window now falls in.
    fn window(&self) -> u128 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        now / self.debounce.as_millis().max(1)
    }

    /// Names a change so instances that saw the same burst compute the same name, and a later
    /// change of the same files gets a new one: a digest of each changed path with its inode,
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
            signature.push_str(&format!("-g{}", self.window()));
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
