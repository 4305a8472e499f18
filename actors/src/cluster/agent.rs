//! ClusterAgent: this process as one agent of a cluster (SPEC §10): its heartbeat, its bid
//! for the leader lease, and what it last saw of the others.
//!
//! A SyncArbiter actor on a thread of its own (the `postgres` client blocks), driven by
//! [`ClusterPulse`] on the main arbiter, which beats every `cluster.heartbeat` and publishes
//! each answer to the shared [`ClusterStatus`] that the API (`GET /api/v1/cluster`) and the
//! metrics read. A database that does not answer costs this agent its place and, after the
//! lease, its leadership: it says so, keeps checking, and joins again when the database is
//! back.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use flowstate_config::DatabaseUrl;
use serde::Serialize;

use super::config_hash::SharedConfigHash;
use super::judge::LeadershipChanged;
use super::leader_state::{HostQuorum, LeaderState, QuorumChange, VerdictCache};
use super::location_rollups::LocationAvailability;
use super::membership::{AgentRow, ClusterError, LeaseHolder, Membership, StoredVerdict};
use super::minute_tally::MinuteRow;
use super::rendezvous::AgentId;
use super::shared_config::{ConfigFiles, PublishedConfig};
use crate::messages::{AdoptConfig, UseAgents};
use crate::metrics::Metrics;
use crate::model::rfc3339;
use crate::silences::{Silence, SilenceBook};
use crate::store::{DeleteSilence, SaveAlertState, SaveSilence, StoreError};

/// Who this agent is and what it asks of the cluster.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub url: DatabaseUrl,
    pub id: String,
    pub location: String,
    /// How long the leader lease lasts, and how old a heartbeat may be for a live agent.
    pub lease: Duration,
    /// How often this agent beats.
    pub heartbeat: Duration,
}

/// An agent id unique enough to tell processes apart: the location, the machine (a pod's
/// name in Kubernetes) and the process.
pub fn default_agent_id(location: &str) -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{location}-{machine}-{}", std::process::id())
}

pub struct ClusterAgent {
    settings: AgentSettings,
    membership: Option<Membership>,
    /// Left at shutdown: a heartbeat still on its way must not join again.
    left: bool,
    /// When old rollups were last deleted (about once an hour, by every agent).
    pruned_at: Option<Instant>,
    /// As the leader: its copy of the verdicts, read incrementally.
    verdicts: Option<VerdictCache>,
    /// The fencing token of the lease as the last beat was granted it: every write only the
    /// leader may make carries it, and the database refuses it once another agent leads.
    token: Option<i64>,
}

impl ClusterAgent {
    pub fn start(settings: AgentSettings) -> Addr<ClusterAgent> {
        SyncArbiter::start(1, move || ClusterAgent {
            settings: settings.clone(),
            membership: None,
            left: false,
            token: None,
            pruned_at: None,
            verdicts: None,
        })
    }

    fn membership(&mut self) -> Result<&mut Membership, ClusterError> {
        let settings = &self.settings;
        if self.membership.is_none() {
            self.membership = Some(Membership::connect(
                &settings.url,
                &settings.id,
                &settings.location,
            )?);
        }
        // Just set when it was missing.
        self.membership.as_mut().ok_or(ClusterError::Gone)
    }

    /// Runs `work` on the database; a failure drops the connection, so the next message
    /// connects afresh.
    fn on_database<T>(
        &mut self,
        work: impl FnOnce(&mut Membership) -> Result<T, ClusterError>,
    ) -> Result<T, ClusterError> {
        let done = self.membership().and_then(work);
        if done.is_err() {
            self.membership = None;
        }
        done
    }
}

impl Actor for ClusterAgent {
    type Context = SyncContext<Self>;

    fn stopped(&mut self, _: &mut SyncContext<Self>) {
        // A clean stop hands the hosts and the lease over at once, not after the lease.
        if let Some(membership) = &mut self.membership {
            let _ = membership.leave();
        }
    }
}

/// Beat once: heartbeat with `hosts` checked here, bid for (or renew) the lease, and look at
/// the others.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<ClusterView, ClusterError>")]
pub struct Beat {
    pub hosts: i32,
    pub config_hash: String,
}

/// This location's verdicts that changed, and the hosts checked since the last batch (their
/// verdicts are still fresh): sent by the StateRegistry once a second.
#[derive(Message, Debug, Clone, Default)]
#[rtype(result = "()")]
pub struct LocationVerdicts {
    /// `(host, status, when decided, reason)`.
    pub changed: Vec<(String, String, SystemTime, String)>,
    pub fresh: Vec<String>,
    /// This location's minutes that are over.
    pub minutes: Vec<MinuteRow>,
}

