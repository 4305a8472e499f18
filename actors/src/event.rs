//! The alert event of SPEC §3: what every notifier receives.

use serde::Serialize;

use crate::messages::HostStatusChanged;
use crate::model::{rfc3339, Status};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// Unique per event and stable across delivery retries (a ULID: sortable by time).
    pub id: String,
    /// `down`, `up`, `degraded`, `reminder`, ...
    pub event: &'static str,
    pub host: String,
    pub status: Status,
    pub previous: Status,
    pub at: String,
    pub since: String,
    pub reason: String,
    pub consecutive_failures: u32,
    pub latency_ms: f64,
}

impl AlertEvent {
    /// The event a status change is worth, if any: a fresh start going `up` is not news.
    pub fn from_change(change: &HostStatusChanged) -> Option<AlertEvent> {
        let event = match (change.previous, change.status) {
            _ if change.removed => "removed",
            (_, Status::Down) => "down",
            (_, Status::Degraded) => "degraded",
            (Status::Unknown, Status::Up) => return None,
            (_, Status::Up) => "up",
            (_, Status::Unknown) => return None,
        };
        Some(AlertEvent {
            id: ulid::Ulid::from_datetime(change.at).to_string(),
            event,
            host: change.host.label.to_string(),
            status: change.status,
            previous: change.previous,
            at: rfc3339(change.at),
            since: rfc3339(change.since),
            reason: change.reason.clone(),
            consecutive_failures: change.consecutive_failures,
            latency_ms: (change.latency.as_secs_f64() * 10_000.0).round() / 10.0,
        })
    }

    /// One line a person reads at a glance: `DOWN api: status 503, expected 200 (was up)`.
    pub fn to_text(&self) -> String {
        let mut line = format!(
            "{} {} {}: {}",
            self.at,
            self.event.to_ascii_uppercase(),
            self.host,
            self.reason
        );
        match self.event {
            "removed" => line.push_str(" (it was down)"),
            "down" => line.push_str(&format!(
                " (was {}; {} consecutive failures)",
                self.previous, self.consecutive_failures
            )),
            _ => line.push_str(&format!(" (was {})", self.previous)),
        }
        line
    }
}
