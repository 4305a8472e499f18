//! Waiting for a condition with a deadline, instead of sleeping and hoping.
//!
//! A test that must observe something asynchronous (a daemon marks a host down, a file gets a
//! line) polls for it with short sleeps and fails with a message that says what it waited for.
//! The deadline is generous on purpose: it only bounds how long a broken build takes to fail,
//! it is never what the test asserts.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(10);

/// A condition that did not hold before its deadline.
pub struct TimedOut {
    what: String,
    within: Duration,
    polls: usize,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {:?} waiting until {} (checked {} times)",
            self.within, self.what, self.polls
        )
    }
}

/// The same text as `Display`, so `.unwrap()` prints a readable failure.
impl fmt::Debug for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for TimedOut {}

/// Polls `condition` until it holds or `within` has passed. `what` describes the condition
/// for the failure message ("host api is down").
pub fn wait_until(
    within: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<(), TimedOut> {
    wait_for(within, what, || condition().then_some(()))
}

/// Polls `probe` until it returns something, and returns that; or fails after `within`.
pub fn wait_for<T>(
    within: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, TimedOut> {
    let deadline = Instant::now() + within;
    let mut polls = 0;
    loop {
        polls += 1;
        if let Some(value) = probe() {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(TimedOut {
                what: what.to_string(),
                within,
                polls,
            });
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let mut calls = 0;
        wait_until(Duration::from_secs(10), "the third poll", || {
            calls += 1;
            calls == 3
        })
        .unwrap();
        assert_eq!(calls, 3);
        let value = wait_for(Duration::from_secs(10), "a value", || Some(7)).unwrap();
        assert_eq!(value, 7);
    }

    #[test]
    fn wait_until_fails_with_what_it_waited_for() {
        let error = wait_until(Duration::from_millis(30), "pigs fly", || false).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("waiting until pigs fly") && message.contains("30ms"),
            "{message}"
        );
        assert_eq!(format!("{error:?}"), message);
    }
}