/// Every location's verdict on one host (`Some`), or on all.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<StoredVerdict>, ClusterError>")]
pub struct GetVerdicts {
    pub host: Option<String>,
}

/// Each location's availability of one host, from the rollups.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<LocationAvailability>, ClusterError>")]
pub struct GetLocationAvailability {
    pub host: String,
}

impl Handler<GetLocationAvailability> for ClusterAgent {
    type Result = Result<Vec<LocationAvailability>, ClusterError>;

    fn handle(&mut self, msg: GetLocationAvailability, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(|membership| membership.location_availability(&msg.host))
    }
}

/// How often an agent deletes rollups past their keeping.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Leave the cluster now (a clean shutdown).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Leave;

/// What one beat saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterView {
    /// The live agents (heartbeat within the lease), by id.
    pub agents: Vec<AgentView>,
    pub leader: Option<LeaderView>,
    /// This agent holds the lease, with this fencing token.
    pub lease_token: Option<i64>,
    /// The configuration published last: the one every agent runs.
    pub newest_config: Option<PublishedConfig>,
    /// Every silence of the cluster (`GET /api/v1/silences` lists them, not this).
    #[serde(skip)]
    pub silences: Vec<Silence>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub id: String,
    pub location: String,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub last_seen_ms: i64,
    pub hosts: i32,
    /// The content hash of the configuration it runs.
    pub config_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderView {
    pub agent: String,
    pub token: i64,
}

impl From<&AgentRow> for AgentView {
    fn from(row: &AgentRow) -> Self {
        AgentView {
            id: row.id.clone(),
            location: row.location.clone(),
            last_seen_ms: row.idle_ms,
            hosts: row.hosts,
            config_hash: row.config_hash.clone(),
        }
    }
}

impl From<LeaseHolder> for LeaderView {
    fn from(holder: LeaseHolder) -> Self {
        LeaderView {
            agent: holder.agent,
            token: holder.token,
        }
    }
}

impl Handler<Beat> for ClusterAgent {
    type Result = Result<ClusterView, ClusterError>;

    fn handle(&mut self, msg: Beat, _: &mut SyncContext<Self>) -> Self::Result {
        if self.left {
            return Err(ClusterError::Gone);
        }
        let lease = self.settings.lease;
        let view = (|| {
            let membership = self.membership()?;
            membership.heartbeat(msg.hosts, &msg.config_hash)?;
            let lease_token = membership.acquire_lease(lease)?.map(|l| l.token);
            self.token = lease_token;
            let membership = self.membership()?;
            let agents = membership.live_agents(None, lease)?;
            let leader = membership.leader()?;
            let newest_config = membership.newest_config()?;
            let silences = membership.silences()?;
            Ok(ClusterView {
                silences,
                agents: agents.iter().map(AgentView::from).collect(),
                leader: leader.map(LeaderView::from),
                lease_token,
                newest_config,
            })
        })();
        if view.is_err() {
            // The next beat connects afresh; until then this agent cannot know it leads.
            self.membership = None;
            self.token = None;
        }
        view
    }
}

impl ClusterAgent {
    /// Runs `work` with the database and the token of a lease this agent was granted: fenced
    /// in the database by that token, so a lease lost since then refuses it.
    fn as_leader<T>(
        &mut self,
        work: impl FnOnce(&mut Membership, i64) -> Result<T, ClusterError>,
    ) -> Result<T, ClusterError> {
        let token = self.token.ok_or(ClusterError::Fenced)?;
        if self.left {
            return Err(ClusterError::Fenced);
        }
        let done = self.membership().and_then(|m| work(m, token));
        match &done {
            Err(ClusterError::Fenced) => self.token = None,
            Err(_) => self.membership = None,
            Ok(_) => {}
        }
        done
    }
}

/// Judge these hosts by quorum and record the changes: only the leader does.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<QuorumChange>, ClusterError>")]
pub struct JudgeHosts {
    pub hosts: Arc<Vec<HostQuorum>>,
    pub quorum: u32,
}

/// Whether this agent still holds the lease with `token`: asked before each delivery.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<bool, ClusterError>")]
pub struct StillLeads {
    pub token: i64,
}

/// Publish the configuration files this agent loaded from its own files (see
/// [`super::shared_config`]).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), ClusterError>")]
pub struct PublishConfig {
    pub hash: String,
    pub files: ConfigFiles,
    /// Its files changed while it ran: they are the newest whatever was published before.
    pub edited: bool,
}

/// The files published under `hash`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Option<ConfigFiles>, ClusterError>")]
pub struct GetConfigFiles {
    pub hash: String,
}

