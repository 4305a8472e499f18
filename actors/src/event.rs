//! The alert event of SPEC §3: what every notifier receives.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::messages::HostStatusChanged;
use crate::model::{rfc3339, Status};

/// What happened, as the event's `event` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Down,
    /// Recovered.
    Up,
    Degraded,
    /// Still down: repeated every `remind_every`.
    Reminder,
    /// Removed from the configuration while down: the incident can be closed.
    Removed,
    /// Failing while a parent is down. Never delivered: the router counts it as suppressed
    /// with the parent named, and the stream shows it.
    Unreachable,
    /// Its results keep changing: one event when it starts; down/up alerts are held until it
    /// stops.
    Flapping,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 7] = [
        EventKind::Down,
        EventKind::Up,
        EventKind::Degraded,
        EventKind::Reminder,
        EventKind::Removed,
        EventKind::Unreachable,
        EventKind::Flapping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Down => "down",
            EventKind::Up => "up",
            EventKind::Degraded => "degraded",
            EventKind::Reminder => "reminder",
            EventKind::Removed => "removed",
            EventKind::Unreachable => "unreachable",
            EventKind::Flapping => "flapping",
        }
    }

    /// `down`, `degraded`, `reminder`, `unreachable` and `flapping` report a problem; `up`
    /// and `removed` close one.
    pub fn is_problem(self) -> bool {
        !matches!(self, EventKind::Up | EventKind::Removed)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert event; stored as JSON in the outbox and read back after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Unique per event and stable across delivery retries (a ULID: sortable by time).
    pub id: String,
    pub event: EventKind,
    pub host: String,
    /// The host's `group`, when it has one: what a notifier's `group_by` gathers by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub status: Status,
    pub previous: Status,
    pub at: String,
    pub since: String,
    pub reason: String,
    pub consecutive_failures: u32,
    pub latency_ms: f64,
    /// The span of the check that decided this event, when tracing kept its trace: an
    /// alert links to it, and the delivery's span joins it.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<EventTrace>,
}

/// A check span's identity as events carry it: lowercase hex, as collectors show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTrace {
    pub trace_id: String,
    pub span_id: String,
}

impl EventTrace {
    pub fn of(trace: &crate::probe::TraceParent) -> Self {
        EventTrace {
            trace_id: trace.trace_id_hex(),
            span_id: trace.span_id_hex(),
        }
    }
}

impl AlertEvent {
    /// The event a status change is worth, if any: a fresh start going `up` is not news.
    pub fn from_change(change: &HostStatusChanged) -> Option<AlertEvent> {
        let event = match (change.previous, change.status) {
            _ if change.removed => EventKind::Removed,
            (_, Status::Down) => EventKind::Down,
            (_, Status::Degraded) => EventKind::Degraded,
            (_, Status::Unreachable) => EventKind::Unreachable,
            (Status::Unknown, Status::Up) => return None,
            (_, Status::Up) => EventKind::Up,
            (_, Status::Unknown) => return None,
        };
        Some(AlertEvent::of_kind(change, event))
    }

    /// `change` as an event of kind `event`, whether or not it is worth an alert: the one
    /// place a change's fields become an event's (the status stream shows silent changes in
    /// the same shape).
    pub fn of_kind(change: &HostStatusChanged, event: EventKind) -> AlertEvent {
        AlertEvent {
            id: ulid::Ulid::from_datetime(change.at).to_string(),
            event,
            host: change.host.label.to_string(),
            group: change.host.group.as_deref().map(str::to_string),
            status: change.status,
            previous: change.previous,
            at: rfc3339(change.at),
            since: rfc3339(change.since),
            reason: change.reason.clone(),
            consecutive_failures: change.consecutive_failures,
            latency_ms: (change.latency.as_secs_f64() * 10_000.0).round() / 10.0,
            trace: change.trace.as_ref().map(EventTrace::of),
        }
    }

    /// The trace and span ids of the check behind this event, as bytes, when it has them.
    pub fn trace_parent(&self) -> Option<([u8; 16], [u8; 8])> {
        let trace = self.trace.as_ref()?;
        Some((
            crate::probe::context::from_hex(&trace.trace_id)?,
            crate::probe::context::from_hex(&trace.span_id)?,
        ))
    }

    /// One line a person reads at a glance: `DOWN api: status 503, expected 200 (was up)`.
    pub fn to_text(&self) -> String {
        let mut line = format!(
            "{} {} {}: {}",
            self.at,
            self.event.as_str().to_ascii_uppercase(),
            self.host,
            self.reason
        );
        match self.event {
            EventKind::Removed => line.push_str(&format!(" (it was {})", self.previous)),
            EventKind::Flapping => line.push_str(&format!(" (now {})", self.status)),
            EventKind::Reminder => line.push_str(&format!(" (down since {})", self.since)),
            EventKind::Down => line.push_str(&format!(
                " (was {}; {} consecutive failures)",
                self.previous, self.consecutive_failures
            )),
            _ => line.push_str(&format!(" (was {})", self.previous)),
        }
        line
    }
}
