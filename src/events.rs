//! Live events for the UI: what changed (artifacts, jobs, deployment statuses), kept in a
//! bounded in-memory log and fanned out to `GET /api/v1/events` subscribers.
//!
//! Ids are `<epoch>-<sequence>`: the epoch changes at every start, so a client resuming with an
//! id from another process (or one older than the log keeps) gets a `resync` event instead of a
//! silent gap.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};

/// Events kept for clients that reconnect.
pub const EVENT_LOG_CAPACITY: usize = 1024;
/// Per-artifact events one refresh may publish; beyond that it publishes one `resync`.
pub const MAX_ARTIFACT_EVENTS_PER_RUN: usize = 500;

/// One live event.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// `<epoch>-<sequence>`, also the SSE `id:`.
    pub id: String,
    /// The type: `artifact.changed`, `artifact.added`, `artifact.removed`, `job.started`,
    /// `job.finished`, `deployment.status_changed` or `resync`.
    pub event: &'static str,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What it is about.
    pub subject: EventSubject,
}

/// The ids and values an event carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSubject {
    /// The artifact (`type:name`).
    pub artifact_id: Option<String>,
    /// The job run.
    pub job_id: Option<i64>,
    /// The job's kind.
    pub job_kind: Option<String>,
    /// The job's scope.
    pub scope: Option<String>,
    /// A job's final status, or a deployment's new status.
    pub status: Option<String>,
    /// A deployment's previous status.
    pub previous_status: Option<String>,
    /// The deployment.
    pub deployment_id: Option<String>,
    /// The project.
    pub project_id: Option<String>,
    /// Milliseconds a finished job took.
    pub duration_ms: Option<u64>,
    /// Why a `resync` was sent.
    pub reason: Option<String>,
}

/// What a new subscriber gets before live events.
pub struct Subscription {
    /// Missed events to send first, oldest first; or a single `resync`.
    pub backlog: Vec<ServerEvent>,
    /// Live events from here on.
    pub live: broadcast::Receiver<Arc<ServerEvent>>,
    /// Turns true when the server shuts down; streams end then.
    pub closing: watch::Receiver<bool>,
}

struct Log {
    next_seq: u64,
    events: VecDeque<Arc<ServerEvent>>,
}

/// The event bus; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: String,
    log: Mutex<Log>,
    tx: broadcast::Sender<Arc<ServerEvent>>,
    closing: watch::Sender<bool>,
    /// Event streams open now.
    open_streams: Arc<AtomicUsize>,
}

/// One open event stream's place in the limit; the place is freed when this is dropped.
#[derive(Debug)]
pub struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// An empty bus with a new epoch.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(EVENT_LOG_CAPACITY);
        let (closing, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                epoch: format!("{:x}", Utc::now().timestamp_micros()),
                log: Mutex::new(Log {
                    next_seq: 1,
                    events: VecDeque::with_capacity(EVENT_LOG_CAPACITY),
                }),
                tx,
                closing,
                open_streams: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// A place for one more event stream, unless `max` are open already.
    pub fn open_stream(&self, max: usize) -> Option<StreamSlot> {
        let open = &self.inner.open_streams;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| StreamSlot(open.clone()))
    }

    /// Records and sends an event.
    pub fn publish(&self, event: &'static str, subject: EventSubject) {
        let mut log = self.lock();
        let seq = log.next_seq;
        log.next_seq += 1;
        let ev = Arc::new(ServerEvent {
            id: format!("{}-{seq}", self.inner.epoch),
            event,
            at: Utc::now(),
            subject,
        });
        if log.events.len() == EVENT_LOG_CAPACITY {
            log.events.pop_front();
        }
        log.events.push_back(ev.clone());
        // Sent under the lock, so a subscriber's backlog and live events neither overlap nor
        // leave a gap. No receiver is not an error.
        let _ = self.inner.tx.send(ev);
    }

    /// Subscribes, resuming after `last_event_id` when the log still holds what came after it.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let log = self.lock();
        let live = self.inner.tx.subscribe();
        let closing = self.inner.closing.subscribe();
        let backlog = match last_event_id.map(str::trim).filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(raw) => match self.parse_id(raw) {
                Some(seq) if seq + 1 >= log.events.front().map_or(log.next_seq, seq_of) => log
                    .events
                    .iter()
                    .filter(|e| seq_of(e) > seq)
                    .map(|e| (**e).clone())
                    .collect(),
                _ => vec![self.resync_locked(&log, "missed events are no longer kept")],
            },
        };
        Subscription {
            backlog,
            live,
            closing,
        }
    }

    /// For a subscriber that fell behind: a `resync` and a receiver that continues right after
    /// it, taken together so nothing falls between them and nothing older follows.
    pub fn resubscribe(
        &self,
        reason: &str,
    ) -> (ServerEvent, broadcast::Receiver<Arc<ServerEvent>>) {
        let log = self.lock();
        (self.resync_locked(&log, reason), self.inner.tx.subscribe())
    }

    /// A `resync` event carrying the newest id (not logged): the client should reload what it
    /// shows, then resume from this id.
    pub fn resync(&self, reason: &str) -> ServerEvent {
        let log = self.lock();
        self.resync_locked(&log, reason)
    }

    /// Ends every event stream (at shutdown, so open streams do not hold it up).
    pub fn close(&self) {
        let _ = self.inner.closing.send(true);
    }

    fn resync_locked(&self, log: &Log, reason: &str) -> ServerEvent {
        ServerEvent {
            id: format!("{}-{}", self.inner.epoch, log.next_seq - 1),
            event: "resync",
            at: Utc::now(),
            subject: EventSubject {
                reason: Some(reason.to_string()),
                ..Default::default()
            },
        }
    }

    /// The sequence of an id of this epoch.
    fn parse_id(&self, raw: &str) -> Option<u64> {
        let (epoch, seq) = raw.rsplit_once('-')?;
        if epoch != self.inner.epoch {
            return None;
        }
        seq.parse().ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.inner.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn seq_of(e: &Arc<ServerEvent>) -> u64 {
    e.id.rsplit_once('-')
        .and_then(|(_, s)| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(id: &str) -> EventSubject {
        EventSubject {
            artifact_id: Some(id.into()),
            ..Default::default()
        }
    }

    #[test]
    fn resumes_after_an_id_it_still_holds_and_resyncs_otherwise() {
        let bus = EventBus::new();
        bus.publish("artifact.added", artifact("skill:a"));
        let first = bus.subscribe(None);
        assert!(first.backlog.is_empty());
        bus.publish("artifact.changed", artifact("skill:b"));
        bus.publish("artifact.removed", artifact("skill:c"));
        let all = bus.subscribe(Some(&format!("{}-1", bus.inner.epoch)));
        let ids: Vec<_> = all
            .backlog
            .iter()
            .map(|e| e.subject.artifact_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["skill:b", "skill:c"]);
        let foreign = bus.subscribe(Some("abc-1"));
        assert_eq!(foreign.backlog.len(), 1);
        assert_eq!(foreign.backlog[0].event, "resync");
        for i in 0..EVENT_LOG_CAPACITY {
            bus.publish("artifact.changed", artifact(&format!("skill:x{i}")));
        }
        let too_old = bus.subscribe(Some(&format!("{}-1", bus.inner.epoch)));
        assert_eq!(too_old.backlog[0].event, "resync");
        let newest = bus.subscribe(Some(&too_old.backlog[0].id));
        assert!(newest.backlog.is_empty(), "nothing after the newest id");
    }
}
