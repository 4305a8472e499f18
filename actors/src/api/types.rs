//! The JSON the API answers with (`/api/v1/...`): the TUI and `flowstate status` read the
//! same types, so the daemon and its clients cannot drift apart.
//!
//! Every view derives from the model ([`Host`], [`CheckResult`]) through `From`, in one place.
//! Field names are the API's contract (the README's API table): renaming one breaks clients.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::history::{Incident, SeriesPoint};
use crate::model::{rfc3339, CheckResult, Host, HostCounters, PerfValue, Status};
use crate::store::reader::{Availabilities, Uptime};
use crate::store::StoredEvent;

/// A host as `GET /api/v1/hosts` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The host's `group`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub status: Status,
    pub since: String,
    /// Streaks and totals, flattened: `checks`, `failures`, `consecutive_failures`, ...
    #[serde(flatten)]
    pub counters: HostCounters,
    /// Its results keep changing: down/up alerts wait until it settles.
    #[serde(default)]
    pub flapping: bool,
    /// While `unreachable`: the parent (or redundancy group) that is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_via: Option<String>,
    /// The maintenance window open for it now, by name. Filled by the API from the router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<String>,
    /// The silence covering it now, by id. Filled by the API from the router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced: Option<String>,
    pub last_check: Option<CheckView>,
    /// Over the last 24 h, 7 d and 30 d, from the state store; `null` without one. Filled by
    /// the API from figures computed in the background, not by the registry.
    #[serde(default)]
    pub availability: Option<AvailabilityView>,
    /// In a cluster: the host's status by quorum over its locations (`partial`: failing in
    /// fewer than the quorum), the same on every agent. Filled by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterVerdictView>,
    /// In a cluster: checked by other agents, not this one: its counters and last check are
    /// theirs, and only its status by quorum is known here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
}

impl HostView {
    /// The status to show: the quorum's in a cluster (`partial` included), this agent's own
    /// otherwise.
    pub fn shown_status(&self) -> &'static str {
        match &self.cluster {
            Some(cluster) => cluster.status.as_str(),
            None => self.status.as_str(),
        }
    }

    /// The newest result's detail, after what holds the host's alerts back (`via router
    /// (down)`, `maintenance weekly-db`, `silenced`, `flapping`): the reason column of the
    /// dashboard, the TUI and `flowstate status`, so a failing host that pages nobody says why.
    pub fn reason_line(&self) -> String {
        let detail = match (&self.cluster, &self.last_check) {
            // What the locations saw, when this agent did not check it or the quorum
            // disagrees with this location.
            (Some(cluster), _)
                if self.elsewhere || cluster.status.as_str() != self.status.as_str() =>
            {
                cluster.reason.clone()
            }
            (_, Some(check)) => check.detail.clone(),
            _ => "not checked yet".to_string(),
        };
        let mut notes = Vec::new();
        if let Some(parent) = &self.unreachable_via {
            notes.push(format!("via {parent} (down)"));
        }
        if let Some(name) = &self.maintenance {
            notes.push(format!("maintenance {name}"));
        }
        if self.silenced.is_some() {
            notes.push("silenced".to_string());
        }
        if self.flapping {
            notes.push("flapping".to_string());
        }
        if notes.is_empty() {
            detail
        } else {
            format!("{} · {detail}", notes.join(" · "))
        }
    }
}

/// A host's availability over the windows `/api/v1/hosts` shows: time up or degraded ÷ time
/// in a known status, 0 to 1; `null` where nothing is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityView {
    #[serde(rename = "24h")]
    pub day: Option<f64>,
    #[serde(rename = "7d")]
    pub week: Option<f64>,
    #[serde(rename = "30d")]
    pub month: Option<f64>,
}

impl From<&Availabilities> for AvailabilityView {
    fn from(figures: &Availabilities) -> Self {
        let [day, week, month] = *figures;
        AvailabilityView { day, week, month }
    }
}

