//! Supervisor: owns the running configuration and the only strong address of every HostActor.
//!
//! It spreads HostActors over one arbiter per core, applies configuration changes as a diff
//! (stop removed, restart changed, start added, leave unchanged untouched), restarts a
//! HostActor that vanished (a panic), and drives an orderly shutdown.
//!
//! Every reload takes one path, whatever asked for it (an edit the ConfigWatcher noticed,
//! SIGHUP, `POST /-/reload`): [`ReloadConfigNow`] loads the files on the loader thread, then
//! applies or rejects them here. One load runs at a time; whoever asks meanwhile is answered by
//! the next load, which starts after the last of those asks and so reads what they asked about.
//! A tenant whose files have errors keeps its part of the running configuration while the rest
//! is applied (`flowstate_config::tenant_reload`); its errors are logged, counted under its
//! `tenant` and answered with the applied diff.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use flowstate_config::{Config, ConfigDiff, HostConfiguration};
use tokio::sync::oneshot;

use crate::alert_router::AlertRouter;
use crate::api::access::{Credentials, SharedCredentials};
use crate::cluster::agent::Leave;
use crate::cluster::config_exchange::{AdoptError, ConfigExchange, OwnFiles};
use crate::cluster::config_hash::{content_hash, SharedConfigHash};
use crate::cluster::judge::JudgeConfig;
use crate::cluster::rendezvous::{self, AgentId};
use crate::host::HostActor;
use crate::messages::{
    AdoptConfig, ApplyConfig, AwaitPendingResults, ConfigApplied, FlushNotifiers, GetReadiness,
    GetRunningConfig, GetSchedulerHealth, HostActorDied, HostRestarted, PersistState,
    ReadinessError, ReloadApplied, ReloadConfigNow, ReloadTrigger, Shutdown, StopChecking,
    TenantFilesRejected, TrackHosts, UseAgents, UseMaintenance, UseNotifiers,
};
use crate::metrics::Metrics;
use crate::probe::ProbeFactory;
use crate::self_check::SelfCheck;
use crate::state_registry::StateRegistry;

/// How long a shutdown waits for checks in flight before stopping anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// What a reload answers: what was applied, or every error.
type ReloadOutcome = Result<ReloadApplied, Vec<String>>;

pub struct Supervisor {
    /// The configuration this agent checks: all of it, or in a cluster its share.
    config: Arc<Config>,
    /// The configuration as loaded: what the API shows and a reload is compared with.
    full: Arc<Config>,
    /// In a cluster: this agent, its location and the live agents it shares them with.
    sharing: Option<Sharing>,
    /// In a cluster: the content hash of the configuration applied, for the heartbeat.
    config_hash: Option<SharedConfigHash>,
    /// In a cluster: told at shutdown, so the agent leaves at once.
    leave: Option<Recipient<Leave>>,
    /// In a cluster: the leader's judge, which judges every host (not only this share).
    judge: Option<Recipient<JudgeConfig>>,
    /// In a cluster: the configuration shared with the other agents.
    exchange: Option<ConfigExchange>,
    /// The files to re-read on `ReloadConfigNow`; empty when the configuration came from code.
    config_files: Vec<PathBuf>,
    /// The reload under way and the asks waiting for the next one.
    reloads: Reloads,
    /// Told every configuration applied (the ConfigWatcher, which watches its includes and
    /// ignores the files flowstate writes itself).
    applied_configs: Option<Recipient<ConfigApplied>>,
    arbiters: Vec<Arbiter>,
    hosts: HashMap<Arc<str>, HostHandle>,
    next_generation: u64,
    probe_factory: ProbeFactory,
    registry: Addr<StateRegistry>,
    router: Addr<AlertRouter>,
    metrics: Arc<Metrics>,
    /// The origin of every host's schedule grid, so restarts and reloads keep each phase.
    epoch: Instant,
    /// The API's bearer token, shared with the API so a reload can rotate it.
    shared_token: Option<SharedCredentials>,
    /// The dead man's switch and the settings it runs with, when configured.
    self_check: Option<(flowstate_config::SelfCheckSettings, Addr<SelfCheck>)>,
    /// Every host of the configuration has been scheduled.
    ready: bool,
    shutting_down: bool,
}

