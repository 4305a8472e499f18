//! Runtime state: what happened to a host, as opposed to what the user configured.
//!
//! - [`host`]: [`Host`], one host's configuration and state, and the pure state machine that
//!   turns results into a status.
//! - [`reachability`]: whether a failing host is down or cut off by a parent (`depends_on`).
//! - [`flapping`]: whether a host's results keep changing (Nagios's percent state change).
//! - [`perfdata`]: a plugin's performance data, normalised ([`PerfValue`]).
//! - Here: [`Status`], [`CheckResult`] and how timestamps are written.

pub mod flapping;
pub mod host;
pub mod perfdata;
pub mod reachability;

pub use flapping::{FlapChange, FlapRecord};
pub use host::{Host, HostCounters, HostState, Recorded, Transition};
pub use perfdata::{PerfRange, PerfUnit, PerfValue};

use std::fmt;
use std::time::{Duration, SystemTime};

use flowstate_config::HostConfiguration;
use serde::{Deserialize, Serialize};

/// A host's status as alerts and the API report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not yet decided: too few checks since start.
    #[default]
    Unknown,
    Up,
    /// Passing, but slower than `max_response_time` (or otherwise impaired).
    Degraded,
    Down,
    /// Failing while a parent it `depends_on` is down: cut off, not broken itself. Its alerts
    /// are held; the parent's outage is the one to page about.
    Unreachable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
            Status::Unreachable => "unreachable",
        }
    }
}

impl Status {
    /// Every status, in the order counts are listed.
    pub const ALL: [Status; 5] = [
        Status::Unknown,
        Status::Up,
        Status::Degraded,
        Status::Down,
        Status::Unreachable,
    ];

    /// Down or cut off: the host does not answer.
    pub fn is_failing(self) -> bool {
        matches!(self, Status::Down | Status::Unreachable)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// When the check ended: its verdict was in. A transition it decides dates from here (the
    /// event's `at`), so a slow check's transition is not dated back to when it began.
    pub at: SystemTime,
    /// Whether every assertion passed (status, body, ...).
    pub ok: bool,
    /// Passed, but impaired: a certificate near expiry, a script's WARNING exit. Counts
    /// towards `degraded` like a slow answer does.
    pub degraded: bool,
    /// The server certificate's expiry, when this check read it.
    pub cert_not_after: Option<SystemTime>,
    /// From the start of the check to its verdict, including any body read.
    pub latency: Duration,
    /// A person-readable line: `status 200`, `status 503, expected 200`, `connection refused`.
    pub detail: String,
    /// A script's performance data, normalised. Empty (no allocation) for other check types,
    /// and kept only on a host's latest result: older ones in the history drop it.
    pub perfdata: Vec<PerfValue>,
    /// The parts of the check its probe timed (resolve, connect, tls, request, body). Kept,
    /// like `perfdata`, only on a host's latest result.
    pub phases: Vec<crate::probe::Phase>,
    /// The check's span, when tracing is on and its trace was exported: logs, events and
    /// alerts carry it so an alert links to the failing check's trace.
    pub trace: Option<crate::probe::TraceParent>,
    /// The HTTP status of the last answer, for HTTP checks that got one.
    pub status_code: Option<u16>,
}

impl CheckResult {
    /// What this one result alone says about the host: `degraded` when it passed impaired or
    /// slower than the host's `max_response_time`. Thresholds over several results are
    /// [`Host`]'s job.
    pub fn status_for(&self, host: &HostConfiguration) -> Status {
        match (self.ok, host.max_response_time) {
            (false, _) => Status::Down,
            (true, _) if self.degraded => Status::Degraded,
            (true, Some(limit)) if self.latency > limit => Status::Degraded,
            (true, _) => Status::Up,
        }
    }

    pub fn latency_ms(&self) -> f64 {
        // Rounded to 0.1 ms: finer digits are noise and make logs harder to read.
        (self.latency.as_secs_f64() * 10_000.0).round() / 10.0
    }
}

/// A timestamp as the API and alert events write it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(at: SystemTime) -> String {
    // humantime panics before the epoch and after the year 9999: a time computed from a
    // configured duration may be either.
    humantime::format_rfc3339_millis(crate::clock::writable(at)).to_string()
}

/// A `SystemTime` as RFC 3339 with milliseconds in serde (`#[serde(with = ...)]`), for
/// what is stored and served as JSON.
pub mod rfc3339_serde {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}