/// `GET /api/v1/hosts/{label}/uptime`: a host's availability and incidents over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UptimeView {
    /// The window as asked (`24h`).
    pub window: String,
    /// Where the window starts and ends (now).
    pub from: String,
    pub to: String,
    /// Time up or degraded ÷ time in a known status; `null` when none of it is known.
    pub availability: Option<f64>,
    pub up_s: f64,
    pub degraded_s: f64,
    pub downtime_s: f64,
    /// Time no status was known: before the first verdict, and while flowstate did not run.
    pub unknown_s: f64,
    /// Oldest first.
    pub incidents: Vec<IncidentView>,
}

/// A period of trouble: from a change to `down` or `degraded` to the next change to `up`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    /// The window's start, for an incident already open then.
    pub from: String,
    /// `null` while still open.
    pub to: Option<String>,
    /// The worst it reached: `down` over `degraded`.
    pub status: Status,
    /// Why it began: the detail of the check that opened it.
    pub reason: String,
    /// Until `to`, or until the window's end while open.
    pub duration_s: f64,
}

impl UptimeView {
    /// The answer for `uptime` over the window asked as `window`.
    pub fn new(window: &str, uptime: &Uptime) -> UptimeView {
        let figures = &uptime.availability;
        let end = figures.window.to;
        UptimeView {
            window: window.to_string(),
            from: rfc3339(figures.window.from),
            to: rfc3339(end),
            availability: figures.availability,
            up_s: seconds(figures.up),
            degraded_s: seconds(figures.degraded),
            downtime_s: seconds(figures.down),
            unknown_s: seconds(figures.unknown),
            incidents: uptime
                .incidents
                .iter()
                .map(|incident| IncidentView::new(incident, end))
                .collect(),
        }
    }
}

impl IncidentView {
    fn new(incident: &Incident, window_end: SystemTime) -> IncidentView {
        let until = incident.to.unwrap_or(window_end);
        IncidentView {
            from: rfc3339(incident.from),
            to: incident.to.map(rfc3339),
            status: incident.status,
            reason: incident.reason.clone(),
            duration_s: seconds(until.duration_since(incident.from).unwrap_or_default()),
        }
    }
}

/// `GET /api/v1/hosts/{label}/series`: checks, failures and latency per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesView {
    pub from: String,
    pub to: String,
    /// Seconds per point.
    pub step_s: f64,
    /// Oldest first; steps without a check are left out.
    pub points: Vec<PointView>,
}

/// One step of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointView {
    /// The start of the step, aligned to the Unix epoch.
    pub at: String,
    pub checks: u64,
    pub failures: u64,
    /// Of the passing checks only (a failure's time says nothing of the host's speed).
    pub latency_ms: LatencyView,
}

/// Latency percentiles within 1 %, and the slowest; each `null` when no check passed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
}

impl From<&SeriesPoint> for PointView {
    fn from(point: &SeriesPoint) -> Self {
        PointView {
            at: rfc3339(point.at),
            checks: point.checks,
            failures: point.failures,
            latency_ms: LatencyView {
                p50: point.p50.map(millis),
                p95: point.p95.map(millis),
                max: point.max.map(millis),
            },
        }
    }
}

/// One entry of `GET /api/v1/events`: a host's change of status, or what happened to an alert
/// event for one notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventView {
    Transition {
        host: String,
        at: String,
        status: Status,
        previous: Status,
        reason: String,
    },
    Alert {
        host: String,
        at: String,
        notifier: String,
        /// `down`, `up`, `degraded`, `reminder`, `removed`.
        event: EventKind,
        /// The alert event's `id`, as receivers saw it.
        id: String,
        /// `sent`, `failed` (retried), `given_up`, `suppressed`.
        outcome: String,
        /// Why (a suppression's reason, a failure's error); empty when sent.
        detail: String,
    },
}

impl From<&StoredEvent> for EventView {
    fn from(event: &StoredEvent) -> Self {
        match event {
            StoredEvent::Transition {
                host,
                at,
                status,
                previous,
                reason,
            } => EventView::Transition {
                host: host.clone(),
                at: rfc3339(*at),
                status: *status,
                previous: *previous,
                reason: reason.clone(),
            },
            StoredEvent::Alert(entry) => EventView::Alert {
                host: entry.host.clone(),
                at: rfc3339(entry.at),
                notifier: entry.notifier.to_string(),
                event: entry.event,
                id: entry.event_id.clone(),
                outcome: entry.outcome.as_str().to_string(),
                detail: entry.detail.clone(),
            },
        }
    }
}

