//! The figures behind the job dashboard's charts: runs per time bucket by status, and the
//! median and 95th-percentile duration per kind, over the last hour or day.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use jobs::control::RunPoint;

/// The span a chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last hour, in 5-minute buckets.
    Hour,
    /// The last day, in 1-hour buckets.
    Day,
}

impl Window {
    /// Its length and its bucket size.
    pub fn spans(self) -> (Duration, Duration) {
        match self {
            Window::Hour => (Duration::hours(1), Duration::minutes(5)),
            Window::Day => (Duration::days(1), Duration::hours(1)),
        }
    }

    /// Its name in URLs and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }

    /// The first moment it covers, `now` being its end.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let (length, bucket) = self.spans();
        let end = now.duration_trunc(bucket).unwrap_or(now) + bucket;
        end - length
    }
}

/// Runs that ended (or, while active, were queued) in one bucket, by status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Runs per status name.
    pub by_status: BTreeMap<String, u64>,
}

impl Bucket {
    /// Runs in it.
    pub fn total(&self) -> u64 {
        self.by_status.values().sum()
    }
}

/// Durations of one kind's finished runs.
#[derive(Debug, Clone, PartialEq)]
pub struct KindDurations {
    /// The kind.
    pub kind: String,
    /// Finished runs with a duration.
    pub runs: u64,
    /// Median, in milliseconds.
    pub p50_ms: u64,
    /// 95th percentile, in milliseconds.
    pub p95_ms: u64,
}

/// Everything a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Charts {
    /// The window.
    pub window: Window,
    /// Its buckets, oldest first (every bucket, empty ones too).
    pub buckets: Vec<Bucket>,
    /// Per kind, in name order.
    pub durations: Vec<KindDurations>,
}

/// The charts of `points` over `window` ending `now`.
pub fn charts(points: &[RunPoint], window: Window, now: DateTime<Utc>) -> Charts {
    let (_, size) = window.spans();
    let start = window.start(now);
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut at = start;
    while at <= now {
        buckets.push(Bucket {
            start: at,
            by_status: BTreeMap::new(),
        });
        at += size;
    }
    let mut durations: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.at >= start && p.at <= now) {
        let index = ((p.at - start).num_seconds() / size.num_seconds().max(1)) as usize;
        if let Some(bucket) = buckets.get_mut(index) {
            *bucket.by_status.entry(p.status.clone()).or_default() += 1;
        }
        if let Some(ms) = p.duration_ms {
            durations
                .entry(p.kind.clone())
                .or_default()
                .push(ms.max(0) as u64);
        }
    }
    Charts {
        window,
        buckets,
        durations: durations
            .into_iter()
            .map(|(kind, mut ms)| {
                ms.sort_unstable();
                KindDurations {
                    runs: ms.len() as u64,
                    p50_ms: percentile(&ms, 50),
                    p95_ms: percentile(&ms, 95),
                    kind,
                }
            })
            .collect(),
    }
}

/// The `p`th percentile of sorted values (nearest rank).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: &str, status: &str, at: DateTime<Utc>, ms: Option<i64>) -> RunPoint {
        RunPoint {
            kind: kind.into(),
            status: status.into(),
            at,
            duration_ms: ms,
        }
    }

    #[test]
    fn runs_fall_into_their_buckets_and_durations_into_percentiles() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T10:07:00Z")
            .unwrap()
            .to_utc();
        let points = vec![
            point(
                "refresh",
                "succeeded",
                now - Duration::minutes(1),
                Some(100),
            ),
            point("refresh", "failed", now - Duration::minutes(2), Some(300)),
            point(
                "refresh",
                "succeeded",
                now - Duration::minutes(50),
                Some(200),
            ),
            point("warm", "succeeded", now - Duration::hours(3), Some(900)),
        ];
        let c = charts(&points, Window::Hour, now);
        // 09:10 .. 10:05 is twelve 5-minute buckets; the warm is outside the hour.
        assert_eq!(c.buckets.len(), 12);
        assert_eq!(c.buckets[0].start.to_rfc3339(), "2026-11-30T09:10:00+00:00");
        let last = c.buckets.last().unwrap();
        assert_eq!(last.by_status.get("succeeded"), Some(&1));
        assert_eq!(last.by_status.get("failed"), Some(&1));
        assert_eq!(c.buckets.iter().map(Bucket::total).sum::<u64>(), 3);
        assert_eq!(
            c.durations,
            [KindDurations {
                kind: "refresh".into(),
                runs: 3,
                p50_ms: 200,
                p95_ms: 300
            }]
        );
        let day = charts(&points, Window::Day, now);
        assert_eq!(day.buckets.len(), 24);
        assert_eq!(day.buckets.iter().map(Bucket::total).sum::<u64>(), 4);
    }
}
