//! Which hosts of one notifier's queue may have their head attempted, and in what order,
//! found without looking at every host.
//!
//! The router asks the outbox for what may start after every event queued and every attempt
//! ended. Scanning every host's head for that made each question cost as much as the longest
//! queue: a tenant whose dead webhook kept 5 000 events made the router spend its time on
//! that tenant's queue, and every other tenant's alert waited in its mailbox behind the scans.
//! This index keeps the idle, stored heads sorted instead, so each question costs what it
//! finds (a logarithm per head), whatever else waits.

use std::collections::{BTreeSet, HashMap};
use std::time::{Instant, SystemTime};

use super::Pending;

/// Where one host's head is kept in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    created: SystemTime,
    /// When it may go, while that is still ahead (in `waiting`); `None` once it is due.
    waits_until: Option<Instant>,
    group: Option<String>,
}

/// The heads of one notifier's queue that are stored and not being attempted.
#[derive(Debug, Default)]
pub(super) struct ReadyIndex {
    /// Heads that may go now, oldest first: attempts start from the front.
    due: BTreeSet<(SystemTime, String)>,
    /// Heads waiting for a retry's backoff or a group's gathering, soonest first.
    waiting: BTreeSet<(Instant, SystemTime, String)>,
    slots: HashMap<String, Slot>,
    /// For a grouped notifier: every indexed host by group, due or waiting (a group's attempt
    /// takes them all along).
    groups: HashMap<String, BTreeSet<String>>,
}

impl ReadyIndex {
    /// `head` is `host`'s head, stored and not being attempted: it goes once its backoff and
    /// gathering are over. Replaces what was indexed for `host`.
    pub fn insert(&mut self, host: &str, head: &Pending) {
        self.remove(host);
        let waits_until = [head.not_before, head.gather_until]
            .into_iter()
            .flatten()
            .max();
        match waits_until {
            Some(at) => self.waiting.insert((at, head.created, host.to_string())),
            None => self.due.insert((head.created, host.to_string())),
        };
        if let Some(group) = &head.group {
            self.groups
                .entry(group.clone())
                .or_default()
                .insert(host.to_string());
        }
        self.slots.insert(
            host.to_string(),
            Slot {
                created: head.created,
                waits_until,
                group: head.group.clone(),
            },
        );
    }

    /// `host` is no longer a candidate (being attempted, gone, or not stored).
    pub fn remove(&mut self, host: &str) {
        let Some(slot) = self.slots.remove(host) else {
            return;
        };
        let key = host.to_string();
        match slot.waits_until {
            Some(at) => self.waiting.remove(&(at, slot.created, key)),
            None => self.due.remove(&(slot.created, key)),
        };
        if let Some(group) = slot.group {
            if let Some(members) = self.groups.get_mut(&group) {
                members.remove(host);
                if members.is_empty() {
                    self.groups.remove(&group);
                }
            }
        }
    }

    /// Heads whose wait is over by `now` become due.
    pub fn promote(&mut self, now: Instant) {
        while let Some(first) = self.waiting.first() {
            if first.0 > now {
                break;
            }
            let Some((_, created, host)) = self.waiting.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.get_mut(&host) {
                slot.waits_until = None;
            }
            self.due.insert((created, host));
        }
    }

    /// The host whose due head is the oldest.
    pub fn oldest_due(&self) -> Option<&str> {
        self.due.first().map(|(_, host)| host.as_str())
    }

    /// Every indexed host of `group`, due or waiting.
    pub fn group(&self, group: &str) -> Vec<String> {
        self.groups
            .get(group)
            .map(|members| members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The earliest instant a waiting head becomes due.
    pub fn next_wake(&self) -> Option<Instant> {
        self.waiting.first().map(|(at, _, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn head(host: &str, created: SystemTime) -> Pending {
        Pending::new(
            crate::outbox::tests::event(host, &format!("{host}-1")),
            created,
            true,
        )
    }

    #[test]
    fn due_heads_come_oldest_first_and_waiting_ones_once_their_time_came() {
        let epoch = SystemTime::UNIX_EPOCH;
        let now = Instant::now();
        let mut index = ReadyIndex::default();
        index.insert("b", &head("b", epoch + Duration::from_secs(2)));
        index.insert("a", &head("a", epoch + Duration::from_secs(3)));
        let mut retrying = head("c", epoch + Duration::from_secs(1));
        retrying.not_before = Some(now + Duration::from_secs(5));
        index.insert("c", &retrying);

        assert_eq!(index.oldest_due(), Some("b"));
        assert_eq!(index.next_wake(), Some(now + Duration::from_secs(5)));
        index.promote(now + Duration::from_secs(4));
        assert_eq!(index.oldest_due(), Some("b"), "c still waits");
        index.promote(now + Duration::from_secs(5));
        assert_eq!(index.oldest_due(), Some("c"), "the oldest once due");
        assert_eq!(index.next_wake(), None);
        index.remove("c");
        index.remove("b");
        assert_eq!(index.oldest_due(), Some("a"));
    }

    #[test]
    fn inserting_a_host_again_replaces_its_place() {
        let epoch = SystemTime::UNIX_EPOCH;
        let now = Instant::now();
        let mut index = ReadyIndex::default();
        index.insert("a", &head("a", epoch));
        let mut failed = head("a", epoch);
        failed.not_before = Some(now + Duration::from_secs(1));
        index.insert("a", &failed);
        assert_eq!(index.oldest_due(), None);
        assert_eq!(index.next_wake(), Some(now + Duration::from_secs(1)));
        index.remove("a");
        assert_eq!(index.next_wake(), None);
        assert!(index.slots.is_empty() && index.groups.is_empty());
    }

    #[test]
    fn a_group_lists_its_members_due_or_waiting() {
        let epoch = SystemTime::UNIX_EPOCH;
        let now = Instant::now();
        let mut index = ReadyIndex::default();
        index.insert("a", &head("a", epoch).grouped("payments".into(), None));
        index.insert(
            "b",
            &head("b", epoch).grouped("payments".into(), Some(now + Duration::from_secs(9))),
        );
        index.insert("c", &head("c", epoch).grouped("search".into(), None));
        assert_eq!(index.group("payments"), ["a", "b"]);
        index.remove("a");
        index.remove("b");
        assert!(index.group("payments").is_empty());
        assert_eq!(index.group("search"), ["c"]);
    }
}