/// Seconds to the millisecond: what the stored times hold.
fn seconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Milliseconds to 0.1 ms, as [`CheckResult::latency_ms`] rounds.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

/// A host with its history, as `GET /api/v1/hosts/{label}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostDetail {
    #[serde(flatten)]
    pub host: HostView,
    /// Newest last.
    pub history: Vec<CheckView>,
    /// Everything holding its alerts back now (a parent, maintenance, a silence, flapping).
    #[serde(default)]
    pub holds: Vec<crate::suppression::Hold>,
    /// Its last event that some receiver was not sent, and why.
    #[serde(default)]
    pub last_suppressed: Option<crate::suppression::Suppressed>,
    /// In a cluster: each location's verdict on the host, by location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<std::collections::BTreeMap<String, LocationView>>,
}

/// One location's verdict on a host, as its agent last wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationView {
    /// The location's verdict passes (`up` or `degraded`).
    pub ok: bool,
    pub status: String,
    /// When the location decided it.
    pub at: String,
    pub reason: String,
    /// Its agent still checks the host: marked within the freshness bound. A stale verdict
    /// counts as unknown, never as down.
    pub fresh: bool,
    /// Checks that passed ÷ checks, in this location, over 24 h, 7 d and 30 d.
    #[serde(default)]
    pub availability: AvailabilityView,
}

/// The quorum's verdict on a host over its locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterVerdictView {
    pub status: crate::cluster::quorum::ClusterStatus,
    /// The locations where it fails, where it is degraded, and where nothing fresh is known.
    pub failing: Vec<String>,
    pub degraded: Vec<String>,
    pub unknown: Vec<String>,
    pub quorum: u32,
    pub reason: String,
}

/// One check result in the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckView {
    pub at: String,
    pub ok: bool,
    /// Passed but impaired (a certificate near expiry, a script's WARNING).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub degraded: bool,
    pub latency_ms: f64,
    pub detail: String,
    /// A script's performance data, normalised (seconds, bytes); absent when there is none.
    /// Only a host's latest result keeps it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perfdata: Vec<PerfView>,
    /// The HTTP status of the last answer, for HTTP checks that got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The parts of the check its probe timed, in order; only a host's latest result keeps
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseView>,
    /// The check's trace, when tracing exported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// One timed part of a check: `{"phase": "request", "began_ms": 0.4, "took_ms": 2.1}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseView {
    pub phase: String,
    /// After the check began.
    pub began_ms: f64,
    pub took_ms: f64,
}

/// One performance data value in the API: `{"label": "time", "value": 0.000123, "unit": "s",
/// "warn": null, "crit": null, "min": 0.0, "max": 10.0}`. `unit` is `s`, `B`, `%`, `c`, another
/// unit as the plugin wrote it, or null (a count); `warn` and `crit` are ranges in the plugins'
/// format (`10`, `10:`, `~:10`, `@10:20`) in the value's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfView {
    pub label: String,
    pub value: f64,
    pub unit: Option<String>,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl From<&PerfValue> for PerfView {
    fn from(v: &PerfValue) -> Self {
        PerfView {
            label: v.label.to_string(),
            value: v.value,
            unit: v.unit.symbol().map(str::to_string),
            warn: v.warn.map(|range| range.to_string()),
            crit: v.crit.map(|range| range.to_string()),
            min: v.min,
            max: v.max,
        }
    }
}

/// How well the scheduler keeps up, as `GET /api/v1/scheduler` shows it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SchedulerStats {
    pub checks_total: u64,
    /// Slots skipped because a check was still in flight or a thread stalled.
    pub skipped_total: u64,
    /// How many recent checks the lag figures cover.
    pub lag_samples: usize,
    /// How late checks started after their slot.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
}

impl From<&Host> for HostView {
    fn from(host: &Host) -> Self {
        let state = host.state();
        HostView {
            label: host.label().to_string(),
            kind: host.kind().to_string(),
            group: host.config().group.as_deref().map(str::to_string),
            status: state.status,
            since: rfc3339(state.since),
            counters: state.counters,
            flapping: state.counters.flap.flapping,
            unreachable_via: host
                .dependency()
                .unreachable_via
                .as_deref()
                .map(str::to_string),
            maintenance: None,
            silenced: None,
            last_check: state.history.back().map(CheckView::from),
            availability: None,
            cluster: None,
            elsewhere: false,
        }
    }
}

