//! Cluster membership and the leader lease, in PostgreSQL (SPEC §10).
//!
//! Agents register and heartbeat in `cluster_agents`; an agent whose heartbeat is older than
//! the lease is gone, and its hosts go to the others of its location (rendezvous hashing over
//! the live ones). One row of `cluster_lease` is the leader lease: held by one agent until it
//! expires, renewed by its holder, taken over by another only once it has expired. Each change
//! of holder increments the row's `token` (a fencing token): the leader writes with its token
//! and checks it still holds it, so a leader that was paused past its lease (SIGSTOP, a long
//! GC-like stall, a partition) finds out before it sends anything, instead of acting as a
//! second leader.
//!
//! Every time is the database's (`now()`), never an agent's clock: agents on machines whose
//! clocks disagree still agree on who is alive and who leads. Blocking (the `postgres` crate),
//! for one thread of its own, as the store's backend is.

use std::time::Duration;

use flowstate_config::DatabaseUrl;
use postgres::Client;

/// The tables, created if missing (several agents may start at once: `IF NOT EXISTS` and an
/// advisory lock around it).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_agents (
    id TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    hosts INTEGER NOT NULL DEFAULT 0,
    config_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS cluster_verdicts (
    host TEXT NOT NULL,
    location TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL,
    fresh_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (host, location)
);
CREATE TABLE IF NOT EXISTS cluster_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
";

/// The advisory lock key that serialises creating the tables.
const SCHEMA_LOCK: i64 = 0x666c_6f77_636c_7573; // "flowclus"

/// The one lease there is: the leader's.
pub(super) const LEADER: &str = "leader";

/// Why a cluster operation failed. The database's own message says the rest; the URL's
/// password is never part of it.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to the cluster database {place}: {source}")]
    Connect {
        place: String,
        #[source]
        source: postgres::Error,
    },
    #[error("the cluster agent's database thread is gone")]
    Gone,
    /// A write only the leader may make, refused: this agent no longer holds the lease with
    /// the token it was granted (another agent leads now).
    #[error("this agent no longer holds the leader lease; the leader that does takes over")]
    Fenced,
    #[error("the cluster database {place} refused {operation}: {source}")]
    Query {
        place: String,
        operation: &'static str,
        #[source]
        source: postgres::Error,
    },
}

/// One agent as the cluster table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub location: String,
    /// Seconds since its last heartbeat, by the database's clock.
    pub idle_ms: i64,
    pub hosts: i32,
    pub config_hash: String,
}

/// One location's verdict on one host, as stored: written by the agent that checks the host
/// there when the verdict changes, marked fresh in batches while it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVerdict {
    pub host: String,
    pub location: String,
    pub status: String,
    /// When the location decided it.
    pub decided_at: std::time::SystemTime,
    pub reason: String,
    /// Milliseconds since it was last marked fresh, by the database's clock.
    pub age_ms: i64,
}

/// The leader lease as held by this agent: its fencing token and how long it lasts from the
/// moment it was granted (by the database's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: i64,
    pub ttl: Duration,
}

/// Who holds the leader lease now, if anyone holds an unexpired one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub agent: String,
    pub token: i64,
}

/// One agent's connection to the cluster's tables.
pub struct Membership {
    url: DatabaseUrl,
    client: Client,
    agent: String,
    location: String,
}

impl Membership {
    /// Connects as agent `agent` of `location` and makes sure the tables exist.
    pub fn connect(
        url: &DatabaseUrl,
        agent: &str,
        location: &str,
    ) -> Result<Membership, ClusterError> {
        let client =
            crate::store::postgres::open_client(url).map_err(|source| ClusterError::Connect {
                place: url.shown().to_string(),
                source,
            })?;
        let mut membership = Membership {
            url: url.clone(),
            client,
            agent: agent.to_string(),
            location: location.to_string(),
        };
        membership.prepare()?;
        Ok(membership)
    }

