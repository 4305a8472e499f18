//! The messages that cross actors. Commands are imperative, events past tense, queries `Get*`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::{Config, ConfigDiff, HostConfiguration, NotifierConfig, TenantFailure};

use crate::api::types::{HostDetail, HostView, SchedulerStats};
use crate::model::{CheckResult, Status};
use crate::scheduler_stats::SchedulerHealthError;

/// A HostActor finished one check of its host.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct CheckCompleted {
    pub result: CheckResult,
    /// The configuration the check ran with: the registry applies its thresholds.
    pub host: Arc<HostConfiguration>,
    /// How late the check started after its slot: the scheduler's health.
    pub lag: Duration,
    /// Slots skipped since the previous result (a check still in flight, a stalled thread).
    pub skipped: u64,
}

/// A host's status changed (transitions only, never repeats).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HostStatusChanged {
    pub host: Arc<HostConfiguration>,
    pub previous: Status,
    pub status: Status,
    /// When the change was decided.
    pub at: SystemTime,
    /// When the host entered its new status (equals `at` for a fresh transition).
    pub since: SystemTime,
    pub reason: String,
    pub consecutive_failures: u32,
    pub latency: Duration,
    /// The host left the configuration while down: its incident can be closed.
    pub removed: bool,
    /// For `unreachable`: the parent (or redundancy group) that is down.
    pub unreachable_via: Option<Arc<str>>,
    /// The span of the check that decided the change, when its trace was exported.
    pub trace: Option<crate::probe::TraceParent>,
}

/// In a cluster: another agent published a configuration newer than the one this agent runs
/// (`hash`, by agent `by`): load it with this agent's environment and run it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct AdoptConfig {
    pub hash: String,
    pub by: String,
}

/// In a cluster: a host's status by quorum changed, as the leader decided it. Only these are
/// alerted in a cluster; each agent's own [`HostStatusChanged`] is its location's verdict.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct QuorumStatusChanged {
    /// With `partial` as receivers see it: `up`.
    pub change: HostStatusChanged,
    /// The previous status by quorum, and the new one, were `partial`: notifiers with
    /// `partial: true` hear it as `degraded`.
    pub was_partial: bool,
    pub partial: bool,
}

/// In a cluster: this agent took the leader lease with `token`; the router alerts from now
/// on, starting from what the last leader left (each host's status by quorum, the undelivered
/// events, what notifiers were told).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct LeadAlerts {
    pub token: i64,
    /// Each host's recorded status, as a change into it (`previous == status`).
    pub hosts: Vec<HostStatusChanged>,
    pub outbox: Vec<crate::store::StoredDelivery>,
    /// `(notifier, host, track as JSON)`.
    pub tracks: Vec<(Arc<str>, String, String)>,
    /// The hosts whose recorded status is `partial`.
    pub partial: std::collections::HashSet<String>,
}

/// In a cluster: this agent lost the leader lease; the router drops what it held in memory
/// (the new leader has it from the database) and sends nothing more.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct StopLeading;

/// What holds back alerts about hosts (SPEC §9), and each host's last event that was not
/// sent: one host's with `label`, otherwise every host with either (the AlertRouter).
#[derive(Message, Debug, Clone)]
#[rtype(result = "HashMap<String, AlertHolds>")]
pub struct GetAlertHolds {
    pub label: Option<String>,
}

/// What [`GetAlertHolds`] answers per host.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AlertHolds {
    pub holds: Vec<crate::suppression::Hold>,
    pub last_suppressed: Option<crate::suppression::Suppressed>,
}

/// A host restored from the state store in trouble (`down`, `degraded`, `unreachable`): the
/// AlertRouter learns whom to tell about it, and tells those who were last told otherwise once
/// nothing holds it (a `down` held by maintenance when flowstate stopped is not lost).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HostRestored {
    pub host: Arc<HostConfiguration>,
    pub status: Status,
    pub since: SystemTime,
    /// The newest stored result's detail.
    pub reason: String,
    pub consecutive_failures: u32,
}

/// A host started or stopped flapping (its results keep changing, SPEC §9). `status` and the
/// rest are the host's as they are now: what a receiver is told when flapping stops.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HostFlappingChanged {
    pub host: Arc<HostConfiguration>,
    pub flapping: bool,
    /// The weighted percent state change that started or stopped it.
    pub percent: f64,
    pub at: SystemTime,
    pub status: Status,
    pub since: SystemTime,
    /// The newest result's detail.
    pub reason: String,
    pub consecutive_failures: u32,
}

/// Apply a new validated configuration: diff it against the running one and act host by host.
#[derive(Message, Debug, Clone)]
#[rtype(result = "ConfigDiff")]
pub struct ApplyConfig(pub Arc<Config>);

/// Stop scheduling, let checks in flight end, flush notifiers, then stop the system.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Stop scheduling checks of this host; answers once the actor is done with its check in
/// flight (if any).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct StopChecking {
    /// Let the check in flight end and report (shutdown, removal), or drop it unreported
    /// (a changed host, whose old configuration's verdict no longer matters).
    pub finish_in_flight: bool,
}

/// A HostActor vanished without being asked to stop (a panic): start it again.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HostActorDied {
    pub label: Arc<str>,
    pub generation: u64,
}

/// The hosts to track, in configuration order; state of hosts not listed is dropped.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TrackHosts {
    pub hosts: Vec<Arc<HostConfiguration>>,
    pub history: usize,
    /// Hosts still configured that another agent of the cluster checks from now on: not
    /// removed, so forgotten here without a `removed` event.
    pub moved: Vec<Arc<str>>,
}

