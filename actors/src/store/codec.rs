//! How values are written into database columns and read back, the same for every backend:
//! times as Unix milliseconds, statuses and event kinds as their names, counters as JSON,
//! latency sketches as bytes, a check's trace as hex. Reading never fails on a value edited by hand: it falls back
//! and says so in the log, so one odd row never stops a start.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::event::{AlertEvent, EventKind};
use crate::history::LatencySketch;
use crate::model::{CheckResult, HostCounters, Status};
use crate::probe::context::{from_hex, TraceParent};

use super::AlertOutcome;

pub fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A count for a signed column.
pub fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A count read from a signed column.
pub fn unsigned(value: i64) -> u64 {
    value.max(0) as u64
}

/// 0 failed, 1 passed, 2 passed but degraded.
pub fn ok_code(result: &CheckResult) -> i64 {
    i64::from(result.ok) + i64::from(result.ok && result.degraded)
}

/// A result's trace as its `trace_id` column holds it: the check span's identity as 48
/// lowercase hex digits, the 32 of the trace id then the 16 of the span id. Hex rather than
/// 24 bytes so the column reads (and is searched with `LIKE '<trace id>%'`) as collectors,
/// logs and alerts spell the trace id; `NULL` for an untraced result, which costs nothing.
pub fn trace_text(trace: Option<&TraceParent>) -> Option<String> {
    trace.map(|trace| {
        let mut text = trace.trace_id_hex();
        text.push_str(&trace.span_id_hex());
        text
    })
}

/// A stored trace back. Only exported traces are stored (see `CheckResult::trace`), so it
/// reads back as kept (`sampled`). A value that cannot be read (edited by hand) reads as no
/// trace: the result itself is still good.
pub fn trace(text: Option<&str>) -> Option<TraceParent> {
    let text = text?;
    let parsed = text.split_at_checked(32).and_then(|(trace_id, span_id)| {
        Some(TraceParent {
            trace_id: from_hex::<16>(trace_id)?,
            span_id: from_hex::<8>(span_id)?,
            sampled: true,
        })
    });
    if parsed.is_none() {
        log::warn!(trace_id = text; "a stored result's trace id cannot be read; leaving it out");
    }
    parsed
}

pub fn parse_status(text: &str) -> Status {
    Status::ALL
        .into_iter()
        .find(|status| status.as_str() == text)
        .unwrap_or(Status::Unknown)
}

pub fn event_kind(text: &str) -> EventKind {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .unwrap_or(EventKind::Reminder)
}

pub fn outcome(text: &str) -> AlertOutcome {
    match text {
        "sent" => AlertOutcome::Sent,
        "failed" => AlertOutcome::Failed,
        "given_up" => AlertOutcome::GivenUp,
        _ => AlertOutcome::Suppressed,
    }
}

/// A host's stored counters; a row that cannot be read (edited by hand) starts from zero
/// rather than losing the host's status.
pub fn counters(label: &str, json: &str) -> HostCounters {
    serde_json::from_str(json).unwrap_or_else(|e| {
        log::warn!(host = label, error = e.to_string().as_str(); "the stored counters of a host cannot be read; counting from zero");
        HostCounters::default()
    })
}

pub fn counters_json(counters: &HostCounters) -> String {
    // Plain integers: serializing cannot fail.
    serde_json::to_string(counters).unwrap_or_default()
}

/// A stored latency sketch; one that cannot be read counts as empty (its checks and
/// failures are still counted).
pub fn sketch(label: &str, bytes: &[u8]) -> LatencySketch {
    LatencySketch::from_bytes(bytes).unwrap_or_else(|e| {
        log::warn!(host = label, error = e.to_string().as_str(); "a stored latency rollup cannot be read; leaving its latencies out");
        LatencySketch::default()
    })
}

/// An event of the outbox; one that cannot be read is logged and skipped.
pub fn event(notifier: &str, id: &str, json: &str) -> Option<AlertEvent> {
    serde_json::from_str(json)
        .map_err(|e| {
            log::error!(notifier, id, error = e.to_string().as_str(); "an event in the outbox cannot be read; skipping it");
        })
        .ok()
}

/// A stored announcement; one that cannot be read is logged and skipped.
pub fn announcement(id: &str, json: &str) -> Option<crate::announcements::Announcement> {
    serde_json::from_str(json)
        .map_err(|e| {
            log::error!(id, error = e.to_string().as_str(); "a stored announcement cannot be read; skipping it");
        })
        .ok()
}

pub fn announcement_json(announcement: &crate::announcements::Announcement) -> String {
    // Strings and times only: serializing cannot fail.
    serde_json::to_string(announcement).unwrap_or_default()
}

/// A silence's hosts as stored: a JSON array of labels and globs.
pub fn silence_hosts_json(hosts: &[String]) -> String {
    // Strings only: serializing cannot fail.
    serde_json::to_string(hosts).unwrap_or_default()
}

/// A stored silence from its columns; one whose hosts cannot be read is logged and skipped
/// (muting no host is safer than guessing which).
pub fn silence(
    id: String,
    hosts: &str,
    until_ms: i64,
    comment: String,
    created_ms: i64,
) -> Option<crate::silences::Silence> {
    let hosts: Vec<String> = serde_json::from_str(hosts)
        .map_err(|e| {
            log::error!(id = id.as_str(), error = e.to_string().as_str(); "the hosts of a stored silence cannot be read; skipping it");
        })
        .ok()?;
    Some(crate::silences::Silence {
        id,
        hosts,
        until: from_millis(until_ms),
        comment,
        created_at: from_millis(created_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_event_kind_reads_back_as_written() {
        for status in Status::ALL {
            assert_eq!(parse_status(status.as_str()), status);
        }
        assert_eq!(parse_status("edited by hand"), Status::Unknown);
        for kind in [EventKind::Unreachable, EventKind::Flapping, EventKind::Down] {
            assert_eq!(event_kind(kind.as_str()), kind);
        }
    }

    #[test]
    fn a_trace_reads_back_as_written_and_a_damaged_one_as_none() {
        let written = TraceParent {
            trace_id: [0xab; 16],
            span_id: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            sampled: false,
        };
        let text = trace_text(Some(&written)).expect("traced");
        assert_eq!(text, format!("{}0123456789abcdef", "ab".repeat(16)));
        assert_eq!(
            trace(Some(&text)),
            Some(TraceParent {
                sampled: true,
                ..written
            })
        );
        assert_eq!(trace_text(None), None);
        assert_eq!(trace(None), None);
        for damaged in [
            "",
            "abc",
            &text[..47],
            &format!("{}zz", &text[..46]),
            "é".repeat(24).as_str(),
        ] {
            assert_eq!(trace(Some(damaged)), None, "{damaged:?}");
        }
    }
}
