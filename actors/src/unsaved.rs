//! What the state store does not have yet of the AlertRouter's state: events to keep, events to
//! forget, and what each notifier was told about each host.
//!
//! Every change the router makes is marked here first and written in the next batch; a key
//! leaves only when a batch holding its latest version was saved. A write that fails (a full
//! disk, a locked file) therefore stays marked and goes out again with the next batch, instead
//! of being lost until a restart finds a stale record: the day-one bug where an `up` told during
//! a disk-full spell was never saved, and after a restart the next real `down` was suppressed
//! as "already known". After the store's file had to be recreated, everything is marked.
//!
//! Batches take turns between tenants ([`Unsaved::fair_batch`]): a tenant with thousands of
//! events to store (5 000 hosts going down at once) has them written in its own batches, and
//! another tenant's event, which waits to be stored before its first attempt, goes in the next
//! batch instead of behind all of them.
//!
//! Pure bookkeeping: the router builds the batches from its memory and sends them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A notifier and a host: whose track.
pub type TrackKey = (Arc<str>, String);

/// A notifier and an event id: which stored delivery.
pub type DeliveryKey = (Arc<str>, String);

/// Keys whose stored copy is behind memory, each with the version of its latest change.
#[derive(Debug, Default)]
pub struct Unsaved {
    tracks: BTreeMap<TrackKey, u64>,
    deliveries: BTreeMap<DeliveryKey, u64>,
    forgotten: BTreeMap<DeliveryKey, u64>,
    /// Bumped on every change, so a batch knows whether it holds a key's latest version.
    version: u64,
    /// Batches that failed since everything was last saved: a recovery is said once.
    failed_batches: u64,
    /// Whether the last batch failed.
    last_failed: bool,
    /// The share ([`share_of`]) the last fair batch was for: the next one is another's.
    last_share: Option<String>,
}

/// Whose turn a key's write is part of: its notifier's tenant (a tenant's notifiers are named
/// `<tenant>/<name>`, and only they hear of its hosts), or `""` for the platform's own.
pub fn share_of(notifier: &str) -> &str {
    notifier.split_once('/').map_or("", |(tenant, _)| tenant)
}

/// The keys one batch writes, with the versions it holds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    pub tracks: Vec<(TrackKey, u64)>,
    pub deliveries: Vec<(DeliveryKey, u64)>,
    pub forgotten: Vec<(DeliveryKey, u64)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty() && self.deliveries.is_empty() && self.forgotten.is_empty()
    }
}

/// What a saved batch means for the store's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Saved,
    /// Saved, and everything that failed before is saved now: say so once.
    Recovered {
        failed_batches: u64,
    },
    Failed,
}

