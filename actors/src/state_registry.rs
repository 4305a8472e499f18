//! StateRegistry: all runtime state of every host, and the decisions made from it.
//!
//! Because state lives here and not in HostActors, replacing or restarting a HostActor loses
//! nothing. The registry applies `failure_threshold` and `success_threshold` (from the
//! configuration that came with each result), marks `degraded` on slow passes, and emits
//! `HostStatusChanged` on transitions only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use flowstate_config::HostConfiguration;
use serde::{Deserialize, Serialize};

use crate::messages::{
    AwaitPendingResults, CheckCompleted, GetHost, GetHosts, GetSchedulerHealth, GetSchedulerStats,
    HostRestarted, HostStatusChanged, PersistState, SaveChangedState, TrackHosts,
};
use crate::metrics::{HostMetrics, Metrics};
use crate::model::{rfc3339, CheckResult, Status};
use crate::store::{
    HostStatesSaved, SaveHostStates, Store, StoreRecreated, StoredHost, StoredResult,
    SubscribeToStore,
};

/// How often changed host state is written to the state store: one transaction per second
/// however many hosts there are.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Results waiting for the store are capped, so a store that stays down does not grow memory
/// without end (the counters and status are still saved once it is back).
const MAX_UNSAVED_RESULTS: usize = 200_000;

pub struct StateRegistry {
    /// Tracked hosts in configuration order, for stable API output.
    order: Vec<Arc<str>>,
    states: HashMap<Arc<str>, HostState>,
    history_limit: usize,
    changes: Recipient<HostStatusChanged>,
    scheduler: SchedulerRecord,
    metrics: Arc<Metrics>,
    /// Each tracked host's metric series, kept apart from its state.
    host_metrics: HashMap<Arc<str>, HostMetrics>,
    /// The longest interval plus timeout of any host: the most a healthy scheduler is quiet.
    slowest_cycle: Option<std::time::Duration>,
    /// Where state is saved (`state.path`); `None` keeps it in memory only.
    store: Option<Addr<Store>>,
    /// State read from the store at start, taken by each host when it is first tracked.
    restored: HashMap<Arc<str>, HostState>,
    /// Hosts changed since the last save, results not yet saved, hosts to forget.
    dirty: HashSet<Arc<str>>,
    unsaved_results: Vec<StoredResult>,
    forgotten: Vec<Arc<str>>,
    /// A save is running: the next waits, so batches never pile up behind a slow disk.
    saving: bool,
}

/// The recent start lags of all checks, and totals: enough for exact percentiles over the
/// last [`LAG_WINDOW`] checks at a fixed memory cost.
#[derive(Default)]
struct SchedulerRecord {
    lags_micros: VecDeque<u32>,
    checks: u64,
    skipped: u64,
    /// When the last result arrived: a stuck scheduler sends none.
    last_result: Option<std::time::Instant>,
}

/// How many of the newest lags decide readiness: recent enough to notice falling behind
/// within seconds, many enough that one slow check does not flip it.
const READINESS_SAMPLES: usize = 256;

/// Checks whose lag is remembered: about 6 s of 10 000 hosts at 1 s.
const LAG_WINDOW: usize = 65_536;

impl SchedulerRecord {
    fn record(&mut self, lag: std::time::Duration, skipped: u64) {
        self.checks += 1;
        self.last_result = Some(std::time::Instant::now());
        self.skipped += skipped;
        if self.lags_micros.len() == LAG_WINDOW {
            self.lags_micros.pop_front();
        }
        self.lags_micros
            .push_back(u32::try_from(lag.as_micros()).unwrap_or(u32::MAX));
    }

