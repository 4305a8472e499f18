//! The AlertRouter as an agent of a cluster (SPEC §10): only the leader alerts, on the hosts'
//! statuses by quorum, and only while the database says it still leads.
//!
//! - **Leading.** When this agent takes the lease, the judge hands the router what the last
//!   leader left ([`LeadAlerts`]): the outbox (resumed under the events' own ids), what each
//!   notifier was told, and each host's status by quorum. Every host is then settled, so a
//!   change the last leader decided but never queued reaches each receiver once.
//! - **Fencing.** Before each round of delivery attempts the router asks the database whether
//!   the lease is still this agent's, with its token; a receiver cannot check a fencing token,
//!   so the check comes before the attempt. A leader paused past its lease finds out here,
//!   steps down ([`StopLeading`]) and sends nothing.
//! - **`partial`.** A host failing in fewer locations than the quorum is up for receivers,
//!   except for notifiers with `partial: true`, which hear it as `degraded`: then `up` when it
//!   recovers, `down` when a quorum joins.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::{AlertRouter, HostNow, TrackKey};
use crate::cluster::agent::{ClusterAgent, StillLeads};
use crate::event::AlertEvent;
use crate::messages::{HostStatusChanged, LeadAlerts, QuorumStatusChanged, StopLeading};
use crate::model::Status;
use crate::outbox::Attempt;
use crate::store::Restored;
use crate::unsaved::Unsaved;

/// Whether this agent leads, and how it makes sure before each delivery.
pub(super) struct ClusterRole {
    /// Asked before each round of attempts whether the lease is still this agent's.
    fence: Recipient<StillLeads>,
    /// The lease's token while this agent leads.
    pub(super) leading: Option<i64>,
}

/// How soon attempts are tried again after the lease could not be confirmed.
const FENCE_RETRY: Duration = Duration::from_secs(1);

/// What a status by quorum is for a notifier: `partial` is `degraded` for one that asked for
/// it, and the status receivers see (`up`) for the others.
fn as_seen_by(status: Status, partial: bool, asked: bool) -> Status {
    if partial && asked {
        Status::Degraded
    } else {
        status
    }
}

impl AlertRouter {
    /// As an agent of a cluster: alerts only while it leads, from the status changes by
    /// quorum, keeping the outbox and the tracks in the cluster's database through `agent`.
    pub fn in_cluster(mut self, agent: Addr<ClusterAgent>) -> Self {
        self.alert_state = Some(agent.clone().recipient());
        self.cluster = Some(ClusterRole {
            fence: agent.recipient(),
            leading: None,
        });
        self
    }

