//! `/api/v1/events`: live events as server-sent events (artifacts added, changed or removed,
//! jobs started and finished, deployment statuses changed), resumable with `Last-Event-ID`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use poem::web::sse::Event;
use poem_openapi::param::Header;
use poem_openapi::payload::EventStream;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};
use tokio::sync::broadcast::error::RecvError;

use super::ApiTags;
use crate::error::ApiError;
use crate::events::{LoggedEvent, Subscription};
use crate::state::AppState;

/// Seconds between keep-alive comments on an idle stream (proxies drop silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Event endpoints.
pub struct EventsApi {
    /// Shared state.
    pub state: AppState,
}

/// One live event: the SSE `event:` is its `event`, the SSE `id:` its `id`, the `data:` this
/// object as JSON. Only the fields that apply to the event's type are set. Built from the
/// server's `ServerEvent` through serde, so the two cannot drift apart.
#[derive(Debug, Default, Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct LiveEvent {
    /// `<epoch>-<sequence>`; send it back as `Last-Event-ID` to resume.
    pub id: String,
    /// `artifact.added`, `artifact.changed`, `artifact.removed`, `cache.cleared`,
    /// `job.started`, `job.finished`, `deployment.deployed`, `deployment.undeployed`,
    /// `deployment.pushed`, `deployment.merged`, `deployment.status_changed`,
    /// `collection.changed`, `groups.changed`, or `resync` (reload
    /// what you show, then carry on).
    pub event: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The artifact, `type:name` (artifact and deployment events).
    pub artifact_id: Option<String>,
    /// The job (job events).
    pub job_id: Option<i64>,
    /// `warm`, `refresh` or `purge` (job events).
    pub job_kind: Option<String>,
    /// The job's scope (`job.started`).
    pub scope: Option<String>,
    /// The job's final status (`job.finished`) or the deployment's new status.
    pub status: Option<String>,
    /// The deployment's previous status (empty when first seen).
    pub previous_status: Option<String>,
    /// The deployment.
    pub deployment_id: Option<String>,
    /// The deployment's project.
    pub project_id: Option<String>,
    /// How long the job took (`job.finished`).
    pub duration_ms: Option<u64>,
    /// Why a `resync` was sent.
    pub reason: Option<String>,
    /// The collection (collection and group events).
    pub collection_id: Option<String>,
    /// The collection's new content hash (`deployment.pushed`).
    pub content_hash: Option<String>,
}

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Live events (server-sent events)
    ///
    /// A `text/event-stream` of what changes: `artifact.added`, `artifact.changed`,
    /// `artifact.removed` (from refreshes, including the file watcher's), `job.started`,
    /// `job.finished`, `deployment.status_changed`. A client that reconnects with
    /// `Last-Event-ID` (browsers' `EventSource` does this by itself) first gets the events it
    /// missed, from a log of the last 1,024, or a single `resync` when they are no longer kept
    /// or the server restarted. A keep-alive comment is sent every 15 s (more often when
    /// `server.idle_timeout_secs` is under 30). Events are those of
    /// the server instance the client is connected to. At most `server.max_event_streams`
    /// streams are open at once; one more gets 429.
    #[oai(
        path = "/api/v1/events",
        method = "get",
        operation_id = "stream_events"
    )]
    async fn events(
        &self,
        /// The `id` of the last event received, to resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventStream<BoxStream<'static, LiveEvent>>, ApiError> {
        let bus = self.state.events.clone();
        let max = self.state.settings.server.max_event_streams as usize;
        let Some(slot) = bus.open_stream(max) else {
            return Err(ApiError::too_many_requests(format!(
                "{max} event streams are open already (server.max_event_streams); close one or retry later"
            )));
        };
        let Subscription {
            backlog,
            live,
            mut closing,
        } = bus.subscribe(last_event_id.0.as_deref());
        let backlog = futures::stream::iter(backlog.iter().map(to_live).collect::<Vec<_>>());
        let live = futures::stream::unfold((live, bus), |(mut rx, bus)| async move {
            let event = match rx.recv().await {
                Ok(ev) => to_live(&ev),
                Err(RecvError::Lagged(_)) => {
                    // Skip what it missed: a resync, then the events after it.
                    let (resync, fresh) = bus.resubscribe("this client fell behind");
                    rx = fresh;
                    to_live(&resync)
                }
                Err(RecvError::Closed) => return None,
            };
            Some((event, (rx, bus)))
        });
        let shutting_down = async move {
            let _ = closing.wait_for(|c| *c).await;
        };
        let stream = backlog
            .chain(live)
            .take_until(shutting_down)
            // The slot is freed when the client goes away and the stream is dropped.
            .inspect(move |_| {
                let _held = &slot;
            })
            .boxed();
        // Often enough that the idle timeout never closes a quiet stream.
        let idle = Duration::from_secs(self.state.settings.server.idle_timeout_secs);
        Ok(EventStream::new(stream)
            .keep_alive(KEEP_ALIVE.min(idle / 2))
            .to_event(|e: LiveEvent| {
                Event::message(e.to_json_string())
                    .event_type(e.event.clone())
                    .id(e.id.clone())
            }))
    }
}

fn to_live(e: &LoggedEvent) -> LiveEvent {
    let mut fields = match serde_json::to_value(&e.event) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    fields.insert("id".into(), e.id.clone().into());
    fields.insert("at".into(), serde_json::json!(e.at));
    serde_json::from_value(serde_json::Value::Object(fields)).unwrap_or_else(|_| LiveEvent {
        id: e.id.clone(),
        event: e.event.name(),
        at: e.at,
        ..Default::default()
    })
}
