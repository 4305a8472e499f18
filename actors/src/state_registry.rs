//! StateRegistry: the actor that keeps every host's runtime state and drives the model.
//!
//! Because state lives here and not in HostActors, replacing or restarting a HostActor loses
//! nothing. Each result goes to its host's [`Host`] (which applies the thresholds of the
//! configuration that came with it); transitions, and only transitions, become
//! `HostStatusChanged` for the AlertRouter. Around that, the registry feeds the scheduler's
//! record ([`crate::scheduler_stats`]), the hosts' metric series ([`crate::host_series`]) and
//! the state store ([`crate::state_saving`]), and answers the API from the model.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use flowstate_config::HostConfiguration;

use crate::api::types::{HostDetail, HostView};
use crate::cluster::agent::LocationVerdicts;
use crate::cluster::minute_tally::MinuteTally;
use crate::host_series::HostSeries;
use crate::messages::{
    AwaitPendingResults, CheckCompleted, GetHost, GetHostSparklines, GetHosts, GetSchedulerHealth,
    GetSchedulerStats, HostFlappingChanged, HostRestarted, HostRestored, HostStatusChanged,
    PersistState, SaveChangedState, TrackHosts,
};
use crate::metrics::Metrics;
use crate::model::reachability::{self, ParentState, Verdict};
use crate::model::{FlapChange, Host, HostState, Status, Transition};
use crate::scheduler_stats::{SchedulerHealthError, SchedulerRecord};
use crate::state_saving::StateSaving;
use crate::store::{FlushRollups, HostStatesSaved, Store, StoreRecreated, StoredHost};

pub struct StateRegistry {
    /// Tracked hosts in configuration order, for stable API output.
    order: Vec<Arc<str>>,
    /// One entry per tracked label: the only copy of each host's state.
    hosts: HashMap<Arc<str>, Host>,
    /// `state.history`: results kept per host.
    history_limit: usize,
    /// Where transitions go (the AlertRouter).
    changes: Recipient<HostStatusChanged>,
    /// Where flapping's starts and ends go (the AlertRouter); `None` in tests that need none.
    flapping: Option<Recipient<HostFlappingChanged>>,
    /// Where hosts restored with a problem are announced (the AlertRouter).
    restored_to: Option<Recipient<HostRestored>>,
    /// Each parent's children (`depends_on` read backwards): whom a parent's result may
    /// decide.
    children: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Failing children waiting for a parent's verdict before they are called down.
    waiting: HashSet<Arc<str>>,
    /// In a cluster: where this location's verdicts go (the ClusterAgent), and what the next
    /// batch holds: hosts whose verdict changed (or was never written) and hosts checked.
    cluster: Option<Recipient<LocationVerdicts>>,
    verdicts_due: HashSet<Arc<str>>,
    checked_since: HashSet<Arc<str>>,
    /// The lease, and when each host's verdict was last marked fresh: a location's verdict
    /// stays fresh for the lease and the host's interval, so a host is marked again only
    /// when its next check might come too late, not at every check (which is most of what
    /// the cluster database would otherwise write).
    lease: Duration,
    marked_fresh_at: HashMap<Arc<str>, Instant>,
    /// This location's results, minute by minute, for the cluster's rollups.
    minutes: MinuteTally,
    /// Every result's start lag and the counts `/readyz` and the API report.
    scheduler: SchedulerRecord,
    /// Each tracked host's metric series, kept apart from its state.
    series: HostSeries,
    /// What the store does not have yet; `None` without `state.path` (memory only).
    saving: Option<StateSaving>,
    /// State read from the store at start, taken by each host when it is first tracked.
    restored: HashMap<Arc<str>, HostState>,
}