    /// `Err` with the reason when recent checks start more than `max_lag` late (median), or
    /// when nothing completed for longer than `quiet_limit`.
    fn health(
        &self,
        max_lag: std::time::Duration,
        quiet_limit: Option<std::time::Duration>,
    ) -> Result<(), String> {
        let mut recent: Vec<u32> = self
            .lags_micros
            .iter()
            .rev()
            .take(READINESS_SAMPLES)
            .copied()
            .collect();
        recent.sort_unstable();
        if let Some(&median) = recent.get(recent.len() / 2) {
            let median = std::time::Duration::from_micros(u64::from(median));
            if median > max_lag {
                return Err(format!(
                    "the scheduler is behind: checks start {} late (limit {})",
                    humantime::format_duration(std::time::Duration::from_millis(
                        median.as_millis() as u64
                    )),
                    humantime::format_duration(max_lag)
                ));
            }
        }
        if let (Some(limit), Some(last)) = (quiet_limit, self.last_result) {
            if last.elapsed() > limit {
                return Err(format!(
                    "no check has completed for {}",
                    humantime::format_duration(std::time::Duration::from_secs(
                        last.elapsed().as_secs()
                    ))
                ));
            }
        }
        Ok(())
    }

    fn stats(&self) -> SchedulerStats {
        let mut sorted: Vec<u32> = self.lags_micros.iter().copied().collect();
        sorted.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let index = ((sorted.len() - 1) as f64 * p).round() as usize;
            f64::from(sorted[index]) / 1000.0
        };
        SchedulerStats {
            checks_total: self.checks,
            skipped_total: self.skipped,
            lag_samples: sorted.len(),
            lag_p50_ms: percentile(0.50),
            lag_p99_ms: percentile(0.99),
            lag_max_ms: percentile(1.0),
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

/// Everything known about one host at run time.
#[derive(Debug, Clone)]
pub struct HostState {
    pub kind: &'static str,
    pub status: Status,
    /// When the host entered its current status (start of tracking for `unknown`).
    pub since: SystemTime,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// Consecutive passes slower than `max_response_time`, and faster: degraded is decided
    /// with the same thresholds as down, so one slow answer is no alert either.
    consecutive_slow: u32,
    consecutive_fast: u32,
    pub checks: u64,
    pub failures: u64,
    pub transitions: u64,
    /// HostActor restarts after crashes.
    pub restarts: u64,
    /// The newest results, oldest first, at most `state.history`.
    pub history: VecDeque<CheckResult>,
    /// The configuration of the latest result: whom to tell if the host is removed while down.
    last_config: Option<Arc<HostConfiguration>>,
}

impl HostState {
    fn new(kind: &'static str) -> Self {
        HostState {
            kind,
            status: Status::Unknown,
            since: SystemTime::now(),
            consecutive_failures: 0,
            consecutive_successes: 0,
            consecutive_slow: 0,
            consecutive_fast: 0,
            checks: 0,
            failures: 0,
            transitions: 0,
            restarts: 0,
            history: VecDeque::new(),
            last_config: None,
        }
    }

    /// A host's state as the store had it: counters, status and history carry on.
    fn from_stored(stored: &StoredHost) -> Self {
        HostState {
            // Set from the configuration when the host is tracked.
            kind: "",
            status: stored.status,
            since: stored.since,
            consecutive_failures: stored.consecutive_failures,
            consecutive_successes: stored.consecutive_successes,
            consecutive_slow: stored.consecutive_slow,
            consecutive_fast: stored.consecutive_fast,
            checks: stored.checks,
            failures: stored.failures,
            transitions: stored.transitions,
            restarts: stored.restarts,
            history: stored.history.iter().cloned().collect(),
            last_config: None,
        }
    }

    fn to_stored(&self, label: &Arc<str>) -> StoredHost {
        StoredHost {
            label: label.clone(),
            kind: self.kind.to_string(),
            status: self.status,
            since: self.since,
            consecutive_failures: self.consecutive_failures,
            consecutive_successes: self.consecutive_successes,
            consecutive_slow: self.consecutive_slow,
            consecutive_fast: self.consecutive_fast,
            checks: self.checks,
            failures: self.failures,
            transitions: self.transitions,
            restarts: self.restarts,
            history: Vec::new(),
        }
    }

    /// Records one result and returns the new status if it changed. A transition dates from
    /// the deciding result's `at`: when that check's verdict was in, which decided it.
    pub fn record(
        &mut self,
        result: &CheckResult,
        host: &HostConfiguration,
        history_limit: usize,
    ) -> Option<Status> {
        self.checks += 1;
        if result.ok {
            self.consecutive_failures = 0;
            self.consecutive_successes += 1;
            if result.status_for(host) == Status::Degraded {
                self.consecutive_slow += 1;
                self.consecutive_fast = 0;
            } else {
                self.consecutive_fast += 1;
                self.consecutive_slow = 0;
            }
        } else {
            self.failures += 1;
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            self.consecutive_slow = 0;
            self.consecutive_fast = 0;
        }
        while self.history.len() >= history_limit.max(1) {
            self.history.pop_front();
        }
        self.history.push_back(result.clone());

        let next = self.decide(result, host);
        (next != self.status).then(|| {
            self.status = next;
            self.since = result.at;
            self.transitions += 1;
            next
        })
    }

    fn decide(&self, result: &CheckResult, host: &HostConfiguration) -> Status {
        let latest = result.status_for(host);
        match self.status {
            _ if !result.ok => {
                if self.consecutive_failures >= host.failure_threshold {
                    Status::Down
                } else {
                    self.status
                }
            }
            Status::Unknown | Status::Down => {
                if self.consecutive_successes >= host.success_threshold {
                    latest
                } else {
                    self.status
                }
            }
            Status::Up if self.consecutive_slow >= host.failure_threshold => Status::Degraded,
            Status::Degraded if self.consecutive_fast >= host.success_threshold => Status::Up,
            current => current,
        }
    }
}

/// Whether checks of this kind read a server certificate.
fn uses_tls(check: &flowstate_config::Check) -> bool {
    match check {
        flowstate_config::Check::Http(http) => http.url.scheme() == "https",
        flowstate_config::Check::Grpc(grpc) => grpc.tls.is_some(),
        _ => false,
    }
}

impl StateRegistry {
    pub fn new(changes: Recipient<HostStatusChanged>, metrics: Arc<Metrics>) -> Self {
        StateRegistry {
            order: Vec::new(),
            states: HashMap::new(),
            history_limit: 100,
            changes,
            scheduler: SchedulerRecord::default(),
            metrics,
            host_metrics: HashMap::new(),
            slowest_cycle: None,
            store: None,
            restored: HashMap::new(),
            dirty: HashSet::new(),
            unsaved_results: Vec::new(),
            forgotten: Vec::new(),
            saving: false,
        }
    }

    /// Saves state to `store` and starts from `restored` (what it held at start).
    pub fn with_store(mut self, store: Addr<Store>, restored: &[StoredHost]) -> Self {
        self.store = Some(store);
        self.restored = restored
            .iter()
            .map(|h| (h.label.clone(), HostState::from_stored(h)))
            .collect();
        self
    }

    /// The batch of changes since the last save, if there is a store and anything changed.
    fn take_batch(&mut self) -> Option<SaveHostStates> {
        self.store.as_ref()?;
        if self.dirty.is_empty() && self.forgotten.is_empty() {
            return None;
        }
        let hosts = self
            .dirty
            .drain()
            .filter_map(|label| Some(self.states.get(&label)?.to_stored(&label)))
            .collect();
        Some(SaveHostStates {
            hosts,
            results: std::mem::take(&mut self.unsaved_results),
            removed: std::mem::take(&mut self.forgotten),
            history_limit: self.history_limit,
            reply_to: None,
        })
    }

    /// Sends the next batch to the store unless one is still being written; a failed batch's
    /// hosts and results are saved again with the next one. With nothing to save, an empty
    /// batch still goes: the store checks on it that its file was not deleted.
    fn save(&mut self, ctx: &mut Context<Self>) {
        if self.saving {
            return;
        }
        let Some(store) = self.store.clone() else {
            return;
        };
        let mut batch = self.take_batch().unwrap_or_else(|| SaveHostStates {
            history_limit: self.history_limit,
            ..SaveHostStates::default()
        });
        batch.reply_to = Some(ctx.address().recipient());
        self.saving = true;
        store.do_send(batch);
    }

    /// How long without any result means the scheduler is stuck: the longest interval plus
    /// its timeout, plus the lag allowance. `None` with no hosts (then silence is normal).
    fn quiet_limit(&self, max_lag: std::time::Duration) -> Option<std::time::Duration> {
        self.slowest_cycle
            .map(|cycle| cycle.saturating_add(max_lag))
    }

    fn view(&self, label: &Arc<str>) -> Option<HostView> {
        let state = self.states.get(label)?;
        Some(HostView {
            label: label.to_string(),
            kind: state.kind.to_string(),
            status: state.status,
            since: rfc3339(state.since),
            checks: state.checks,
            failures: state.failures,
            consecutive_failures: state.consecutive_failures,
            consecutive_successes: state.consecutive_successes,
            transitions: state.transitions,
            restarts: state.restarts,
            last_check: state.history.back().map(CheckView::from),
        })
    }
}

impl Actor for StateRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(store) = &self.store {
            store.do_send(SubscribeToStore(ctx.address().recipient()));
        }
    }
}

