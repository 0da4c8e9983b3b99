//! The event log of one instance: events kept in a bounded in-memory log and fanned out to
//! `GET /api/v1/events` subscribers.
//!
//! Ids are `<epoch>-<sequence>`: the epoch changes at every start, so a client resuming with an
//! id from another process (or one older than the log keeps) gets a `resync` event instead of a
//! silent gap.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch};

use super::ServerEvent;

/// Events kept for clients that reconnect.
pub const EVENT_LOG_CAPACITY: usize = 1024;

/// One event as this instance logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// `<epoch>-<sequence>`, also the SSE `id:`.
    pub id: String,
    /// When it was logged here.
    pub at: DateTime<Utc>,
    /// What happened.
    pub event: ServerEvent,
}

/// What a new subscriber gets before live events.
pub struct Subscription {
    /// Missed events to send first, oldest first; or a single `resync`.
    pub backlog: Vec<LoggedEvent>,
    /// Live events from here on.
    pub live: broadcast::Receiver<Arc<LoggedEvent>>,
    /// Turns true when the server shuts down; streams end then.
    pub closing: watch::Receiver<bool>,
}

struct Log {
    next_seq: u64,
    events: VecDeque<Arc<LoggedEvent>>,
}

/// The event bus; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: String,
    log: Mutex<Log>,
    tx: broadcast::Sender<Arc<LoggedEvent>>,
    closing: watch::Sender<bool>,
    /// Where events published here go to reach the other instances (PostgreSQL), once the
    /// relay runs.
    relay: OnceLock<mpsc::UnboundedSender<ServerEvent>>,
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
                relay: OnceLock::new(),
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

    /// Records and sends an event, and hands it to the relay for the other instances.
    pub fn publish(&self, event: ServerEvent) {
        if let Some(relay) = self.inner.relay.get() {
            let _ = relay.send(event.clone());
        }
        self.log(event);
    }

    /// Records and sends an event another instance published (not relayed again).
    pub fn publish_relayed(&self, event: ServerEvent) {
        self.log(event);
    }

    /// Events published here from now on also go to `relay` (set once).
    pub fn relay_to(&self, relay: mpsc::UnboundedSender<ServerEvent>) {
        let _ = self.inner.relay.set(relay);
    }

    /// This instance's epoch (different at every start).
    pub fn epoch(&self) -> &str {
        &self.inner.epoch
    }

    fn log(&self, event: ServerEvent) {
        let mut log = self.lock();
        let seq = log.next_seq;
        log.next_seq += 1;
        let ev = Arc::new(LoggedEvent {
            id: format!("{}-{seq}", self.inner.epoch),
            at: Utc::now(),
            event,
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
    ) -> (LoggedEvent, broadcast::Receiver<Arc<LoggedEvent>>) {
        let log = self.lock();
        (self.resync_locked(&log, reason), self.inner.tx.subscribe())
    }

    /// A `resync` event carrying the newest id (not logged): the client should reload what it
    /// shows, then resume from this id.
    pub fn resync(&self, reason: &str) -> LoggedEvent {
        let log = self.lock();
        self.resync_locked(&log, reason)
    }

    /// Ends every event stream (at shutdown, so open streams do not hold it up).
    pub fn close(&self) {
        let _ = self.inner.closing.send(true);
    }

    fn resync_locked(&self, log: &Log, reason: &str) -> LoggedEvent {
        LoggedEvent {
            id: format!("{}-{}", self.inner.epoch, log.next_seq - 1),
            at: Utc::now(),
            event: ServerEvent::Resync {
                reason: reason.to_string(),
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

fn seq_of(e: &Arc<LoggedEvent>) -> u64 {
    e.id.rsplit_once('-')
        .and_then(|(_, s)| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(id: &str) -> ServerEvent {
        ServerEvent::ArtifactChanged {
            artifact_id: id.into(),
        }
    }

    fn artifact_of(e: &LoggedEvent) -> String {
        match &e.event {
            ServerEvent::ArtifactChanged { artifact_id } => artifact_id.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resumes_after_an_id_it_still_holds_and_resyncs_otherwise() {
        let bus = EventBus::new();
        bus.publish(changed("skill:a"));
        let first = bus.subscribe(None);
        assert!(first.backlog.is_empty());
        bus.publish(changed("skill:b"));
        bus.publish(changed("skill:c"));
        let all = bus.subscribe(Some(&format!("{}-1", bus.inner.epoch)));
        let ids: Vec<_> = all.backlog.iter().map(artifact_of).collect();
        assert_eq!(ids, ["skill:b", "skill:c"]);
        let foreign = bus.subscribe(Some("abc-1"));
        assert_eq!(foreign.backlog.len(), 1);
        assert!(matches!(
            foreign.backlog[0].event,
            ServerEvent::Resync { .. }
        ));
        for i in 0..EVENT_LOG_CAPACITY {
            bus.publish(changed(&format!("skill:x{i}")));
        }
        let too_old = bus.subscribe(Some(&format!("{}-1", bus.inner.epoch)));
        assert!(matches!(
            too_old.backlog[0].event,
            ServerEvent::Resync { .. }
        ));
        let newest = bus.subscribe(Some(&too_old.backlog[0].id));
        assert!(newest.backlog.is_empty(), "nothing after the newest id");
    }
}
