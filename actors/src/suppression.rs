//! Holds: why an alert about a host is not sent now (SPEC §9), and which events each holds.
//!
//! - A parent is down: the host's `unreachable` is never news; its parent's outage is.
//! - A maintenance window or a silence covers the host: problems are not sent, recoveries
//!   are (a receiver told `down` is always told `up`).
//! - The host is flapping: neither `down` nor `up` goes out until it settles.
//!
//! When a hold ends, the router tells each receiver the host's status if it differs from what
//! the receiver last heard, so a host still down after its maintenance is alerted once.
//! Pure: the router finds the holds and carries out what this decides.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::event::{AlertEvent, EventKind};
use crate::model::{rfc3339, Status};

/// One reason a host's alerts are held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// A parent the host `depends_on` (or every member of a redundancy group) is down.
    Parent { parent: String },
    /// A configured maintenance window is open until `until`.
    Maintenance { name: String, until: String },
    /// A silence made at run time lasts until `until`.
    Silence { id: String, until: String },
    /// The host's results keep changing.
    Flapping,
}

impl Hold {
    pub fn maintenance(name: &str, until: SystemTime) -> Hold {
        Hold::Maintenance {
            name: name.to_string(),
            until: rfc3339(until),
        }
    }

    pub fn silence(id: &str, until: SystemTime) -> Hold {
        Hold::Silence {
            id: id.to_string(),
            until: rfc3339(until),
        }
    }

    /// Whether this hold keeps events of `kind` from receivers.
    pub fn holds(&self, kind: EventKind) -> bool {
        match self {
            Hold::Parent { .. } => kind == EventKind::Unreachable,
            // Problems wait; a recovery or a removal closes an incident and always goes.
            Hold::Maintenance { .. } | Hold::Silence { .. } => kind.is_problem(),
            Hold::Flapping => matches!(
                kind,
                EventKind::Down | EventKind::Up | EventKind::Degraded | EventKind::Reminder
            ),
        }
    }

    /// Whether the router must settle the host with its receivers when this hold ends: one
    /// that held problems back. A parent's does not: the child is judged on its own then,
    /// which is a transition of its own.
    pub fn settles_when_over(&self) -> bool {
        !matches!(self, Hold::Parent { .. })
    }

    /// In words, for logs and the alert log: `maintenance weekly-db until ...`.
    pub fn describe(&self) -> String {
        match self {
            Hold::Parent { parent } => format!("parent {parent} is down"),
            Hold::Maintenance { name, until } => format!("maintenance {name} until {until}"),
            Hold::Silence { id, until } => format!("silence {id} until {until}"),
            Hold::Flapping => "the host is flapping".to_string(),
        }
    }
}

/// The first of `holds` that keeps an event of `kind` back, if any.
pub fn screen(kind: EventKind, holds: &[Hold]) -> Option<&Hold> {
    holds.iter().find(|hold| hold.holds(kind))
}

/// What a receiver believes of a host once `event` is held from it, when that must be written
/// down: `told` is what its record says it was last told. A receiver told nothing since the
/// host was seen `up` takes it for up (a host's first `up` is never sent), so the `up` that
/// ends a problem held from it is no news to it. `None`: the record stands as it is; so does
/// an empty one when the host was not seen up first (a restart without a state store), where
/// the receiver may have heard of the problem before, and is told when it ends.
pub fn believed_when_held(told: Option<Status>, event: &AlertEvent) -> Option<Status> {
    let problem = matches!(event.event, EventKind::Down | EventKind::Degraded);
    (told.is_none() && problem && event.previous == Status::Up).then_some(Status::Up)
}

/// What a host's last event that was not sent, and why: `GET /api/v1/hosts/{label}` shows
/// it so that every silence of the router is explainable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    pub event: EventKind,
    pub id: String,
    pub at: String,
    /// The notifier it was not sent to; `None` when no receiver got it (a hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifier: Option<String>,
    /// In words: `parent router is down`, `held by the cooldown`, ...
    pub reason: String,
    /// The hold, when one kept it back (not the notifier's own policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(hold: &Hold) -> Vec<EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(|k| hold.holds(*k))
            .collect()
    }

    #[test]
    fn a_parent_holds_only_the_unreachable_event() {
        let hold = Hold::Parent {
            parent: "router".into(),
        };
        assert_eq!(held(&hold), [EventKind::Unreachable]);
        assert_eq!(hold.describe(), "parent router is down");
    }

    #[test]
    fn maintenance_and_silences_hold_problems_but_never_a_recovery() {
        for hold in [
            Hold::maintenance("weekly-db", SystemTime::UNIX_EPOCH),
            Hold::silence("01J", SystemTime::UNIX_EPOCH),
        ] {
            let held = held(&hold);
            assert!(!held.contains(&EventKind::Up), "{hold:?}");
            assert!(!held.contains(&EventKind::Removed), "{hold:?}");
            for problem in [
                EventKind::Down,
                EventKind::Degraded,
                EventKind::Reminder,
                EventKind::Flapping,
            ] {
                assert!(held.contains(&problem), "{hold:?} {problem:?}");
            }
            assert!(hold.settles_when_over());
        }
    }

    #[test]
    fn flapping_holds_down_and_up_but_not_its_own_event() {
        let held = held(&Hold::Flapping);
        assert!(held.contains(&EventKind::Down) && held.contains(&EventKind::Up));
        assert!(!held.contains(&EventKind::Flapping));
        assert!(!held.contains(&EventKind::Removed));
    }

    fn event(kind: EventKind, previous: Status) -> AlertEvent {
        AlertEvent {
            id: "01J".into(),
            event: kind,
            host: "api".into(),
            group: None,
            status: Status::Down,
            previous,
            at: rfc3339(SystemTime::UNIX_EPOCH),
            since: rfc3339(SystemTime::UNIX_EPOCH),
            reason: "status 503".into(),
            consecutive_failures: 2,
            latency_ms: 1.0,
            trace: None,
        }
    }

    #[test]
    fn a_receiver_told_nothing_of_a_host_seen_up_believes_it_up_through_a_held_problem() {
        let down = event(EventKind::Down, Status::Up);
        assert_eq!(believed_when_held(None, &down), Some(Status::Up));
        let degraded = event(EventKind::Degraded, Status::Up);
        assert_eq!(believed_when_held(None, &degraded), Some(Status::Up));
        // A record that says something stands.
        for told in [Status::Up, Status::Down, Status::Degraded] {
            assert_eq!(believed_when_held(Some(told), &down), None);
        }
        // Not seen up in this run: it may have heard of the problem before a restart.
        assert_eq!(
            believed_when_held(None, &event(EventKind::Down, Status::Unknown)),
            None
        );
        // Only a problem held changes what it believes.
        assert_eq!(
            believed_when_held(None, &event(EventKind::Reminder, Status::Up)),
            None
        );
    }

    #[test]
    fn screen_names_the_first_hold_that_applies() {
        let holds = [
            Hold::Flapping,
            Hold::maintenance("weekly-db", SystemTime::UNIX_EPOCH),
        ];
        assert_eq!(screen(EventKind::Flapping, &holds), Some(&holds[1]));
        assert_eq!(screen(EventKind::Down, &holds), Some(&holds[0]));
        assert_eq!(screen(EventKind::Removed, &holds), None);
    }
}
