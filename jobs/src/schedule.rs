//! Wall-clock slots for scheduled runs. Slots are aligned to the Unix epoch, so every server
//! instance computes the same slot for the same moment and the `schedule_key` unique index lets
//! exactly one of them queue the run.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The next slot boundary strictly after `now` for a period of `every`, as (slot number, time).
pub fn next_slot(now: DateTime<Utc>, every: Duration) -> (i64, DateTime<Utc>) {
    let period_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    let slot = now.timestamp_millis().div_euclid(period_ms) + 1;
    let at = Utc
        .timestamp_millis_opt(slot.saturating_mul(period_ms))
        .single()
        .unwrap_or(now);
    (slot, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_align_to_the_period() {
        let now = Utc.timestamp_opt(1_000_000_123, 0).unwrap();
        let (slot, at) = next_slot(now, Duration::from_secs(300));
        assert_eq!(at.timestamp(), 1_000_000_200);
        assert_eq!(slot, 1_000_000_200 / 300);
        // A boundary itself belongs to the slot that starts there; the next one is a period on.
        let (next, at2) = next_slot(at, Duration::from_secs(300));
        assert_eq!(next, slot + 1);
        assert_eq!(at2.timestamp(), 1_000_000_500);
    }
}
