//! The JSON the API answers with (`/api/v1/...`): the TUI and `flowstate status` read the
//! same types, so the daemon and its clients cannot drift apart.
//!
//! Every view derives from the model ([`Host`], [`CheckResult`]) through `From`, in one place.
//! Field names are the API's contract (the README's API table): renaming one breaks clients.

use serde::{Deserialize, Serialize};

use crate::model::{rfc3339, CheckResult, Host, HostCounters, Status};

/// A host as `GET /api/v1/hosts` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Status,
    pub since: String,
    /// Streaks and totals, flattened: `checks`, `failures`, `consecutive_failures`, ...
    #[serde(flatten)]
    pub counters: HostCounters,
    pub last_check: Option<CheckView>,
}

/// A host with its history, as `GET /api/v1/hosts/{label}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostDetail {
    #[serde(flatten)]
    pub host: HostView,
    /// Newest last.
    pub history: Vec<CheckView>,
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
            status: state.status,
            since: rfc3339(state.since),
            counters: state.counters,
            last_check: state.history.back().map(CheckView::from),
        }
    }
}

impl From<&Host> for HostDetail {
    fn from(host: &Host) -> Self {
        HostDetail {
            host: HostView::from(host),
            history: host.state().history.iter().map(CheckView::from).collect(),
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
        }
    }
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
                "last_check": check,
                "history": [check],
            })
        );
    }
}
