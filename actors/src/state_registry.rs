//! StateRegistry: the actor that keeps every host's runtime state and drives the model.
//!
//! Because state lives here and not in HostActors, replacing or restarting a HostActor loses
//! nothing. Each result goes to its host's [`Host`] (which applies the thresholds of the
//! configuration that came with it); transitions, and only transitions, become
//! `HostStatusChanged` for the AlertRouter. Around that, the registry feeds the scheduler's
//! record ([`crate::scheduler_stats`]), the hosts' metric series ([`crate::host_series`]) and
//! the state store ([`crate::state_saving`]), and answers the API from the model.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::HostConfiguration;

use crate::api::types::{HostDetail, HostView};
use crate::host_series::HostSeries;
use crate::messages::{
    AwaitPendingResults, CheckCompleted, GetHost, GetHostSparklines, GetHosts, GetSchedulerHealth,
    GetSchedulerStats, HostRestarted, HostStatusChanged, PersistState, SaveChangedState,
    TrackHosts,
};
use crate::metrics::Metrics;
use crate::model::{Host, HostState, Transition};
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
            scheduler: SchedulerRecord::default(),
            series: HostSeries::new(metrics),
            saving: None,
            restored: HashMap::new(),
        }
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
    });
}

impl Actor for StateRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(saving) = &self.saving {
            saving.subscribe(ctx.address().recipient());
        }
    }
}

impl Handler<TrackHosts> for StateRegistry {
    type Result = ();

    fn handle(&mut self, msg: TrackHosts, _: &mut Context<Self>) {
        let now = SystemTime::now();
        self.history_limit = msg.history;
        self.scheduler.track(&msg.hosts);
        self.order = msg.hosts.iter().map(|h| h.label.clone()).collect();
        let mut kept = HashMap::with_capacity(msg.hosts.len());
        for config in &msg.hosts {
            let host = match self.hosts.remove(&config.label) {
                Some(mut host) => {
                    host.reconfigure(config.clone());
                    host
                }
                None => match self.restored.remove(&config.label) {
                    Some(state) => Host::restore(config.clone(), state),
                    None => Host::new(config.clone(), now),
                },
            };
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
        // A late result of a host removed by a reload: nothing to record.
        let Some(host) = self.hosts.get_mut(&msg.host.label) else {
            return;
        };
        let transition = host.record(&msg.result, &msg.host, self.history_limit);
        if let Some(saving) = &mut self.saving {
            saving.checked(host, &msg.result);
        }
        self.series.checked(&msg.host, &msg.result);
        let Some(transition) = transition else {
            return;
        };
        self.series.changed(&msg.host.label, transition.status);
        if let Some(saving) = &mut self.saving {
            saving.transitioned(&msg.host.label, &transition);
        }
        log::info!(
            host = &*msg.host.label,
            status = transition.status.as_str(),
            previous = transition.previous.as_str(),
            reason = transition.reason.as_str();
            "host status changed"
        );
        let latency = msg.result.latency;
        announce(
            &self.changes,
            host,
            msg.host.clone(),
            transition,
            latency,
            false,
        );
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

    fn handle(&mut self, outcome: HostStatesSaved, _: &mut Context<Self>) {
        if let Some(saving) = &mut self.saving {
            saving.saved(outcome);
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
        let Some(batch) = saving.take_batch(&self.hosts) else {
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
