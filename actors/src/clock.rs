//! Time arithmetic that cannot panic, whatever durations the configuration holds.
//!
//! `Instant + Duration` and `SystemTime + Duration` panic on overflow ("overflow when adding
//! duration to instant"), and so does formatting a time after the year 9999. A `remind_every`,
//! `cooldown`, `backoff` or `interval` of `584000000000y` may pass validation (or come from a
//! config crate that bounds less than it should); inside an actor such a panic kills the actor
//! for good, and the daemon goes on answering `/healthz` while it alerts nobody. So every
//! "later" the actors compute goes through here, and a duration too long for the clock means
//! "never", not a crash.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longer than any process runs, short enough to add to any monotonic instant: a timer this
/// far away is as good as never.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Milliseconds from the epoch to 9999-12-31T23:59:59.999Z, the last instant RFC 3339 (and so
/// every timestamp flowstate writes) can express.
const LAST_WRITABLE_MS: u64 = 253_402_300_799_999;

/// The latest wall-clock time flowstate computes with: 9999-12-31T23:59:59.999Z. "Never" in
/// wall-clock terms, and still printable.
pub fn far_future() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(LAST_WRITABLE_MS)
}

/// `at + after`, or [`far_future`] when that is later or beyond what the clock can hold.
pub fn system_after(at: SystemTime, after: Duration) -> SystemTime {
    let limit = far_future();
    match at.checked_add(after) {
        Some(later) if later <= limit => later,
        _ => limit,
    }
}

/// `at + after`, with `after` cut to [`FOREVER`].
pub fn instant_after(at: Instant, after: Duration) -> Instant {
    // A monotonic clock counts from boot in 64-bit seconds: a century more always fits. Should
    // it not, `at` itself is the one value known to be valid.
    at.checked_add(after.min(FOREVER)).unwrap_or(at)
}

/// `time` moved into what RFC 3339 can express: not before the epoch, not after
/// [`far_future`].
pub fn writable(time: SystemTime) -> SystemTime {
    time.clamp(UNIX_EPOCH, far_future())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_too_long_for_the_clock_means_the_far_future() {
        let now = SystemTime::now();
        assert_eq!(system_after(now, Duration::MAX), far_future());
        let years = Duration::from_secs(584_000_000_000 * 365 * 24 * 3600);
        assert_eq!(system_after(now, years), far_future());
        assert_eq!(
            system_after(now, Duration::from_secs(60)),
            now + Duration::from_secs(60)
        );
        assert_eq!(
            crate::model::rfc3339(system_after(now, Duration::MAX)),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn an_instant_is_at_most_a_century_away() {
        let now = Instant::now();
        assert_eq!(instant_after(now, Duration::MAX), now + FOREVER);
        assert_eq!(
            instant_after(now, Duration::from_millis(5)),
            now + Duration::from_millis(5)
        );
    }

    #[test]
    fn times_outside_rfc_3339_are_brought_inside() {
        assert_eq!(writable(UNIX_EPOCH - Duration::from_secs(10)), UNIX_EPOCH);
        let now = SystemTime::now();
        assert_eq!(writable(now), now);
        let beyond = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(writable(beyond), far_future());
    }
}