/// This agent's share of a cluster's hosts (SPEC §10): those checked in its location that
/// rendezvous hashing gives it among the live agents of the location.
struct Sharing {
    me: AgentId,
    location: Arc<str>,
    /// Empty until the first heartbeat answers: no host is checked twice meanwhile.
    live: Vec<AgentId>,
}

impl Sharing {
    fn checks(&self, host: &HostConfiguration) -> bool {
        host.checked_in(&self.location)
            && rendezvous::owner(&host.label, &self.live) == Some(&self.me)
    }
}

/// At most one load of the files runs; asks that arrive meanwhile wait for the next.
#[derive(Default)]
struct Reloads {
    /// A load is running on the loader thread.
    loading: bool,
    /// Asks not yet served by a load: the next load answers them all.
    waiting: Vec<oneshot::Sender<ReloadOutcome>>,
    /// What the next load is logged as, when an ask waits for it (see [`merged_trigger`]).
    next_trigger: Option<ReloadTrigger>,
}

impl Reloads {
    fn ask(&mut self, trigger: ReloadTrigger, answer: oneshot::Sender<ReloadOutcome>) {
        self.waiting.push(answer);
        self.next_trigger = Some(match self.next_trigger {
            Some(earlier) => merged_trigger(earlier, trigger),
            None => trigger,
        });
    }
}

/// The trigger one load that answers both `earlier` and `later` is logged under: SIGHUP and
/// `POST /-/reload` outrank a noticed edit, so whoever asked finds the outcome in the words
/// they look for (`config reload rejected`).
fn merged_trigger(earlier: ReloadTrigger, later: ReloadTrigger) -> ReloadTrigger {
    if later == ReloadTrigger::FilesEdited {
        earlier
    } else {
        later
    }
}

/// The words a rejected load is logged with: an edit noticed in the files, or a reload asked
/// for (SIGHUP, `POST /-/reload`).
fn rejection_wording(trigger: ReloadTrigger) -> &'static str {
    match trigger {
        ReloadTrigger::FilesEdited => "config edit rejected",
        ReloadTrigger::Signal | ReloadTrigger::Request => "config reload rejected",
    }
}

struct HostHandle {
    addr: Addr<HostActor>,
    /// Which start of this host the actor is; a death notice from an older one is ignored.
    generation: u64,
    config: Arc<HostConfiguration>,
}

impl Supervisor {
    pub fn new(
        config_files: Vec<PathBuf>,
        probe_factory: ProbeFactory,
        registry: Addr<StateRegistry>,
        router: Addr<AlertRouter>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let empty = Arc::new(empty_config());
        Supervisor {
            config: empty.clone(),
            full: empty,
            sharing: None,
            config_hash: None,
            leave: None,
            judge: None,
            exchange: None,
            config_files,
            reloads: Reloads::default(),
            applied_configs: None,
            arbiters: (0..threads).map(|_| Arbiter::new()).collect(),
            hosts: HashMap::new(),
            next_generation: 0,
            probe_factory,
            registry,
            router,
            metrics,
            epoch: Instant::now(),
            shared_token: None,
            self_check: None,
            ready: false,
            shutting_down: false,
        }
    }

    /// In a cluster: checks only this agent's share, `me` in `location`, once [`UseAgents`]
    /// says who is live.
    pub fn sharing_as(mut self, me: AgentId, location: Arc<str>) -> Self {
        self.sharing = Some(Sharing {
            me,
            location,
            live: Vec::new(),
        });
        self
    }

    /// At shutdown, tells `leave` (the ClusterAgent) to leave the cluster.
    /// Shares the configuration with the other agents of the cluster through `exchange`.
    pub fn exchanging_config(mut self, exchange: ConfigExchange) -> Self {
        self.exchange = Some(exchange);
        self
    }

    /// Hands every configuration applied, whole, to `judge` (the leader's ClusterJudge).
    pub fn judging_with(mut self, judge: Recipient<JudgeConfig>) -> Self {
        self.judge = Some(judge);
        self
    }

    pub fn leaving_through(mut self, leave: Recipient<Leave>) -> Self {
        self.leave = Some(leave);
        self
    }

