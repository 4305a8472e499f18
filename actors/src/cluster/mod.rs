//! The cluster: several agents, in several locations, monitoring one set of hosts against one
//! PostgreSQL (SPEC §10).
//!
//! In brief:
//!
//! - **Sharing the work.** The agents of one location share its hosts by rendezvous hashing
//!   over the agents that are live: each agent computes the same assignment on its own, and
//!   when one joins or leaves only the hosts it wins or held move ([`rendezvous`]).
//! - **Judging in each location.** The agent that checks a host applies the host's own
//!   thresholds to its results, so each location has one verdict per host (up, degraded,
//!   down, unknown) with the time it was made.
//! - **Deciding once.** One agent is the leader: it holds a lease in PostgreSQL. Only the
//!   leader combines the locations' verdicts into the host's status by quorum (a location
//!   with no fresh verdict is unknown, never down; failing in fewer locations than the quorum
//!   is `partial`, shown but not alerted) and sends alerts ([`quorum`]).
//! - **Alerts exactly once.** The outbox lives in PostgreSQL keyed by event id, so a leader
//!   killed mid-delivery loses no alert and its successor sends none twice.
//!
//! ## Layout
//! - [`rendezvous`]: which live agent of a location checks which host (pure).
//! - [`quorum`]: the leader's verdict over the locations' verdicts (pure).
//! - [`membership`]: agents' heartbeats and the leader lease with its fencing token, in
//!   PostgreSQL (the database's clock).
//! - [`leader_state`]: what only the leader writes (statuses by quorum, the outbox, what
//!   notifiers were told), fenced by its token.
//! - [`judge`]: on the leader, judges every host by quorum each second and hands the changes
//!   to the AlertRouter; on gaining the lease, hands it what the last leader left.
//! - [`shared_config`]: the configuration files each agent publishes by content hash, and
//!   the newest one every agent runs.
//! - [`minute_tally`], [`location_rollups`]: each location's per-minute rollups, written
//!   with COPY, read as each location's availability of a host.
//! - [`shared_silences`]: silences made through any agent, read by every agent each beat.
//! - [`config_exchange`]: the Supervisor's side of it: publish own files, take newer ones.
//! - [`config_hash`]: the content hash agents compare to see they run the same files.
//! - [`agent`]: this process as an agent: its heartbeat and lease bids, on a thread of their
//!   own, published for the API and the metrics.

pub mod agent;
pub mod config_exchange;
pub mod config_hash;
pub mod judge;
pub mod leader_state;
pub mod location_rollups;
pub mod membership;
pub mod minute_tally;
pub mod quorum;
pub mod rendezvous;
pub mod shared_config;
pub mod shared_silences;
