//! Bounds the argon2 work wrong tokens cost: when tenants' tokens are given as hashes, each
//! wrong token is verified against every hash (tens of milliseconds each, on purpose). An
//! address that sent [`MAX_FAILURES`] wrong tokens (bearer or login form) within [`WINDOW`]
//! is answered `429` instead of having its next token verified, until the window that began
//! with its first failure is over. Tokens written in the configuration, and hashed ones that
//! verified before, cost nothing to compare and are let in whatever the address did: one
//! client behind the same proxy cannot lock the others out.
//!
//! Pure bookkeeping with explicit time; the API passes `Instant::now()`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wrong tokens an address may send per window.
pub const MAX_FAILURES: u32 = 10;

/// How long an address's failures count.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses remembered at most: beyond, the ones whose window is over are forgotten, then
/// (a flood from many addresses) everything, so memory stays bounded.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
}

/// Wrong tokens per address, shared by the API's routes and the login form.
#[derive(Clone, Default)]
pub struct Throttle {
    failures: Arc<Mutex<HashMap<IpAddr, Failures>>>,
}

impl Throttle {
    /// How long `address` must wait before a token of its is looked at; `None`: go ahead.
    pub fn wait(&self, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let address = address?;
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = failures.get(&address)?;
        let ends = seen.first + WINDOW;
        (seen.count >= MAX_FAILURES && now < ends).then(|| ends - now)
    }

    /// `address` sent a wrong token at `now`.
    pub fn failed(&self, address: Option<IpAddr>, now: Instant) {
        let Some(address) = address else {
            return;
        };
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, f| now < f.first + WINDOW);
            if failures.len() >= MAX_ADDRESSES {
                failures.clear();
            }
        }
        let seen = failures.entry(address).or_insert(Failures {
            first: now,
            count: 0,
        });
        if now >= seen.first + WINDOW {
            *seen = Failures {
                first: now,
                count: 0,
            };
        }
        seen.count = seen.count.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_after_too_many_wrong_tokens_until_its_window_ends() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let guesser = Some(IpAddr::from([10, 0, 0, 1]));
        let other = Some(IpAddr::from([10, 0, 0, 2]));
        for n in 0..MAX_FAILURES {
            assert_eq!(throttle.wait(guesser, start), None, "after {n} failures");
            throttle.failed(guesser, start + Duration::from_secs(u64::from(n)));
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(
            throttle.wait(guesser, later),
            Some(WINDOW - Duration::from_secs(20))
        );
        assert_eq!(throttle.wait(other, later), None, "others go on");
        assert_eq!(throttle.wait(guesser, start + WINDOW), None);
        // A new window counts from zero.
        throttle.failed(guesser, start + WINDOW);
        assert_eq!(throttle.wait(guesser, start + WINDOW), None);
        assert_eq!(throttle.wait(None, later), None);
    }
}