impl StateRegistry {
    pub fn new(changes: Recipient<HostStatusChanged>, metrics: Arc<Metrics>) -> Self {
        StateRegistry {
            order: Vec::new(),
            hosts: HashMap::new(),
            history_limit: 100,
            changes,
            flapping: None,
            restored_to: None,
            children: HashMap::new(),
            waiting: HashSet::new(),
            cluster: None,
            verdicts_due: HashSet::new(),
            checked_since: HashSet::new(),
            lease: Duration::ZERO,
            marked_fresh_at: HashMap::new(),
            minutes: MinuteTally::default(),
            scheduler: SchedulerRecord::default(),
            series: HostSeries::new(metrics),
            saving: None,
            restored: HashMap::new(),
        }
    }

    /// In a cluster: writes this location's verdicts through `cluster` (the ClusterAgent),
    /// which count as fresh for `lease` and a host's interval after they were marked.
    pub fn with_cluster(mut self, cluster: Recipient<LocationVerdicts>, lease: Duration) -> Self {
        self.cluster = Some(cluster);
        self.lease = lease;
        self
    }

    /// Tells `restored` (the AlertRouter) of each host restored from the store with a
    /// problem, so one held back when flowstate stopped is told once its hold is over.
    pub fn with_restored(mut self, restored: Recipient<HostRestored>) -> Self {
        self.restored_to = Some(restored);
        self
    }

    /// Tells `flapping` (the AlertRouter) when a host starts or stops flapping.
    pub fn with_flapping(mut self, flapping: Recipient<HostFlappingChanged>) -> Self {
        self.flapping = Some(flapping);
        self
    }

    /// Saves state to `store` and starts from `restored` (what it held at start).
    pub fn with_store(
        mut self,
        store: Addr<Store>,
        restored: &[StoredHost],
        metrics: Arc<Metrics>,
    ) -> Self {
        self.saving = Some(StateSaving::new(store, metrics));
        self.restored = restored
            .iter()
            .map(|stored| (stored.label.clone(), HostState::from(stored)))
            .collect();
        self
    }
}

/// Tells `changes` (the AlertRouter) about `transition` of `host`, judged with `config`;
/// `latency` is the deciding check's.
fn announce(
    changes: &Recipient<HostStatusChanged>,
    host: &Host,
    config: Arc<HostConfiguration>,
    transition: Transition,
    latency: Duration,
    removed: bool,
) {
    changes.do_send(HostStatusChanged {
        host: config,
        previous: transition.previous,
        status: transition.status,
        at: transition.at,
        since: host.state().since,
        reason: transition.reason,
        consecutive_failures: host.state().counters.consecutive_failures,
        latency,
        removed,
        unreachable_via: host.dependency().unreachable_via.clone(),
        // The deciding check is the latest one; a removal has none.
        trace: (!removed)
            .then(|| host.state().history.back().and_then(|latest| latest.trace))
            .flatten(),
    });
}

/// How often waiting children whose parent never answered are decided.
const WAIT_TICK: Duration = Duration::from_secs(1);

impl StateRegistry {
    /// In a cluster: this location's changed verdicts and the hosts checked since the last
    /// batch, in one message (one or two statements in the database a second, whatever
    /// the number of hosts).
    fn send_verdicts(&mut self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let minutes = self.minutes.take_finished(SystemTime::now());
        if self.verdicts_due.is_empty() && self.checked_since.is_empty() && minutes.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut changed = Vec::new();
        for label in self.verdicts_due.drain() {
            let Some(state) = self.hosts.get(&label).map(Host::state) else {
                continue;
            };
            if state.status != Status::Unknown {
                let reason = state.latest_detail();
                changed.push((
                    label.to_string(),
                    state.status.as_str().to_string(),
                    state.since,
                    reason,
                ));
                // Written with its verdict: fresh as of now.
                self.marked_fresh_at.insert(label, now);
            }
        }
        let mut fresh = Vec::new();
        for label in self.checked_since.drain() {
            if !self.hosts.contains_key(&label) {
                continue;
            }
            // Skipped while the next check would still come in time: marked at the first
            // check `remark` after the last mark, so at most `remark`, an interval and a
            // one-second batch old, inside the lease and an interval with a second to spare.
            let remark = self
                .lease
                .saturating_sub(Duration::from_secs(2))
                .max(self.lease / 2);
            let due = self
                .marked_fresh_at
                .get(&label)
                .is_none_or(|at| now.duration_since(*at) >= remark);
            if due {
                fresh.push(label.to_string());
                self.marked_fresh_at.insert(label, now);
            }
        }
        if self.marked_fresh_at.len() > self.hosts.len() {
            // Hosts that left, or moved to another agent.
            let hosts = &self.hosts;
            self.marked_fresh_at
                .retain(|label, _| hosts.contains_key(label));
        }
        if changed.is_empty() && fresh.is_empty() && minutes.is_empty() {
            return;
        }
        cluster.do_send(LocationVerdicts {
            changed,
            fresh,
            minutes,
        });
    }

