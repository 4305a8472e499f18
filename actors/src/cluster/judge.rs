//! ClusterJudge: on the leader, each host's status by quorum over the locations' verdicts,
//! turned into transitions for the AlertRouter (SPEC §10).
//!
//! Only the leader judges and alerts. When this agent takes the lease, the judge reads what
//! the last leader left (statuses, outbox, what notifiers were told) and hands it to the
//! router before its first judgement, so the router resumes the undelivered events under
//! their own ids and tells each receiver what it missed, once. When the lease is lost (the
//! pulse says so, or a fenced write finds out first), the router stops. Judging runs once a
//! second in the database, in one fenced transaction: a verdict's staleness is the database's
//! clock, and a leader that lost the lease records nothing.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::Config;

use super::agent::{ClusterAgent, JudgeHosts, LoadLeaderState};
use super::leader_state::{HostQuorum, LeaderState, QuorumChange, RecordedStatus};
use super::membership::ClusterError;
use super::quorum::ClusterStatus;
use crate::messages::{HostStatusChanged, LeadAlerts, QuorumStatusChanged, StopLeading};
use crate::model::Status;

/// How often the leader judges every host.
const JUDGE_EVERY: Duration = Duration::from_secs(1);

/// The lease's token changed: `Some` while this agent leads.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct LeadershipChanged {
    pub token: Option<i64>,
}

/// The whole configuration (every host, not only this agent's share): the Supervisor sends
/// it whenever one is applied.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct JudgeConfig(pub Arc<Config>);

/// Where the judge's findings go: the AlertRouter.
pub struct RouterInbox {
    pub changes: Recipient<QuorumStatusChanged>,
    pub lead: Recipient<LeadAlerts>,
    pub stop: Recipient<StopLeading>,
}

pub struct ClusterJudge {
    agent: Addr<ClusterAgent>,
    router: RouterInbox,
    config: Option<Arc<Config>>,
    /// Every host with its expected locations, made once per configuration.
    hosts: Arc<Vec<HostQuorum>>,
    /// The token of the lease this agent holds, as the pulse last heard it.
    token: Option<i64>,
    /// The token the router was handed the last leader's state with: judging starts then.
    leading: Option<i64>,
    /// A read of the last leader's state, or a judgement, is under way.
    busy: bool,
    /// The database refused the last judgement (said once, not every second).
    failing: bool,
}

impl ClusterJudge {
    pub fn new(agent: Addr<ClusterAgent>, router: RouterInbox) -> Self {
        ClusterJudge {
            agent,
            router,
            config: None,
            hosts: Arc::default(),
            token: None,
            leading: None,
            busy: false,
            failing: false,
        }
    }

    /// Takes over from the last leader: reads what it left, then hands it to the router.
    fn take_over(&mut self, token: i64, ctx: &mut Context<Self>) {
        let Some(config) = self.config.clone() else {
            return;
        };
        self.busy = true;
        let read = self.agent.send(LoadLeaderState);
        ctx.spawn(read.into_actor(self).map(move |answer, judge, _| {
            judge.busy = false;
            if judge.token != Some(token) {
                return;
            }
            match answer.unwrap_or(Err(ClusterError::Gone)) {
                Ok(state) => {
                    let resumed = state.outbox.len();
                    judge.router.lead.do_send(lead_alerts(token, &config, state));
                    judge.leading = Some(token);
                    log::info!(token, undelivered = resumed; "this agent leads the cluster: it judges hosts by quorum and sends the alerts");
                }
                Err(e) => {
                    log::warn!(error = e.to_string().as_str(); "could not read what the last leader left; trying again");
                }
            }
        }));
    }

    /// Judges every host once, in the database, and tells the router of each change.
    fn judge(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        let Some(token) = self.token else {
            return;
        };
        if self.leading != Some(token) {
            self.take_over(token, ctx);
            return;
        }
        let (Some(config), Some(cluster)) = (
            self.config.clone(),
            self.config.as_ref().and_then(|c| c.cluster.clone()),
        ) else {
            return;
        };
        self.busy = true;
        let judged = self.agent.send(JudgeHosts {
            hosts: self.hosts.clone(),
            quorum: cluster.quorum,
        });
        ctx.spawn(judged.into_actor(self).map(move |answer, judge, _| {
            judge.busy = false;
            match answer.unwrap_or(Err(ClusterError::Gone)) {
                Ok(changes) => {
                    if judge.failing {
                        log::info!("the leader judges hosts by quorum again");
                        judge.failing = false;
                    }
                    for change in changes {
                        if let Some(transition) = transition(&config, &change) {
                            log::info!(host = change.host.as_str(), status = change.verdict.status.as_str(), previous = change.previous.as_str(), reason = change.verdict.reason.as_str(); "host status by quorum changed");
                            judge.router.changes.do_send(transition);
                        }
                    }
                }
                Err(ClusterError::Fenced) => judge.stop_leading(),
                Err(e) => {
                    if !judge.failing {
                        log::warn!(error = e.to_string().as_str(); "the leader could not judge hosts by quorum; trying again every second");
                        judge.failing = true;
                    }
                }
            }
        }));
    }

    fn stop_leading(&mut self) {
        self.token = None;
        if self.leading.take().is_some() {
            log::info!("this agent no longer leads the cluster; its undelivered alerts are left to the new leader");
            self.router.stop.do_send(StopLeading);
        }
    }
}

impl Actor for ClusterJudge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(JUDGE_EVERY, |judge, ctx| judge.judge(ctx));
    }
}