/// The live agents of this agent's location changed (a cluster, SPEC §10): the Supervisor
/// checks the hosts rendezvous hashing gives this agent among them.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct UseAgents {
    pub live: Vec<crate::cluster::rendezvous::AgentId>,
}

/// A HostActor of this host was restarted after a crash: count it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct HostRestarted {
    pub label: Arc<str>,
}

/// Every tracked host's current state, in configuration order.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<HostView>")]
pub struct GetHosts;

/// Every tracked host's latest `points` check latencies in milliseconds (`None` for a failed
/// check), oldest first, by label: the dashboard's sparklines, without copying whole histories.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Sparklines")]
pub struct GetHostSparklines {
    pub points: usize,
}

/// What [`GetHostSparklines`] answers.
pub type Sparklines = std::collections::HashMap<Arc<str>, Vec<Option<f64>>>;

/// One host's state with its history, if the host exists.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Option<HostDetail>")]
pub struct GetHost {
    pub label: String,
}

/// How well the scheduler keeps up: check counts and start lag percentiles.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "SchedulerStats")]
pub struct GetSchedulerStats;

/// Whether the daemon is ready: every host scheduled and the scheduler keeping up. The error
/// says why not.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), ReadinessError>")]
pub struct GetReadiness;

/// Why the daemon is not ready: the answer to [`GetReadiness`].
///
/// Its `Display` is shown word for word by `/readyz` (`not ready: ...`), by the self check's
/// and the systemd watchdog's log lines; the words must not change with the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadinessError {
    /// The daemon is stopping.
    #[error("shutting down")]
    ShuttingDown,
    /// The first configuration is not applied yet.
    #[error("starting: hosts are not scheduled yet")]
    Starting,
    /// In a cluster: no heartbeat answered yet, so this agent has no share of the hosts.
    #[error(
        "not registered in the cluster yet: waiting for the cluster database to answer a heartbeat"
    )]
    Unregistered,
    /// The state registry's mailbox failed (closed or full past its deadline).
    #[error("the state registry did not answer: {0}")]
    RegistryUnanswered(MailboxError),
    /// Checks do not start on time.
    #[error(transparent)]
    Scheduler(#[from] SchedulerHealthError),
}

/// Whether checks start on time: `Err` with the reason when the median start lag of recent
/// checks exceeds `max_lag`, or no check has completed for far longer than any interval.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), SchedulerHealthError>")]
pub struct GetSchedulerHealth {
    pub max_lag: Duration,
}

/// Re-read the configuration files and apply them: what was applied, or every error (of the
/// main files; a tenant's are in [`ReloadApplied::failed_tenants`]).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<ReloadApplied, Vec<String>>")]
pub struct ReloadConfigNow {
    pub trigger: ReloadTrigger,
}

/// What an applied reload did: the diff, and the tenants whose files had errors and were left
/// as they ran (SPEC §12), with those errors.
#[derive(Debug, Clone)]
pub struct ReloadApplied {
    pub diff: ConfigDiff,
    pub failed_tenants: Vec<TenantFailure>,
}

/// The files of these tenants had errors when the daemon started: they run no hosts until
/// fixed. Told to the Supervisor right after the first [`ApplyConfig`], which it logs and
/// counts as a reload of those tenants would be.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TenantFilesRejected(pub Vec<TenantFailure>);

/// What asked for a reload: every trigger takes the same path, and this only decides the words
/// a rejection is logged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// The ConfigWatcher noticed that the files' content changed.
    FilesEdited,
    /// SIGHUP.
    Signal,
    /// `POST /-/reload`.
    Request,
}

/// A configuration was applied and runs from now on.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ConfigApplied(pub Arc<Config>);

/// Use these notifiers from now on (the configuration changed).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct UseNotifiers(pub Vec<Arc<NotifierConfig>>);

/// Use these maintenance windows from now on (a reload changed them): the AlertRouter holds
/// problems of the hosts they cover while one is open.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct UseMaintenance(pub Vec<Arc<flowstate_config::MaintenanceWindow>>);

/// Answers once every message sent to the registry before it has been handled.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct AwaitPendingResults;

/// Save the host state that changed since the last save (sent every second).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct SaveChangedState;

/// Save all host state to the state store now; answers when it is written (shutdown).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct PersistState;

/// Deliver or persist everything queued; answers when done.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct FlushNotifiers;

/// The configuration running now.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Arc<Config>")]
pub struct GetRunningConfig;

#[cfg(test)]
mod tests {
    use super::*;

    /// `/readyz`, the self check and the systemd watchdog show these words; they were strings
    /// before they were a type and must read the same.
    #[test]
    fn readiness_errors_read_as_they_always_did() {
        let said = |e: ReadinessError| e.to_string();
        assert_eq!(said(ReadinessError::ShuttingDown), "shutting down");
        assert_eq!(
            said(ReadinessError::Starting),
            "starting: hosts are not scheduled yet"
        );
        assert_eq!(
            said(ReadinessError::RegistryUnanswered(MailboxError::Closed)),
            format!(
                "the state registry did not answer: {}",
                MailboxError::Closed
            )
        );
        assert_eq!(
            said(
                SchedulerHealthError::Quiet {
                    quiet_for: Duration::from_secs(90)
                }
                .into()
            ),
            "no check has completed for 1m 30s"
        );
        assert_eq!(
            said(
                SchedulerHealthError::Behind {
                    late: Duration::from_millis(900),
                    limit: Duration::from_millis(500),
                }
                .into()
            ),
            "the scheduler is behind: checks start 900ms late (limit 500ms)"
        );
    }
}