impl Handler<PublishConfig> for ClusterAgent {
    type Result = Result<(), ClusterError>;

    fn handle(&mut self, msg: PublishConfig, _: &mut SyncContext<Self>) -> Self::Result {
        if self.left {
            return Ok(());
        }
        self.on_database(|m| m.publish_config(&msg.hash, &msg.files, msg.edited))
    }
}

impl Handler<GetConfigFiles> for ClusterAgent {
    type Result = Result<Option<ConfigFiles>, ClusterError>;

    fn handle(&mut self, msg: GetConfigFiles, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(|m| m.config_files(&msg.hash))
    }
}

impl Handler<SaveSilence> for ClusterAgent {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: SaveSilence, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(|m| m.save_silence(&msg.0))
            .map_err(|e| StoreError::Cluster(e.to_string()))
    }
}

impl Handler<DeleteSilence> for ClusterAgent {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: DeleteSilence, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(|m| m.delete_silence(&msg.0))
            .map_err(|e| StoreError::Cluster(e.to_string()))
    }
}

/// What the last leader left: read when this agent takes the lease.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<LeaderState, ClusterError>")]
pub struct LoadLeaderState;

impl Handler<JudgeHosts> for ClusterAgent {
    type Result = Result<Vec<QuorumChange>, ClusterError>;

    fn handle(&mut self, msg: JudgeHosts, _: &mut SyncContext<Self>) -> Self::Result {
        let mut cache = self.verdicts.take();
        let judged = self.as_leader(|membership, token| {
            membership.judge(token, &msg.hosts, msg.quorum, &mut cache)
        });
        self.verdicts = cache;
        judged
    }
}

impl Handler<SaveAlertState> for ClusterAgent {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: SaveAlertState, _: &mut SyncContext<Self>) -> Self::Result {
        self.as_leader(|membership, token| membership.save_alert_state(token, &msg))
            .map_err(|e| {
                if !matches!(e, ClusterError::Fenced) {
                    log::error!(error = e.to_string().as_str(); "could not write the cluster's outbox; trying again");
                }
                StoreError::Cluster(e.to_string())
            })
    }
}

impl Handler<StillLeads> for ClusterAgent {
    type Result = Result<bool, ClusterError>;

    fn handle(&mut self, msg: StillLeads, _: &mut SyncContext<Self>) -> Self::Result {
        if self.token != Some(msg.token) || self.left {
            return Ok(false);
        }
        let held = self
            .membership()
            .and_then(|membership| membership.holds(msg.token));
        match &held {
            Ok(false) => self.token = None,
            Err(_) => self.membership = None,
            Ok(true) => {}
        }
        held
    }
}

impl Handler<LoadLeaderState> for ClusterAgent {
    type Result = Result<LeaderState, ClusterError>;

    fn handle(&mut self, _: LoadLeaderState, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(Membership::leader_state)
    }
}

impl Handler<LocationVerdicts> for ClusterAgent {
    type Result = ();

    fn handle(&mut self, msg: LocationVerdicts, _: &mut SyncContext<Self>) {
        if self.left {
            return;
        }
        let prune = self.pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        let written = self.on_database(|membership| {
            membership.record_verdicts(&msg.changed)?;
            membership.mark_fresh(&msg.fresh)?;
            membership.record_minutes(&msg.minutes)?;
            if prune {
                membership.prune_minutes()?;
            }
            Ok(())
        });
        if prune && written.is_ok() {
            self.pruned_at = Some(Instant::now());
        }
        if let Err(e) = written {
            // Unwritten, the location's verdicts go stale and count as unknown, never down.
            log::warn!(error = e.to_string().as_str(), verdicts = msg.changed.len(); "could not write this location's verdicts to the cluster database");
        }
    }
}

impl Handler<GetVerdicts> for ClusterAgent {
    type Result = Result<Vec<StoredVerdict>, ClusterError>;

    fn handle(&mut self, msg: GetVerdicts, _: &mut SyncContext<Self>) -> Self::Result {
        self.on_database(|membership| membership.verdicts(msg.host.as_deref()))
    }
}

impl Handler<Leave> for ClusterAgent {
    type Result = ();

    fn handle(&mut self, _: Leave, _: &mut SyncContext<Self>) {
        self.left = true;
        if let Some(mut membership) = self.membership.take() {
            if let Err(e) = membership.leave() {
                log::warn!(error = e.to_string().as_str(); "could not leave the cluster cleanly; the others take over after the lease");
            }
        }
    }
}