    /// Whether this is an agent of a cluster that does not lead it now: it sends nothing.
    pub(super) fn is_follower(&self) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|role| role.leading.is_none())
    }

    /// Whether notifier `name` asked for `partial`.
    fn asked_for_partial(&self, name: &Arc<str>) -> bool {
        self.notifiers.get(name).is_some_and(|r| r.config.partial)
    }

    /// A host's status (`base`, `partial` or not) as notifier `name` is to hear it.
    pub(super) fn status_for(&self, name: &Arc<str>, base: Status, partial: bool) -> Status {
        as_seen_by(base, partial, self.asked_for_partial(name))
    }

    /// Starts `ready` if the database still says this agent leads with `token`; otherwise
    /// steps down (the lease is another's) or waits and asks again (no answer).
    pub(super) fn attempt_if_still_leading(
        &mut self,
        token: i64,
        ready: Vec<Attempt>,
        ctx: &mut Context<Self>,
    ) {
        let Some(role) = &self.cluster else {
            return;
        };
        let generation = self.generation;
        let check = role.fence.send(StillLeads { token });
        ctx.spawn(check.into_actor(self).map(move |answer, router, ctx| {
            if router.generation != generation {
                return;
            }
            match answer {
                Ok(Ok(true)) => router.start_attempts(ready, ctx),
                Ok(Ok(false)) => {
                    log::info!(token; "the leader lease is another agent's now: this agent sends no more alerts");
                    router.stop_leading();
                }
                Ok(Err(_)) | Err(_) => {
                    // Not known to lead, not known not to: wait, and ask again.
                    for attempt in &ready {
                        for event in &attempt.events {
                            router
                                .outbox
                                .release(&attempt.notifier, &event.host, &event.id);
                        }
                    }
                    ctx.run_later(FENCE_RETRY, |router, ctx| router.pump(ctx));
                }
            }
        }));
    }

    /// Steps down: what was kept in memory is dropped (the new leader reads it from the
    /// database), and nothing more is sent or written.
    fn stop_leading(&mut self) {
        let Some(role) = &mut self.cluster else {
            return;
        };
        if role.leading.take().is_some() {
            self.forget_everything();
        }
    }

    /// Forgets the outbox, the tracks, the hosts and what was unsaved, and starts a new
    /// generation: answers to earlier attempts and writes change nothing.
    fn forget_everything(&mut self) {
        self.generation += 1;
        let notifiers: Vec<Arc<str>> = self.notifiers.keys().cloned().collect();
        for name in &notifiers {
            self.outbox.remove_notifier(name);
            self.metrics.set_outbox_pending(name, 0);
        }
        // Fresh notifiers: one that repeats what is active (Alertmanager's re-posts) must not
        // go on repeating what this agent was told while it led; the leader does that now.
        for route in self.notifiers.values_mut() {
            route.notifier = crate::notify::build(&route.config);
        }
        self.tracks.clear();
        self.hosts.clear();
        self.unsettled.clear();
        self.last_suppressed.clear();
        self.track_wakes.clear();
        self.wake_order.clear();
        self.unsaved = Unsaved::default();
    }

    /// A host's status by quorum changed: each notifier hears the change as it sees it.
    fn quorum_changed(&mut self, msg: QuorumStatusChanged, ctx: &mut Context<Self>) {
        let QuorumStatusChanged {
            change,
            was_partial,
            partial,
        } = msg;
        let label = change.host.label.to_string();
        let host = self.hosts.entry(label).or_default();
        host.status = change.status;
        host.partial = partial;
        host.change = Some(change.clone());
        host.restored = false;
        let (asked, others): (Vec<Arc<str>>, Vec<Arc<str>>) = change
            .host
            .alerts
            .iter()
            .cloned()
            .partition(|name| self.asked_for_partial(name));
        for (notifiers, asked) in [(others, false), (asked, true)] {
            let seen = HostStatusChanged {
                previous: as_seen_by(change.previous, was_partial, asked),
                status: as_seen_by(change.status, partial, asked),
                ..change.clone()
            };
            if notifiers.is_empty() || seen.previous == seen.status {
                continue;
            }
            if let Some(event) = AlertEvent::from_change(&seen) {
                self.route_unless_held(&notifiers, &event, ctx);
            }
        }
        self.write_store(ctx);
    }
}

impl Handler<QuorumStatusChanged> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: QuorumStatusChanged, ctx: &mut Context<Self>) {
        if !self.is_follower() && self.cluster.is_some() {
            self.quorum_changed(msg, ctx);
        }
    }
}

impl Handler<LeadAlerts> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: LeadAlerts, ctx: &mut Context<Self>) {
        let Some(role) = &mut self.cluster else {
            return;
        };
        role.leading = Some(msg.token);
        self.forget_everything();
        let restored = Restored {
            outbox: msg.outbox,
            tracks: msg.tracks,
            ..Restored::default()
        };
        self.restore(&restored);
        // Alerts the last leader kept firing (Alertmanager) go on firing from here.
        let names: Vec<Arc<str>> = self.notifiers.keys().cloned().collect();
        self.resume_notifiers(&names);
        for change in msg.hosts {
            let label = change.host.label.to_string();
            let partial = msg.partial.contains(&label);
            self.hosts.insert(
                label.clone(),
                HostNow {
                    status: change.status,
                    change: Some(change),
                    flapping: false,
                    // Unlike a restart's, a receiver with no record of a host in trouble was
                    // never told: the last leader decided it and died before queueing it.
                    restored: false,
                    partial,
                },
            );
            self.unsettled.insert(label);
        }
        let keys: Vec<TrackKey> = self.tracks.keys().cloned().collect();
        for key in keys {
            if let Some(config) = self.notifiers.get(&key.0).map(|r| r.config.clone()) {
                self.schedule_track(key, &config, ctx);
            }
        }
        // Each receiver hears what it missed, unless a hold keeps it back for now.
        self.settle_released(ctx);
        self.write_store(ctx);
        self.pump(ctx);
    }
}

impl Handler<StopLeading> for AlertRouter {
    type Result = ();

    fn handle(&mut self, _: StopLeading, _: &mut Context<Self>) {
        self.stop_leading();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_is_degraded_only_for_a_notifier_that_asked_for_it() {
        assert_eq!(as_seen_by(Status::Up, true, true), Status::Degraded);
        assert_eq!(as_seen_by(Status::Up, true, false), Status::Up);
        assert_eq!(as_seen_by(Status::Down, false, true), Status::Down);
        assert_eq!(as_seen_by(Status::Up, false, true), Status::Up);
    }
}