    /// Keeps `hash` at the content hash of every configuration applied.
    pub fn hashing_config_into(mut self, hash: SharedConfigHash) -> Self {
        self.config_hash = Some(hash);
        self
    }

    /// `full`, or this agent's share of it in a cluster.
    fn share_of(&self, full: &Arc<Config>) -> Arc<Config> {
        match &self.sharing {
            Some(sharing) => Arc::new(full.retain_hosts(|host| sharing.checks(host))),
            None => full.clone(),
        }
    }

    /// Lets reloads rotate the API's tokens (`server.token` and the tenants').
    pub fn with_shared_token(mut self, token: SharedCredentials) -> Self {
        self.shared_token = Some(token);
        self
    }

    /// Tells `listener` every configuration applied from now on.
    pub fn reporting_applied_configs_to(mut self, listener: Recipient<ConfigApplied>) -> Self {
        self.applied_configs = Some(listener);
        self
    }

    fn start_host(&mut self, host: Arc<HostConfiguration>, ctx: &mut Context<Self>) {
        self.next_generation += 1;
        let generation = self.next_generation;
        // A stable arbiter per label keeps a host on one thread across restarts.
        let arbiter = &self.arbiters[(flowstate_config::host::stable_hash(&host.label)
            % self.arbiters.len() as u64) as usize];
        let factory = self.probe_factory.clone();
        let registry = self.registry.clone().recipient();
        let supervisor = ctx.address().recipient();
        let epoch = self.epoch;
        let actor_host = host.clone();
        let addr = HostActor::start_in_arbiter(&arbiter.handle(), move |_| {
            HostActor::new(
                actor_host,
                factory(),
                registry,
                supervisor,
                generation,
                epoch,
            )
        });
        self.hosts.insert(
            host.label.clone(),
            HostHandle {
                addr,
                generation,
                config: host,
            },
        );
    }

    fn stop_host(&mut self, label: &str) {
        if let Some(handle) = self.hosts.remove(label) {
            // Not awaited: the actor ends its check in flight, then stops on its own.
            handle.addr.do_send(StopChecking {
                finish_in_flight: true,
            });
        }
    }

    /// Replaces a host's actor with one running `host`, once the old one has stopped and
    /// dropped its check in flight: never two checks of one host at once, and no verdict of the
    /// old configuration lands after the new one's.
    fn restart_host(&mut self, host: Arc<HostConfiguration>, ctx: &mut Context<Self>) {
        let Some(old) = self.hosts.remove(&host.label) else {
            self.start_host(host, ctx);
            return;
        };
        let stopped = old.addr.send(StopChecking {
            finish_in_flight: false,
        });
        let label = host.label.clone();
        ctx.spawn(stopped.into_actor(self).map(move |_, act, ctx| {
            // A later reload may have changed or removed the host meanwhile: start whatever
            // version is configured now, unless another restart already did.
            let current = act.config.host(&label).cloned();
            if let (Some(current), false) =
                (current, act.shutting_down || act.hosts.contains_key(&label))
            {
                act.start_host(current, ctx);
            }
        }));
    }

    /// Starts, replaces or stops the dead man's switch to match the configuration.
    fn use_self_check(
        &mut self,
        wanted: Option<flowstate_config::SelfCheckSettings>,
        ctx: &mut Context<Self>,
    ) {
        let running = self.self_check.as_ref().map(|(settings, _)| settings);
        if running == wanted.as_ref() {
            return;
        }
        if let Some((_, old)) = self.self_check.take() {
            old.do_send(StopChecking {
                finish_in_flight: false,
            });
        }
        self.self_check = wanted.map(|settings| {
            let actor = SelfCheck::new(settings.clone(), ctx.address().recipient()).start();
            (settings, actor)
        });
    }