impl Handler<StoreRecreated> for StateRegistry {
    type Result = ();

    /// The store's file was lost and a new one opened: every host and its whole history go
    /// into it with the next save, not just what changed.
    fn handle(&mut self, _: StoreRecreated, _: &mut Context<Self>) {
        let mut results = Vec::new();
        for (label, state) in &self.states {
            self.dirty.insert(label.clone());
            // The newest result is the host's check number `checks`; older ones count down.
            let newest = state.history.len() as u64;
            for (index, result) in state.history.iter().enumerate() {
                results.push(StoredResult {
                    label: label.clone(),
                    seq: state.checks.saturating_sub(newest - 1 - index as u64),
                    result: result.clone(),
                });
            }
        }
        log::info!(hosts = self.states.len(), results = results.len(); "writing every host's state and history into the new state store file");
        // The histories hold every unsaved result that is still kept.
        self.unsaved_results = results;
        self.unsaved_results.truncate(MAX_UNSAVED_RESULTS);
    }
}

impl Handler<SaveChangedState> for StateRegistry {
    type Result = ();

    fn handle(&mut self, _: SaveChangedState, ctx: &mut Context<Self>) {
        self.save(ctx);
    }
}

impl Handler<HostStatesSaved> for StateRegistry {
    type Result = ();

