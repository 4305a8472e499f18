//! A host as the cluster sees it (SPEC §10): each location's verdict, read from the cluster
//! database, and the quorum's verdict over them, for `GET /api/v1/hosts/{label}`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::Config;

use super::types::{ClusterVerdictView, HostDetail, LocationView};
use super::ACTOR_DEADLINE;
use crate::cluster::agent::GetVerdicts;
use crate::cluster::quorum::{self, LocationVerdict};
use crate::model::rfc3339;
use crate::store::codec::parse_status;

/// How old a location's freshness mark may be before its verdict counts as unknown: the lease
/// (an agent gone that long has been replaced) plus the host's interval (its next check).
pub fn fresh_for(config: &Config, interval: Duration) -> Duration {
    let lease = config.cluster.as_ref().map_or(Duration::ZERO, |c| c.lease);
    lease.saturating_add(interval)
}

/// Adds the locations' verdicts and the quorum's to `detail`, when this agent is in a
/// cluster; leaves it as it is when the database does not answer in time.
pub async fn with_cluster_view(
    verdicts: Option<&Recipient<GetVerdicts>>,
    config: &Config,
    detail: &mut HostDetail,
) {
    let (Some(verdicts), Some(cluster)) = (verdicts, &config.cluster) else {
        return;
    };
    let label = detail.host.label.clone();
    let Ok(Ok(rows)) = verdicts
        .send(GetVerdicts {
            host: Some(label.clone()),
        })
        .timeout(ACTOR_DEADLINE)
        .await
    else {
        return;
    };
    let host = config.host(&label);
    let interval = host.map_or(Duration::ZERO, |h| h.interval);
    let fresh_for = fresh_for(config, interval);
    let now = SystemTime::now();
    let expected: BTreeSet<Arc<str>> = match host.and_then(|h| h.locations.clone()) {
        Some(locations) => locations.into_iter().collect(),
        None => config.locations(),
    };
    let mut views = BTreeMap::new();
    let mut by_location = HashMap::new();
    for row in rows {
        let age = Duration::from_millis(u64::try_from(row.age_ms).unwrap_or(u64::MAX));
        let status = parse_status(&row.status);
        views.insert(
            row.location.clone(),
            LocationView {
                status: row.status.clone(),
                at: rfc3339(row.decided_at),
                reason: row.reason.clone(),
                fresh: age <= fresh_for,
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
    let verdict = quorum::decide(&expected, &by_location, cluster.quorum, fresh_for, now);
    let names = |list: &[Arc<str>]| list.iter().map(|l| l.to_string()).collect();
    detail.cluster = Some(ClusterVerdictView {
        status: verdict.status,
        failing: names(&verdict.failing),
        degraded: names(&verdict.degraded),
        unknown: names(&verdict.unknown),
        quorum: cluster.quorum,
        reason: verdict.reason,
    });
    detail.locations = Some(views);
}
