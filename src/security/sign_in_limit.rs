//! Failed sign-ins are limited per client address (governor's GCRA): ten in a minute, then
//! every sign-in from that address gets 429 with `Retry-After` until the limit has refilled, so
//! a key cannot be guessed through the sign-in form.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failed sign-ins one address may make in a minute.
pub const FAILURES_PER_MINUTE: u32 = 10;

/// Addresses tracked before old entries are dropped (a flood from many addresses must not
/// grow memory without bound).
const TRACKED_MAX: usize = 10_000;

/// The sign-in limiter of one server instance.
pub struct SignInLimiter {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// Addresses refused until the given time.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Default for SignInLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl SignInLimiter {
    /// Ten failures a minute per address.
    pub fn new() -> Self {
        let quota =
            Quota::per_minute(NonZeroU32::new(FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN));
        Self {
            failures: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// How long `addr` must still wait before signing in again, if it is blocked.
    pub fn blocked_for(&self, addr: IpAddr) -> Option<Duration> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = *blocked.get(&addr)?;
        let now = Instant::now();
        if until <= now {
            blocked.remove(&addr);
            return None;
        }
        Some(until - now)
    }

    /// Counts a failed sign-in from `addr`; returns how long it must wait when this failure
    /// went over the limit (the caller answers 429 instead of 401).
    pub fn record_failure(&self, addr: IpAddr) -> Option<Duration> {
        if self.failures.len() > TRACKED_MAX {
            self.failures.retain_recent();
        }
        let not_until = self.failures.check_key(&addr).err()?;
        let wait = not_until
            .wait_time_from(self.clock.now())
            .max(Duration::from_secs(1));
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        if blocked.len() > TRACKED_MAX {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(addr, Instant::now() + wait);
        Some(wait)
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