    fn handle(&mut self, outcome: HostStatesSaved, _: &mut Context<Self>) {
        self.saving = false;
        if !outcome.saved {
            self.dirty.extend(outcome.hosts);
            self.forgotten.extend(outcome.removed);
            // Older than those gathered since: they go first, and the newest are kept at the cap.
            let mut results = outcome.results;
            results.append(&mut self.unsaved_results);
            let excess = results.len().saturating_sub(MAX_UNSAVED_RESULTS);
            results.drain(..excess);
            self.unsaved_results = results;
        }
    }
}

/// Asks `registry` to save what changed every [`SAVE_EVERY`], from a task on `arbiter`: a
/// timer inside the registry would be polled with each of its thousands of messages a second.
pub fn start_save_ticker(registry: Addr<StateRegistry>, arbiter: &ArbiterHandle) {
    arbiter.spawn(async move {
        let mut ticks = actix_rt::time::interval(SAVE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if !registry.connected() {
                break;
            }
            registry.do_send(SaveChangedState);
        }
    });
}

impl Handler<TrackHosts> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: TrackHosts, _: &mut Context<Self>) {
        self.history_limit = msg.history;
        self.slowest_cycle = msg
            .hosts
            .iter()
            .map(|h| h.interval.saturating_add(h.timeout))
            .max();
        let mut keep = HashMap::with_capacity(msg.hosts.len());
        self.order = msg.hosts.iter().map(|h| h.label.clone()).collect();
        for host in &msg.hosts {
            let mut state = self
                .states
                .remove(&host.label)
                .or_else(|| self.restored.remove(&host.label))
                .unwrap_or_else(|| HostState::new(host.check.kind()));
            // The check type follows the configuration (a reload may change it).
            state.kind = host.check.kind();
            if !uses_tls(&host.check) {
                // A host changed from HTTPS to something else has no certificate any more.
                self.metrics.clear_cert_not_after(&host.label);
            }
            keep.insert(host.label.clone(), state);
        }
        // Stored hosts that are no longer configured are forgotten by the store too.
        if self.store.is_some() {
            self.forgotten
                .extend(self.restored.drain().map(|(label, _)| label));
        }
        // What is left was removed. One that was down gets a last event, so an incident tool
        // can close what would otherwise stay open forever; others leave quietly.
        for (label, state) in self.states.drain() {
            if self.store.is_some() {
                self.dirty.remove(&label);
                self.forgotten.push(label.clone());
            }
            let (Status::Down, Some(host)) = (state.status, state.last_config) else {
                continue;
            };
            let reason = "removed from the configuration".to_string();
            log::info!(host = &*label, previous = "down", reason = reason.as_str(); "host removed while down");
            self.changes.do_send(HostStatusChanged {
                host,
                previous: Status::Down,
                status: Status::Unknown,
                at: SystemTime::now(),
                since: state.since,
                reason,
                consecutive_failures: state.consecutive_failures,
                latency: std::time::Duration::ZERO,
                removed: true,
            });
        }
        self.states = keep;
        // Series of hosts that left disappear at the next scrape; new hosts get theirs.
        let metrics = &self.metrics;
        let states = &self.states;
        self.host_metrics.retain(|label, _| {
            let kept = states.contains_key(label);
            if !kept {
                metrics.remove_host(label);
            }
            kept
        });
        for label in &self.order {
            if !self.host_metrics.contains_key(label) {
                let series = self.metrics.host(label);
                // A host restored from the store starts with its stored status.
                if let Some(state) = self.states.get(label) {
                    series.record_status(state.status);
                }
                self.host_metrics.insert(label.clone(), series);
            }
        }
        self.metrics.set_hosts(self.order.len());
        for state in self.states.values_mut() {
            while state.history.len() > self.history_limit {
                state.history.pop_front();
            }
        }
    }
}

