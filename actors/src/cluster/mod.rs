//! Distributed monitoring (SPEC §10): agents in several locations against one PostgreSQL.
//!
//! - [`membership`]: agents' heartbeats and the leader lease with its fencing token.

pub mod membership;
