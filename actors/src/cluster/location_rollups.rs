//! Each location's per-minute rollups in the cluster database (SPEC §10): written in batches
//! with COPY (one statement whatever the number of hosts), read back as each location's
//! availability of a host, and kept for 30 days.
//!
//! Availability here is by checks (passed ÷ checked in the window), per location: what a
//! `partial` host's page shows next to the quorum's status, so a red badge is never explained
//! by a 100 % that was measured somewhere else.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use super::membership::{ClusterError, Membership};
use super::minute_tally::MinuteRow;

/// The table, created with the others.
pub(super) const ROLLUPS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_rollups (
    host TEXT NOT NULL,
    location TEXT NOT NULL,
    minute BIGINT NOT NULL,
    checks INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (host, location, minute)
);
CREATE INDEX IF NOT EXISTS cluster_rollups_by_minute ON cluster_rollups (minute);
";

/// How long rollups are kept: the longest window shown.
pub const KEPT: Duration = Duration::from_secs(30 * 86_400);

/// The windows a location's availability is given for, in minutes: 24 h, 7 d, 30 d.
const WINDOWS: [i64; 3] = [24 * 60, 7 * 24 * 60, 30 * 24 * 60];

/// One location's availability of one host over 24 h, 7 d and 30 d (`None`: nothing checked).
#[derive(Debug, Clone, PartialEq)]
pub struct LocationAvailability {
    pub location: String,
    pub windows: [Option<f64>; 3],
}

/// `text` for COPY's text format: backslash, tab and line ends escaped.
fn copy_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn minutes_since_epoch(at: SystemTime) -> i64 {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(seconds / 60).unwrap_or(i64::MAX)
}

impl Membership {
    /// Adds this location's finished minutes: copied into a session table, then merged (two
    /// agents of one location may both have counted part of a minute around a handover).
    pub fn record_minutes(&mut self, rows: &[MinuteRow]) -> Result<(), ClusterError> {
        if rows.is_empty() {
            return Ok(());
        }
        let location = self.location().to_string();
        let place = self.place();
        let outcome = (|| -> Result<(), postgres::Error> {
            let mut transaction = self.client().transaction()?;
            transaction.batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming_rollups (
                     host TEXT, minute BIGINT, checks INTEGER, failures INTEGER,
                     latency_ms DOUBLE PRECISION
                 ) ON COMMIT DELETE ROWS",
            )?;
            let mut data = String::with_capacity(rows.len() * 48);
            for row in rows {
                data.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    copy_text(&row.host),
                    row.minute,
                    row.checks,
                    row.failures,
                    row.latency_ms
                ));
            }
            let mut writer = transaction.copy_in("COPY incoming_rollups FROM STDIN")?;
            // A write error surfaces again, as the database's, from `finish`.
            let _ = writer.write_all(data.as_bytes());
            writer.finish()?;
            transaction.execute(
                "INSERT INTO cluster_rollups (host, location, minute, checks, failures, latency_ms)
                 SELECT host, $1, minute, SUM(checks), SUM(failures), SUM(latency_ms)
                 FROM incoming_rollups GROUP BY host, minute
                 ON CONFLICT (host, location, minute) DO UPDATE SET
                     checks = cluster_rollups.checks + EXCLUDED.checks,
                     failures = cluster_rollups.failures + EXCLUDED.failures,
                     latency_ms = cluster_rollups.latency_ms + EXCLUDED.latency_ms",
                &[&location],
            )?;
            transaction.commit()
        })();
        outcome.map_err(|source| ClusterError::Query {
            place,
            operation: "writing this location's rollups",
            source,
        })
    }

    /// Deletes rollups older than [`KEPT`].
    pub fn prune_minutes(&mut self) -> Result<u64, ClusterError> {
        let place = self.place();
        let oldest = minutes_since_epoch(
            SystemTime::now()
                .checked_sub(KEPT)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        self.client()
            .execute("DELETE FROM cluster_rollups WHERE minute < $1", &[&oldest])
            .map_err(|source| ClusterError::Query {
                place,
                operation: "deleting old rollups",
                source,
            })
    }

    /// Each location's availability of `host` over 24 h, 7 d and 30 d, by location.
    pub fn location_availability(
        &mut self,
        host: &str,
    ) -> Result<Vec<LocationAvailability>, ClusterError> {
        let place = self.place();
        let now = minutes_since_epoch(SystemTime::now());
        let [day, week, month] = WINDOWS.map(|w| now - w);
        let rows = self.client().query(
            "SELECT location,
                    SUM(checks) FILTER (WHERE minute >= $2), SUM(failures) FILTER (WHERE minute >= $2),
                    SUM(checks) FILTER (WHERE minute >= $3), SUM(failures) FILTER (WHERE minute >= $3),
                    SUM(checks), SUM(failures)
             FROM cluster_rollups WHERE host = $1 AND minute >= $4
             GROUP BY location ORDER BY location",
            &[&host, &day, &week, &month],
        );
        let rows = rows.map_err(|source| ClusterError::Query {
            place,
            operation: "reading the locations' availability",
            source,
        })?;
        let share = |checks: Option<i64>, failures: Option<i64>| match (checks, failures) {
            (Some(checks), Some(failures)) if checks > 0 => {
                Some(1.0 - failures as f64 / checks as f64)
            }
            _ => None,
        };
        Ok(rows
            .iter()
            .map(|row| LocationAvailability {
                location: row.get(0),
                windows: [
                    share(row.get(1), row.get(2)),
                    share(row.get(3), row.get(4)),
                    share(row.get(5), row.get(6)),
                ],
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_split_a_row() {
        assert_eq!(copy_text("a\tb\nc\\d\re"), "a\\tb\\nc\\\\d\\re");
        assert_eq!(copy_text("team-a/api"), "team-a/api");
    }
}