impl From<&Host> for HostDetail {
    fn from(host: &Host) -> Self {
        HostDetail {
            host: HostView::from(host),
            history: host.state().history.iter().map(CheckView::from).collect(),
            holds: Vec::new(),
            last_suppressed: None,
            locations: None,
        }
    }
}

impl From<&CheckResult> for CheckView {
    fn from(r: &CheckResult) -> Self {
        CheckView {
            at: rfc3339(r.at),
            ok: r.ok,
            degraded: r.degraded,
            latency_ms: r.latency_ms(),
            detail: r.detail.clone(),
            perfdata: r.perfdata.iter().map(PerfView::from).collect(),
            status_code: r.status_code,
            phases: r
                .phases
                .iter()
                .map(|phase| PhaseView {
                    phase: phase.kind.name().to_string(),
                    began_ms: milliseconds(phase.began),
                    took_ms: milliseconds(phase.took),
                })
                .collect(),
            trace_id: r.trace.map(|trace| trace.trace_id_hex()),
        }
    }
}

/// To 0.01 ms: phases are often well under a millisecond.
fn milliseconds(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 100_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    /// The JSON is the API's contract: these are the names clients read.
    #[test]
    fn a_host_detail_has_the_fields_clients_read() {
        let yaml = "hosts:\n  - { label: api, url: 'http://127.0.0.1:1/' }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None)
            .expect("the test configuration is valid");
        let config: Arc<_> = config.hosts()[0].clone();
        let tracked = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut host = Host::new(config.clone(), tracked);
        let result = CheckResult {
            at: tracked + Duration::from_millis(1500),
            ok: true,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_micros(12_345),
            detail: "status 200".into(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code: None,
        };
        host.record(&result, &config, 10);
        let check = json!({
            "at": "2027-01-15T08:00:01.500Z",
            "ok": true,
            "latency_ms": 12.3,
            "detail": "status 200",
        });
        assert_eq!(
            serde_json::to_value(HostDetail::from(&host)).expect("serialises"),
            json!({
                "label": "api",
                "type": "http",
                "status": "up",
                "since": "2027-01-15T08:00:01.500Z",
                "checks": 1,
                "failures": 0,
                "consecutive_failures": 0,
                "consecutive_successes": 1,
                "consecutive_slow": 0,
                "consecutive_fast": 1,
                "transitions": 1,
                "restarts": 0,
                "flapping": false,
                "last_check": check,
                "availability": null,
                "history": [check],
                "holds": [],
                "last_suppressed": null,
            })
        );
    }

    #[test]
    fn the_reason_line_says_what_holds_alerts_before_the_detail() {
        let old = json!({
            "label": "api", "type": "http", "status": "unreachable",
            "since": "2027-01-15T08:00:00.000Z", "checks": 1,
            "last_check": {"at": "2027-01-15T08:00:00.000Z", "ok": false, "latency_ms": 1.0,
                           "detail": "connection refused"},
        });
        let mut host: HostView = serde_json::from_value(old).expect("deserialises");
        assert_eq!(host.reason_line(), "connection refused");
        host.unreachable_via = Some("router".into());
        host.maintenance = Some("weekly-db".into());
        host.silenced = Some("01J".into());
        host.flapping = true;
        assert_eq!(
            host.reason_line(),
            "via router (down) · maintenance weekly-db · silenced · flapping · connection refused"
        );
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    #[test]
    fn availability_is_named_by_window_and_null_where_unknown() {
        let view = AvailabilityView::from(&[Some(0.9995), Some(1.0), None]);
        assert_eq!(
            serde_json::to_value(view).expect("serialises"),
            json!({ "24h": 0.9995, "7d": 1.0, "30d": null })
        );
        // A client reads a daemon that predates the field.
        let old = json!({
            "label": "api", "type": "http", "status": "up", "since": "2027-01-15T08:00:00.000Z",
            "checks": 1, "last_check": null,
        });
        let host: HostView = serde_json::from_value(old).expect("deserialises");
        assert_eq!(host.availability, None);
    }

    #[test]
    fn an_uptime_answer_has_the_fields_clients_read() {
        use crate::history::{Availability, Interval};
        let window = Interval {
            from: at(0),
            to: at(60),
        };
        let uptime = Uptime {
            availability: Availability {
                window,
                availability: Some(0.9),
                up: Duration::from_millis(45_000),
                degraded: Duration::ZERO,
                down: Duration::from_millis(5_000),
                unknown: Duration::from_millis(10_000),
            },
            incidents: vec![
                Incident {
                    from: at(10),
                    to: Some(at(12) + Duration::from_millis(500)),
                    status: Status::Down,
                    reason: "status 503, expected 200".into(),
                },
                Incident {
                    from: at(57) + Duration::from_millis(500),
                    to: None,
                    status: Status::Degraded,
                    reason: "slow".into(),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(UptimeView::new("60s", &uptime)).expect("serialises"),
            json!({
                "window": "60s",
                "from": "2027-01-15T08:00:00.000Z",
                "to": "2027-01-15T08:01:00.000Z",
                "availability": 0.9,
                "up_s": 45.0,
                "degraded_s": 0.0,
                "downtime_s": 5.0,
                "unknown_s": 10.0,
                "incidents": [
                    {
                        "from": "2027-01-15T08:00:10.000Z",
                        "to": "2027-01-15T08:00:12.500Z",
                        "status": "down",
                        "reason": "status 503, expected 200",
                        "duration_s": 2.5,
                    },
                    {
                        "from": "2027-01-15T08:00:57.500Z",
                        "to": null,
                        "status": "degraded",
                        "reason": "slow",
                        "duration_s": 2.5,
                    },
                ],
            })
        );
    }

    #[test]
    fn a_series_point_has_latency_in_milliseconds_or_null() {
        let point = SeriesPoint {
            at: at(60),
            checks: 60,
            failures: 2,
            p50: Some(Duration::from_micros(12_345)),
            p95: Some(Duration::from_micros(40_010)),
            max: Some(Duration::from_millis(120)),
        };
        assert_eq!(
            serde_json::to_value(PointView::from(&point)).expect("serialises"),
            json!({
                "at": "2027-01-15T08:01:00.000Z",
                "checks": 60,
                "failures": 2,
                "latency_ms": { "p50": 12.3, "p95": 40.0, "max": 120.0 },
            })
        );
        let all_failed = SeriesPoint {
            p50: None,
            p95: None,
            max: None,
            ..point
        };
        assert_eq!(
            serde_json::to_value(PointView::from(&all_failed)).expect("serialises")["latency_ms"],
            json!({ "p50": null, "p95": null, "max": null })
        );
    }

    #[test]
    fn events_say_their_kind() {
        let transition = StoredEvent::Transition {
            host: "api".into(),
            at: at(1),
            status: Status::Down,
            previous: Status::Up,
            reason: "connection refused".into(),
        };
        assert_eq!(
            serde_json::to_value(EventView::from(&transition)).expect("serialises"),
            json!({
                "kind": "transition",
                "host": "api",
                "at": "2027-01-15T08:00:01.000Z",
                "status": "down",
                "previous": "up",
                "reason": "connection refused",
            })
        );
        let alert = StoredEvent::Alert(crate::store::AlertLogEntry {
            at: at(2),
            host: "api".into(),
            notifier: Arc::from("ops"),
            event: EventKind::Down,
            event_id: "01JD0000000000000000000000".into(),
            outcome: crate::store::AlertOutcome::GivenUp,
            detail: "status 410".into(),
        });
        let json = serde_json::to_value(EventView::from(&alert)).expect("serialises");
        assert_eq!(
            json,
            json!({
                "kind": "alert",
                "host": "api",
                "at": "2027-01-15T08:00:02.000Z",
                "notifier": "ops",
                "event": "down",
                "id": "01JD0000000000000000000000",
                "outcome": "given_up",
                "detail": "status 410",
            })
        );
        // Clients read it back.
        let read: EventView = serde_json::from_value(json).expect("deserialises");
        assert_eq!(read, EventView::from(&alert));
    }
}