    /// Starts a load of the files for every ask waiting, unless one runs: its end starts the
    /// next. Reading and validating a large file takes a while, so it runs on the loader
    /// thread, and this arbiter keeps handling check results and health queries meanwhile.
    fn start_reload(&mut self, ctx: &mut Context<Self>) {
        if self.reloads.loading {
            return;
        }
        let Some(trigger) = self.reloads.next_trigger.take() else {
            return;
        };
        let answers = std::mem::take(&mut self.reloads.waiting);
        if self.shutting_down {
            answer_all(answers, &Err(vec!["shutting down".to_string()]));
            return;
        }
        self.reloads.loading = true;
        let started = std::time::SystemTime::now();
        // A tenant whose files are broken keeps its part of what runs: the whole
        // configuration as loaded, not this agent's share of it.
        let loaded = crate::config_load::reload(self.config_files.clone(), self.full.clone());
        ctx.spawn(loaded.into_actor(self).map(move |loaded, act, ctx| {
            act.reloads.loading = false;
            let outcome = match loaded {
                _ if act.shutting_down => Err(vec!["shutting down".to_string()]),
                Ok(loaded) => {
                    let config = Arc::new(loaded.config);
                    let diff = act.apply_own(config.clone(), ctx);
                    act.log_reload(&diff);
                    act.record_tenant_loads(&config, &loaded.contained);
                    crate::config_load::log_contained(&loaded.contained);
                    Ok(ReloadApplied {
                        diff,
                        failed_tenants: loaded.contained,
                    })
                }
                Err(errors) => {
                    act.reject_reload(trigger, &errors);
                    Err(errors.diagnostics.iter().map(ToString::to_string).collect())
                }
            };
            trace_reload(started, trigger, &outcome);
            answer_all(answers, &outcome);
            act.start_reload(ctx);
        }));
    }

    /// Starts, replaces or stops tracing to match `telemetry`. A pipeline that cannot start
    /// (an unreadable `ca_file`) is logged, and the running one, if any, goes on: checks
    /// never wait for tracing.
    fn use_telemetry(&self, telemetry: Option<&flowstate_config::telemetry::TelemetrySettings>) {
        match crate::telemetry::apply(telemetry) {
            Ok(crate::telemetry::Applied::Unchanged) => {}
            Ok(applied) => {
                let endpoint =
                    telemetry.map(|t| flowstate_config::secret::redact_url(&t.otlp.endpoint));
                log::info!(change = format!("{applied:?}").to_lowercase().as_str(), endpoint = endpoint.as_deref(); "tracing: OTLP export {}", if telemetry.is_some() { "on" } else { "off" });
            }
            Err(error) => {
                log::error!(error = error.to_string().as_str(); "cannot export traces; checks go on without tracing");
            }
        }
    }

    fn reject_reload(&self, trigger: ReloadTrigger, errors: &flowstate_config::ConfigError) {
        self.metrics.record_reload(false);
        crate::config_load::log_rejection(rejection_wording(trigger), errors);
    }

    /// Counts a load of each tenant of `config`: failed for those in `failed` (their files
    /// were not taken), applied for the others; a tenant no longer configured loses its series.
    fn record_tenant_loads(&self, config: &Config, failed: &[flowstate_config::TenantFailure]) {
        for tenant in &config.tenants {
            let applied = !failed.iter().any(|f| f.tenant == tenant.name);
            self.metrics.record_tenant_reload(&tenant.name, applied);
        }
        self.metrics
            .retain_tenants(|name| config.tenant(name).is_some());
    }

    /// The one outcome line of an applied reload: every attempt says how it ended, also when
    /// nothing changed (a file fixed back to what runs, a SIGHUP without an edit), so the last
    /// line about the configuration is never a stale error. The counts are in the message
    /// only: as fields too, text logs showed them twice.
    fn log_reload(&self, diff: &ConfigDiff) {
        self.metrics.record_reload(true);
        if diff.is_empty() {
            log::info!(
                "config reload: nothing changed; {} hosts keep running as they are",
                diff.unchanged.len()
            );
            return;
        }
        log::info!(
            "config reloaded: {} added, {} removed, {} changed, {} unchanged",
            diff.added.len(),
            diff.removed.len(),
            diff.changed.len(),
            diff.unchanged.len()
        );
    }

    /// Applies a configuration loaded from this agent's own files; in a cluster, shares it
    /// with the other agents, unless they run a newer one and the files did not change.
    fn apply_own(&mut self, new: Arc<Config>, ctx: &mut Context<Self>) -> ConfigDiff {
        if let Some(exchange) = &mut self.exchange {
            if exchange.loaded_own(&new) == OwnFiles::KeepClusters {
                log::info!("this agent's files did not change; it keeps running the cluster's newer configuration");
                return ConfigDiff::between(&self.config, &self.config);
            }
        }
        self.apply_loaded(new, ctx)
    }

