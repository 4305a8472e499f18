//! The outbox: events waiting for delivery, per notifier, with retry timing.
//!
//! Order matters per host: a receiver that gets `up` before the `down` it follows believes
//! the wrong thing (PagerDuty would keep an incident open forever). So each notifier keeps one
//! queue per host and only its head is ever attempted; other hosts go on in parallel, up to
//! [`MAX_IN_FLIGHT`] attempts per notifier, so one dead receiver holds no other notifier and
//! a storm of events does not open thousands of connections at once.
//!
//! A notifier with `group_by` delivers several hosts' heads at once: an event waits up to
//! `group_wait` for others of its group (its `gather_until`), then one attempt carries every
//! head of that group, and each of them succeeds or fails with it. Each event is still its own
//! entry, stored and retried as one, so grouping changes nothing of what a crash may lose.
//!
//! Pure bookkeeping with explicit time; the AlertRouter runs the attempts and timers, and the
//! state store mirrors the contents so a crash loses nothing.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flowstate_config::RetryPolicy;

use crate::event::AlertEvent;
use crate::notify::DeliveryError;

mod ready;
use ready::ReadyIndex;

/// Attempts in flight at once per notifier.
pub const MAX_IN_FLIGHT: usize = 32;

/// Events kept per notifier; beyond it the oldest is dropped (counted and logged). A dead
/// receiver and a flapping fleet must not grow memory without end.
pub const MAX_PENDING: usize = 10_000;

/// One event on its way to one notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub event: AlertEvent,
    /// When it was first queued: `max_age` counts from here.
    pub created: SystemTime,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Written to the state store (or there is none): it may be attempted.
    pub stored: bool,
    /// Not before this instant (a retry's backoff).
    pub not_before: Option<Instant>,
    /// For a grouped notifier: the group it is delivered with.
    pub group: Option<String>,
    /// For a grouped notifier: it waits for others of its group until then (`group_wait`),
    /// unless the group goes out earlier with another event.
    pub gather_until: Option<Instant>,
}

/// One attempt to start: one event, or every head of one group for a grouped notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub notifier: Arc<str>,
    pub group: Option<String>,
    /// Oldest first.
    pub events: Vec<AlertEvent>,
}

impl Pending {
    pub fn new(event: AlertEvent, created: SystemTime, stored: bool) -> Self {
        Pending {
            event,
            created,
            attempts: 0,
            stored,
            not_before: None,
            group: None,
            gather_until: None,
        }
    }

    /// The same, delivered with `group` once `gather_until` passes.
    pub fn grouped(mut self, group: String, gather_until: Option<Instant>) -> Self {
        self.group = Some(group);
        self.gather_until = gather_until;
        self
    }
}

#[derive(Default)]
struct NotifierQueue {
    /// Per host, oldest first; the head is the only one attempted.
    hosts: HashMap<String, VecDeque<Pending>>,
    /// Hosts whose head is being attempted now.
    in_flight: HashSet<String>,
    /// The host of each waiting event, by id: the store's batches look events up by id.
    ids: HashMap<String, String>,
    /// The heads that may be attempted (stored, idle), by when and oldest first.
    ready: ReadyIndex,
    /// Each host's oldest event not being attempted (its head, or the one after a head in
    /// flight), oldest first: what a full queue drops. A host's events are queued in the order
    /// they happened, so its first such event is its oldest; kept sorted because scanning
    /// 10 000 events for every event pushed into a full queue cost ~2 ms (debug build) each,
    /// and a tenant at its cap would keep the router from everyone else's alerts.
    droppable: BTreeSet<(SystemTime, String)>,
    /// Where each host is in `droppable`.
    droppable_at: HashMap<String, SystemTime>,
    len: usize,
}

