//! What a refresh changed, said to live clients: one event per added, changed or removed
//! artifact, or one `resync` when too much changed at once.

use super::{CacheService, SyncReport};
use crate::events::{MAX_ITEM_EVENTS_PER_RUN, ServerEvent};

impl CacheService {
    /// Publishes what `report` changed.
    pub(super) fn announce(&self, report: &SyncReport) {
        let events = &self.inner.events;
        let total = report.added_ids.len() + report.updated_ids.len() + report.removed_ids.len();
        if total > MAX_ITEM_EVENTS_PER_RUN {
            events.publish(ServerEvent::Resync {
                reason: format!("{total} artifacts changed at once"),
            });
            return;
        }
        for id in &report.added_ids {
            events.publish(ServerEvent::ArtifactAdded {
                artifact_id: id.clone(),
            });
        }
        for id in &report.updated_ids {
            events.publish(ServerEvent::ArtifactChanged {
                artifact_id: id.clone(),
            });
        }
        for id in &report.removed_ids {
            events.publish(ServerEvent::ArtifactRemoved {
                artifact_id: id.clone(),
            });
        }
    }
}
