//! Hosts as the cluster sees them (SPEC §10): each location's verdict, read from the cluster
//! database, and the quorum's verdict over them, for `GET /api/v1/hosts/{label}`; and every
//! host of the configuration for `GET /api/v1/hosts`, so any agent answers for all of them
//! (those checked by other agents with what the database knows).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::{Config, HostConfiguration};

use super::types::{AvailabilityView, ClusterVerdictView, HostDetail, HostView, LocationView};
use super::{ApiState, ACTOR_DEADLINE};
use crate::cluster::agent::{GetLocationAvailability, GetVerdicts};
use crate::cluster::leader_state::HostQuorum;
use crate::cluster::membership::StoredVerdict;
use crate::cluster::quorum::{self, LocationVerdict};
use crate::model::{rfc3339, HostCounters, Status};
use crate::store::codec::parse_status;

/// Every location's verdict on one host (`rows`, as stored) and the quorum's over them, as
/// the leader judges it ([`HostQuorum`]) with `config`'s quorum.
fn judged(
    config: &Config,
    host: &HostQuorum,
    rows: Vec<StoredVerdict>,
    now: SystemTime,
) -> Option<(BTreeMap<String, LocationView>, ClusterVerdictView)> {
    let cluster = config.cluster.as_ref()?;
    let fresh_for = host.fresh_for;
    let mut views = BTreeMap::new();
    let mut by_location = HashMap::new();
    for row in rows {
        let age = Duration::from_millis(u64::try_from(row.age_ms).unwrap_or(u64::MAX));
        let status = parse_status(&row.status);
        views.insert(
            row.location.clone(),
            LocationView {
                ok: matches!(status, Status::Up | Status::Degraded),
                status: row.status.clone(),
                at: rfc3339(row.decided_at),
                reason: row.reason.clone(),
                fresh: age <= fresh_for,
                availability: AvailabilityView::default(),
            },
        );
        // Freshness by the database's clock: as old as its last mark says, seen from now.
        by_location.insert(
            Arc::from(row.location.as_str()),
            LocationVerdict {
                status,
                at: now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH),
                reason: row.reason,
            },
        );
    }
    let verdict = quorum::decide(&host.expected, &by_location, cluster.quorum, fresh_for, now);
    let names = |list: &[Arc<str>]| list.iter().map(|l| l.to_string()).collect();
    let view = ClusterVerdictView {
        status: verdict.status,
        failing: names(&verdict.failing),
        degraded: names(&verdict.degraded),
        unknown: names(&verdict.unknown),
        quorum: cluster.quorum,
        reason: verdict.reason,
    };
    Some((views, view))
}

/// The verdicts of one host (`Some`) or of all, from the cluster database; `None` when it
/// does not answer in time.
async fn verdicts(
    verdicts: &Recipient<GetVerdicts>,
    host: Option<String>,
) -> Option<Vec<StoredVerdict>> {
    match verdicts
        .send(GetVerdicts { host })
        .timeout(ACTOR_DEADLINE)
        .await
    {
        Ok(Ok(rows)) => Some(rows),
        _ => None,
    }
}

/// Adds the locations' verdicts and availability, and the quorum's verdict, to `detail`,
/// when this agent is in a cluster; leaves it as it is when the database does not answer in
/// time.
pub async fn with_cluster_view(state: &ApiState, config: &Config, detail: &mut HostDetail) {
    let Some(source) = &state.cluster_verdicts else {
        return;
    };
    let label = detail.host.label.clone();
    let Some(rows) = verdicts(source, Some(label.clone())).await else {
        return;
    };
    let Some(host) = config.host(&label) else {
        return;
    };
    let host = HostQuorum::of(config, host, &config.locations());
    let Some((mut locations, view)) = judged(config, &host, rows, SystemTime::now()) else {
        return;
    };
    if let Some(availability) = &state.cluster_availability {
        let asked = availability
            .send(GetLocationAvailability { host: label })
            .timeout(ACTOR_DEADLINE)
            .await;
        for figures in asked.ok().and_then(Result::ok).unwrap_or_default() {
            if let Some(location) = locations.get_mut(&figures.location) {
                let [day, week, month] = figures.windows;
                location.availability = AvailabilityView { day, week, month };
            }
        }
    }
    detail.host.cluster = Some(view);
    detail.locations = Some(locations);
}

/// A host this agent does not check, as far as the cluster database knows it: its status by
/// quorum (for alerts, `partial` is up) and the locations' reasons.
pub fn checked_elsewhere(host: &HostConfiguration) -> HostView {
    HostView {
        label: host.label.to_string(),
        kind: host.check.type_name().to_string(),
        group: host.group.as_deref().map(str::to_string),
        status: Status::Unknown,
        since: String::new(),
        counters: HostCounters::default(),
        flapping: false,
        unreachable_via: None,
        maintenance: None,
        silenced: None,
        last_check: None,
        availability: None,
        cluster: None,
        elsewhere: true,
    }
}

/// In a cluster, `hosts` (this agent's share) becomes every host of `config`: the quorum's
/// verdict on each, and the hosts checked by other agents added from the cluster database,
/// in the configuration's order. Left as it is when the database does not answer in time.
pub async fn with_every_host(
    source: Option<&Recipient<GetVerdicts>>,
    config: &Config,
    hosts: &mut Vec<HostView>,
) {
    let Some(source) = source else {
        return;
    };
    let Some(rows) = verdicts(source, None).await else {
        return;
    };
    let mut by_host: HashMap<String, Vec<StoredVerdict>> = HashMap::new();
    for row in rows {
        by_host.entry(row.host.clone()).or_default().push(row);
    }
    let now = SystemTime::now();
    let mut here: HashMap<String, HostView> =
        hosts.drain(..).map(|h| (h.label.clone(), h)).collect();
    // As the leader judges them: every location worked out once, not once per host.
    let judged_as = crate::cluster::judge::hosts_to_judge(config);
    for (host, quorum) in config.hosts().iter().zip(&judged_as) {
        let label = &*host.label;
        let mut view = here
            .remove(label)
            .unwrap_or_else(|| checked_elsewhere(host));
        let rows = by_host.remove(label).unwrap_or_default();
        if view.elsewhere {
            // Since the newest change any location saw.
            if let Some(newest) = rows.iter().map(|r| r.decided_at).max() {
                view.since = rfc3339(newest);
            }
        }
        if let Some((_, verdict)) = judged(config, quorum, rows, now) {
            if view.elsewhere {
                view.status = crate::cluster::judge::alerted_status(verdict.status);
            }
            view.cluster = Some(verdict);
        }
        hosts.push(view);
    }
    // Hosts this agent still checks that a reload just removed: shown until they go.
    hosts.extend(here.into_values());
}