    pub fn agent(&self) -> &str {
        &self.agent
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The database as logs may show it (no password).
    pub(super) fn place(&self) -> String {
        self.url.shown().to_string()
    }

    pub(super) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn failed(&self, operation: &'static str) -> impl Fn(postgres::Error) -> ClusterError + '_ {
        move |source| ClusterError::Query {
            place: self.url.shown().to_string(),
            operation,
            source,
        }
    }

    fn prepare(&mut self) -> Result<(), ClusterError> {
        let place = self.url.shown().to_string();
        let failed = |source| ClusterError::Query {
            place: place.clone(),
            operation: "creating the cluster tables",
            source,
        };
        let mut transaction = self.client.transaction().map_err(failed)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .and_then(|_| transaction.batch_execute(SCHEMA))
            .and_then(|_| transaction.batch_execute(super::leader_state::LEADER_SCHEMA))
            .and_then(|_| transaction.batch_execute(super::shared_config::CONFIG_SCHEMA))
            .and_then(|_| transaction.batch_execute(super::shared_silences::SILENCES_SCHEMA))
            .and_then(|_| transaction.batch_execute(super::location_rollups::ROLLUPS_SCHEMA))
            .map_err(failed)?;
        transaction.commit().map_err(failed)
    }

    /// Registers this agent, or marks it alive: it checks `hosts` hosts under the
    /// configuration whose content hash is `config_hash`.
    pub fn heartbeat(&mut self, hosts: i32, config_hash: &str) -> Result<(), ClusterError> {
        let result = self.client.execute(
            "INSERT INTO cluster_agents (id, location, hosts, config_hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET location = EXCLUDED.location,
                 heartbeat_at = now(), hosts = EXCLUDED.hosts, config_hash = EXCLUDED.config_hash",
            &[&self.agent, &self.location, &hosts, &config_hash],
        );
        result.map(|_| ()).map_err(self.failed("a heartbeat"))
    }

    /// Writes this agent's location's verdicts (`host`, `status`, when decided, `reason`):
    /// one statement for the batch, each row fresh now.
    pub fn record_verdicts(
        &mut self,
        verdicts: &[(String, String, std::time::SystemTime, String)],
    ) -> Result<(), ClusterError> {
        if verdicts.is_empty() {
            return Ok(());
        }
        let hosts: Vec<&str> = verdicts.iter().map(|v| v.0.as_str()).collect();
        let statuses: Vec<&str> = verdicts.iter().map(|v| v.1.as_str()).collect();
        let decided: Vec<std::time::SystemTime> = verdicts.iter().map(|v| v.2).collect();
        let reasons: Vec<&str> = verdicts.iter().map(|v| v.3.as_str()).collect();
        let location = self.location.clone();
        let result = self.client.execute(
            "INSERT INTO cluster_verdicts (host, location, status, decided_at, reason, fresh_at)
             SELECT h, $1, s, d, r, now()
             FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TIMESTAMPTZ[], $5::TEXT[]) AS v(h, s, d, r)
             ON CONFLICT (host, location) DO UPDATE SET status = EXCLUDED.status,
                 decided_at = EXCLUDED.decided_at, reason = EXCLUDED.reason, fresh_at = now()",
            &[&location, &hosts, &statuses, &decided, &reasons],
        );
        result.map(|_| ()).map_err(self.failed("writing verdicts"))
    }

    /// Marks this location's verdicts on `hosts` fresh: they were checked since the last mark.
    pub fn mark_fresh(&mut self, hosts: &[String]) -> Result<(), ClusterError> {
        if hosts.is_empty() {
            return Ok(());
        }
        let location = self.location.clone();
        let result = self.client.execute(
            // Joined on the hosts given, so each row is found by its key, not by a scan.
            "UPDATE cluster_verdicts AS v SET fresh_at = now()
             FROM UNNEST($2::TEXT[]) AS checked(host)
             WHERE v.host = checked.host AND v.location = $1",
            &[&location, &hosts],
        );
        result
            .map(|_| ())
            .map_err(self.failed("marking verdicts fresh"))
    }

    /// Every location's verdict on `host`, or on every host, by host and location.
    pub fn verdicts(&mut self, host: Option<&str>) -> Result<Vec<StoredVerdict>, ClusterError> {
        let rows = self.client.query(
            "SELECT host, location, status, decided_at, reason,
                    (EXTRACT(EPOCH FROM (now() - fresh_at)) * 1000)::BIGINT
             FROM cluster_verdicts WHERE $1::TEXT IS NULL OR host = $1
             ORDER BY host, location",
            &[&host],
        );
        let rows = rows.map_err(self.failed("reading verdicts"))?;
        Ok(rows
            .iter()
            .map(|row| StoredVerdict {
                host: row.get(0),
                location: row.get(1),
                status: row.get(2),
                decided_at: row.get(3),
                reason: row.get(4),
                age_ms: row.get(5),
            })
            .collect())
    }

    /// Every agent whose last heartbeat is at most `within` old, by id; of one `location`, or
    /// of all.
    pub fn live_agents(
        &mut self,
        location: Option<&str>,
        within: Duration,
    ) -> Result<Vec<AgentRow>, ClusterError> {
        let within_ms = millis(within);
        let rows = self.client.query(
            "SELECT id, location,
                    (EXTRACT(EPOCH FROM (now() - heartbeat_at)) * 1000)::BIGINT AS idle_ms,
                    hosts, config_hash
             FROM cluster_agents
             WHERE heartbeat_at > now() - $1::BIGINT * interval '1 millisecond'
               AND ($2::TEXT IS NULL OR location = $2)
             ORDER BY id",
            &[&within_ms, &location],
        );
        let rows = rows.map_err(self.failed("listing the live agents"))?;
        Ok(rows
            .iter()
            .map(|row| AgentRow {
                id: row.get(0),
                location: row.get(1),
                idle_ms: row.get(2),
                hosts: row.get(3),
                config_hash: row.get(4),
            })
            .collect())
    }

    /// Leaves the cluster (a clean shutdown): the others take its hosts at once rather than
    /// after the lease, and a lease it holds is released.
    pub fn leave(&mut self) -> Result<(), ClusterError> {
        let agent = self.agent.clone();
        let result = self
            .client
            .execute("DELETE FROM cluster_agents WHERE id = $1", &[&agent])
            .and_then(|_| {
                self.client.execute(
                    "UPDATE cluster_lease SET expires_at = now() WHERE name = $1 AND holder = $2",
                    &[&LEADER, &agent],
                )
            });
        result
            .map(|_| ())
            .map_err(self.failed("leaving the cluster"))
    }

    /// Takes the leader lease for `ttl`, or renews it when this agent holds it; `None` while
    /// another agent holds an unexpired one. Taking it over from another holder increments
    /// the fencing token; renewing keeps it.
    pub fn acquire_lease(&mut self, ttl: Duration) -> Result<Option<Lease>, ClusterError> {
        let ttl_ms = millis(ttl);
        let row = self.client.query_opt(
            "INSERT INTO cluster_lease (name, holder, token, expires_at)
             VALUES ($1, $2, 1, now() + $3::BIGINT * interval '1 millisecond')
             ON CONFLICT (name) DO UPDATE SET
                 holder = EXCLUDED.holder,
                 token = CASE WHEN cluster_lease.holder = EXCLUDED.holder
                              AND cluster_lease.expires_at > now()
                              THEN cluster_lease.token ELSE cluster_lease.token + 1 END,
                 expires_at = EXCLUDED.expires_at
             WHERE cluster_lease.holder = EXCLUDED.holder OR cluster_lease.expires_at <= now()
             RETURNING token",
            &[&LEADER, &self.agent, &ttl_ms],
        );
        let row = row.map_err(self.failed("taking the leader lease"))?;
        Ok(row.map(|row| Lease {
            token: row.get(0),
            ttl,
        }))
    }

    /// Whether this agent still holds the lease with `token`, unexpired: what a leader asks
    /// before each thing only the leader may do.
    pub fn holds(&mut self, token: i64) -> Result<bool, ClusterError> {
        let row = self.client.query_opt(
            "SELECT 1 FROM cluster_lease
             WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > now()",
            &[&LEADER, &self.agent, &token],
        );
        row.map(|row| row.is_some())
            .map_err(self.failed("checking the leader lease"))
    }

    /// Who holds an unexpired leader lease, if anyone.
    pub fn leader(&mut self) -> Result<Option<LeaseHolder>, ClusterError> {
        let row = self.client.query_opt(
            "SELECT holder, token FROM cluster_lease WHERE name = $1 AND expires_at > now()",
            &[&LEADER],
        );
        let row = row.map_err(self.failed("reading the leader lease"))?;
        Ok(row.map(|row| LeaseHolder {
            agent: row.get(0),
            token: row.get(1),
        }))
    }
}

/// A duration in whole milliseconds for SQL, saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
