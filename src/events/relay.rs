//! Events across instances on PostgreSQL: each event published here is sent with `NOTIFY` on
//! one channel, and every instance `LISTEN`s there and logs what the others published in its
//! own log (with its own ids, so `Last-Event-ID` resume keeps working on the instance a browser
//! is connected to). On SQLite there is one instance and nothing to relay.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use super::{EventBus, ServerEvent};

/// The PostgreSQL channel events travel on.
pub const CHANNEL: &str = "skillmeat_events";

/// Longest payload `NOTIFY` takes (PostgreSQL's limit is 8000 bytes).
const MAX_PAYLOAD: usize = 7900;

/// What travels on the channel: the event and the instance it came from.
#[derive(Debug, Serialize, Deserialize)]
struct Relayed {
    origin: String,
    event: ServerEvent,
}

/// Relays `bus`'s events to the other instances on `db` (reached at `url`) and theirs to
/// `bus`, until `stop` turns true. A lost connection is re-established; events published while
/// it is down reach the other instances' clients as the next `resync` they ask for.
pub fn start(
    bus: EventBus,
    db: DatabaseConnection,
    url: String,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (tx, mut outgoing) = mpsc::unbounded_channel::<ServerEvent>();
    bus.relay_to(tx);
    let origin = bus.epoch().to_string();
    tokio::spawn(async move {
        let mut listener: Option<PgListener> = None;
        loop {
            if listener.is_none() {
                listener = listen(&url).await;
                if listener.is_none() {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stopped(&mut stop) => return,
                    }
                }
            }
            let Some(active) = listener.as_mut() else {
                continue;
            };
            tokio::select! {
                _ = stopped(&mut stop) => return,
                Some(event) = outgoing.recv() => notify(&db, &origin, event).await,
                received = active.try_recv() => match received {
                    Ok(Some(note)) => receive(&bus, &origin, note.payload()),
                    // The connection dropped; it is re-established on the next receive.
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the event relay lost PostgreSQL; reconnecting");
                        listener = None;
                    }
                },
            }
        }
    })
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn listen(url: &str) -> Option<PgListener> {
    let mut listener = match PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "the event relay cannot reach PostgreSQL");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "the event relay cannot listen");
            None
        }
    }
}

async fn notify(db: &DatabaseConnection, origin: &str, event: ServerEvent) {
    let relayed = Relayed {
        origin: origin.to_string(),
        event,
    };
    let Ok(payload) = serde_json::to_string(&relayed) else {
        return;
    };
    if payload.len() > MAX_PAYLOAD {
        tracing::warn!(
            bytes = payload.len(),
            "an event too large to relay stays on this instance"
        );
        return;
    }
    let sent = db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "an event could not be relayed to the other instances");
    }
}

fn receive(bus: &EventBus, origin: &str, payload: &str) {
    match serde_json::from_str::<Relayed>(payload) {
        Ok(r) if r.origin == origin => {}
        Ok(r) => bus.publish_relayed(r.event),
        Err(e) => tracing::debug!(error = %e, "an unreadable relayed event was skipped"),
    }
}