impl NotifierQueue {
    /// Puts `host`'s head in the index if it may be attempted (stored, not in flight), or
    /// takes it out, and its oldest event not in flight where a full queue finds it. Called
    /// after every change of a host's events or of its being in flight.
    fn reindex(&mut self, host: &str) {
        let busy = self.in_flight.contains(host);
        let entries = self.hosts.get(host);
        match entries.and_then(VecDeque::front) {
            Some(head) if head.stored && !busy => self.ready.insert(host, head),
            _ => self.ready.remove(host),
        }
        let oldest = entries
            .and_then(|entries| entries.get(usize::from(busy)))
            .map(|p| p.created);
        if let Some(created) = self.droppable_at.remove(host) {
            self.droppable.remove(&(created, host.to_string()));
        }
        if let Some(created) = oldest {
            self.droppable.insert((created, host.to_string()));
            self.droppable_at.insert(host.to_string(), created);
        }
    }

    /// Removes the event at `index` of `host`'s queue.
    fn remove(&mut self, host: &str, index: usize) -> Option<Pending> {
        let entries = self.hosts.get_mut(host)?;
        let removed = entries.remove(index)?;
        if entries.is_empty() {
            self.hosts.remove(host);
        }
        self.ids.remove(&removed.event.id);
        self.len -= 1;
        self.reindex(host);
        Some(removed)
    }

    fn head_is(&self, host: &str, id: &str) -> bool {
        self.hosts
            .get(host)
            .and_then(VecDeque::front)
            .is_some_and(|p| p.event.id == id)
    }

    /// The attempt at `host`'s head ended: it may be attempted again (or its next event).
    fn finish(&mut self, host: &str) {
        if self.in_flight.remove(host) {
            self.reindex(host);
        }
    }

    /// The oldest due head, with every idle, stored head of its group for a grouped
    /// notifier: taken out of the index and marked in flight, oldest first.
    fn take_oldest(&mut self) -> Option<(Option<String>, Vec<AlertEvent>)> {
        let (host, group) = loop {
            let host = self.ready.oldest_due()?.to_string();
            match self.hosts.get(&host).and_then(VecDeque::front) {
                Some(head) => break (host, head.group.clone()),
                // Indexed without a head: never, as every change of a head reindexes it.
                None => self.ready.remove(&host),
            }
        };
        let members = match &group {
            None => vec![host],
            Some(group) => self.ready.group(group),
        };
        let mut taken: Vec<&Pending> = Vec::with_capacity(members.len());
        for member in &members {
            if let Some(head) = self.hosts.get(member).and_then(VecDeque::front) {
                taken.push(head);
            }
        }
        taken.sort_by_key(|p| p.created);
        let events = taken.into_iter().map(|p| p.event.clone()).collect();
        for member in members {
            self.in_flight.insert(member.clone());
            self.reindex(&member);
        }
        Some((group, events))
    }
}

/// Why an event was given up without being delivered.
///
/// The router decides its log line by matching on this, and the metric
/// `flowstate_alerts_dropped_total{reason}` is labelled with [`DropReason::as_str`]: those
/// label values are what dashboards and alert rules select on, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Older than the notifier's `max_age` (while retrying, or while flowstate was stopped).
    Expired,
    /// The receiver refused the event itself ([`DeliveryError::Permanent`]); sending the same
    /// bytes again cannot succeed.
    Rejected,
    /// The notifier's queue held [`MAX_PENDING`] events; the oldest made room for a new one.
    Overflow,
}

impl DropReason {
    /// Every reason, in the order the metric's series are created.
    pub const ALL: [DropReason; 3] = [
        DropReason::Expired,
        DropReason::Rejected,
        DropReason::Overflow,
    ];

