//! Distributed monitoring (SPEC §10): agents in several locations against one PostgreSQL.
//!
//! - [`membership`]: agents' heartbeats and the leader lease with its fencing token.
//! - [`agent`]: this process as an agent: its heartbeat and lease bids, on a thread of their
//!   own, published for the API and the metrics.

pub mod agent;
pub mod membership;