impl Unsaved {
    fn next(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// What a notifier was told about a host changed.
    pub fn track(&mut self, key: TrackKey) {
        let version = self.next();
        self.tracks.insert(key, version);
    }

    /// An event was queued: it must be stored before its first attempt.
    pub fn delivery(&mut self, key: DeliveryKey) {
        let version = self.next();
        self.deliveries.insert(key, version);
    }

    /// An event is done with (delivered, given up, dropped): it must leave the store, and is
    /// never written to it again.
    pub fn forget(&mut self, key: DeliveryKey) {
        self.deliveries.remove(&key);
        let version = self.next();
        self.forgotten.insert(key, version);
    }

    /// The store lost its file: every track and every queued event must be written again.
    pub fn everything(
        &mut self,
        tracks: impl IntoIterator<Item = TrackKey>,
        deliveries: impl IntoIterator<Item = DeliveryKey>,
    ) {
        for key in tracks {
            self.track(key);
        }
        for key in deliveries {
            self.delivery(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty() && self.deliveries.is_empty() && self.forgotten.is_empty()
    }

    /// The last batch failed: the store is not taking writes now.
    pub fn failing(&self) -> bool {
        self.last_failed
    }

    /// How much is waiting: (tracks, events to store, events to forget).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.tracks.len(),
            self.deliveries.len(),
            self.forgotten.len(),
        )
    }

    /// Everything marked now, as one batch. The keys stay marked until [`Unsaved::written`].
    pub fn batch(&self) -> Batch {
        fn listed(map: &BTreeMap<(Arc<str>, String), u64>) -> Vec<((Arc<str>, String), u64)> {
            map.iter()
                .map(|(key, version)| (key.clone(), *version))
                .collect()
        }
        Batch {
            tracks: listed(&self.tracks),
            deliveries: listed(&self.deliveries),
            forgotten: listed(&self.forgotten),
        }
    }

    /// Everything marked now of one share ([`share_of`]): the next one after the share of
    /// the last such batch, in name order, so each share with something to write takes its
    /// turn. Within a share everything goes together, so an event and what its notifier was
    /// told are still on disk at once. The keys stay marked until [`Unsaved::written`].
    pub fn fair_batch(&mut self) -> Batch {
        let shares: BTreeSet<&str> = self
            .tracks
            .keys()
            .chain(self.deliveries.keys())
            .chain(self.forgotten.keys())
            .map(|(notifier, _)| share_of(notifier))
            .collect();
        let next = match &self.last_share {
            Some(last) => shares
                .range::<str, _>((
                    std::ops::Bound::Excluded(last.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .or_else(|| shares.first()),
            None => shares.first(),
        };
        let Some(share) = next.map(|s| s.to_string()) else {
            return Batch::default();
        };
        let of_share = |map: &BTreeMap<(Arc<str>, String), u64>| -> Vec<((Arc<str>, String), u64)> {
            map.iter()
                .filter(|((notifier, _), _)| share_of(notifier) == share)
                .map(|(key, version)| (key.clone(), *version))
                .collect()
        };
        let batch = Batch {
            tracks: of_share(&self.tracks),
            deliveries: of_share(&self.deliveries),
            forgotten: of_share(&self.forgotten),
        };
        self.last_share = Some(share);
        batch
    }

    /// The store answered `batch`. Saved: its keys leave, unless changed again since it was
    /// made (then the newer version waits for the next batch). Failed: everything stays.
    pub fn written(&mut self, batch: &Batch, saved: bool) -> Outcome {
        self.last_failed = !saved;
        if !saved {
            self.failed_batches += 1;
            return Outcome::Failed;
        }
        fn settle(map: &mut BTreeMap<(Arc<str>, String), u64>, done: &[((Arc<str>, String), u64)]) {
            for (key, version) in done {
                if map.get(key) == Some(version) {
                    map.remove(key);
                }
            }
        }
        settle(&mut self.tracks, &batch.tracks);
        settle(&mut self.deliveries, &batch.deliveries);
        settle(&mut self.forgotten, &batch.forgotten);
        match self.failed_batches {
            0 => Outcome::Saved,
            _ if !self.is_empty() => Outcome::Saved,
            failed_batches => {
                self.failed_batches = 0;
                Outcome::Recovered { failed_batches }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifiers(keys: &[((Arc<str>, String), u64)]) -> Vec<&str> {
        keys.iter().map(|((n, _), _)| &**n).collect()
    }

    #[test]
    fn fair_batches_take_turns_between_tenants_whatever_each_has_waiting() {
        let mut unsaved = Unsaved::default();
        for i in 0..5_000 {
            unsaved.delivery(key("team-a/hook", &format!("a{i}")));
            unsaved.track(key("team-a/hook", &format!("host{i}")));
        }
        let a = unsaved.fair_batch();
        assert_eq!(a.deliveries.len(), 5_000, "a share goes whole");
        assert_eq!(a.tracks.len(), 5_000);
        // While A's batch is out, B and the platform's own notifier queue an event each, and
        // A more of its own.
        unsaved.delivery(key("team-b/hook", "b1"));
        unsaved.track(key("team-b/hook", "api"));
        unsaved.delivery(key("ops", "p1"));
        unsaved.delivery(key("team-a/hook", "a-late"));
        assert_eq!(unsaved.written(&a, true), Outcome::Saved);
        let b = unsaved.fair_batch();
        assert_eq!(notifiers(&b.deliveries), ["team-b/hook"]);
        assert_eq!(
            notifiers(&b.tracks),
            ["team-b/hook"],
            "with what it was told"
        );
        unsaved.written(&b, true);
        let platform = unsaved.fair_batch();
        assert_eq!(
            notifiers(&platform.deliveries),
            ["ops"],
            "the platform's turn, wrapping"
        );
        unsaved.written(&platform, true);
        let a_again = unsaved.fair_batch();
        assert_eq!(notifiers(&a_again.deliveries), ["team-a/hook"]);
        unsaved.written(&a_again, true);
        assert!(unsaved.is_empty());
        assert!(unsaved.fair_batch().is_empty());
    }

    #[test]
    fn a_share_is_the_tenant_before_the_slash() {
        assert_eq!(share_of("team-a/hook"), "team-a");
        assert_eq!(share_of("ops"), "");
    }

    fn key(notifier: &str, other: &str) -> (Arc<str>, String) {
        (Arc::from(notifier), other.to_string())
    }

    #[test]
    fn a_failed_write_stays_marked_and_goes_out_with_the_next_batch() {
        let mut unsaved = Unsaved::default();
        unsaved.track(key("audit", "api"));
        let first = unsaved.batch();
        assert_eq!(unsaved.written(&first, false), Outcome::Failed);
        assert!(!unsaved.is_empty(), "a failed write is not forgotten");
        assert!(unsaved.failing());
        let again = unsaved.batch();
        assert_eq!(
            again.tracks, first.tracks,
            "the same key, to be written again"
        );
        assert_eq!(
            unsaved.written(&again, true),
            Outcome::Recovered { failed_batches: 1 }
        );
        assert!(unsaved.is_empty());
        assert!(!unsaved.failing());
        // Said once: the next saved batch is an ordinary one.
        unsaved.track(key("audit", "api"));
        let next = unsaved.batch();
        assert_eq!(unsaved.written(&next, true), Outcome::Saved);
    }

    #[test]
    fn a_change_made_while_a_batch_is_out_waits_for_the_next_one() {
        let mut unsaved = Unsaved::default();
        unsaved.track(key("audit", "api"));
        let batch = unsaved.batch();
        // Told `up` after the batch with `down` was made.
        unsaved.track(key("audit", "api"));
        assert_eq!(unsaved.written(&batch, true), Outcome::Saved);
        assert_eq!(
            unsaved.counts(),
            (1, 0, 0),
            "the newer version is still unsaved"
        );
    }

    #[test]
    fn an_event_done_with_is_never_stored_again() {
        let mut unsaved = Unsaved::default();
        let event = key("hook", "01JD");
        unsaved.delivery(event.clone());
        let failed = unsaved.batch();
        assert_eq!(unsaved.written(&failed, false), Outcome::Failed);
        // Delivered meanwhile: only its deletion is left to write.
        unsaved.forget(event.clone());
        let batch = unsaved.batch();
        assert!(batch.deliveries.is_empty(), "{batch:?}");
        assert_eq!(batch.forgotten.len(), 1);
        assert_eq!(
            unsaved.written(&batch, true),
            Outcome::Recovered { failed_batches: 1 }
        );
        // The failed batch answered late changes nothing.
        unsaved.written(&failed, true);
        assert!(unsaved.is_empty());
    }

    #[test]
    fn a_recreated_store_gets_everything_again() {
        let mut unsaved = Unsaved::default();
        unsaved.everything(
            [key("audit", "api"), key("audit", "web")],
            [key("hook", "01JD")],
        );
        assert_eq!(unsaved.counts(), (2, 1, 0));
        let batch = unsaved.batch();
        assert_eq!(unsaved.written(&batch, true), Outcome::Saved);
        assert!(unsaved.is_empty());
    }
}