impl Handler<CheckCompleted> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: CheckCompleted, _: &mut Context<Self>) {
        self.scheduler.record(msg.lag, msg.skipped);
        // A late result of a host removed by a reload: nothing to record.
        let Some(state) = self.states.get_mut(&msg.host.label) else {
            return;
        };
        let previous = state.status;
        state.last_config = Some(msg.host.clone());
        let changed = state.record(&msg.result, &msg.host, self.history_limit);
        if self.store.is_some() {
            self.dirty.insert(msg.host.label.clone());
            if self.unsaved_results.len() < MAX_UNSAVED_RESULTS {
                self.unsaved_results.push(StoredResult {
                    label: msg.host.label.clone(),
                    seq: state.checks,
                    result: msg.result.clone(),
                });
            }
        }
        let series = self.host_metrics.get(&msg.host.label);
        if let Some(series) = series {
            series.record_check(msg.result.ok, msg.result.latency);
        }
        if let Some(not_after) = msg.result.cert_not_after {
            self.metrics.set_cert_not_after(&msg.host.label, not_after);
        }
        let Some(status) = changed else {
            return;
        };
        if let Some(series) = series {
            series.record_status(status);
            series.record_transition();
        }
        let reason = match status {
            Status::Degraded if msg.result.degraded => msg.result.detail.clone(),
            Status::Degraded => format!(
                "responded in {:.1} ms, slower than {}",
                msg.result.latency_ms(),
                msg.host
                    .max_response_time
                    .map(|d| humantime::format_duration(d).to_string())
                    .unwrap_or_default()
            ),
            _ => msg.result.detail.clone(),
        };
        log::info!(
            host = &*msg.host.label,
            status = status.as_str(),
            previous = previous.as_str(),
            reason = reason.as_str();
            "host status changed"
        );
        self.changes.do_send(HostStatusChanged {
            host: msg.host.clone(),
            previous,
            status,
            // The deciding check's verdict: when the change was decided (see `CheckResult::at`).
            at: msg.result.at,
            since: state.since,
            reason,
            consecutive_failures: state.consecutive_failures,
            latency: msg.result.latency,
            removed: false,
        });
    }
}