    /// Applies a configuration as loaded (at start, by a reload, or taken from the cluster):
    /// all of it, or in a cluster this agent's share of it.
    fn apply_loaded(&mut self, new: Arc<Config>, ctx: &mut Context<Self>) -> ConfigDiff {
        let new = with_running_location(new, &self.full);
        if let Some(hash) = &self.config_hash {
            let content = content_hash(&new.sources);
            if let Ok(mut current) = hash.write() {
                *current = content;
            }
        }
        // Set before applying: a host the new configuration drops is removed, not handed
        // over to another agent.
        self.full = new.clone();
        if let Some(judge) = &self.judge {
            judge.do_send(JudgeConfig(new.clone()));
        }
        let share = self.share_of(&new);
        self.apply(share, ctx)
    }

    /// Applies `new` (a whole configuration or this agent's share of one, made by
    /// [`Supervisor::apply_loaded`], which keeps the running location).
    fn apply(&mut self, new: Arc<Config>, ctx: &mut Context<Self>) -> ConfigDiff {
        let diff = ConfigDiff::between(&self.config, &new);
        // Settings that cannot change while running keep their running values, so reverting
        // a refused edit is not refused again.
        let new = if self.ready && !diff.needs_restart.is_empty() {
            let mut kept = (*new).clone();
            kept.server.listen = self.config.server.listen;
            kept.state.path = self.config.state.path.clone();
            kept.cluster = self.config.cluster.clone();
            Arc::new(kept)
        } else {
            new
        };
        // Before the first configuration there is nothing running to keep.
        let restart_only = if self.ready {
            diff.needs_restart.as_slice()
        } else {
            &[]
        };
        for setting in restart_only {
            log::warn!(setting = *setting; "this setting changed but cannot change while running; restart flowstate to apply it");
        }
        // Plugins first: a host of a new plugin's type finds it at its first check.
        crate::plugin::apply(&new.plugins);
        // Tracing before hosts start, so their first checks are traced.
        self.use_telemetry(new.telemetry.as_ref());
        // The registry learns of new hosts before their first result can arrive. The router
        // switches notifiers only after the registry has sent the `removed` events of this
        // reload, which may be for a notifier that is leaving too.
        let moved: Vec<Arc<str>> = diff
            .removed
            .iter()
            .filter(|label| self.full.host(label).is_some())
            .cloned()
            .collect();
        let tracked = self.registry.send(TrackHosts {
            hosts: new.hosts().to_vec(),
            history: new.state.history,
            moved,
        });
        let router = self.router.clone();
        let notifiers = new.notifiers.clone();
        let maintenance = new.maintenance.clone();
        ctx.spawn(
            async move {
                let _ = tracked.await;
                router.do_send(UseNotifiers(notifiers));
                router.do_send(UseMaintenance(maintenance));
            }
            .into_actor(self),
        );
        if let Some(token) = &self.shared_token {
            if let Ok(mut current) = token.write() {
                *current = Arc::new(Credentials::of(&new));
            }
        }
        for label in &diff.removed {
            self.stop_host(label);
            // Here rather than in the registry: the series must be gone when a reload
            // answers, not when the registry gets to its mailbox.
            self.metrics.remove_host(label);
        }
        self.metrics.set_hosts(new.hosts().len());
        for changed in &diff.changed {
            if let Some(host) = new.host(&changed.label) {
                self.restart_host(host.clone(), ctx);
            }
        }
        for label in &diff.added {
            if let Some(host) = new.host(label) {
                self.start_host(host.clone(), ctx);
            }
        }
        self.use_self_check(new.self_check.clone(), ctx);
        // The watcher watches this agent's own files, not where the cluster's were laid out.
        let from_cluster = self.exchange.as_ref().is_some_and(|e| e.runs_clusters());
        if let (Some(listener), false) = (&self.applied_configs, from_cluster) {
            listener.do_send(ConfigApplied(new.clone()));
        }
        self.config = new;
        self.ready = true;
        diff
    }
}

