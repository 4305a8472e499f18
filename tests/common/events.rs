//! Alert events as the daemon's file notifier `audit` writes them (to [`ALERTS`] in the
//! sandbox), and what SPEC §3 says each one holds.

use std::time::SystemTime;

use serde_json::Value;

use super::configs::ALERTS;
use super::wait::wait_for;
use super::{Daemon, Sandbox, DEADLINE};

/// Every event the file notifier wrote to [`ALERTS`] so far (complete lines), each parsed.
#[track_caller]
pub fn events(sandbox: &Sandbox) -> Vec<Value> {
    sandbox.events(ALERTS)
}

/// Waits until the file notifier wrote at least `n` events to [`ALERTS`], and returns them all.
#[track_caller]
pub fn wait_for_events(sandbox: &Sandbox, daemon: &Daemon, n: usize) -> Vec<Value> {
    wait_for(DEADLINE, &format!("{n} events are in {ALERTS}"), || {
        let events = events(sandbox);
        (events.len() >= n).then_some(events)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\nevents: {:?}\n{daemon}", events(sandbox)))
}

/// Waits until the file notifier wrote an event `kind` for `host`, and returns it.
#[track_caller]
pub fn wait_for_event(sandbox: &Sandbox, daemon: &Daemon, kind: &str, host: &str) -> Value {
    wait_for(DEADLINE, &format!("a `{kind}` event for {host}"), || {
        events(sandbox)
            .into_iter()
            .find(|e| e["event"] == kind && e["host"] == host)
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\nevents: {:?}\n{daemon}", events(sandbox)))
}

/// The `event` field of each event: `["down", "up", ...]`.
pub fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect()
}

/// The `id` of an event.
#[track_caller]
pub fn id(event: &Value) -> &str {
    event["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in the event {event}"))
}

/// Parses an RFC 3339 timestamp of the API or an event.
#[track_caller]
pub fn timestamp(value: &Value) -> SystemTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp string: {value}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

/// Checks an alert event against SPEC §3: exactly its fields, each with its type (a ULID
/// `id`, RFC 3339 `at` and `since`, a `reason` that says something), and what it says.
#[track_caller]
pub fn assert_spec_event(event: &Value, kind: &str, host: &str, status: &str, previous: &str) {
    let fields = [
        "id",
        "event",
        "host",
        "status",
        "previous",
        "at",
        "since",
        "reason",
        "consecutive_failures",
        "latency_ms",
    ];
    let keys: Vec<&str> = event
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {event}"))
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_fields = fields.to_vec();
    sorted_fields.sort_unstable();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort_unstable();
    assert_eq!(sorted_keys, sorted_fields, "{event}");
    assert_eq!(event["event"], kind, "{event}");
    assert_eq!(event["host"], host, "{event}");
    assert_eq!(event["status"], status, "{event}");
    assert_eq!(event["previous"], previous, "{event}");
    let id = id(event);
    assert!(
        id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric()),
        "the id is not a ULID: {event}"
    );
    timestamp(&event["at"]);
    timestamp(&event["since"]);
    assert!(
        event["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{event}"
    );
    assert!(event["consecutive_failures"].is_u64(), "{event}");
    assert!(
        event["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{event}"
    );
}

/// [`assert_spec_event`] for a `down`, `up` or `degraded` event: each of these kinds is named
/// after the status it reports.
#[track_caller]
pub fn assert_event(event: &Value, kind: &str, host: &str, previous: &str) {
    assert_spec_event(event, kind, host, kind, previous);
}
