//! The live feed of status changes behind `GET /api/v1/stream` (SPEC §8): every transition
//! as the alert event's JSON, to every listener, with the last [`KEPT`] kept so a listener
//! that reconnects with `Last-Event-ID` gets what it missed.
//!
//! The AlertRouter publishes here, from its `HostStatusChanged` handler: it is where each
//! change gets the event `id` the notifiers see, so a browser, a script following the stream
//! and a webhook receiver all name one change by one id. Transitions that alert nobody (a
//! fresh start going `up`) are published too, with the same shape.
//!
//! Publishing and subscribing take one short lock, so a listener's replay and its live feed
//! neither overlap nor leave a gap. Slow listeners never hold up the router: the broadcast
//! channel drops what a listener has not read past [`KEPT`], and the route then ends that
//! listener's stream so its browser reconnects and replays from its last id.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::event::{AlertEvent, EventKind};
use crate::messages::HostStatusChanged;
use crate::model::Status;

/// How many events are kept for replay, and how far a listener may fall behind.
pub const KEPT: usize = 1000;

/// One published event: its id and its JSON, serialised once for every listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub id: Arc<str>,
    /// The host's label: a tenant's listener gets its own hosts' events only.
    pub host: Arc<str>,
    pub json: Arc<str>,
}

/// The hub: cheap to clone, shared by the AlertRouter and the API.
#[derive(Clone)]
pub struct StatusStream {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// The last [`KEPT`] events, oldest first.
    kept: VecDeque<StreamEvent>,
    sender: broadcast::Sender<StreamEvent>,
}

/// What a new listener gets: the kept events it missed, then the live feed.
pub struct Subscription {
    pub replay: Vec<StreamEvent>,
    pub live: broadcast::Receiver<StreamEvent>,
}

impl Default for StatusStream {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(KEPT);
        StatusStream {
            inner: Arc::new(Mutex::new(Inner {
                kept: VecDeque::with_capacity(KEPT),
                sender,
            })),
        }
    }
}

impl StatusStream {
    /// Publishes `event` to every listener and keeps it for replay.
    pub fn publish(&self, event: &AlertEvent) {
        let json = match serde_json::to_string(event) {
            Ok(json) => json,
            // An event is plain strings and numbers; this cannot happen, and must not panic.
            Err(e) => {
                log::error!(error = e.to_string().as_str(); "a status event could not be serialised for /api/v1/stream");
                return;
            }
        };
        let event = StreamEvent {
            id: Arc::from(event.id.as_str()),
            host: Arc::from(event.host.as_str()),
            json: Arc::from(json),
        };
        // Only pushes and pops happen under the lock: a poisoned one still holds whole events.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.kept.len() == KEPT {
            inner.kept.pop_front();
        }
        inner.kept.push_back(event.clone());
        // No listener is no error.
        let _ = inner.sender.send(event);
    }

    /// A new listener that last saw `last_id` (`Last-Event-ID`): the kept events after it,
    /// then everything published later. An id no longer kept (or from before a restart)
    /// replays the kept events newer than it by time (ids are ULIDs, ordered as their times);
    /// no id replays nothing.
    pub fn subscribe(&self, last_id: Option<&str>) -> Subscription {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let replay = match last_id {
            None => Vec::new(),
            Some(last) => match inner.kept.iter().position(|e| &*e.id == last) {
                Some(at) => inner.kept.iter().skip(at + 1).cloned().collect(),
                None => inner
                    .kept
                    .iter()
                    .filter(|e| &*e.id > last)
                    .cloned()
                    .collect(),
            },
        };
        Subscription {
            replay,
            live: inner.sender.subscribe(),
        }
    }
}

/// How a status change that is no alert ([`AlertEvent::from_change`] gives `None`) is shown
/// on the stream: the same shape, `unknown` → `up` as `up`, a host going back to `unknown` as
/// `removed` when it left the configuration and `up` otherwise (its problem, if any, ended).
pub fn silent_event(change: &HostStatusChanged) -> AlertEvent {
    let event = match change.status {
        Status::Down => EventKind::Down,
        Status::Degraded => EventKind::Degraded,
        Status::Unreachable => EventKind::Unreachable,
        Status::Up | Status::Unknown if change.removed => EventKind::Removed,
        Status::Up | Status::Unknown => EventKind::Up,
    };
    AlertEvent::of_kind(change, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> AlertEvent {
        AlertEvent {
            id: id.into(),
            event: EventKind::Down,
            host: "api".into(),
            group: None,
            status: Status::Down,
            previous: Status::Up,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:03:37.123Z".into(),
            reason: "status 503".into(),
            consecutive_failures: 3,
            latency_ms: 1.5,
            trace: None,
        }
    }

    fn ids(events: &[StreamEvent]) -> Vec<&str> {
        events.iter().map(|e| &*e.id).collect()
    }

    #[test]
    fn a_reconnecting_listener_gets_what_came_after_its_last_id() {
        let stream = StatusStream::default();
        for id in ["01A", "01B", "01C"] {
            stream.publish(&event(id));
        }
        assert_eq!(ids(&stream.subscribe(Some("01A")).replay), ["01B", "01C"]);
        assert_eq!(
            ids(&stream.subscribe(Some("01C")).replay),
            Vec::<&str>::new()
        );
        assert!(stream.subscribe(None).replay.is_empty());
        // Not kept (older than the ring, or from before a restart): newer by time.
        assert_eq!(ids(&stream.subscribe(Some("01AZ")).replay), ["01B", "01C"]);
    }

    #[test]
    fn live_events_follow_the_replay_without_gap_or_repeat() {
        let stream = StatusStream::default();
        stream.publish(&event("01A"));
        let mut listener = stream.subscribe(Some("00"));
        stream.publish(&event("01B"));
        assert_eq!(ids(&listener.replay), ["01A"]);
        let live = listener.live.try_recv().expect("the next event");
        assert_eq!(&*live.id, "01B");
        assert!(live.json.contains(r#""host":"api""#), "{}", live.json);
        assert!(listener.live.try_recv().is_err());
    }

    #[test]
    fn only_the_last_thousand_are_kept() {
        let stream = StatusStream::default();
        for i in 0..KEPT + 5 {
            stream.publish(&event(&format!("{i:05}")));
        }
        let all = stream.subscribe(Some("")).replay;
        assert_eq!(all.len(), KEPT);
        assert_eq!(&*all[0].id, "00005");
    }
}
