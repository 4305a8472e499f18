//! The lifecycle of each tracked host's metric series: created when the host is tracked (at
//! its restored status), updated with each result and transition, removed when it leaves, so
//! a removed host's series disappear at the next scrape.
//!
//! The StateRegistry drives it next to the model; what the series are is [`crate::metrics`]'s.

use std::collections::HashMap;
use std::sync::Arc;

use flowstate_config::{Check, HostConfiguration};

use crate::metrics::{HostMetrics, Metrics};
use crate::model::{CheckResult, Host, Status};

pub struct HostSeries {
    metrics: Arc<Metrics>,
    /// Each tracked host's series, created once so a result updates them without label lookups.
    series: HashMap<Arc<str>, HostMetrics>,
}

impl HostSeries {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        HostSeries {
            metrics,
            series: HashMap::new(),
        }
    }

    /// `hosts` are the ones tracked now: series of hosts that left are removed, new hosts get
    /// theirs at the status the model has for them.
    pub fn track<'a>(&mut self, hosts: impl IntoIterator<Item = &'a Host>) {
        let mut tracked = HashMap::with_capacity(self.series.len());
        for host in hosts {
            if !uses_tls(&host.config().check) {
                // A host changed from HTTPS to something else has no certificate any more.
                self.metrics.clear_cert_not_after(host.label());
            }
            if !matches!(host.config().check, Check::Script(_)) {
                // Nor performance data, once it is no longer a script.
                self.metrics.set_perfdata(host.label(), &[]);
            }
            let series = self.series.remove(host.label()).unwrap_or_else(|| {
                let series = self
                    .metrics
                    .host(host.label(), host.config().tenant.as_deref());
                // A host restored from the store starts with its stored status.
                series.record_status(host.state().status);
                series.record_flapping(host.state().counters.flap.flapping);
                series
            });
            tracked.insert(host.label().clone(), series);
        }
        for label in self.series.keys() {
            self.metrics.remove_host(label);
        }
        self.metrics.set_hosts(tracked.len());
        self.series = tracked;
    }

    /// One result of a tracked host.
    /// The host's actor crashed and was started again.
    pub fn restarted(&self, label: &str) {
        self.metrics.record_restart(label);
    }

    pub fn checked(&self, host: &HostConfiguration, result: &CheckResult) {
        if let Some(series) = self.series.get(&host.label) {
            series.record_check(result.ok, result.latency);
            // Only scripts report performance data: other checks pass by without a lock.
            if matches!(host.check, Check::Script(_)) {
                self.metrics.set_perfdata(&host.label, &result.perfdata);
            }
        }
        if let Some(not_after) = result.cert_not_after {
            self.metrics.set_cert_not_after(&host.label, not_after);
        }
    }

    /// A tracked host entered `status`.
    pub fn changed(&self, label: &str, status: Status) {
        if let Some(series) = self.series.get(label) {
            series.record_status(status);
            series.record_transition();
        }
    }

    /// A tracked host started or stopped flapping.
    pub fn flapping(&self, label: &str, flapping: bool) {
        if let Some(series) = self.series.get(label) {
            series.record_flapping(flapping);
        }
    }
}

/// Whether checks of this kind read a server certificate.
fn uses_tls(check: &Check) -> bool {
    match check {
        Check::Http(http) => http.url.scheme() == "https",
        Check::Grpc(grpc) => grpc.tls.is_some(),
        _ => false,
    }
}