    /// Tells the router of `host`, just restored from the store, when it is in trouble.
    fn announce_restored(&self, host: &Host) {
        let state = host.state();
        let (Some(recipient), true) = (
            &self.restored_to,
            matches!(
                state.status,
                Status::Down | Status::Degraded | Status::Unreachable
            ),
        ) else {
            return;
        };
        recipient.do_send(HostRestored {
            host: host.config().clone(),
            status: state.status,
            since: state.since,
            reason: state.latest_detail(),
            consecutive_failures: state.counters.consecutive_failures,
        });
    }

    /// What is known now of each parent `config` names.
    fn parents_of(&self, config: &HostConfiguration) -> Vec<ParentState> {
        config
            .depends_on
            .iter()
            .flat_map(|entry| entry.labels())
            .filter_map(|label| self.hosts.get(label))
            .map(|parent| {
                let checked_with = parent.config();
                ParentState {
                    label: parent.label().clone(),
                    status: parent.state().status,
                    latest: parent.state().history.back().map(|r| (r.at, r.ok)),
                    problem_ended_at: parent.dependency().problem_ended_at,
                    patience: checked_with.interval.saturating_add(checked_with.timeout),
                }
            })
            .collect()
    }

    /// A host's transition: metrics, the store, the log and the router hear of it.
    fn transitioned(
        &mut self,
        label: &Arc<str>,
        transition: Transition,
        latency: Duration,
        checked_with: Arc<HostConfiguration>,
    ) {
        if self.cluster.is_some() {
            self.verdicts_due.insert(label.clone());
        }
        let Some(host) = self.hosts.get(label) else {
            return;
        };
        self.series.changed(label, transition.status);
        if let Some(saving) = &mut self.saving {
            saving.transitioned(label, &transition);
        }
        // With tracing on, the line names the deciding check's trace.
        match host.state().history.back().and_then(|latest| latest.trace) {
            Some(trace) => log::info!(
                host = &**label,
                status = transition.status.as_str(),
                previous = transition.previous.as_str(),
                reason = transition.reason.as_str(),
                trace_id = trace.trace_id_hex().as_str();
                "host status changed"
            ),
            None => log::info!(
                host = &**label,
                status = transition.status.as_str(),
                previous = transition.previous.as_str(),
                reason = transition.reason.as_str();
                "host status changed"
            ),
        }
        announce(
            &self.changes,
            host,
            checked_with,
            transition,
            latency,
            false,
        );
    }

    /// Keeps `waiting` in step with whether `label` waits for a parent.
    fn note_waiting(&mut self, label: &Arc<str>) {
        let waits = self
            .hosts
            .get(label)
            .is_some_and(|h| h.dependency().waiting_until.is_some());
        if waits {
            self.waiting.insert(label.clone());
        } else {
            self.waiting.remove(label);
        }
    }

