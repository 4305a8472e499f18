//! How well the scheduler keeps up: the start lag of recent checks, counts, and whether
//! checks still complete at all. `/readyz` and `GET /api/v1/scheduler` are answered from it.
//!
//! The StateRegistry sees every result, so it keeps this record; nothing in here is per host.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowstate_config::HostConfiguration;

use crate::api::types::SchedulerStats;

/// Why the scheduler is not keeping up: the answer to `GetSchedulerHealth`.
///
/// Its `Display` is part of the `/readyz` body and the systemd watchdog's log line, so the
/// words stay exactly as they were when this was a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerHealthError {
    /// The median start lag of recent checks is over the limit.
    #[error(
        "the scheduler is behind: checks start {} late (limit {})",
        humantime::format_duration(*.late),
        humantime::format_duration(*.limit)
    )]
    Behind {
        /// The median lag, in whole milliseconds.
        late: Duration,
        /// `server.ready_max_lag`.
        limit: Duration,
    },
    /// No check has completed for longer than any interval plus its timeout and the limit.
    #[error("no check has completed for {}", humantime::format_duration(*.quiet_for))]
    Quiet {
        /// Since the last completed check, in whole seconds.
        quiet_for: Duration,
    },
}

/// How many of the newest lags decide readiness: recent enough to notice falling behind
/// within seconds, many enough that one slow check does not flip it.
const READINESS_SAMPLES: usize = 256;

/// Checks whose lag is remembered: about 6 s of 10 000 hosts at 1 s.
const LAG_WINDOW: usize = 65_536;

/// The recent start lags of all checks, and totals: enough for exact percentiles over the
/// last `LAG_WINDOW` checks at a fixed memory cost.
#[derive(Default)]
pub struct SchedulerRecord {
    lags_micros: VecDeque<u32>,
    checks: u64,
    skipped: u64,
    /// When the last result arrived: a stuck scheduler sends none.
    last_result: Option<Instant>,
    /// The longest interval plus timeout of any host: the most a healthy scheduler is quiet.
    slowest_cycle: Option<Duration>,
}

impl SchedulerRecord {
    /// The hosts scheduled now: how long the scheduler may be quiet follows from them.
    pub fn track(&mut self, hosts: &[Arc<HostConfiguration>]) {
        self.slowest_cycle = hosts
            .iter()
            .map(|h| h.interval.saturating_add(h.timeout))
            .max();
    }

    /// A check completed `lag` after its slot, and `skipped` slots before it were skipped.
    pub fn record(&mut self, lag: Duration, skipped: u64) {
        self.checks += 1;
        self.last_result = Some(Instant::now());
        self.skipped += skipped;
        if self.lags_micros.len() == LAG_WINDOW {
            self.lags_micros.pop_front();
        }
        self.lags_micros
            .push_back(u32::try_from(lag.as_micros()).unwrap_or(u32::MAX));
    }

    /// How long without any result means the scheduler is stuck: the longest interval plus
    /// its timeout, plus the lag allowance. `None` with no hosts (then silence is normal).
    fn quiet_limit(&self, max_lag: Duration) -> Option<Duration> {
        self.slowest_cycle
            .map(|cycle| cycle.saturating_add(max_lag))
    }

    /// `Err` with the reason when recent checks start more than `max_lag` late (median), or
    /// when nothing completed for longer than the quiet limit.
    pub fn health(&self, max_lag: Duration) -> Result<(), SchedulerHealthError> {
        let mut recent: Vec<u32> = self
            .lags_micros
            .iter()
            .rev()
            .take(READINESS_SAMPLES)
            .copied()
            .collect();
        recent.sort_unstable();
        if let Some(&median) = recent.get(recent.len() / 2) {
            let median = Duration::from_micros(u64::from(median));
            if median > max_lag {
                return Err(SchedulerHealthError::Behind {
                    // Whole milliseconds: microseconds in a readiness answer are noise.
                    late: Duration::from_millis(median.as_millis() as u64),
                    limit: max_lag,
                });
            }
        }
        if let (Some(limit), Some(last)) = (self.quiet_limit(max_lag), self.last_result) {
            if last.elapsed() > limit {
                return Err(SchedulerHealthError::Quiet {
                    // Whole seconds: the answer is read by a person or systemd, not timed.
                    quiet_for: Duration::from_secs(last.elapsed().as_secs()),
                });
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> SchedulerStats {
        let mut sorted: Vec<u32> = self.lags_micros.iter().copied().collect();
        sorted.sort_unstable();
        let percentile = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let index = ((sorted.len() - 1) as f64 * p).round() as usize;
            f64::from(sorted[index]) / 1000.0
        };
        SchedulerStats {
            checks_total: self.checks,
            skipped_total: self.skipped,
            lag_samples: sorted.len(),
            lag_p50_ms: percentile(0.50),
            lag_p99_ms: percentile(0.99),
            lag_max_ms: percentile(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_of(lags_ms: &[u64]) -> SchedulerRecord {
        let mut record = SchedulerRecord::default();
        for &lag in lags_ms {
            record.record(Duration::from_millis(lag), 0);
        }
        record
    }

    #[test]
    fn a_median_start_lag_over_the_limit_is_not_ready() {
        let behind = record_of(&[5, 900, 900]);
        let reason = behind
            .health(Duration::from_millis(500))
            .expect_err("checks start late");
        assert_eq!(
            reason.to_string(),
            "the scheduler is behind: checks start 900ms late (limit 500ms)"
        );
        let one_slow = record_of(&[5, 5, 900]);
        assert_eq!(one_slow.health(Duration::from_millis(500)), Ok(()));
    }

    #[test]
    fn stats_are_exact_percentiles_of_the_recent_lags() {
        let mut record = record_of(&[]);
        assert_eq!(record.stats().lag_samples, 0);
        assert_eq!(record.stats().lag_max_ms, 0.0);
        for lag in 1..=100 {
            record.record(Duration::from_millis(lag), 1);
        }
        let stats = record.stats();
        assert_eq!((stats.checks_total, stats.skipped_total), (100, 100));
        assert_eq!(stats.lag_samples, 100);
        assert_eq!(
            (stats.lag_p50_ms, stats.lag_p99_ms, stats.lag_max_ms),
            (51.0, 99.0, 100.0)
        );
    }
}