    /// The `reason` label value and log field, word for word as before this was a type.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Expired => "expired",
            DropReason::Rejected => "rejected",
            DropReason::Overflow => "overflow",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterFailure {
    /// Tried again at this instant.
    RetryAt(Instant),
    /// Given up: [`DropReason::Expired`] or [`DropReason::Rejected`] (a failed attempt never
    /// overflows a queue).
    GaveUp(DropReason, Box<Pending>),
}

#[derive(Default)]
pub struct Outbox {
    queues: HashMap<Arc<str>, NotifierQueue>,
}

impl Outbox {
    /// Queues `pending` for `notifier`; returns the oldest event if the queue was full.
    pub fn push(&mut self, notifier: &Arc<str>, pending: Pending) -> Option<Pending> {
        let queue = self.queues.entry(notifier.clone()).or_default();
        let dropped = if queue.len >= MAX_PENDING {
            Self::drop_oldest(queue)
        } else {
            None
        };
        let host = pending.event.host.clone();
        queue.ids.insert(pending.event.id.clone(), host.clone());
        let entries = queue.hosts.entry(host.clone()).or_default();
        entries.push_back(pending);
        // A first or second event may be the host's oldest not in flight.
        let early = entries.len() <= 2;
        queue.len += 1;
        if early {
            queue.reindex(&host);
        }
        dropped
    }

    /// The oldest event not being attempted right now.
    fn drop_oldest(queue: &mut NotifierQueue) -> Option<Pending> {
        let (_, host) = queue.droppable.first()?.clone();
        let index = usize::from(queue.in_flight.contains(&host));
        queue.remove(&host, index)
    }

    /// The waiting event `id` of `notifier`, if it is queued.
    pub fn find(&self, notifier: &str, id: &str) -> Option<&Pending> {
        let queue = self.queues.get(notifier)?;
        let host = queue.ids.get(id)?;
        queue.hosts.get(host)?.iter().find(|p| p.event.id == id)
    }

    /// The store has the event: it may be attempted.
    pub fn mark_stored(&mut self, notifier: &str, host: &str, id: &str) {
        let Some(queue) = self.queues.get_mut(notifier) else {
            return;
        };
        let Some(entries) = queue.hosts.get_mut(host) else {
            return;
        };
        let Some(index) = entries.iter().position(|p| p.event.id == id) else {
            return;
        };
        if let Some(p) = entries.get_mut(index) {
            p.stored = true;
        }
        if index == 0 {
            queue.reindex(host);
        }
    }

    /// Attempts to start now, their hosts marked in flight: each host's head if stored and
    /// due (and done gathering), up to [`MAX_IN_FLIGHT`] per notifier, oldest first. A grouped
    /// head brings every other idle, stored head of its group along, due or not: they go as
    /// one delivery.
    ///
    /// Costs what it starts, not what waits: a notifier with thousands of events waiting for
    /// a retry is not looked through (see [`ready`]).
    pub fn take_ready(&mut self, now: Instant) -> Vec<Attempt> {
        let mut ready = Vec::new();
        for (notifier, queue) in &mut self.queues {
            queue.ready.promote(now);
            while queue.in_flight.len() < MAX_IN_FLIGHT {
                let Some((group, events)) = queue.take_oldest() else {
                    break;
                };
                ready.push(Attempt {
                    notifier: notifier.clone(),
                    group,
                    events,
                });
            }
        }
        ready
    }

    /// The attempt at `host`'s head (event `id`) succeeded: it leaves the queue. An attempt
    /// whose event is no longer the head (its notifier was removed and re-added meanwhile)
    /// changes nothing.
    pub fn succeeded(&mut self, notifier: &Arc<str>, host: &str, id: &str) -> Option<Pending> {
        let queue = self.queues.get_mut(notifier)?;
        if !queue.head_is(host, id) {
            return None;
        }
        queue.in_flight.remove(host);
        queue.remove(host, 0)
    }

    /// The attempt at `host`'s head failed: schedule the next one with backoff and jitter, or
    /// give up when the receiver refused it or the event is older than `max_age`.
    pub fn failed(
        &mut self,
        notifier: &Arc<str>,
        event: &AlertEvent,
        error: &DeliveryError,
        policy: &RetryPolicy,
        now: (Instant, SystemTime),
    ) -> Option<AfterFailure> {
        let host = event.host.as_str();
        let queue = self.queues.get_mut(notifier)?;
        if !queue.head_is(host, &event.id) {
            return None;
        }
        queue.in_flight.remove(host);
        let head = queue.hosts.get_mut(host)?.front_mut()?;
        head.attempts += 1;
        let age = now.1.duration_since(head.created).unwrap_or_default();
        let reason = if !error.is_retryable() {
            Some(DropReason::Rejected)
        } else if age >= policy.max_age {
            Some(DropReason::Expired)
        } else {
            None
        };
        if let Some(reason) = reason {
            let pending = queue.remove(host, 0)?;
            return Some(AfterFailure::GaveUp(reason, Box::new(pending)));
        }
        let mut wait = backoff(policy, head.attempts, fastrand::f64());
        if let Some(asked) = error.retry_after() {
            wait = wait.max(asked.min(policy.max_backoff));
        }
        let at = crate::clock::instant_after(now.0, wait);
        head.not_before = Some(at);
        queue.reindex(host);
        Some(AfterFailure::RetryAt(at))
    }

