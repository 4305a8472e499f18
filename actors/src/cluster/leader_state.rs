//! What only the leader writes, in PostgreSQL (SPEC §10): each host's status by quorum, the
//! alert outbox keyed by event id, and what each notifier was last told about each host. A new
//! leader reads all three and goes on where the last one stopped: undelivered events are
//! resumed under their own ids, and a status change the last leader decided but never queued
//! is found by comparing the status with what the notifiers were told.
//!
//! Every write is fenced: its transaction first locks the lease row and goes on only while it
//! still names this agent with the token it was granted, unexpired. A leader paused past its
//! lease (SIGSTOP, a stalled VM, a partition) therefore writes nothing once it resumes, and the
//! AlertRouter asks [`Membership::holds`] before each delivery, so it sends nothing either.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flowstate_config::{Config, HostConfiguration};
use postgres::Transaction;

use super::membership::{ClusterError, Membership, LEADER};
use super::quorum::{self, ClusterStatus, ClusterVerdict, LocationVerdict};
use crate::store::codec;
use crate::store::postgres::{write_alert_state, AlertTables};
use crate::store::{SaveAlertState, StoredDelivery};

/// The leader's outbox and tracks, as the store keeps its own.
const CLUSTER_ALERT_TABLES: AlertTables = AlertTables {
    outbox: "cluster_outbox",
    tracks: "cluster_alert_tracks",
};

/// The leader's tables, created with the others.
pub(super) const LEADER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_status (
    host TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_outbox (
    notifier TEXT NOT NULL,
    id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (notifier, id)
);
CREATE TABLE IF NOT EXISTS cluster_alert_tracks (
    notifier TEXT NOT NULL,
    host TEXT NOT NULL,
    track TEXT NOT NULL,
    PRIMARY KEY (notifier, host)
);
";

/// One host to judge: the locations expected to check it, and how old a location's freshness
/// mark may be before its verdict counts as unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostQuorum {
    pub label: String,
    pub expected: BTreeSet<Arc<str>>,
    pub fresh_for: Duration,
}

impl HostQuorum {
    /// `host` of `config`: its own `locations`, or `everywhere` (every location of `config`,
    /// [`Config::locations`], worked out once by the caller); fresh for the lease (an agent
    /// gone that long has been replaced) plus its interval (its next check).
    pub fn of(config: &Config, host: &HostConfiguration, everywhere: &BTreeSet<Arc<str>>) -> Self {
        let lease = config.cluster.as_ref().map_or(Duration::ZERO, |c| c.lease);
        HostQuorum {
            label: host.label.to_string(),
            expected: match &host.locations {
                Some(locations) => locations.iter().cloned().collect(),
                None => everywhere.clone(),
            },
            fresh_for: lease.saturating_add(host.interval),
        }
    }
}

/// A host's status by quorum changed, as the leader decided and recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumChange {
    pub host: String,
    pub previous: ClusterStatus,
    pub verdict: ClusterVerdict,
    pub at: SystemTime,
}

/// A host's status by quorum as the last leader recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStatus {
    pub host: String,
    pub status: ClusterStatus,
    pub since: SystemTime,
    pub reason: String,
}

/// How often the leader reads every verdict again rather than what changed.
pub const FULL_READ_EVERY: Duration = Duration::from_secs(60);

/// How far back each read reaches before the last one: a write that committed a little after
/// the last read, dated from before it, is still read.
const READ_OVERLAP_MS: i64 = 2_000;

/// The leader's copy of every location's verdicts and of the statuses it recorded, so each
/// judgement reads only what was written since the last (SPEC §10: verdict changes and
/// freshness marks, not every result).
#[derive(Debug)]
pub struct VerdictCache {
    /// The lease it was read under: another lease reads everything again.
    token: i64,
    /// Each `at` is its last freshness mark, on this agent's clock: as old as the database
    /// said when it was read, so its age grows as time passes here.
    verdicts: HashMap<String, HashMap<Arc<str>, LocationVerdict>>,
    recorded: HashMap<String, ClusterStatus>,
    /// The database's time of the last read, in milliseconds.
    read_up_to_ms: i64,
    read_fully_at: Instant,
}

/// Everything a new leader takes over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaderState {
    pub statuses: Vec<RecordedStatus>,
    /// Oldest first, so each host's order is kept.
    pub outbox: Vec<StoredDelivery>,
    /// `(notifier, host, track as JSON)`.
    pub tracks: Vec<(Arc<str>, String, String)>,
}