impl Handler<HostRestarted> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: HostRestarted, _: &mut Context<Self>) {
        if let Some(state) = self.states.get_mut(&msg.label) {
            state.restarts += 1;
            if self.store.is_some() {
                self.dirty.insert(msg.label.clone());
            }
        }
    }
}

impl Handler<GetSchedulerHealth> for StateRegistry {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: GetSchedulerHealth, _: &mut Context<Self>) -> Self::Result {
        self.scheduler
            .health(msg.max_lag, self.quiet_limit(msg.max_lag))
    }
}

impl Handler<AwaitPendingResults> for StateRegistry {
    type Result = ();

    fn handle(&mut self, _: AwaitPendingResults, _: &mut Context<Self>) {}
}

impl Handler<PersistState> for StateRegistry {
    type Result = ResponseActFuture<Self, ()>;

    /// Writes everything not yet saved and answers when the store has it (shutdown). Every
    /// host's counters go, not just the changed ones: a batch still out may yet fail.
    fn handle(&mut self, _: PersistState, _: &mut Context<Self>) -> Self::Result {
        if self.store.is_some() {
            self.dirty.extend(self.states.keys().cloned());
        }
        let batch = self.take_batch();
        let (Some(store), Some(batch)) = (self.store.clone(), batch) else {
            return Box::pin(actix::fut::ready(()));
        };
        Box::pin(store.send(batch).into_actor(self).map(|saved, _, _| match saved {
            Ok(Ok(())) => log::info!("host state saved"),
            Ok(Err(e)) => log::error!(error = e.as_str(); "saving host state at shutdown failed"),
            Err(e) => log::error!(error = e.to_string().as_str(); "could not reach the state store at shutdown"),
        }))
    }
}

impl Handler<GetSchedulerStats> for StateRegistry {
    type Result = MessageResult<GetSchedulerStats>;

    fn handle(&mut self, _: GetSchedulerStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.scheduler.stats())
    }
}

impl Handler<GetHosts> for StateRegistry {
    type Result = MessageResult<GetHosts>;

    fn handle(&mut self, _: GetHosts, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.order.iter().filter_map(|l| self.view(l)).collect())
    }
}

impl Handler<GetHost> for StateRegistry {
    type Result = Option<HostDetail>;

    fn handle(&mut self, msg: GetHost, _: &mut Context<Self>) -> Self::Result {
        let label: Arc<str> = Arc::from(msg.label.as_str());
        let view = self.view(&label)?;
        let history = self
            .states
            .get(&label)?
            .history
            .iter()
            .map(CheckView::from)
            .collect();
        Some(HostDetail {
            host: view,
            history,
        })
    }
}