/// A reload's span, when tracing is on (after the reload, so a reload that turned tracing on
/// is traced too).
fn trace_reload(started: std::time::SystemTime, trigger: ReloadTrigger, outcome: &ReloadOutcome) {
    let Some(tracing) = crate::telemetry::current() else {
        return;
    };
    let trigger = match trigger {
        ReloadTrigger::FilesEdited => "file",
        ReloadTrigger::Signal => "signal",
        ReloadTrigger::Request => "api",
    };
    let traced = match outcome {
        Ok(applied) => crate::telemetry::ReloadTraced {
            started,
            trigger,
            added: applied.diff.added.len(),
            changed: applied.diff.changed.len(),
            removed: applied.diff.removed.len(),
            outcome: Ok(()),
        },
        Err(errors) => crate::telemetry::ReloadTraced {
            started,
            trigger,
            added: 0,
            changed: 0,
            removed: 0,
            outcome: Err(errors.first().map_or("refused", String::as_str)),
        },
    };
    tracing.reload(&traced);
}

/// `new` with the running agent's location when the file leaves it to `--location` or
/// `$FLOWSTATE_LOCATION` (read once, at start): a reload is not a change of location.
fn with_running_location(new: Arc<Config>, running: &Config) -> Arc<Config> {
    let (Some(next), Some(now)) = (&new.cluster, &running.cluster) else {
        return new;
    };
    if next.location.is_some() || now.location.is_none() {
        return new;
    }
    let mut located = (*new).clone();
    if let Some(cluster) = &mut located.cluster {
        cluster.location.clone_from(&now.location);
    }
    Arc::new(located)
}

/// Answers every ask a load served; an asker that gave up waiting (a timed-out request) is
/// no longer listening, which is fine.
fn answer_all(answers: Vec<oneshot::Sender<ReloadOutcome>>, outcome: &ReloadOutcome) {
    for answer in answers {
        let _ = answer.send(outcome.clone());
    }
}

/// A configuration with nothing in it: what is running before the first `ApplyConfig`.
fn empty_config() -> Config {
    // An empty document is always valid; should that ever change, fail loudly at start.
    flowstate_config::load_str("(none)", "", &|_| None)
        .unwrap_or_else(|e| panic!("the empty configuration is invalid: {e}"))
}

impl Actor for Supervisor {
    type Context = Context<Self>;
}

impl Handler<ApplyConfig> for Supervisor {
    type Result = MessageResult<ApplyConfig>;

    fn handle(&mut self, msg: ApplyConfig, ctx: &mut Context<Self>) -> Self::Result {
        let first = self.hosts.is_empty() && !self.ready;
        let diff = self.apply_own(msg.0, ctx);
        if first {
            self.metrics.config_loaded();
            for tenant in &self.full.tenants {
                self.metrics.tenant_config_loaded(&tenant.name);
            }
            log::info!(hosts = self.hosts.len(), notifiers = self.config.notifiers.len(); "monitoring started");
        } else {
            self.log_reload(&diff);
        }
        MessageResult(diff)
    }
}

impl Handler<TenantFilesRejected> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: TenantFilesRejected, _: &mut Context<Self>) {
        for failure in &msg.0 {
            self.metrics.record_tenant_reload(&failure.tenant, false);
        }
        crate::config_load::log_contained(&msg.0);
    }
}

impl Handler<HostActorDied> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: HostActorDied, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        let Some(handle) = self.hosts.get(&msg.label) else {
            return;
        };
        if handle.generation != msg.generation {
            return;
        }
        let host = handle.config.clone();
        log::error!(host = &*msg.label; "host actor crashed; starting it again");
        // Counted by the registry, which owns the host's totals and its metric series.
        self.registry.do_send(HostRestarted {
            label: msg.label.clone(),
        });
        self.start_host(host, ctx);
    }
}

impl Handler<GetReadiness> for Supervisor {
    type Result = ResponseFuture<Result<(), ReadinessError>>;

    fn handle(&mut self, _: GetReadiness, _: &mut Context<Self>) -> Self::Result {
        if self.shutting_down {
            return Box::pin(async { Err(ReadinessError::ShuttingDown) });
        }
        if !self.ready {
            return Box::pin(async { Err(ReadinessError::Starting) });
        }
        if self.sharing.as_ref().is_some_and(|s| s.live.is_empty()) {
            return Box::pin(async { Err(ReadinessError::Unregistered) });
        }
        let health = self.registry.send(GetSchedulerHealth {
            max_lag: self.config.server.ready_max_lag,
        });
        Box::pin(async move {
            match health.await {
                Ok(health) => health.map_err(ReadinessError::from),
                Err(e) => Err(ReadinessError::RegistryUnanswered(e)),
            }
        })
    }
}