impl Handler<LeadershipChanged> for ClusterJudge {
    type Result = ();

    fn handle(&mut self, msg: LeadershipChanged, ctx: &mut Context<Self>) {
        match msg.token {
            Some(token) => {
                if self.leading.is_some_and(|leading| leading != token) {
                    // Lost and taken again in between: start afresh from the database.
                    self.stop_leading();
                }
                self.token = Some(token);
                self.judge(ctx);
            }
            None => self.stop_leading(),
        }
    }
}

impl Handler<JudgeConfig> for ClusterJudge {
    type Result = ();

    fn handle(&mut self, msg: JudgeConfig, _: &mut Context<Self>) {
        self.hosts = Arc::new(hosts_to_judge(&msg.0));
        self.config = Some(msg.0);
    }
}

/// Every host of `config` with the locations expected to check it, and how long a location's
/// verdict stays fresh: the lease (an agent gone that long has been replaced) plus the host's
/// interval (its next check).
pub fn hosts_to_judge(config: &Config) -> Vec<HostQuorum> {
    // Every location, worked out once: each host without `locations` expects all of them.
    let everywhere = config.locations();
    config
        .hosts()
        .iter()
        .map(|host| HostQuorum::of(config, host, &everywhere))
        .collect()
}

/// The status alerts see for a status by quorum: `partial` is not down (failing in too few
/// locations), so for receivers it is up, with the reason naming where it fails.
pub fn alerted_status(status: ClusterStatus) -> Status {
    match status {
        ClusterStatus::Unknown => Status::Unknown,
        ClusterStatus::Up | ClusterStatus::Partial => Status::Up,
        ClusterStatus::Degraded => Status::Degraded,
        ClusterStatus::Down => Status::Down,
    }
}

/// Host `label` of `config` (if still configured) going from one status by quorum to another
/// (`[previous, status]`) `at`, as receivers see them (`partial` is up): the change the router
/// routes and settles with.
fn by_quorum(
    config: &Config,
    label: &str,
    [previous, status]: [ClusterStatus; 2],
    at: SystemTime,
    reason: &str,
) -> Option<HostStatusChanged> {
    Some(HostStatusChanged {
        host: config.host(label)?.clone(),
        previous: alerted_status(previous),
        status: alerted_status(status),
        at,
        since: at,
        reason: reason.to_string(),
        consecutive_failures: 0,
        latency: Duration::ZERO,
        removed: false,
        unreachable_via: None,
        trace: None,
    })
}

/// The router's transition for `change`, for a host still configured.
fn transition(config: &Config, change: &QuorumChange) -> Option<QuorumStatusChanged> {
    let change_seen = by_quorum(
        config,
        &change.host,
        [change.previous, change.verdict.status],
        change.at,
        &change.verdict.reason,
    )?;
    Some(QuorumStatusChanged {
        change: change_seen,
        was_partial: change.previous == ClusterStatus::Partial,
        partial: change.verdict.status == ClusterStatus::Partial,
    })
}

/// The router's starting point as the leader with `token`: the last leader's statuses (for
/// hosts still configured), outbox and tracks.
fn lead_alerts(token: i64, config: &Config, state: LeaderState) -> LeadAlerts {
    let hosts = state
        .statuses
        .iter()
        .filter_map(|recorded: &RecordedStatus| {
            let status = recorded.status;
            by_quorum(
                config,
                &recorded.host,
                [status, status],
                recorded.since,
                &recorded.reason,
            )
        })
        .collect();
    let partial = state
        .statuses
        .iter()
        .filter(|recorded| recorded.status == ClusterStatus::Partial)
        .map(|recorded| recorded.host.clone())
        .collect();
    LeadAlerts {
        token,
        hosts,
        outbox: state.outbox,
        tracks: state.tracks,
        partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_is_up_for_receivers_and_the_rest_keep_their_status() {
        assert_eq!(alerted_status(ClusterStatus::Partial), Status::Up);
        assert_eq!(alerted_status(ClusterStatus::Down), Status::Down);
        assert_eq!(alerted_status(ClusterStatus::Degraded), Status::Degraded);
        assert_eq!(alerted_status(ClusterStatus::Unknown), Status::Unknown);
        assert_eq!(alerted_status(ClusterStatus::Up), Status::Up);
    }

    #[test]
    fn each_host_expects_its_own_locations_or_every_location_and_stays_fresh_for_lease_plus_interval(
    ) {
        let config = flowstate_config::load_str(
            "t.yaml",
            "cluster: { url: 'postgres://db/x', location: eu, lease: 10s, heartbeat: 2s }\n\
             hosts:\n\
             - { label: a, url: 'http://127.0.0.1:1/', interval: 5s, locations: [eu] }\n\
             - { label: b, url: 'http://127.0.0.1:1/', interval: 2s, locations: [us, eu] }\n\
             - { label: c, url: 'http://127.0.0.1:1/', interval: 1s }\n",
            &|_| None,
        )
        .expect("a valid configuration");
        let hosts = hosts_to_judge(&config);
        let names =
            |i: usize| -> Vec<String> { hosts[i].expected.iter().map(|l| l.to_string()).collect() };
        assert_eq!(names(0), ["eu"]);
        assert_eq!(names(1), ["eu", "us"]);
        assert_eq!(names(2), ["eu", "us"]);
        assert_eq!(hosts[0].fresh_for, Duration::from_secs(15));
        assert_eq!(hosts[2].fresh_for, Duration::from_secs(11));
    }
}