/// This agent's standing, as the API shows it: who it is, and its last beat's view or why
/// the beat failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterState {
    pub agent: String,
    pub location: String,
    pub is_leader: bool,
    /// The content hash of the configuration this agent runs.
    pub config_hash: String,
    /// Every live agent runs the same configuration (by content hash).
    pub config_agrees: bool,
    #[serde(flatten)]
    pub view: Option<ClusterView>,
    /// When the last beat answered.
    pub at: Option<String>,
    /// Why the last beat failed, if it did.
    pub error: Option<String>,
}

/// Shared between the pulse (which writes it) and the API (which reads it).
pub type ClusterStatus = Arc<RwLock<ClusterState>>;

/// How long a joining agent waits before taking its share from the agents already there: a
/// heartbeat and a half, so each of them has beaten once since it joined (and given up what
/// is now its share), with room for a beat that ran late.
pub fn handover_wait(heartbeat: Duration) -> Duration {
    heartbeat.saturating_add(heartbeat / 2)
}

/// Beats every `heartbeat` and publishes what each beat saw.
pub struct ClusterPulse {
    agent: Addr<ClusterAgent>,
    every: Duration,
    status: ClusterStatus,
    metrics: Arc<Metrics>,
    was_leader: bool,
    /// This agent's location, and who hears of its live agents (the Supervisor, which
    /// checks this agent's share of them).
    location: String,
    sharing: Option<Recipient<UseAgents>>,
    /// This agent's id and lease: without the database for longer than the lease, it checks
    /// its whole location alone rather than nothing.
    me: String,
    lease: Duration,
    /// When a heartbeat last answered.
    last_answer: Option<Instant>,
    /// When this agent's heartbeat first answered: it takes hosts from the others of its
    /// location only [`handover_wait`] later, once each of them has beaten since and given
    /// them up, so no host is checked by two agents at once.
    joined_at: Option<Instant>,
    /// The content hash of the configuration applied now (the Supervisor keeps it).
    config_hash: SharedConfigHash,
    agreed: bool,
    /// Told the lease's token whenever it changes (the ClusterJudge): only the leader judges
    /// and alerts.
    judge: Option<Recipient<LeadershipChanged>>,
    token: Option<i64>,
    /// Told of a newer configuration published by another agent (the Supervisor).
    adopting: Option<Recipient<AdoptConfig>>,
    /// This agent's silences, kept up with the cluster's at each heartbeat.
    silences: Option<SilenceBook>,
}

impl ClusterPulse {
    pub fn new(
        agent: Addr<ClusterAgent>,
        settings: &AgentSettings,
        status: ClusterStatus,
        metrics: Arc<Metrics>,
    ) -> Self {
        if let Ok(mut state) = status.write() {
            state.agent = settings.id.clone();
            state.location = settings.location.clone();
        }
        ClusterPulse {
            agent,
            every: settings.heartbeat,
            status,
            metrics,
            was_leader: false,
            location: settings.location.clone(),
            sharing: None,
            me: settings.id.clone(),
            lease: settings.lease,
            last_answer: None,
            joined_at: None,
            config_hash: SharedConfigHash::default(),
            agreed: true,
            judge: None,
            token: None,
            adopting: None,
            silences: None,
        }
    }

    /// Keeps `book` (this agent's silences, which the AlertRouter consults) up with the
    /// cluster's at each heartbeat.
    pub fn sharing_silences(mut self, book: SilenceBook) -> Self {
        self.silences = Some(book);
        self
    }

    /// Tells `supervisor` whenever the newest configuration published differs from the one
    /// this agent runs.
    pub fn adopting_into(mut self, supervisor: Recipient<AdoptConfig>) -> Self {
        self.adopting = Some(supervisor);
        self
    }

    /// Tells `judge` whenever this agent gains or loses the leader lease.
    pub fn judging_with(mut self, judge: Recipient<LeadershipChanged>) -> Self {
        self.judge = Some(judge);
        self
    }

    fn lead_with(&mut self, token: Option<i64>) {
        if token != self.token {
            self.token = token;
            if let Some(judge) = &self.judge {
                judge.do_send(LeadershipChanged { token });
            }
        }
    }

    /// Writes `hash` (kept by the Supervisor) with every heartbeat.
    pub fn hashing(mut self, hash: SharedConfigHash) -> Self {
        self.config_hash = hash;
        self
    }

    /// Tells `supervisor` the live agents of this agent's location after every heartbeat.
    pub fn telling(mut self, supervisor: Recipient<UseAgents>) -> Self {
        self.sharing = Some(supervisor);
        self
    }