    /// The attempt at `host`'s head (event `id`) was cut short by the shutdown: it is no
    /// longer in flight, and stays at the head of its queue, its attempts uncounted.
    pub fn release(&mut self, notifier: &Arc<str>, host: &str, id: &str) {
        if let Some(queue) = self.queues.get_mut(notifier) {
            if queue.head_is(host, id) {
                queue.finish(host);
            }
        }
    }

    /// The earliest instant a waiting retry (or a group's gathering) ends. Heads held back by
    /// something else (the store, an attempt in flight, the cap) go when that ends, which
    /// pumps the outbox anyway.
    pub fn next_due(&self) -> Option<Instant> {
        self.queues
            .values()
            .filter_map(|q| q.ready.next_wake())
            .min()
    }

    /// Events waiting for `notifier`, including the ones being attempted.
    pub fn pending(&self, notifier: &str) -> usize {
        self.queues.get(notifier).map_or(0, |q| q.len)
    }

    /// Attempts in flight, over all notifiers.
    pub fn in_flight(&self) -> usize {
        self.queues.values().map(|q| q.in_flight.len()).sum()
    }

    /// Every waiting event of every notifier: what is lost if the process ends now.
    pub fn all(&self) -> impl Iterator<Item = (&Arc<str>, &Pending)> {
        self.queues
            .iter()
            .flat_map(|(n, q)| q.hosts.values().flatten().map(move |p| (n, p)))
    }