    /// Decides again the children of `parent` that wait for a verdict; `None` decides every
    /// waiting host whose wait is over.
    fn rejudge_waiting(&mut self, parent: Option<&Arc<str>>, now: SystemTime) {
        let candidates: Vec<Arc<str>> = match parent {
            Some(parent) => self
                .children
                .get(parent)
                .map(|children| {
                    children
                        .iter()
                        .filter(|c| self.waiting.contains(*c))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            None => self.waiting.iter().cloned().collect(),
        };
        for label in candidates {
            let Some(config) = self.hosts.get(&label).map(|h| h.config().clone()) else {
                self.waiting.remove(&label);
                continue;
            };
            let parents = self.parents_of(&config);
            let Some(host) = self.hosts.get_mut(&label) else {
                continue;
            };
            let latency = host
                .state()
                .history
                .back()
                .map(|r| r.latency)
                .unwrap_or_default();
            let transition = host.rejudge(now, |since, at| judge(&config, &parents, since, at));
            self.note_waiting(&label);
            if let Some(transition) = transition {
                self.transitioned(&label, transition, latency, config.clone());
                // A child decided now may be the parent others wait for.
                self.rejudge_waiting(Some(&label), now);
            }
        }
    }
}

/// Whether `config`'s parents explain its failure, from what is known of them.
fn judge(
    config: &HostConfiguration,
    parents: &[ParentState],
    failing_since: SystemTime,
    at: SystemTime,
) -> Verdict {
    if config.depends_on.is_empty() {
        return Verdict::Reachable;
    }
    reachability::judge(
        &config.depends_on,
        |label| parents.iter().find(|p| &*p.label == label),
        failing_since,
        at,
    )
}

impl Actor for StateRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(saving) = &self.saving {
            saving.subscribe(ctx.address().recipient());
        }
        ctx.run_interval(WAIT_TICK, |registry, _| {
            if !registry.waiting.is_empty() {
                registry.rejudge_waiting(None, SystemTime::now());
            }
            registry.send_verdicts();
        });
    }
}

impl Handler<TrackHosts> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: TrackHosts, _: &mut Context<Self>) {
        let now = SystemTime::now();
        self.history_limit = msg.history;
        self.scheduler.track(&msg.hosts);
        self.order = msg.hosts.iter().map(|h| h.label.clone()).collect();
        self.children.clear();
        for config in &msg.hosts {
            for parent in config.depends_on.iter().flat_map(|entry| entry.labels()) {
                self.children
                    .entry(parent.clone())
                    .or_default()
                    .push(config.label.clone());
            }
        }
        let mut kept = HashMap::with_capacity(msg.hosts.len());
        let mut arrived = Vec::new();
        for config in &msg.hosts {
            let was_here = self.hosts.contains_key(&config.label);
            let host = match self.hosts.remove(&config.label) {
                Some(mut host) => {
                    host.reconfigure(config.clone());
                    host
                }
                None => match self.restored.remove(&config.label) {
                    Some(state) => {
                        let host = Host::restore(config.clone(), state);
                        self.announce_restored(&host);
                        host
                    }
                    None => Host::new(config.clone(), now),
                },
            };
            if !was_here && host.state().status != Status::Unknown {
                arrived.push(config.label.clone());
            }
            kept.insert(config.label.clone(), host);
        }
        // Stored hosts that are no longer configured are forgotten by the store too.
        if let Some(saving) = &mut self.saving {
            for (label, _) in self.restored.drain() {
                saving.forget(label);
            }
        }
        // What is left was removed. One that was down gets a last event, so an incident tool
        // can close what would otherwise stay open forever; others leave quietly.
        for (label, host) in std::mem::replace(&mut self.hosts, kept) {
            if let Some(saving) = &mut self.saving {
                saving.forget(label.clone());
            }
            // Checked by another agent of the cluster from now on: its story goes on there.
            if msg.moved.contains(&label) {
                continue;
            }
            let Some((config, removal)) = host.removal(now) else {
                continue;
            };
            log::info!(host = &*label, previous = removal.previous.as_str(), reason = removal.reason.as_str(); "host removed while down");
            if let Some(saving) = &mut self.saving {
                saving.transitioned(&label, &removal);
            }
            announce(&self.changes, &host, config, removal, Duration::ZERO, true);
        }
        let hosts = &self.hosts;
        self.waiting.retain(|label| hosts.contains_key(label));
        if self.cluster.is_some() {
            // A host restored with a status has its verdict written (or overwritten) with the
            // first batch; one new here (added, or taken over from another agent) has it
            // written at its first verdict. The others' rows are as they were.
            self.verdicts_due.extend(arrived);
        }
        self.series
            .track(self.order.iter().filter_map(|label| hosts.get(label)));
        for host in self.hosts.values_mut() {
            host.trim_history(self.history_limit);
        }
    }
}