/// A host as `GET /api/v1/hosts` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Status,
    pub since: String,
    pub checks: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub transitions: u64,
    pub restarts: u64,
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
    use std::time::Duration;

    use super::*;

    fn host(extra: &str) -> Arc<HostConfiguration> {
        let yaml = format!("hosts:\n  - {{ label: api, url: 'http://127.0.0.1:1/', {extra} }}\n");
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None).unwrap();
        config.hosts()[0].clone()
    }

    fn result(ok: bool, latency_ms: u64) -> CheckResult {
        CheckResult {
            at: SystemTime::now(),
            ok,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(latency_ms),
            detail: if ok {
                "status 200"
            } else {
                "status 503, expected 2xx"
            }
            .into(),
        }
    }

    /// Feeds results and returns the transitions they caused.
    fn feed(
        state: &mut HostState,
        host: &HostConfiguration,
        results: &[(bool, u64)],
    ) -> Vec<Status> {
        results
            .iter()
            .filter_map(|&(ok, ms)| state.record(&result(ok, ms), host, 100))
            .collect()
    }

    #[test]
    fn down_after_exactly_failure_threshold_failures() {
        let host = host("failure_threshold: 3");
        let mut state = HostState::new("http");
        assert_eq!(feed(&mut state, &host, &[(true, 1)]), [Status::Up]);
        assert!(feed(&mut state, &host, &[(false, 1), (false, 1)]).is_empty());
        assert_eq!(feed(&mut state, &host, &[(false, 1)]), [Status::Down]);
        assert!(
            feed(&mut state, &host, &[(false, 1), (false, 1)]).is_empty(),
            "no repeats"
        );
        assert_eq!(state.consecutive_failures, 5);
    }

    #[test]
    fn one_blip_changes_nothing() {
        let host = host("failure_threshold: 2");
        let mut state = HostState::new("http");
        let changes = feed(
            &mut state,
            &host,
            &[(true, 1), (false, 1), (true, 1), (false, 1), (true, 1)],
        );
        assert_eq!(changes, [Status::Up]);
    }

    #[test]
    fn recovery_needs_success_threshold_passes() {
        let host = host("failure_threshold: 1, success_threshold: 2");
        let mut state = HostState::new("http");
        assert_eq!(feed(&mut state, &host, &[(false, 1)]), [Status::Down]);
        assert!(feed(&mut state, &host, &[(true, 1)]).is_empty());
        assert_eq!(feed(&mut state, &host, &[(true, 1)]), [Status::Up]);
    }

    #[test]
    fn slow_passes_degrade_with_the_same_patience_as_failures() {
        let host = host("failure_threshold: 2, max_response_time: 100ms");
        let mut state = HostState::new("http");
        assert_eq!(feed(&mut state, &host, &[(true, 5)]), [Status::Up]);
        assert!(
            feed(&mut state, &host, &[(true, 500)]).is_empty(),
            "one slow answer is a blip"
        );
        assert_eq!(feed(&mut state, &host, &[(true, 500)]), [Status::Degraded]);
        assert_eq!(feed(&mut state, &host, &[(true, 5)]), [Status::Up]);
    }

    #[test]
    fn a_slow_first_decision_is_degraded() {
        let host = host("max_response_time: 100ms");
        let mut state = HostState::new("http");
        assert_eq!(feed(&mut state, &host, &[(true, 500)]), [Status::Degraded]);
    }

    /// Takes the status changes a registry emits, and drops them.
    struct Deaf;

    impl Actor for Deaf {
        type Context = Context<Self>;
    }

    impl Handler<HostStatusChanged> for Deaf {
        type Result = ();

        fn handle(&mut self, _: HostStatusChanged, _: &mut Context<Self>) {}
    }

    #[actix_rt::test]
    async fn readiness_with_durations_too_long_for_the_clock_answers_and_the_registry_lives() {
        let mut huge = (*host("")).clone();
        huge.interval = Duration::MAX;
        huge.timeout = Duration::MAX;
        let registry =
            StateRegistry::new(Deaf.start().recipient(), Arc::new(Metrics::new())).start();
        registry
            .send(TrackHosts {
                hosts: vec![Arc::new(huge.clone())],
                history: 10,
            })
            .await
            .expect("the registry takes the hosts");
        registry
            .send(CheckCompleted {
                result: result(true, 1),
                host: Arc::new(huge),
                lag: Duration::from_millis(1),
                skipped: 0,
            })
            .await
            .expect("the registry records the result");
        for max_lag in [Duration::from_secs(1), Duration::MAX] {
            let health = registry
                .send(GetSchedulerHealth { max_lag })
                .await
                .expect("the registry answers");
            assert_eq!(health, Ok(()));
        }
        assert!(registry.connected());
    }

    #[test]
    fn history_is_bounded_and_newest_last() {
        let host = host("");
        let mut state = HostState::new("http");
        for i in 0..10 {
            state.record(&result(true, i), &host, 4);
        }
        let latencies: Vec<u128> = state
            .history
            .iter()
            .map(|r| r.latency.as_millis())
            .collect();
        assert_eq!(latencies, [6, 7, 8, 9]);
        assert_eq!(state.checks, 10);
    }
}