fn parse_cluster_status(text: &str) -> ClusterStatus {
    ClusterStatus::ALL
        .into_iter()
        .find(|status| status.as_str() == text)
        .unwrap_or_default()
}

impl Membership {
    /// Locks the lease row for the rest of `transaction` and fails with
    /// [`ClusterError::Fenced`] unless this agent holds it with `token`, unexpired.
    fn fence(transaction: &mut Transaction<'_>, agent: &str, token: i64) -> Result<(), Stopped> {
        let held = transaction.query_opt(
            "SELECT 1 FROM cluster_lease
             WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > now()
             FOR UPDATE",
            &[&LEADER, &agent, &token],
        )?;
        // Dropped uncommitted, the transaction rolls back.
        held.map(|_| ()).ok_or(Stopped::Fenced)
    }

    /// Decides every host of `hosts` by `quorum` over the locations' verdicts, records those
    /// whose status changed, and returns them: fenced by `token`, in one transaction.
    ///
    /// `cache` is the leader's copy of the verdicts and recorded statuses: refreshed with the
    /// rows written since the last judgement (a few overlapping seconds included), and read
    /// whole when it is new, of another lease, or [`FULL_READ_EVERY`] old, so a row whose
    /// write committed late is never missed for long.
    pub fn judge(
        &mut self,
        token: i64,
        hosts: &[HostQuorum],
        quorum: u32,
        cache: &mut Option<VerdictCache>,
    ) -> Result<Vec<QuorumChange>, ClusterError> {
        let agent = self.agent().to_string();
        let place = self.place();
        let now = SystemTime::now();
        let outcome = (|| -> Result<Vec<QuorumChange>, Stopped> {
            let mut transaction = self.client().transaction()?;
            Self::fence(&mut transaction, &agent, token)?;
            let database_now: i64 = transaction
                .query_one("SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT", &[])?
                .get(0);
            let full = cache
                .as_ref()
                .is_none_or(|c| c.token != token || c.read_fully_at.elapsed() >= FULL_READ_EVERY);
            if full {
                let recorded = transaction
                    .query("SELECT host, status FROM cluster_status", &[])?
                    .iter()
                    .map(|row| (row.get(0), parse_cluster_status(row.get(1))))
                    .collect();
                *cache = Some(VerdictCache {
                    token,
                    verdicts: HashMap::new(),
                    recorded,
                    read_up_to_ms: 0,
                    read_fully_at: Instant::now(),
                });
            }
            let Some(cached) = cache.as_mut() else {
                return Ok(Vec::new());
            };
            let since = cached.read_up_to_ms.saturating_sub(READ_OVERLAP_MS);
            for row in transaction.query(
                "SELECT host, location, status, reason,
                        (EXTRACT(EPOCH FROM fresh_at) * 1000)::BIGINT
                 FROM cluster_verdicts
                 WHERE fresh_at >= to_timestamp($1::BIGINT / 1000.0)",
                &[&since],
            )? {
                let location: String = row.get(1);
                let status: String = row.get(2);
                let fresh_ms: i64 = row.get(4);
                // Freshness by the database's clock: as old as its last mark, seen from now.
                let age = u64::try_from(database_now - fresh_ms).unwrap_or(0);
                cached.verdicts.entry(row.get(0)).or_default().insert(
                    Arc::from(location.as_str()),
                    LocationVerdict {
                        status: codec::parse_status(&status),
                        at: now
                            .checked_sub(Duration::from_millis(age))
                            .unwrap_or(SystemTime::UNIX_EPOCH),
                        reason: row.get(3),
                    },
                );
            }
            cached.read_up_to_ms = database_now;
            let none = HashMap::new();
            let changes: Vec<QuorumChange> = hosts
                .iter()
                .filter_map(|host| {
                    let seen = cached.verdicts.get(&host.label).unwrap_or(&none);
                    let verdict = quorum::decide(&host.expected, seen, quorum, host.fresh_for, now);
                    let previous = cached
                        .recorded
                        .get(&host.label)
                        .copied()
                        .unwrap_or_default();
                    (verdict.status != previous).then(|| QuorumChange {
                        host: host.label.clone(),
                        previous,
                        verdict,
                        at: now,
                    })
                })
                .collect();
            if !changes.is_empty() {
                let labels: Vec<&str> = changes.iter().map(|c| c.host.as_str()).collect();
                let statuses: Vec<&str> =
                    changes.iter().map(|c| c.verdict.status.as_str()).collect();
                let reasons: Vec<&str> =
                    changes.iter().map(|c| c.verdict.reason.as_str()).collect();
                transaction.execute(
                    "INSERT INTO cluster_status (host, status, since, reason)
                     SELECT h, s, now(), r FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[])
                         AS v(h, s, r)
                     ON CONFLICT (host) DO UPDATE SET status = EXCLUDED.status,
                         since = EXCLUDED.since, reason = EXCLUDED.reason",
                    &[&labels, &statuses, &reasons],
                )?;
            }
            transaction.commit()?;
            for change in &changes {
                cached
                    .recorded
                    .insert(change.host.clone(), change.verdict.status);
            }
            Ok(changes)
        })();
        if outcome.is_err() {
            // Whatever was read may be half of it: the next judgement reads everything.
            *cache = None;
        }
        outcome.map_err(|stopped| stopped.into_error(place, "judging hosts by quorum"))
    }

    /// Writes the AlertRouter's batch (events to store, events done with, what notifiers were
    /// told) to the cluster's outbox, fenced by `token`, in one transaction.
    pub fn save_alert_state(
        &mut self,
        token: i64,
        batch: &SaveAlertState,
    ) -> Result<(), ClusterError> {
        let agent = self.agent().to_string();
        let place = self.place();
        let outcome = (|| -> Result<(), Stopped> {
            let mut transaction = self.client().transaction()?;
            Self::fence(&mut transaction, &agent, token)?;
            write_alert_state(&mut transaction, batch, &CLUSTER_ALERT_TABLES)?;
            Ok(transaction.commit()?)
        })();
        outcome.map_err(|stopped| stopped.into_error(place, "writing the cluster's outbox"))
    }

    /// What the last leader left: statuses, undelivered events (oldest first) and tracks.
    pub fn leader_state(&mut self) -> Result<LeaderState, ClusterError> {
        let place = self.place();
        let outcome = (|| {
            let client = self.client();
            let statuses = client
                .query(
                    "SELECT host, status, since, reason FROM cluster_status",
                    &[],
                )?
                .iter()
                .map(|row| RecordedStatus {
                    host: row.get(0),
                    status: parse_cluster_status(row.get(1)),
                    since: row.get(2),
                    reason: row.get(3),
                })
                .collect();
            let mut outbox = Vec::new();
            for row in client.query(
                "SELECT notifier, created_ms, event FROM cluster_outbox ORDER BY created_ms, id",
                &[],
            )? {
                let notifier: String = row.get(0);
                let event: String = row.get(2);
                match serde_json::from_str(&event) {
                    Ok(event) => outbox.push(StoredDelivery {
                        notifier: Arc::from(notifier.as_str()),
                        event,
                        created: codec::from_millis(row.get(1)),
                    }),
                    Err(e) => {
                        log::warn!(notifier = notifier.as_str(), error = e.to_string().as_str(); "an event in the cluster's outbox cannot be read; skipping it")
                    }
                }
            }
            let tracks = client
                .query(
                    "SELECT notifier, host, track FROM cluster_alert_tracks",
                    &[],
                )?
                .iter()
                .map(|row| {
                    let notifier: String = row.get(0);
                    (Arc::from(notifier.as_str()), row.get(1), row.get(2))
                })
                .collect();
            Ok(LeaderState {
                statuses,
                outbox,
                tracks,
            })
        })();
        outcome.map_err(|source| ClusterError::Query {
            place,
            operation: "reading what the last leader left",
            source,
        })
    }
}

/// Why a fenced transaction stopped: the fence, or the database.
enum Stopped {
    Fenced,
    Database(postgres::Error),
}

impl From<postgres::Error> for Stopped {
    fn from(source: postgres::Error) -> Self {
        Stopped::Database(source)
    }
}

impl Stopped {
    fn into_error(self, place: String, operation: &'static str) -> ClusterError {
        match self {
            Stopped::Fenced => ClusterError::Fenced,
            Stopped::Database(source) => ClusterError::Query {
                place,
                operation,
                source,
            },
        }
    }
}