impl Handler<CheckCompleted> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: CheckCompleted, _: &mut Context<Self>) {
        self.scheduler.record(msg.lag, msg.skipped);
        let label = msg.host.label.clone();
        // A late result of a host removed by a reload: nothing to record.
        if !self.hosts.contains_key(&label) {
            return;
        }
        let parents = self.parents_of(&msg.host);
        let Some(host) = self.hosts.get_mut(&label) else {
            return;
        };
        let recorded =
            host.record_judged(&msg.result, &msg.host, self.history_limit, |since, at| {
                judge(&msg.host, &parents, since, at)
            });
        if let Some(saving) = &mut self.saving {
            saving.checked(host, &msg.result);
        }
        self.series.checked(&msg.host, &msg.result);
        if self.cluster.is_some() {
            self.checked_since.insert(label.clone());
            let result = &msg.result;
            self.minutes
                .record(&label, result.at, result.ok, result.latency);
        }
        // Flapping that starts is told before the change it comes with (which it holds);
        // flapping that stops after it, so the router settles from the status it ended in.
        let (starts, stops) = match recorded.flapping {
            Some(change @ FlapChange::Started { .. }) => (Some(change), None),
            Some(change @ FlapChange::Stopped { .. }) => (None, Some(change)),
            None => (None, None),
        };
        if let Some(change) = starts {
            self.flapping_changed(&label, change, &msg);
        }
        self.note_waiting(&label);
        if let Some(transition) = recorded.transition {
            self.transitioned(&label, transition, msg.result.latency, msg.host.clone());
        }
        if let Some(change) = stops {
            self.flapping_changed(&label, change, &msg);
        }
        // This result may be the verdict a waiting child needs.
        if self.children.contains_key(&label) && !self.waiting.is_empty() {
            self.rejudge_waiting(Some(&label), msg.result.at);
        }
    }
}

impl StateRegistry {
    /// A host started or stopped flapping with the result in `msg`.
    fn flapping_changed(&mut self, label: &Arc<str>, change: FlapChange, msg: &CheckCompleted) {
        let Some(host) = self.hosts.get(label) else {
            return;
        };
        let (flapping, percent) = match change {
            FlapChange::Started { percent } => (true, percent),
            FlapChange::Stopped { percent } => (false, percent),
        };
        self.series.flapping(label, flapping);
        log::info!(host = &**label, flapping, percent; "host flapping changed");
        if let Some(recipient) = &self.flapping {
            let state = host.state();
            recipient.do_send(HostFlappingChanged {
                host: msg.host.clone(),
                flapping,
                percent,
                at: msg.result.at,
                status: state.status,
                since: state.since,
                reason: msg.result.detail.clone(),
                consecutive_failures: state.counters.consecutive_failures,
            });
        }
    }
}

impl Handler<HostRestarted> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: HostRestarted, _: &mut Context<Self>) {
        // The one place a restart is counted: the host's total and its metric series.
        if let Some(host) = self.hosts.get_mut(&msg.label) {
            host.record_restart();
            self.series.restarted(&msg.label);
            if let Some(saving) = &mut self.saving {
                saving.changed(&msg.label);
            }
        }
    }
}

impl Handler<GetSchedulerHealth> for StateRegistry {
    type Result = Result<(), SchedulerHealthError>;

    fn handle(&mut self, msg: GetSchedulerHealth, _: &mut Context<Self>) -> Self::Result {
        self.scheduler.health(msg.max_lag)
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
        let hosts = self.order.iter().filter_map(|label| self.hosts.get(label));
        MessageResult(hosts.map(HostView::from).collect())
    }
}

impl Handler<GetHostSparklines> for StateRegistry {
    type Result = MessageResult<GetHostSparklines>;