impl Handler<GetRunningConfig> for Supervisor {
    type Result = MessageResult<GetRunningConfig>;

    fn handle(&mut self, _: GetRunningConfig, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.full.clone())
    }
}

impl Handler<UseAgents> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: UseAgents, ctx: &mut Context<Self>) {
        let Some(sharing) = &mut self.sharing else {
            return;
        };
        let mut live = msg.live;
        live.sort();
        if sharing.live == live {
            return;
        }
        sharing.live = live;
        if !self.ready {
            // The first configuration takes the share when it comes.
            return;
        }
        let share = self.share_of(&self.full.clone());
        let diff = self.apply(share, ctx);
        log::info!(
            agents = self.sharing.as_ref().map_or(0, |s| s.live.len()),
            hosts = self.hosts.len(),
            taken = diff.added.len(),
            handed_over = diff.removed.len();
            "this agent's share of the hosts changed"
        );
    }
}

impl Handler<AdoptConfig> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AdoptConfig, ctx: &mut Context<Self>) {
        let running = self
            .config_hash
            .as_ref()
            .and_then(|hash| hash.read().ok().map(|h| h.clone()))
            .unwrap_or_default();
        let Some(exchange) = &mut self.exchange else {
            return;
        };
        if self.shutting_down || !exchange.should_adopt(&msg.hash, &running) {
            return;
        }
        let loaded = exchange.fetch_and_load(msg.hash.clone());
        ctx.spawn(loaded.into_actor(self).map(move |loaded, act, ctx| {
            let Some(exchange) = &mut act.exchange else {
                return;
            };
            match loaded {
                _ if act.shutting_down => exchange.refused(&msg.hash, true),
                Ok(config) => {
                    exchange.adopted(&msg.hash);
                    log::info!(config_hash = msg.hash.as_str(), published_by = msg.by.as_str(), previous = running.as_str(); "running the cluster's newest configuration");
                    let diff = act.apply_loaded(Arc::new(config), ctx);
                    act.log_reload(&diff);
                }
                Err(AdoptError::Load(errors)) => {
                    exchange.refused(&msg.hash, false);
                    act.metrics.record_reload(false);
                    log::error!(config_hash = msg.hash.as_str(), published_by = msg.by.as_str(); "the cluster's newest configuration does not load on this agent; it keeps running its own (GET /api/v1/cluster shows the disagreement)");
                    crate::config_load::log_rejection(
                        "the cluster's newest configuration is refused here",
                        &errors,
                    );
                }
                Err(e) => {
                    // Tried again at the next heartbeat.
                    exchange.refused(&msg.hash, true);
                    log::warn!(config_hash = msg.hash.as_str(), error = e.to_string().as_str(); "could not take the cluster's newest configuration yet");
                }
            }
        }));
    }
}

impl Handler<ReloadConfigNow> for Supervisor {
    type Result = ResponseActFuture<Self, ReloadOutcome>;

    fn handle(&mut self, msg: ReloadConfigNow, ctx: &mut Context<Self>) -> Self::Result {
        if self.shutting_down {
            return Box::pin(actix::fut::ready(Err(vec!["shutting down".to_string()])));
        }
        if self.config_files.is_empty() {
            return Box::pin(actix::fut::ready(Err(vec![
                "this daemon was not started from configuration files".to_string(),
            ])));
        }
        let (answer, answered) = oneshot::channel();
        self.reloads.ask(msg.trigger, answer);
        self.start_reload(ctx);
        // Tied to this actor, as the load is: should it stop, the asker hears that it did.
        Box::pin(
            async move {
                answered
                    .await
                    .unwrap_or_else(|_| Err(vec!["shutting down".to_string()]))
            }
            .into_actor(self),
        )
    }
}

/// How long the shutdown waits for queued spans to reach the collector.
const TRACES_FLUSH_GRACE: Duration = Duration::from_secs(2);

