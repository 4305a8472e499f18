//! Per-minute rollups of one location's checks, for the cluster database (SPEC §10): what
//! each location saw of each host, minute by minute, so a host's availability can be told per
//! location on any agent (a `partial` host's page says where it failed, and how much).
//!
//! Raw results stay in each agent's own store; this keeps one small row per host and minute.
//! Pure bookkeeping with explicit times: the StateRegistry records every result, and sends the
//! minutes that are over with its once-a-second batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One host's checks in one minute, in one location.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteRow {
    pub host: String,
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub checks: i32,
    pub failures: i32,
    /// The checks' latencies added up, in milliseconds.
    pub latency_ms: f64,
}

/// The minute each host is counting now, and the finished ones waiting to be sent.
#[derive(Debug, Default)]
pub struct MinuteTally {
    open: HashMap<Arc<str>, MinuteRow>,
    finished: Vec<MinuteRow>,
}

/// The minute `at` falls in.
fn minute_of(at: SystemTime) -> i64 {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(seconds / 60).unwrap_or(i64::MAX)
}

impl MinuteTally {
    /// Counts one result of `host`, ended `at`: a result of a later minute closes the open one.
    pub fn record(&mut self, host: &Arc<str>, at: SystemTime, ok: bool, latency: Duration) {
        let minute = minute_of(at);
        let row = self.open.entry(host.clone()).or_insert_with(|| MinuteRow {
            host: host.to_string(),
            minute,
            checks: 0,
            failures: 0,
            latency_ms: 0.0,
        });
        if row.minute != minute {
            let done = std::mem::replace(
                row,
                MinuteRow {
                    host: host.to_string(),
                    minute,
                    checks: 0,
                    failures: 0,
                    latency_ms: 0.0,
                },
            );
            self.finished.push(done);
        }
        row.checks += 1;
        row.failures += i32::from(!ok);
        row.latency_ms += latency.as_secs_f64() * 1000.0;
    }

    /// The minutes that are over: those closed by a later result, and open ones whose minute
    /// ended before `now` (a host checked less than once a minute, or no longer here).
    pub fn take_finished(&mut self, now: SystemTime) -> Vec<MinuteRow> {
        let current = minute_of(now);
        let over: Vec<Arc<str>> = self
            .open
            .iter()
            .filter(|(_, row)| row.minute < current)
            .map(|(host, _)| host.clone())
            .collect();
        for host in over {
            if let Some(row) = self.open.remove(&host) {
                self.finished.push(row);
            }
        }
        std::mem::take(&mut self.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn results_are_counted_per_host_and_minute_and_sent_once_the_minute_is_over() {
        let mut tally = MinuteTally::default();
        let (api, db) = (Arc::from("api"), Arc::from("db"));
        let ms = Duration::from_millis;
        tally.record(&api, at(600), true, ms(10));
        tally.record(&api, at(630), false, ms(30));
        tally.record(&db, at(610), true, ms(5));
        assert!(
            tally.take_finished(at(659)).is_empty(),
            "minute 10 is not over"
        );
        // api's next result closes its minute 10; db's ends with the minute.
        tally.record(&api, at(661), true, ms(20));
        let mut rows = tally.take_finished(at(662));
        rows.sort_by(|a, b| a.host.cmp(&b.host));
        assert_eq!(
            rows,
            [
                MinuteRow {
                    host: "api".into(),
                    minute: 10,
                    checks: 2,
                    failures: 1,
                    latency_ms: 40.0
                },
                MinuteRow {
                    host: "db".into(),
                    minute: 10,
                    checks: 1,
                    failures: 0,
                    latency_ms: 5.0
                },
            ]
        );
        assert!(tally.take_finished(at(662)).is_empty(), "sent once");
        let rows = tally.take_finished(at(720));
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].minute, rows[0].checks), (11, 1));
    }
}