    /// The notifier left the configuration: its waiting events, removed.
    pub fn remove_notifier(&mut self, notifier: &str) -> Vec<Pending> {
        self.queues
            .remove(notifier)
            .map(|q| q.hosts.into_values().flatten().collect())
            .unwrap_or_default()
    }
}

/// The wait before attempt `attempts + 1`: `backoff` doubled per failure up to `max_backoff`,
/// then "equal jitter" (between half and all of it, by `random` in 0..1) so receivers that come
/// back are not hit by every sender in the same second.
pub fn backoff(policy: &RetryPolicy, attempts: u32, random: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let full = policy
        .backoff
        .saturating_mul(1u32 << doublings)
        .min(policy.max_backoff);
    // `mul_f64` panics when the product does not fit a Duration (a huge `max_backoff`).
    let factor = 0.5 + 0.5 * random.clamp(0.0, 1.0);
    Duration::try_from_secs_f64(full.as_secs_f64() * factor).unwrap_or(full)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::model::Status;

    /// A `down` event of `host`, for the outbox's tests and its parts'.
    pub(crate) fn event(host: &str, id: &str) -> AlertEvent {
        AlertEvent {
            id: id.into(),
            event: EventKind::Down,
            host: host.into(),
            group: None,
            status: Status::Down,
            previous: Status::Up,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:03:37.123Z".into(),
            reason: "connection refused".into(),
            consecutive_failures: 3,
            latency_ms: 1.0,
            trace: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
        }
    }

    fn ids(ready: &[Attempt]) -> Vec<&str> {
        let mut ids: Vec<&str> = ready
            .iter()
            .flat_map(|a| &a.events)
            .map(|e| e.id.as_str())
            .collect();
        ids.sort();
        ids
    }

    fn grouped(host: &str, id: &str, group: &str, gather_until: Option<Instant>) -> Pending {
        Pending::new(event(host, id), SystemTime::now(), true)
            .grouped(group.to_string(), gather_until)
    }

    #[test]
    fn a_group_gathers_until_its_wait_then_goes_as_one_attempt_without_other_groups() {
        let mut outbox = Outbox::default();
        let n: Arc<str> = Arc::from("hook");
        let start = Instant::now();
        let wait = start + Duration::from_secs(30);
        outbox.push(&n, grouped("a", "1", "payments", Some(wait)));
        outbox.push(
            &n,
            grouped("b", "2", "payments", Some(wait + Duration::from_secs(1))),
        );
        outbox.push(
            &n,
            grouped("c", "3", "search", Some(wait + Duration::from_secs(5))),
        );
        assert!(outbox.take_ready(start).is_empty(), "gathering");
        assert_eq!(outbox.next_due(), Some(wait));
        let ready = outbox.take_ready(wait);
        assert_eq!(ready.len(), 1, "{ready:?}");
        assert_eq!(ready[0].group.as_deref(), Some("payments"));
        assert_eq!(ids(&ready), ["1", "2"], "the later payments event joins");
        let later = outbox.take_ready(wait + Duration::from_secs(5));
        assert_eq!(ids(&later), ["3"]);
        // The group fails as one and is retried as one.
        let error = DeliveryError::transient("503");
        for event in &ready[0].events {
            outbox.failed(&n, event, &error, &policy(), (wait, SystemTime::now()));
        }
        let retried = outbox.take_ready(wait + Duration::from_secs(120));
        assert_eq!(ids(&retried), ["1", "2"]);
        assert_eq!(retried.len(), 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 3, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(&p, 3, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 20, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(&p, u32::MAX, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn backoffs_too_long_for_the_clock_never_panic() {
        let huge = RetryPolicy {
            backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            max_age: Duration::MAX,
        };
        for attempts in [0, 1, 2, 31, 64, u32::MAX] {
            for random in [0.0, 0.5, 1.0, f64::NAN] {
                let wait = backoff(&huge, attempts, random);
                assert!(wait >= Duration::MAX / 2, "{attempts} {random}: {wait:?}");
            }
        }
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "1"), SystemTime::now(), true));
        let start = Instant::now();
        outbox.take_ready(start);
        let error = DeliveryError::transient("status 429").with_retry_after(Some(Duration::MAX));
        let after = outbox.failed(
            &n,
            &event("a", "1"),
            &error,
            &huge,
            (start, SystemTime::now()),
        );
        assert_eq!(
            after,
            Some(AfterFailure::RetryAt(start + crate::clock::FOREVER))
        );
        assert_eq!(outbox.next_due(), Some(start + crate::clock::FOREVER));
    }

    #[test]
    fn one_host_is_delivered_in_order_and_others_in_parallel() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        let now = Instant::now();
        for (host, id) in [("a", "1"), ("a", "2"), ("b", "3")] {
            outbox.push(&n, Pending::new(event(host, id), SystemTime::now(), true));
        }
        assert_eq!(ids(&outbox.take_ready(now)), ["1", "3"]);
        assert!(outbox.take_ready(now).is_empty(), "heads are in flight");
        outbox.succeeded(&n, "a", "1");
        assert_eq!(ids(&outbox.take_ready(now)), ["2"]);
        assert_eq!(outbox.pending("hook"), 2);
    }

    #[test]
    fn an_attempt_at_an_event_that_is_no_longer_the_head_changes_nothing() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "old"), SystemTime::now(), true));
        outbox.take_ready(Instant::now());
        outbox.remove_notifier("hook");
        outbox.push(&n, Pending::new(event("a", "new"), SystemTime::now(), true));
        assert_eq!(outbox.succeeded(&n, "a", "old"), None);
        assert_eq!(outbox.pending("hook"), 1);
        assert_eq!(ids(&outbox.take_ready(Instant::now())), ["new"]);
    }

    #[test]
    fn an_event_not_yet_stored_waits() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "1"), SystemTime::now(), false));
        assert!(outbox.take_ready(Instant::now()).is_empty());
        outbox.mark_stored("hook", "a", "1");
        assert_eq!(ids(&outbox.take_ready(Instant::now())), ["1"]);
    }

    #[test]
    fn a_failed_attempt_waits_its_backoff_then_the_same_event_is_retried() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "1"), SystemTime::now(), true));
        let start = Instant::now();
        outbox.take_ready(start);
        let after = outbox.failed(
            &n,
            &event("a", "1"),
            &DeliveryError::transient("status 503"),
            &policy(),
            (start, SystemTime::now()),
        );
        let Some(AfterFailure::RetryAt(at)) = after else {
            panic!("expected a retry, got {after:?}");
        };
        assert!(at >= start + Duration::from_millis(500) && at <= start + Duration::from_secs(1));
        assert!(
            outbox.take_ready(start).is_empty(),
            "not before its backoff"
        );
        assert_eq!(outbox.next_due(), Some(at));
        assert_eq!(ids(&outbox.take_ready(at)), ["1"]);
    }

    #[test]
    fn an_attempt_cut_short_stays_at_the_head_uncounted() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "1"), SystemTime::now(), true));
        outbox.push(&n, Pending::new(event("a", "2"), SystemTime::now(), true));
        outbox.take_ready(Instant::now());
        outbox.release(&n, "a", "1");
        assert_eq!(outbox.in_flight(), 0);
        assert_eq!(outbox.pending("hook"), 2);
        let head: Vec<&Pending> = outbox.all().map(|(_, p)| p).collect();
        assert_eq!((head[0].event.id.as_str(), head[0].attempts), ("1", 0));
        assert_eq!(ids(&outbox.take_ready(Instant::now())), ["1"]);
    }

    #[test]
    fn retry_after_is_honoured_up_to_max_backoff() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        outbox.push(&n, Pending::new(event("a", "1"), SystemTime::now(), true));
        let start = Instant::now();
        outbox.take_ready(start);
        let error = DeliveryError::transient("status 429")
            .with_retry_after(Some(Duration::from_secs(3600)));
        let after = outbox.failed(
            &n,
            &event("a", "1"),
            &error,
            &policy(),
            (start, SystemTime::now()),
        );
        assert_eq!(
            after,
            Some(AfterFailure::RetryAt(start + Duration::from_secs(60)))
        );
    }

    #[test]
    fn rejected_and_expired_events_are_given_up() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        let old = SystemTime::now() - Duration::from_secs(7200);
        outbox.push(&n, Pending::new(event("a", "1"), old, true));
        outbox.push(&n, Pending::new(event("b", "2"), SystemTime::now(), true));
        let now = (Instant::now(), SystemTime::now());
        outbox.take_ready(now.0);
        let expired = outbox.failed(
            &n,
            &event("a", "1"),
            &DeliveryError::transient("x"),
            &policy(),
            now,
        );
        assert!(matches!(
            expired,
            Some(AfterFailure::GaveUp(DropReason::Expired, _))
        ));
        let rejected = outbox.failed(
            &n,
            &event("b", "2"),
            &DeliveryError::permanent("status 400"),
            &policy(),
            now,
        );
        assert!(matches!(
            rejected,
            Some(AfterFailure::GaveUp(DropReason::Rejected, _))
        ));
        assert_eq!(outbox.pending("hook"), 0);
    }

    #[test]
    fn attempts_per_notifier_are_bounded() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        for i in 0..(MAX_IN_FLIGHT + 5) {
            outbox.push(
                &n,
                Pending::new(
                    event(&format!("h{i}"), &i.to_string()),
                    SystemTime::now(),
                    true,
                ),
            );
        }
        assert_eq!(outbox.take_ready(Instant::now()).len(), MAX_IN_FLIGHT);
        assert_eq!(outbox.in_flight(), MAX_IN_FLIGHT);
        outbox.succeeded(&n, "h0", "0");
        assert_eq!(outbox.take_ready(Instant::now()).len(), 1);
    }

    #[test]
    fn thousands_of_events_waiting_for_a_retry_hold_up_no_other_notifier() {
        let a: Arc<str> = Arc::from("team-a/hook");
        let b: Arc<str> = Arc::from("team-b/hook");
        let mut outbox = Outbox::default();
        let start = Instant::now();
        for i in 0..5_000 {
            let host = format!("h{i}");
            outbox.push(
                &a,
                Pending::new(event(&host, &host), SystemTime::now(), true),
            );
        }
        // A's receiver is dead: every attempt fails, 32 at a time, until all wait for a retry.
        let error = DeliveryError::transient("connection refused");
        let mut failed = 0;
        loop {
            let ready = outbox.take_ready(start);
            if ready.is_empty() {
                break;
            }
            assert!(ready.len() <= MAX_IN_FLIGHT);
            for event in ready.iter().flat_map(|attempt| &attempt.events) {
                outbox.failed(&a, event, &error, &policy(), (start, SystemTime::now()));
                failed += 1;
            }
        }
        assert_eq!(failed, 5_000);
        assert_eq!(outbox.pending("team-a/hook"), 5_000);
        let retry = outbox.next_due().expect("a retry is due later");
        assert!(retry > start);
        // B's event goes at once, alone.
        outbox.push(
            &b,
            Pending::new(event("api", "b1"), SystemTime::now(), true),
        );
        let ready = outbox.take_ready(start);
        assert_eq!(ready.len(), 1);
        assert_eq!(
            (&*ready[0].notifier, ids(&ready)),
            ("team-b/hook", vec!["b1"])
        );
        // A's retries come when due, 32 at a time.
        let late = start + Duration::from_secs(3600);
        let retried = outbox.take_ready(late);
        assert_eq!(retried.len(), MAX_IN_FLIGHT);
        assert!(retried
            .iter()
            .all(|attempt| &*attempt.notifier == "team-a/hook"));
    }

    #[test]
    fn a_full_queue_drops_the_oldest_event_not_being_attempted() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        let start = SystemTime::now();
        let at = |i: usize| start + Duration::from_millis(i as u64);
        // Host `a`'s first two events are the oldest; its first is being attempted.
        outbox.push(&n, Pending::new(event("a", "a0"), at(0), true));
        outbox.push(&n, Pending::new(event("a", "a1"), at(1), true));
        assert_eq!(ids(&outbox.take_ready(Instant::now())), ["a0"]);
        for i in 2..MAX_PENDING {
            let host = format!("h{i}");
            outbox.push(&n, Pending::new(event(&host, &i.to_string()), at(i), true));
        }
        let push = |outbox: &mut Outbox, id: &str| {
            outbox
                .push(&n, Pending::new(event("new", id), SystemTime::now(), true))
                .map(|p| p.event.id)
        };
        assert_eq!(
            push(&mut outbox, "n1").as_deref(),
            Some("a1"),
            "not a0: in flight"
        );
        assert_eq!(push(&mut outbox, "n2").as_deref(), Some("2"));
        // Once a0 is delivered, its place is free; then the oldest of all goes again.
        outbox.succeeded(&n, "a", "a0");
        assert_eq!(push(&mut outbox, "n3"), None);
        assert_eq!(push(&mut outbox, "n4").as_deref(), Some("3"));
        assert_eq!(outbox.pending("hook"), MAX_PENDING);
    }

    #[test]
    fn a_full_queue_drops_its_oldest_waiting_event() {
        let n: Arc<str> = Arc::from("hook");
        let mut outbox = Outbox::default();
        let start = SystemTime::now();
        for i in 0..MAX_PENDING {
            let created = start + Duration::from_millis(i as u64);
            outbox.push(
                &n,
                Pending::new(
                    event(&format!("h{}", i % 100), &i.to_string()),
                    created,
                    true,
                ),
            );
        }
        let dropped = outbox.push(
            &n,
            Pending::new(event("new", "new"), SystemTime::now(), true),
        );
        assert_eq!(dropped.map(|p| p.event.id), Some("0".to_string()));
        assert_eq!(outbox.pending("hook"), MAX_PENDING);
    }
}