impl Handler<Shutdown> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        if self.shutting_down {
            return Box::pin(actix::fut::ready(()));
        }
        self.shutting_down = true;
        log::info!(hosts = self.hosts.len(); "shutting down: letting checks in flight finish");
        let stops: Vec<_> = self
            .hosts
            .drain()
            .map(|(_, handle)| {
                handle.addr.send(StopChecking {
                    finish_in_flight: true,
                })
            })
            .collect();
        let router = self.router.clone();
        let registry = self.registry.clone();
        let leave = self.leave.clone();
        let drain = async move {
            // The others take this agent's hosts and the lease now, not after the lease.
            if let Some(leave) = leave {
                if actix_rt::time::timeout(SHUTDOWN_GRACE, leave.send(Leave))
                    .await
                    .is_err()
                {
                    log::warn!("the cluster database did not answer the leave; the others take over after the lease");
                }
            }
            let stopped = futures_util::future::join_all(stops);
            if actix_rt::time::timeout(SHUTDOWN_GRACE, stopped)
                .await
                .is_err()
            {
                log::warn!("checks still in flight after the grace period; stopping anyway");
            }
            // Every last result was sent to the registry before its host stopped; once the
            // registry answers, the changes they caused are queued at the router ahead of the
            // flush.
            if let Err(e) = registry.send(AwaitPendingResults).await {
                log::error!(error = e.to_string().as_str(); "could not reach the state registry");
            }
            if let Err(e) = router.send(FlushNotifiers).await {
                log::error!(error = e.to_string().as_str(); "could not flush notifiers");
            }
            if let Err(e) = registry.send(PersistState).await {
                log::error!(error = e.to_string().as_str(); "could not save host state");
            }
            // Last: the flush above made delivery spans. Bounded, off this thread.
            let _ = actix_web::rt::task::spawn_blocking(|| {
                crate::telemetry::shut_down(TRACES_FLUSH_GRACE)
            })
            .await;
        };
        Box::pin(drain.into_actor(self).map(|_, act, _| {
            for arbiter in act.arbiters.drain(..) {
                arbiter.stop();
            }
            log::info!("stopped");
            System::current().stop();
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::Daemon;
    use crate::probe::default_probe_factory;

    #[test]
    fn an_asked_reload_outranks_a_noticed_edit_in_the_words_of_a_shared_load() {
        use ReloadTrigger::{FilesEdited, Request, Signal};
        assert_eq!(merged_trigger(FilesEdited, Signal), Signal);
        assert_eq!(merged_trigger(Signal, FilesEdited), Signal);
        assert_eq!(merged_trigger(Signal, Request), Request);
        assert_eq!(merged_trigger(FilesEdited, FilesEdited), FilesEdited);
        assert_eq!(rejection_wording(FilesEdited), "config edit rejected");
        assert_eq!(rejection_wording(Signal), "config reload rejected");
        assert_eq!(rejection_wording(Request), "config reload rejected");
    }

    #[actix_rt::test]
    async fn asks_that_arrive_during_a_load_share_the_next_load() {
        let path =
            std::env::temp_dir().join(format!("flowstate-reloads-{}.yaml", std::process::id()));
        std::fs::write(&path, "hosts: []\n").unwrap();
        let config = Arc::new(crate::config_load::load(vec![path.clone()]).await.unwrap());
        let daemon = Daemon::start(config, vec![path.clone()], default_probe_factory());
        // Queued together: the first starts a load, the other two wait for the next one.
        let asks: Vec<_> = [
            ReloadTrigger::FilesEdited,
            ReloadTrigger::Signal,
            ReloadTrigger::Request,
        ]
        .into_iter()
        .map(|trigger| daemon.supervisor.send(ReloadConfigNow { trigger }))
        .collect();
        let answers = futures_util::future::join_all(asks).await;
        let rendered = daemon.metrics.render();
        let _ = daemon.supervisor.send(Shutdown).await;
        std::fs::remove_file(&path).unwrap();
        for answer in answers {
            assert!(
                matches!(answer, Ok(Ok(ref applied)) if applied.diff.is_empty()),
                "{answer:?}"
            );
        }
        assert!(
            rendered.contains(r#"flowstate_config_reloads_total{result="success"} 2"#),
            "{rendered}"
        );
    }
}