    fn beat(&mut self, ctx: &mut Context<Self>) {
        // The Supervisor keeps `flowstate_hosts` at the size of this agent's share.
        let hosts = i32::try_from(self.metrics.hosts()).unwrap_or(i32::MAX);
        let config_hash = self
            .config_hash
            .read()
            .map(|hash| hash.clone())
            .unwrap_or_default();
        let beat = self.agent.send(Beat { hosts, config_hash });
        ctx.spawn(beat.into_actor(self).map(|answer, pulse, _| {
            let answer = answer.unwrap_or(Err(ClusterError::Gone));
            pulse.publish(answer);
        }));
    }

    fn publish(&mut self, answer: Result<ClusterView, ClusterError>) {
        let status = self.status.clone();
        let Ok(mut state) = status.write() else {
            return;
        };
        state.at = Some(rfc3339(SystemTime::now()));
        match answer {
            Ok(mut view) => {
                if self
                    .last_answer
                    .is_some_and(|at| at.elapsed() >= self.lease)
                {
                    // Away longer than the lease (paused, cut off): the others took its
                    // hosts, so it joins again as a newcomer.
                    self.joined_at = None;
                }
                self.last_answer = Some(Instant::now());
                let joined_at = *self.joined_at.get_or_insert_with(Instant::now);
                if let Some(supervisor) = &self.sharing {
                    // A database that does not answer leaves the share as it was: the others
                    // see this agent alive until its lease ends, and keep out of its hosts.
                    let mut live: Vec<AgentId> = view
                        .agents
                        .iter()
                        .filter(|agent| agent.location == self.location)
                        .map(|agent| AgentId::new(agent.id.as_str()))
                        .collect();
                    let others = live.iter().any(|id| id.as_str() != self.me);
                    if others && joined_at.elapsed() < handover_wait(self.every) {
                        // Until the others have let go of this agent's share: it checks
                        // nothing of theirs meanwhile.
                        live.retain(|id| id.as_str() != self.me);
                    }
                    supervisor.do_send(UseAgents { live });
                }
                let mine = self
                    .config_hash
                    .read()
                    .map(|hash| hash.clone())
                    .unwrap_or_default();
                let agrees = view
                    .agents
                    .iter()
                    .all(|agent| agent.config_hash.is_empty() || agent.config_hash == mine);
                if agrees != self.agreed {
                    if agrees {
                        log::info!(config_hash = mine.as_str(); "every agent of the cluster runs the same configuration again");
                    } else {
                        log::warn!(config_hash = mine.as_str(); "agents of the cluster run different configurations; GET /api/v1/cluster shows each one's config_hash");
                    }
                    self.agreed = agrees;
                }
                if let (Some(newest), Some(supervisor)) = (&view.newest_config, &self.adopting) {
                    if newest.hash != mine && !mine.is_empty() {
                        supervisor.do_send(AdoptConfig {
                            hash: newest.hash.clone(),
                            by: newest.by.clone(),
                        });
                    }
                }
                if let Some(book) = &self.silences {
                    super::shared_silences::merge_into(book, std::mem::take(&mut view.silences));
                }
                state.config_hash = mine;
                state.config_agrees = agrees;
                let is_leader = view.lease_token.is_some();
                if is_leader != self.was_leader {
                    log::info!(agent = state.agent.as_str(), leader = is_leader; "cluster leadership changed");
                    self.was_leader = is_leader;
                }
                self.metrics.set_cluster(&view.agents, is_leader);
                self.lead_with(view.lease_token);
                state.is_leader = is_leader;
                state.view = Some(view);
                state.error = None;
            }
            Err(e) => {
                // The others count this agent gone once its lease ends and take its hosts;
                // until the database answers again it checks its whole location alone:
                // hosts checked twice for a while rather than by nobody.
                let alone = self.last_answer.is_none_or(|at| at.elapsed() >= self.lease);
                if let (true, Some(supervisor)) = (alone, &self.sharing) {
                    supervisor.do_send(UseAgents {
                        live: vec![AgentId::new(self.me.as_str())],
                    });
                }
                if state.error.is_none() {
                    log::error!(error = e.to_string().as_str(); "the cluster database did not answer this agent's heartbeat; it keeps checking and tries again");
                }
                // Without the database this agent cannot know it still leads.
                if self.was_leader {
                    log::info!(agent = state.agent.as_str(), leader = false; "cluster leadership changed");
                    self.was_leader = false;
                }
                self.metrics.set_cluster(&[], false);
                self.lead_with(None);
                state.is_leader = false;
                state.error = Some(e.to_string());
            }
        }
    }
}

impl Actor for ClusterPulse {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.beat(ctx);
        ctx.run_interval(self.every, |pulse, ctx| pulse.beat(ctx));
    }
}
