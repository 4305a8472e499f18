//! Flapping: a host whose results keep changing between pass and fail (SPEC §9).
//!
//! Nagios's method: over the last `window` results, count the changes between consecutive
//! results, newer changes weighted more (0.75 for the oldest to 1.25 for the newest, as Nagios's
//! `flapping.c` does), as a
//! percent of the changes there could have been. Above `high` the host starts flapping; it
//! stops only below `low`, so a host hovering at the threshold does not start and stop on
//! every check.
//!
//! The record is a bit per result in a `u64` (at most 64 results), saved with the host's
//! counters so a restart neither forgets a flapping host nor starts a new episode. Pure.

use serde::{Deserialize, Serialize};

/// Fewest results a window needs before it is judged: a fresh host's first blip is not a
/// pattern.
const MIN_RESULTS: u32 = 3;

/// The recent pass/fail pattern of one host and whether it is flapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlapRecord {
    /// One bit per result, newest in bit 0: 1 = failed.
    pub results: u64,
    /// How many bits of `results` are real (at most 64).
    pub len: u32,
    pub flapping: bool,
}

/// The thresholds a host's flapping is judged by (`flapping:` in its configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlapThresholds {
    /// Results considered, 3 to 64.
    pub window: u32,
    /// Percent state change above which flapping starts.
    pub high: f64,
    /// Percent state change below which it stops.
    pub low: f64,
}

/// Flapping began or ended with a result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlapChange {
    Started { percent: f64 },
    Stopped { percent: f64 },
}

impl FlapRecord {
    /// Nothing recorded: flapping is not configured for the host.
    pub fn is_empty(&self) -> bool {
        *self == FlapRecord::default()
    }

    /// Records one result and judges the window; `None` when flapping is not configured (the
    /// record is cleared, and a host that was flapping stops).
    pub fn record(
        &mut self,
        failed: bool,
        thresholds: Option<FlapThresholds>,
    ) -> Option<FlapChange> {
        let Some(thresholds) = thresholds else {
            let was = self.flapping;
            *self = FlapRecord::default();
            return was.then_some(FlapChange::Stopped { percent: 0.0 });
        };
        let window = thresholds.window.clamp(MIN_RESULTS, 64);
        self.results = (self.results << 1) | u64::from(failed);
        self.len = (self.len + 1).min(window);
        let minimum = (window / 2).max(MIN_RESULTS);
        if self.len < minimum {
            return None;
        }
        let percent = self.percent_change();
        match self.flapping {
            false if percent > thresholds.high => {
                self.flapping = true;
                Some(FlapChange::Started { percent })
            }
            true if percent < thresholds.low => {
                self.flapping = false;
                Some(FlapChange::Stopped { percent })
            }
            _ => None,
        }
    }

    /// The weighted percent state change over the recorded results (0 to 100).
    pub fn percent_change(&self) -> f64 {
        let len = self.len.min(64);
        if len < 2 {
            return 0.0;
        }
        let changes = len - 1;
        let mut weighted = 0.0;
        // Change `i` is between result `i` and `i + 1` counted from the newest (bit 0); the
        // newest change weighs 1.25, the oldest 0.75.
        for i in 0..changes {
            let changed = ((self.results >> i) ^ (self.results >> (i + 1))) & 1 == 1;
            if changed {
                let age = if changes == 1 {
                    0.0
                } else {
                    f64::from(i) / f64::from(changes - 1)
                };
                weighted += 1.25 - 0.5 * age;
            }
        }
        (weighted * 100.0 / f64::from(changes)).min(100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAGIOS: FlapThresholds = FlapThresholds {
        window: 20,
        high: 50.0,
        low: 25.0,
    };

    /// Feeds `pattern` (`F` failed, `P` passed) and returns every change it caused.
    fn feed(record: &mut FlapRecord, pattern: &str) -> Vec<FlapChange> {
        pattern
            .chars()
            .filter_map(|c| record.record(c == 'F', Some(NAGIOS)))
            .collect()
    }

    #[test]
    fn a_steady_host_never_flaps() {
        let mut record = FlapRecord::default();
        assert!(feed(&mut record, &"P".repeat(100)).is_empty());
        assert_eq!(record.percent_change(), 0.0);
    }

    #[test]
    fn one_outage_is_not_flapping() {
        let mut record = FlapRecord::default();
        let pattern = format!("{}{}{}", "P".repeat(20), "F".repeat(10), "P".repeat(20));
        assert!(feed(&mut record, &pattern).is_empty());
    }

    #[test]
    fn a_fresh_host_with_one_blip_is_not_flapping() {
        let mut record = FlapRecord::default();
        assert!(feed(&mut record, "PPFPPPPPPPPP").is_empty());
    }

    #[test]
    fn alternating_results_start_flapping_once_with_the_percent() {
        let mut record = FlapRecord::default();
        let changes = feed(&mut record, &"FP".repeat(20));
        assert_eq!(changes.len(), 1, "one start: {changes:?}");
        assert!(matches!(changes[0], FlapChange::Started { percent } if percent > 99.0));
        assert!(record.flapping);
    }

    #[test]
    fn flapping_stops_only_below_low_after_the_changes_age_out() {
        let mut record = FlapRecord::default();
        feed(&mut record, &"FP".repeat(20));
        let mut stopped_after = None;
        for n in 1..=20 {
            if let Some(FlapChange::Stopped { percent }) = record.record(false, Some(NAGIOS)) {
                assert!(percent < 25.0);
                stopped_after = Some(n);
                break;
            }
            assert!(record.flapping);
        }
        let n = stopped_after.expect("flapping stops within one window of steady results");
        assert!(
            n > 5,
            "not before the changes left most of the window (after {n})"
        );
    }

    #[test]
    fn between_low_and_high_the_state_holds_either_way() {
        // About 40 % changes: below high (no start) and above low (no stop).
        let pattern = "FFPPPFFPPPFFPPPFFPPP";
        let mut calm = FlapRecord::default();
        assert!(feed(&mut calm, &format!("{}{pattern}", "P".repeat(20))).is_empty());
        let percent = calm.percent_change();
        assert!((25.0..50.0).contains(&percent), "{percent}");
        let mut flapping = FlapRecord::default();
        feed(&mut flapping, &"FP".repeat(20));
        assert!(feed(&mut flapping, pattern).is_empty());
        assert!(flapping.flapping);
    }

    #[test]
    fn newer_changes_weigh_more_than_older_ones() {
        let old = FlapRecord {
            results: 1 << 19,
            len: 20,
            flapping: false,
        };
        let new = FlapRecord {
            results: 0b1,
            len: 20,
            flapping: false,
        };
        assert!(new.percent_change() > old.percent_change());
    }

    #[test]
    fn turning_flapping_off_stops_a_flapping_host() {
        let mut record = FlapRecord::default();
        feed(&mut record, &"FP".repeat(20));
        assert_eq!(
            record.record(true, None),
            Some(FlapChange::Stopped { percent: 0.0 })
        );
        assert_eq!(record, FlapRecord::default());
    }
}