    fn handle(&mut self, msg: GetHostSparklines, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.hosts
                .iter()
                .map(|(label, host)| {
                    let history = &host.state().history;
                    let skip = history.len().saturating_sub(msg.points);
                    let latencies = history
                        .iter()
                        .skip(skip)
                        .map(|r| r.ok.then(|| r.latency_ms()))
                        .collect();
                    (label.clone(), latencies)
                })
                .collect(),
        )
    }
}

impl Handler<GetHost> for StateRegistry {
    type Result = Option<HostDetail>;

    fn handle(&mut self, msg: GetHost, _: &mut Context<Self>) -> Self::Result {
        self.hosts.get(msg.label.as_str()).map(HostDetail::from)
    }
}

impl Handler<AwaitPendingResults> for StateRegistry {
    type Result = ();

    fn handle(&mut self, _: AwaitPendingResults, _: &mut Context<Self>) {}
}

impl Handler<SaveChangedState> for StateRegistry {
    type Result = ();

    fn handle(&mut self, _: SaveChangedState, ctx: &mut Context<Self>) {
        if let Some(saving) = &mut self.saving {
            saving.save(&self.hosts, ctx.address().recipient());
        }
    }
}

impl Handler<HostStatesSaved> for StateRegistry {
    type Result = ();

    fn handle(&mut self, outcome: HostStatesSaved, ctx: &mut Context<Self>) {
        if let Some(saving) = &mut self.saving {
            // More than one batch's worth waits (thousands of hosts checked in a second): the
            // next goes now, so the store is never behind by more than one small batch.
            if saving.saved(outcome) {
                saving.save(&self.hosts, ctx.address().recipient());
            }
        }
    }
}

impl Handler<StoreRecreated> for StateRegistry {
    type Result = ();

    /// The store's file was lost and a new one opened: every host and its whole history go
    /// into it with the next save, not just what changed.
    fn handle(&mut self, _: StoreRecreated, _: &mut Context<Self>) {
        if let Some(saving) = &mut self.saving {
            let results = saving.refill(&self.hosts);
            log::info!(hosts = self.hosts.len(), results; "writing every host's state and history into the new state store file");
        }
    }
}

impl Handler<PersistState> for StateRegistry {
    type Result = ResponseActFuture<Self, ()>;

    /// Writes everything not yet saved and answers when the store has it (shutdown). Every
    /// host's counters go, not just the changed ones: a batch still out may yet fail.
    fn handle(&mut self, _: PersistState, _: &mut Context<Self>) -> Self::Result {
        let Some(saving) = &mut self.saving else {
            return Box::pin(actix::fut::ready(()));
        };
        saving.mark_all(&self.hosts);
        // Everything at once: this is the last batch.
        let Some(batch) = saving.take_batch(&self.hosts, usize::MAX) else {
            return Box::pin(actix::fut::ready(()));
        };
        let store = saving.store().clone();
        // The unfinished rollup rows go after the last results: the next run merges into them.
        let written = async move {
            let saved = store.send(batch).await;
            let _ = store.send(FlushRollups).await;
            saved
        };
        Box::pin(written.into_actor(self).map(|saved, _, _| match saved {
            Ok(Ok(())) => log::info!("host state saved"),
            Ok(Err(e)) => log::error!(error = e.to_string().as_str(); "saving host state at shutdown failed"),
            Err(e) => log::error!(error = e.to_string().as_str(); "could not reach the state store at shutdown"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::CheckResult;

    fn host(extra: &str) -> Arc<HostConfiguration> {
        let yaml = format!("hosts:\n  - {{ label: api, url: 'http://127.0.0.1:1/', {extra} }}\n");
        let config = flowstate_config::load_str("t.yaml", &yaml, &|_| None)
            .expect("the test configuration is valid");
        config.hosts()[0].clone()
    }

    fn result(ok: bool, latency_ms: u64) -> CheckResult {
        CheckResult {
            at: SystemTime::now(),
            ok,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(latency_ms),
            detail: "status 200".into(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code: None,
        }
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
                moved: Vec::new(),
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
}
