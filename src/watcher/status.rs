//! What the file watcher is doing, shared with `/health/ready` and logged when it changes.

use std::sync::{Arc, Mutex};

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
    pub(super) fn set(&self, state: WatchState) {
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
