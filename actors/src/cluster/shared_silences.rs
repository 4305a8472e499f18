//! Silences shared by every agent of a cluster (SPEC §10): a silence made through any agent's
//! API (behind a Kubernetes Service, whichever pod answered) mutes the host on the leader,
//! which is the one that alerts.
//!
//! The API writes a silence to `cluster_silences` before it answers, as it would to the state
//! store; every agent reads the table at each heartbeat into its own [`SilenceBook`], so a
//! silence takes effect on the leader within a heartbeat. Ending a silence is a change of its
//! `until`, read the same way; silences that ended more than a year ago are deleted.

use std::time::SystemTime;

use super::membership::{ClusterError, Membership};
use crate::silences::{Silence, SilenceBook, ENDED_KEPT};

/// The table, created with the others.
pub(super) const SILENCES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_silences (
    id TEXT PRIMARY KEY,
    until TIMESTAMPTZ NOT NULL,
    silence TEXT NOT NULL
);
";

impl Membership {
    /// Writes `silence` (new, or with a new `until`).
    pub fn save_silence(&mut self, silence: &Silence) -> Result<(), ClusterError> {
        let place = self.place();
        let json = serde_json::to_string(silence).unwrap_or_default();
        self.client()
            .execute(
                "INSERT INTO cluster_silences (id, until, silence) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET until = EXCLUDED.until,
                     silence = EXCLUDED.silence",
                &[&silence.id, &silence.until, &json],
            )
            .map(|_| ())
            .map_err(|source| ClusterError::Query {
                place,
                operation: "saving a silence",
                source,
            })
    }

    pub fn delete_silence(&mut self, id: &str) -> Result<(), ClusterError> {
        let place = self.place();
        self.client()
            .execute("DELETE FROM cluster_silences WHERE id = $1", &[&id])
            .map(|_| ())
            .map_err(|source| ClusterError::Query {
                place,
                operation: "deleting a silence",
                source,
            })
    }

    /// Every silence active or ended within [`ENDED_KEPT`] (the time they covered stays out of
    /// availability).
    pub fn silences(&mut self) -> Result<Vec<Silence>, ClusterError> {
        let place = self.place();
        let since = SystemTime::now()
            .checked_sub(ENDED_KEPT)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let rows = self
            .client()
            .query(
                "SELECT silence FROM cluster_silences WHERE until > $1 ORDER BY id",
                &[&since],
            )
            .map_err(|source| ClusterError::Query {
                place,
                operation: "reading the silences",
                source,
            })?;
        Ok(rows
            .iter()
            .filter_map(|row| serde_json::from_str(row.get::<_, &str>(0)).ok())
            .collect())
    }
}

/// Puts every silence the cluster has into `book`: new ones added, changed ones (an earlier
/// `until`: ended) replaced. None is removed here: the book drops ended ones itself.
pub fn merge_into(book: &SilenceBook, silences: Vec<Silence>) {
    for silence in silences {
        book.insert(silence);
    }
}
