//! Prometheus metrics (SPEC §5): the names are part of the contract.
//!
//! Metrics are lock-free atomics shared by the actors that update them. Per-host handles are
//! created once per host ([`HostMetrics`]) so a check updates counters without building label
//! sets; [`Metrics::remove_host`] drops every series of a host that left the configuration.
//! A tenant's hosts and notifiers carry `tenant` ([`tenants`]), and
//! [`Metrics::render_scoped`] renders one tenant's series alone.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::model::{PerfValue, Status};
use crate::outbox::DropReason;

mod tenants;
pub use tenants::MetricsScope;
use tenants::{Owners, TenantLabel};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabel {
    host: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LocationLabel {
    location: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostStatusLabels {
    host: String,
    status: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PerfLabels {
    host: String,
    label: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SpanDropLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginOpLabels {
    plugin: String,
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    host: String,
    result: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    notifier: String,
    result: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

/// A reload's outcome: of the main configuration (no `tenant` label) or of one tenant's files.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    #[prometheus(flatten)]
    tenant: TenantLabel,
    result: String,
}

/// The main configuration (no label) or one tenant's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigLabel {
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotifierLabel {
    notifier: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DroppedLabels {
    notifier: String,
    reason: String,
    #[prometheus(flatten)]
    tenant: TenantLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

const STATUSES: [Status; 5] = Status::ALL;

/// Check durations from 1 ms to about 30 s.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// What the state store does, as `flowstate_state_store_errors_total{operation}` names it.
pub const STORE_OPERATIONS: [&str; 11] = [
    "open",
    "save_hosts",
    "save_delivery",
    "forget_delivery",
    "save_alert_track",
    "recreate",
    "save_rollups",
    "prune",
    "log_alerts",
    "save_announcement",
    "save_silence",
];

/// Alert results, as `flowstate_alerts_total{result}` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertResult {
    Sent,
    Failed,
    Suppressed,
}

impl AlertResult {
    fn as_str(self) -> &'static str {
        match self {
            AlertResult::Sent => "sent",
            AlertResult::Failed => "failed",
            AlertResult::Suppressed => "suppressed",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    host_up: Family<HostLabel, Gauge>,
    host_flapping: Family<HostLabel, Gauge>,
    host_status: Family<HostStatusLabels, Gauge>,
    checks: Family<CheckLabels, Counter>,
    check_duration: Family<HostLabel, Histogram, fn() -> Histogram>,
    transitions: Family<HostLabel, Counter>,
    restarts: Family<HostLabel, Counter>,
    alerts: Family<AlertLabels, Counter>,
    outbox_pending: Family<NotifierLabel, Gauge>,
    alerts_dropped: Family<DroppedLabels, Counter>,
    store_errors: Family<OperationLabel, Counter>,
    store_dropped: Family<KindLabel, Counter>,
    cert_not_after: Family<HostLabel, Gauge<f64, AtomicU64>>,
    /// `flowstate_check_perfdata{host,label}`: a script's latest performance data.
    check_perfdata: Family<PerfLabels, Gauge<f64, AtomicU64>>,
    /// Each host's performance data series (label and handle): a family cannot be searched by
    /// host, so this is how a host's series go with it; and a check reporting the same labels
    /// as the last one only sets values, building no label set.
    perfdata_series: Mutex<HashMap<String, PerfSeries>>,
    /// `flowstate_config_reloads_total{result}` of the main configuration, and
    /// `{tenant,result}` of each tenant's files (see [`Metrics::record_tenant_reload`]).
    config_reloads: Family<ReloadLabels, Counter>,
    config_last_reload_successful: Family<ConfigLabel, Gauge>,
    config_last_reload_success_timestamp: Family<ConfigLabel, Gauge<f64, AtomicU64>>,
    /// The tenants with reload series, so those of a tenant gone can be removed.
    loaded_tenants: Mutex<HashSet<String>>,
    /// The tenant of each host with series, so its series carry `tenant`.
    host_tenants: Owners,
    /// The tenant of each notifier with series.
    notifier_tenants: Owners,
    hosts: Gauge,
    /// `flowstate_cluster_agents{location}`: live agents per location, as this agent saw them.
    cluster_agents: Family<LocationLabel, Gauge>,
    /// `flowstate_cluster_leader`: 1 while this agent holds the leader lease.
    cluster_leader: Gauge,
    /// `flowstate_plugin_*`: copied from each plugin's own counters at a scrape.
    plugin_restarts: Family<PluginLabel, Counter>,
    plugin_requests: Family<PluginOpLabels, Counter>,
    plugin_timeouts: Family<PluginLabel, Counter>,
    /// `flowstate_trace_*`: copied from the tracing pipeline's counters at a scrape.
    trace_spans_exported: Counter,
    trace_spans_dropped: Family<SpanDropLabel, Counter>,
    trace_export_failures: Counter,
    process_cpu: Counter<f64, AtomicU64>,
    process_resident_memory: Gauge,
    process_open_fds: Gauge,
    /// CPU seconds already added to `process_cpu`, to add only the difference at a scrape.
    process_cpu_reported: AtomicU64,
}

/// One host's performance data series, in the order its plugin reports them.
type PerfSeries = Vec<(Box<str>, Gauge<f64, AtomicU64>)>;

/// One host's series, created once and updated per check without label lookups.
pub struct HostMetrics {
    up: Gauge,
    status: [Gauge; 5],
    /// `flowstate_host_flapping`: 1 while the host's results keep changing.
    flapping: Gauge,
    successes: Counter,
    failures: Counter,
    duration: Histogram,
    transitions: Counter,
    /// Held so the series exists at 0 from the start: `increase()` then sees the first restart.
    _restarts: Counter,
}

impl HostMetrics {
    pub fn record_check(&self, ok: bool, latency: Duration) {
        if ok {
            self.successes.inc();
        } else {
            self.failures.inc();
        }
        self.duration.observe(latency.as_secs_f64());
    }

    pub fn record_status(&self, status: Status) {
        self.up.set(i64::from(status == Status::Up));
        for (gauge, s) in self.status.iter().zip(STATUSES) {
            gauge.set(i64::from(s == status));
        }
    }

    pub fn record_transition(&self) {
        self.transitions.inc();
    }

    pub fn record_flapping(&self, flapping: bool) {
        self.flapping.set(i64::from(flapping));
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics {
            host_up: Family::default(),
            host_flapping: Family::default(),
            host_status: Family::default(),
            checks: Family::default(),
            check_duration: Family::new_with_constructor(duration_histogram),
            transitions: Family::default(),
            restarts: Family::default(),
            alerts: Family::default(),
            outbox_pending: Family::default(),
            alerts_dropped: Family::default(),
            store_errors: Family::default(),
            store_dropped: Family::default(),
            cert_not_after: Family::default(),
            check_perfdata: Family::default(),
            perfdata_series: Mutex::default(),
            config_reloads: Family::default(),
            config_last_reload_successful: Family::default(),
            config_last_reload_success_timestamp: Family::default(),
            loaded_tenants: Mutex::default(),
            host_tenants: Owners::default(),
            notifier_tenants: Owners::default(),
            hosts: Gauge::default(),
            cluster_agents: Family::default(),
            cluster_leader: Gauge::default(),
            plugin_restarts: Family::default(),
            plugin_requests: Family::default(),
            plugin_timeouts: Family::default(),
            trace_spans_exported: Counter::default(),
            trace_spans_dropped: Family::default(),
            trace_export_failures: Counter::default(),
            process_cpu: Counter::default(),
            process_resident_memory: Gauge::default(),
            process_open_fds: Gauge::default(),
            process_cpu_reported: AtomicU64::new(0),
            registry: Registry::default(),
        };
        registry.register(
            "flowstate_host_up",
            "1 when the host is up, 0 otherwise",
            metrics.host_up.clone(),
        );
        registry.register(
            "flowstate_host_status",
            "The host's status, one-hot",
            metrics.host_status.clone(),
        );
        registry.register(
            "flowstate_host_flapping",
            "1 while the host is flapping (its results keep changing), 0 otherwise",
            metrics.host_flapping.clone(),
        );
        registry.register(
            "flowstate_checks",
            "Checks run, by result",
            metrics.checks.clone(),
        );
        registry.register_with_unit(
            "flowstate_check_duration",
            "How long checks took",
            Unit::Seconds,
            metrics.check_duration.clone(),
        );
        registry.register(
            "flowstate_host_transitions",
            "Status changes of the host",
            metrics.transitions.clone(),
        );
        registry.register(
            "flowstate_host_restarts",
            "Restarts of the host's actor after a crash",
            metrics.restarts.clone(),
        );
        registry.register(
            "flowstate_alerts",
            "Alert events per notifier, by result",
            metrics.alerts.clone(),
        );
        registry.register(
            "flowstate_outbox_pending",
            "Alert events waiting for delivery (queued or being retried), per notifier",
            metrics.outbox_pending.clone(),
        );
        registry.register(
            "flowstate_alerts_dropped",
            "Alert events given up: too old (max_age), rejected by the receiver, or the queue was full",
            metrics.alerts_dropped.clone(),
        );
        registry.register(
            "flowstate_state_store_errors",
            "Failed writes to the state store, by operation",
            metrics.store_errors.clone(),
        );
        registry.register(
            "flowstate_state_store_dropped",
            "History the state store never got: results beyond the in-memory buffer while it was unavailable",
            metrics.store_dropped.clone(),
        );
        registry.register(
            "flowstate_tls_cert_not_after_timestamp_seconds",
            "When the host's TLS certificate expires, in seconds since the epoch",
            metrics.cert_not_after.clone(),
        );
        registry.register(
            "flowstate_check_perfdata",
            "The latest performance data of a script check's plugin, per label, normalised: seconds, bytes, percent, counters",
            metrics.check_perfdata.clone(),
        );
        registry.register(
            "flowstate_config_reloads",
            "Configuration reloads, by result",
            metrics.config_reloads.clone(),
        );
        registry.register(
            "flowstate_config_last_reload_successful",
            "1 when the last configuration reload was applied",
            metrics.config_last_reload_successful.clone(),
        );
        registry.register(
            "flowstate_config_last_reload_success_timestamp_seconds",
            "When the configuration was last applied, in seconds since the epoch",
            metrics.config_last_reload_success_timestamp.clone(),
        );
        registry.register(
            "flowstate_hosts",
            "Hosts in the configuration",
            metrics.hosts.clone(),
        );
        registry.register(
            "flowstate_cluster_agents",
            "Live agents of the cluster per location, as this agent last saw them",
            metrics.cluster_agents.clone(),
        );
        registry.register(
            "flowstate_cluster_leader",
            "1 while this agent holds the cluster's leader lease, 0 otherwise",
            metrics.cluster_leader.clone(),
        );
        registry.register(
            "flowstate_plugin_restarts",
            "Starts of a plugin's program after it crashed, hung or failed to start",
            metrics.plugin_restarts.clone(),
        );
        registry.register(
            "flowstate_plugin_requests",
            "Requests sent to a plugin, by operation",
            metrics.plugin_requests.clone(),
        );
        registry.register(
            "flowstate_plugin_timeouts",
            "Requests a plugin did not answer in time",
            metrics.plugin_timeouts.clone(),
        );
        registry.register(
            "flowstate_trace_spans_exported",
            "Spans (checks, their phases, deliveries, reloads) the OTLP collector accepted",
            metrics.trace_spans_exported.clone(),
        );
        registry.register(
            "flowstate_trace_spans_dropped",
            "Spans never sent: the queue to the exporter was full, or their export failed",
            metrics.trace_spans_dropped.clone(),
        );
        registry.register(
            "flowstate_trace_export_failures",
            "Exports to the OTLP collector that failed or timed out",
            metrics.trace_export_failures.clone(),
        );
        let build_info: Family<VersionLabel, Gauge> = Family::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("flowstate_build_info", "The running version", build_info);
        registry.register_with_unit(
            "process_cpu",
            "CPU time used by the process (user and system)",
            Unit::Seconds,
            metrics.process_cpu.clone(),
        );
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory of the process",
            Unit::Bytes,
            metrics.process_resident_memory.clone(),
        );
        registry.register(
            "process_open_fds",
            "Open file descriptors",
            metrics.process_open_fds.clone(),
        );
        // Series that exist before their first event, so `increase()` sees that event.
        for operation in STORE_OPERATIONS {
            let _ = metrics.store_errors.get_or_create(&OperationLabel {
                operation: operation.to_string(),
            });
        }
        let _ = metrics.store_dropped.get_or_create(&KindLabel {
            kind: "result".to_string(),
        });
        for result in ["success", "failure"] {
            let _ = metrics.config_reloads.get_or_create(&ReloadLabels {
                tenant: TenantLabel::default(),
                result: result.into(),
            });
        }
        // The main configuration's gauges exist from the start, as they did as plain gauges.
        let main = ConfigLabel {
            tenant: TenantLabel::default(),
        };
        let _ = metrics.config_last_reload_successful.get_or_create(&main);
        let _ = metrics
            .config_last_reload_success_timestamp
            .get_or_create(&main);
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Creates a notifier's alert series at 0, for every result; `tenant` is the notifier's
    /// tenant (`None`: the platform's), labelled on each of its series.
    pub fn add_notifier(&self, name: &str, tenant: Option<&str>) {
        let tenant = self.notifier_tenants.record(name, tenant);
        for result in [
            AlertResult::Sent,
            AlertResult::Failed,
            AlertResult::Suppressed,
        ] {
            let _ = self.alerts.get_or_create(&AlertLabels {
                notifier: name.to_string(),
                result: result.as_str().to_string(),
                tenant: tenant.clone(),
            });
        }
        let _ = self.outbox_pending.get_or_create(&NotifierLabel {
            notifier: name.to_string(),
            tenant: tenant.clone(),
        });
        for reason in DropReason::ALL {
            let _ = self.alerts_dropped.get_or_create(&DroppedLabels {
                notifier: name.to_string(),
                reason: reason.to_string(),
                tenant: tenant.clone(),
            });
        }
    }

    /// How many events wait for delivery to this notifier.
    pub fn set_outbox_pending(&self, notifier: &str, pending: usize) {
        self.outbox_pending
            .get_or_create(&NotifierLabel {
                notifier: notifier.to_string(),
                tenant: self.notifier_tenants.of(notifier),
            })
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// An event was given up, counted under `reason`'s label value.
    pub fn record_alert_dropped(&self, notifier: &str, reason: DropReason) {
        self.alerts_dropped
            .get_or_create(&DroppedLabels {
                notifier: notifier.to_string(),
                reason: reason.to_string(),
                tenant: self.notifier_tenants.of(notifier),
            })
            .inc();
    }

    /// The label set of a host's series that have no other label.
    fn host_key(&self, label: &str) -> HostLabel {
        HostLabel {
            host: label.to_string(),
            tenant: self.host_tenants.of(label),
        }
    }

    /// The host's certificate expires at `not_after` (created at its first TLS check).
    pub fn set_cert_not_after(&self, label: &str, not_after: std::time::SystemTime) {
        let seconds = not_after
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.cert_not_after
            .get_or_create(&self.host_key(label))
            .set(seconds);
    }

    /// The host no longer makes TLS connections: its certificate series goes.
    pub fn clear_cert_not_after(&self, label: &str) {
        self.cert_not_after.remove(&self.host_key(label));
    }

    /// The host's latest performance data (a script check's): its labels' series are set, the
    /// series of labels it no longer reports removed. Empty `values` remove them all.
    pub fn set_perfdata(&self, host: &str, values: &[PerfValue]) {
        let mut hosts = self
            .perfdata_series
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match hosts.get(host) {
            // The labels of the last check, as usual: only the values change.
            Some(known)
                if known.len() == values.len()
                    && known
                        .iter()
                        .zip(values)
                        .all(|((label, _), v)| *label == v.label) =>
            {
                for ((_, gauge), v) in known.iter().zip(values) {
                    gauge.set(v.value);
                }
                return;
            }
            None if values.is_empty() => return,
            _ => {}
        }
        let tenant = self.host_tenants.of(host);
        let key = |label: &str| PerfLabels {
            host: host.to_string(),
            label: label.to_string(),
            tenant: tenant.clone(),
        };
        for (label, _) in hosts.remove(host).unwrap_or_default() {
            if !values.iter().any(|v| v.label == label) {
                self.check_perfdata.remove(&key(&label));
            }
        }
        if values.is_empty() {
            return;
        }
        let series = values
            .iter()
            .map(|v| {
                let gauge = self.check_perfdata.get_or_create_owned(&key(&v.label));
                gauge.set(v.value);
                (v.label.clone(), gauge)
            })
            .collect();
        hosts.insert(host.to_string(), series);
    }

    /// A write to the state store failed.
    pub fn record_store_error(&self, operation: &'static str) {
        self.store_errors
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .inc();
    }

    /// `count` items of `kind` (`result`) were dropped before the store had them.
    pub fn record_store_dropped(&self, kind: &'static str, count: u64) {
        self.store_dropped
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc_by(count);
    }

    /// Removes the alert series of a notifier that left the configuration.
    pub fn remove_notifier(&self, name: &str) {
        let tenant = self.notifier_tenants.forget(name);
        self.outbox_pending.remove(&NotifierLabel {
            notifier: name.to_string(),
            tenant: tenant.clone(),
        });
        for reason in DropReason::ALL {
            self.alerts_dropped.remove(&DroppedLabels {
                notifier: name.to_string(),
                reason: reason.to_string(),
                tenant: tenant.clone(),
            });
        }
        for result in [
            AlertResult::Sent,
            AlertResult::Failed,
            AlertResult::Suppressed,
        ] {
            self.alerts.remove(&AlertLabels {
                notifier: name.to_string(),
                result: result.as_str().to_string(),
                tenant: tenant.clone(),
            });
        }
    }

    /// The series of one host, created now; the initial status is `unknown`. `tenant` is the
    /// host's tenant (`None`: the platform's), labelled on each of its series.
    pub fn host(&self, label: &str, tenant: Option<&str>) -> HostMetrics {
        let tenant = self.host_tenants.record(label, tenant);
        let host = || HostLabel {
            host: label.to_string(),
            tenant: tenant.clone(),
        };
        let check = |result: &str| CheckLabels {
            host: label.to_string(),
            result: result.to_string(),
            tenant: tenant.clone(),
        };
        let status = |s: Status| {
            self.host_status
                .get_or_create(&HostStatusLabels {
                    host: label.to_string(),
                    status: s.as_str().to_string(),
                    tenant: tenant.clone(),
                })
                .clone()
        };
        // One statement per series: a family's read guard lives to the end of its statement,
        // and creating a second series of the same family while it is held would deadlock.
        let up = self.host_up.get_or_create(&host()).clone();
        let status = STATUSES.map(status);
        let flapping = self.host_flapping.get_or_create(&host()).clone();
        let successes = self.checks.get_or_create(&check("success")).clone();
        let failures = self.checks.get_or_create(&check("failure")).clone();
        let duration = self.check_duration.get_or_create(&host()).clone();
        let transitions = self.transitions.get_or_create(&host()).clone();
        let restarts = self.restarts.get_or_create(&host()).clone();
        let metrics = HostMetrics {
            up,
            status,
            flapping,
            successes,
            failures,
            duration,
            transitions,
            _restarts: restarts,
        };
        metrics.record_status(Status::Unknown);
        metrics
    }

    /// Removes every series of a host that left the configuration.
    pub fn remove_host(&self, label: &str) {
        // Performance data first: it looks the tenant up, which is forgotten next.
        self.set_perfdata(label, &[]);
        let tenant = self.host_tenants.forget(label);
        let host = HostLabel {
            host: label.to_string(),
            tenant: tenant.clone(),
        };
        self.host_up.remove(&host);
        self.cert_not_after.remove(&host);
        self.check_duration.remove(&host);
        self.transitions.remove(&host);
        self.restarts.remove(&host);
        self.host_flapping.remove(&host);
        for s in STATUSES {
            self.host_status.remove(&HostStatusLabels {
                host: label.to_string(),
                status: s.as_str().to_string(),
                tenant: tenant.clone(),
            });
        }
        for result in ["success", "failure"] {
            self.checks.remove(&CheckLabels {
                host: label.to_string(),
                result: result.to_string(),
                tenant: tenant.clone(),
            });
        }
    }

    pub fn record_restart(&self, label: &str) {
        self.restarts.get_or_create(&self.host_key(label)).inc();
    }

    pub fn record_alert(&self, notifier: &str, result: AlertResult) {
        self.alerts
            .get_or_create(&AlertLabels {
                notifier: notifier.to_string(),
                result: result.as_str().to_string(),
                tenant: self.notifier_tenants.of(notifier),
            })
            .inc();
    }

    /// The configuration was loaded at start: the reload gauges start out healthy.
    pub fn config_loaded(&self) {
        self.loaded(TenantLabel::default(), true);
    }

    /// A reload of the main configuration was applied (`true`) or refused.
    pub fn record_reload(&self, applied: bool) {
        self.record(TenantLabel::default(), applied);
    }

    /// `tenant`'s files were loaded at start: its reload gauges start out healthy.
    pub fn tenant_config_loaded(&self, tenant: &str) {
        self.loaded(TenantLabel::of(tenant), true);
    }

    /// A load of `tenant`'s files, at a reload of the main configuration that was applied or
    /// at start: taken (`true`), or refused and the tenant kept what it ran.
    pub fn record_tenant_reload(&self, tenant: &str, applied: bool) {
        for result in ["success", "failure"] {
            // Both series from the first load: `increase()` then sees the first failure.
            let _ = self.config_reloads.get_or_create(&ReloadLabels {
                tenant: TenantLabel::of(tenant),
                result: result.into(),
            });
        }
        self.record(TenantLabel::of(tenant), applied);
    }

    /// Drops the reload series of the tenants `keep` no longer accepts (gone from the
    /// configuration).
    pub fn retain_tenants(&self, keep: impl Fn(&str) -> bool) {
        let mut loaded = self
            .loaded_tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let gone: Vec<String> = loaded.iter().filter(|t| !keep(t)).cloned().collect();
        for tenant in gone {
            loaded.remove(&tenant);
            for result in ["success", "failure"] {
                self.config_reloads.remove(&ReloadLabels {
                    tenant: TenantLabel::of(&tenant),
                    result: result.into(),
                });
            }
            let label = ConfigLabel {
                tenant: TenantLabel::of(&tenant),
            };
            self.config_last_reload_successful.remove(&label);
            self.config_last_reload_success_timestamp.remove(&label);
        }
    }

    fn loaded(&self, tenant: TenantLabel, healthy: bool) {
        if let Some(name) = &tenant.0 {
            self.loaded_tenants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.clone());
        }
        let label = ConfigLabel { tenant };
        self.config_last_reload_successful
            .get_or_create(&label)
            .set(i64::from(healthy));
        if healthy {
            self.config_last_reload_success_timestamp
                .get_or_create(&label)
                .set(unix_now());
        }
    }

    fn record(&self, tenant: TenantLabel, applied: bool) {
        let result = if applied { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ReloadLabels {
                tenant: tenant.clone(),
                result: result.into(),
            })
            .inc();
        self.loaded(tenant, applied);
    }

    pub fn set_hosts(&self, count: usize) {
        self.hosts.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// How many hosts this process checks now (`flowstate_hosts`).
    pub fn hosts(&self) -> i64 {
        self.hosts.get()
    }

    /// What this agent's last heartbeat saw of the cluster: the live agents and whether it
    /// leads. A location with no live agent left has no series.
    pub fn set_cluster(&self, agents: &[crate::cluster::agent::AgentView], is_leader: bool) {
        self.cluster_agents.clear();
        for agent in agents {
            self.cluster_agents
                .get_or_create(&LocationLabel {
                    location: agent.location.clone(),
                })
                .inc();
        }
        self.cluster_leader.set(i64::from(is_leader));
    }

    /// The Prometheus text exposition (format 0.0.4), with process figures read now.
    pub fn render(&self) -> String {
        self.read_process_figures();
        self.read_plugin_counters();
        self.read_trace_counters();
        let mut open_metrics = String::with_capacity(64 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry);
        to_prometheus_text(&open_metrics)
    }

    /// [`Metrics::render`] for one audience ([`MetricsScope`]): a tenant's token gets the
    /// series of that tenant (its hosts', its notifiers' and its reloads') with the `# HELP`
    /// and `# TYPE` lines of the families that have any.
    pub fn render_scoped(&self, scope: MetricsScope) -> String {
        tenants::scoped(&self.render(), scope)
    }

    /// Brings the trace series up to the tracing pipeline's counters, which only grow.
    fn read_trace_counters(&self) {
        let counts = crate::telemetry::counters::counts();
        raise_to(&self.trace_spans_exported, counts.exported);
        raise_to(&self.trace_export_failures, counts.export_failures);
        for reason in crate::telemetry::counters::DropReason::ALL {
            let label = SpanDropLabel {
                reason: reason.as_str().to_string(),
            };
            raise_to(
                &self.trace_spans_dropped.get_or_create(&label),
                counts.dropped(reason),
            );
        }
    }

    /// Brings the plugin series up to each plugin's counters, which only grow.
    fn read_plugin_counters(&self) {
        for (plugin, restarts, checks, notifies, timeouts) in crate::plugin::counters() {
            let label = PluginLabel {
                plugin: plugin.to_string(),
            };
            raise_to(&self.plugin_restarts.get_or_create(&label), restarts);
            raise_to(&self.plugin_timeouts.get_or_create(&label), timeouts);
            for (op, count) in [("check", checks), ("notify", notifies)] {
                let labels = PluginOpLabels {
                    plugin: plugin.to_string(),
                    op: op.to_string(),
                };
                raise_to(&self.plugin_requests.get_or_create(&labels), count);
            }
        }
    }

    fn read_process_figures(&self) {
        if let Some(cpu) = process_cpu_seconds() {
            // The counter only grows: add what was used since the last scrape.
            let micros = (cpu * 1e6) as u64;
            let before = self.process_cpu_reported.swap(micros, Ordering::SeqCst);
            if micros > before {
                self.process_cpu.inc_by((micros - before) as f64 / 1e6);
            }
        }
        if let Some(bytes) = resident_memory_bytes() {
            self.process_resident_memory
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.process_open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Rewrites prometheus-client's OpenMetrics text as the classic Prometheus text format, which
/// every scraper and `promtool check metrics` read: counter families are named with their
/// `_total` suffix (as their samples are), and the OpenMetrics-only `# UNIT` and `# EOF` lines
/// are dropped.
/// Raises `counter` to `to`, a count kept elsewhere that only grows.
fn raise_to(counter: &Counter, to: u64) {
    let now = counter.get();
    if to > now {
        counter.inc_by(to - now);
    }
}

fn to_prometheus_text(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    let mut pending_help: Option<&str> = None;
    for line in open_metrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            pending_help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let family = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(help) = pending_help.take() {
                let text = help.split_once(' ').map_or("", |(_, text)| text);
                out.push_str(&format!("# HELP {family} {text}\n"));
            }
            out.push_str(&format!("# TYPE {family} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// User plus system CPU seconds of this process, from /proc (Linux).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture flowstate targets.
    Some((utime + stime) / 100.0)
}

fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_series_appear_and_disappear() {
        let metrics = Metrics::new();
        let api = metrics.host("api", None);
        api.record_check(false, Duration::from_millis(20));
        api.record_status(Status::Down);
        api.record_transition();
        metrics.record_restart("api");
        let text = metrics.render();
        assert!(
            text.contains(r#"flowstate_host_up{host="api"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_host_status{host="api",status="down"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_host_status{host="api",status="up"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_checks_total{host="api",result="failure"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_check_duration_seconds_count{host="api"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_host_transitions_total{host="api"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_host_restarts_total{host="api"} 1"#),
            "{text}"
        );
        metrics.remove_host("api");
        let text = metrics.render();
        assert!(!text.contains(r#"host="api""#), "{text}");
    }

    #[test]
    fn perfdata_series_follow_the_latest_check_and_go_with_the_host() {
        use crate::model::PerfUnit;
        let value = |label: &str, value: f64| PerfValue {
            label: label.into(),
            value,
            unit: PerfUnit::Seconds,
            warn: None,
            crit: None,
            min: None,
            max: None,
        };
        let metrics = Metrics::new();
        let _series = metrics.host("disk", None);
        metrics.set_perfdata("disk", &[value("time", 0.25), value("say \"hi\"", 1.0)]);
        metrics.set_perfdata("other", &[value("time", 2.0)]);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE flowstate_check_perfdata gauge"),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_check_perfdata{host="disk",label="time"} 0.25"#),
            "{text}"
        );
        // Label values are escaped.
        assert!(
            text.contains(r#"flowstate_check_perfdata{host="disk",label="say \"hi\""} 1"#),
            "{text}"
        );
        // The same labels again: new values. A label no longer reported: its series goes.
        metrics.set_perfdata("disk", &[value("time", 0.5), value("say \"hi\"", 2.0)]);
        metrics.set_perfdata("disk", &[value("time", 0.75)]);
        let text = metrics.render();
        assert!(
            text.contains(r#"flowstate_check_perfdata{host="disk",label="time"} 0.75"#),
            "{text}"
        );
        assert!(!text.contains("say"), "{text}");
        metrics.remove_host("disk");
        let text = metrics.render();
        assert!(!text.contains(r#"host="disk""#), "{text}");
        assert!(
            text.contains(r#"flowstate_check_perfdata{host="other",label="time"} 2"#),
            "{text}"
        );
    }

    #[test]
    fn counters_are_named_with_their_total_suffix() {
        let text = to_prometheus_text(
            "# HELP a_checks Checks.\n# TYPE a_checks counter\na_checks_total 1\n# HELP d Took.\n# TYPE d histogram\n# UNIT d seconds\nd_count 1\n# EOF\n",
        );
        assert_eq!(
            text,
            "# HELP a_checks_total Checks.\n# TYPE a_checks_total counter\na_checks_total 1\n# HELP d Took.\n# TYPE d histogram\nd_count 1\n"
        );
    }

    #[test]
    fn reloads_and_alerts_are_counted() {
        let metrics = Metrics::new();
        metrics.record_reload(false);
        metrics.record_alert("ops", AlertResult::Failed);
        let text = metrics.render();
        assert!(
            text.contains(r#"flowstate_config_reloads_total{result="failure"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("flowstate_config_last_reload_successful 0"),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_alerts_total{notifier="ops",result="failed"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"flowstate_build_info{version=""#), "{text}");
        assert!(text.contains("process_open_fds "), "{text}");
    }

    #[test]
    fn a_tenants_series_carry_its_name_and_the_platforms_none() {
        let metrics = Metrics::new();
        let _gateway = metrics.host("gateway", None);
        let api = metrics.host("team-a/api", Some("team-a"));
        api.record_check(true, Duration::from_millis(5));
        metrics.record_restart("team-a/api");
        metrics.set_cert_not_after("team-a/api", UNIX_EPOCH + Duration::from_secs(10));
        metrics.add_notifier("team-a/pager", Some("team-a"));
        metrics.record_alert("team-a/pager", AlertResult::Sent);
        metrics.add_notifier("ops", None);
        let text = metrics.render();
        for series in [
            r#"flowstate_host_up{host="team-a/api",tenant="team-a"} 0"#,
            r#"flowstate_host_status{host="team-a/api",status="unknown",tenant="team-a"} 1"#,
            r#"flowstate_checks_total{host="team-a/api",result="success",tenant="team-a"} 1"#,
            r#"flowstate_host_restarts_total{host="team-a/api",tenant="team-a"} 1"#,
            r#"flowstate_tls_cert_not_after_timestamp_seconds{host="team-a/api",tenant="team-a"} 10"#,
            r#"flowstate_alerts_total{notifier="team-a/pager",result="sent",tenant="team-a"} 1"#,
            r#"flowstate_outbox_pending{notifier="team-a/pager",tenant="team-a"} 0"#,
            r#"flowstate_host_up{host="gateway"} 0"#,
            r#"flowstate_outbox_pending{notifier="ops"} 0"#,
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
        // Removed under the label set they were created with.
        metrics.remove_host("team-a/api");
        metrics.remove_notifier("team-a/pager");
        let text = metrics.render();
        assert!(!text.contains("team-a"), "{text}");
    }

    #[test]
    fn reloads_are_counted_per_tenant_beside_the_main_configuration() {
        let metrics = Metrics::new();
        metrics.config_loaded();
        metrics.tenant_config_loaded("team-a");
        metrics.record_reload(true);
        metrics.record_tenant_reload("team-a", false);
        metrics.record_tenant_reload("team-b", true);
        let text = metrics.render();
        for series in [
            r#"flowstate_config_reloads_total{result="success"} 1"#,
            r#"flowstate_config_reloads_total{tenant="team-a",result="failure"} 1"#,
            r#"flowstate_config_reloads_total{tenant="team-a",result="success"} 0"#,
            r#"flowstate_config_reloads_total{tenant="team-b",result="success"} 1"#,
            "flowstate_config_last_reload_successful 1",
            r#"flowstate_config_last_reload_successful{tenant="team-a"} 0"#,
            r#"flowstate_config_last_reload_success_timestamp_seconds{tenant="team-b"} "#,
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
        metrics.retain_tenants(|t| t == "team-b");
        let text = metrics.render();
        assert!(!text.contains("team-a"), "{text}");
        assert!(text.contains(r#"tenant="team-b""#), "{text}");
    }

    #[test]
    fn a_scoped_rendering_has_the_tenants_series_alone() {
        let metrics = Metrics::new();
        let _gateway = metrics.host("gateway", None);
        let _api = metrics.host("team-a/api", Some("team-a"));
        let _web = metrics.host("team-b/web", Some("team-b"));
        metrics.add_notifier("team-a/pager", Some("team-a"));
        metrics.record_tenant_reload("team-a", true);
        assert_eq!(
            metrics
                .render_scoped(MetricsScope::Everything)
                .lines()
                .count(),
            metrics.render().lines().count()
        );
        let text = metrics.render_scoped(MetricsScope::Tenant("team-a"));
        assert!(
            text.contains(r#"flowstate_host_up{host="team-a/api",tenant="team-a"} 0"#),
            "{text}"
        );
        assert!(text.contains("# TYPE flowstate_host_up gauge"), "{text}");
        assert!(
            text.contains(
                r#"flowstate_alerts_total{notifier="team-a/pager",result="sent",tenant="team-a"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"flowstate_config_reloads_total{tenant="team-a",result="success"} 1"#),
            "{text}"
        );
        for other in [
            "gateway",
            "team-b",
            "process_",
            "flowstate_build_info",
            "# TYPE flowstate_cluster_leader",
            "flowstate_hosts ",
        ] {
            assert!(!text.contains(other), "{other} in\n{text}");
        }
        // Every family shown has a sample of the tenant.
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let family = line.split(' ').nth(2).unwrap_or_default();
            assert!(
                text.lines()
                    .any(|l| !l.starts_with('#') && l.starts_with(family)),
                "{family} in\n{text}"
            );
        }
        assert_eq!(metrics.render_scoped(MetricsScope::Tenant("nobody")), "");
    }
}
