//! `FaultySource`: the real filesystem source with faults a test switches on: a `list` that
//! waits at a gate, a `read` that fails or is held back, a folder deleted right after listing,
//! copies that fail after some files. Everything not switched on passes straight through.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use skillmeat_server::source::{
    ArtifactId, ArtifactSource, SourceArtifact, SourceError, SourceItem,
};
use tokio::sync::Semaphore;

use crate::helpers::TestApp;

/// The filesystem source with switchable faults.
pub struct FaultySource {
    inner: Arc<dyn ArtifactSource>,
    gate_lists: AtomicBool,
    list_gate: Semaphore,
    unreadable: Mutex<Option<String>>,
    held_read: Mutex<Option<String>>,
    read_gate: Semaphore,
    delete_after_listing: Mutex<Option<PathBuf>>,
    copies_before_failing: Mutex<Option<usize>>,
    copied: AtomicUsize,
}

fn injected(path: &str, what: &str) -> SourceError {
    SourceError::Io {
        path: path.into(),
        source: std::io::Error::other(format!("{what} (injected)")),
    }
}

impl FaultySource {
    fn new(inner: Arc<dyn ArtifactSource>) -> Self {
        Self {
            inner,
            gate_lists: AtomicBool::new(false),
            list_gate: Semaphore::new(0),
            unreadable: Mutex::new(None),
            held_read: Mutex::new(None),
            read_gate: Semaphore::new(0),
            delete_after_listing: Mutex::new(None),
            copies_before_failing: Mutex::new(None),
            copied: AtomicUsize::new(0),
        }
    }

    /// From now on, each `list` waits for a [`FaultySource::open_list_gate`] permit.
    pub fn gate_lists(&self) {
        self.gate_lists.store(true, Ordering::SeqCst);
    }

    /// Lets `n` waiting (or future) `list` calls through.
    pub fn open_list_gate(&self, n: usize) {
        self.list_gate.add_permits(n);
    }

    /// Every `read` of `id` fails with an I/O error.
    pub fn fail_reads_of(&self, id: &str) {
        *self.unreadable.lock().unwrap() = Some(id.into());
    }

    /// Every `read` of `id` reads, then waits until [`FaultySource::stop_holding_reads`]
    /// before returning (a slow read that saw the files before they changed).
    pub fn hold_reads_of(&self, id: &str) {
        *self.held_read.lock().unwrap() = Some(id.into());
    }

    /// Lets the held reads return, and holds no more.
    pub fn stop_holding_reads(&self) {
        *self.held_read.lock().unwrap() = None;
        self.read_gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// The next `list` deletes `folder` right after listing it.
    pub fn delete_after_next_list(&self, folder: PathBuf) {
        *self.delete_after_listing.lock().unwrap() = Some(folder);
    }

    /// `copy_file` fails once `n` files have been copied.
    pub fn fail_copies_after(&self, n: usize) {
        self.copied.store(0, Ordering::SeqCst);
        *self.copies_before_failing.lock().unwrap() = Some(n);
    }
}

#[async_trait::async_trait]
impl ArtifactSource for FaultySource {
    fn kind(&self) -> &'static str {
        "faulty"
    }
    async fn collections(&self) -> Result<Vec<String>, SourceError> {
        self.inner.collections().await
    }
    async fn list(&self) -> Result<Vec<SourceItem>, SourceError> {
        if self.gate_lists.load(Ordering::SeqCst) {
            let _permit = self.list_gate.acquire().await.expect("gate open");
        }
        let listed = self.inner.list().await?;
        let victim = self.delete_after_listing.lock().unwrap().take();
        if let Some(folder) = victim {
            std::fs::remove_dir_all(folder).unwrap();
        }
        Ok(listed)
    }
    async fn locate(&self, id: &ArtifactId) -> Result<Option<SourceItem>, SourceError> {
        self.inner.locate(id).await
    }
    async fn read(&self, item: &SourceItem) -> Result<Option<SourceArtifact>, SourceError> {
        if self.unreadable.lock().unwrap().as_deref() == Some(item.artifact_id.as_str()) {
            return Err(injected(&item.path, "input/output error"));
        }
        let read = self.inner.read(item).await;
        let held = self.held_read.lock().unwrap().as_deref() == Some(item.artifact_id.as_str());
        if held {
            let _permit = self.read_gate.acquire().await.expect("gate open");
        }
        read
    }
    async fn read_file(
        &self,
        item: &SourceItem,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        self.inner.read_file(item, path, max).await
    }
    async fn copy_file(
        &self,
        item: &SourceItem,
        path: &str,
        dest: &Path,
    ) -> Result<(), SourceError> {
        let limit = *self.copies_before_failing.lock().unwrap();
        if let Some(limit) = limit
            && self.copied.fetch_add(1, Ordering::SeqCst) >= limit
        {
            return Err(injected(path, "disk full"));
        }
        self.inner.copy_file(item, path, dest).await
    }
}

impl TestApp {
    /// SQLite over the fixture, reading through a [`FaultySource`] the test controls.
    pub async fn spawn_faulty() -> (TestApp, Arc<FaultySource>) {
        let slot: Arc<std::sync::OnceLock<Arc<FaultySource>>> = Arc::default();
        let keep = slot.clone();
        let app = TestApp::spawn_with_source(move |inner| {
            let faulty = Arc::new(FaultySource::new(inner));
            let _ = keep.set(faulty.clone());
            faulty
        })
        .await;
        let source = slot.get().expect("the source was built").clone();
        (app, source)
    }
}
