//! The rollups being filled: per host, the minute and hour rows that are not finished yet.
//!
//! The store writer sees every result once it is saved, so it rolls them up as they pass
//! instead of reading a week of raw rows back: a finished minute row is written and merged
//! into its hour, a finished hour row is written. A row written while results for it still
//! arrive (late, or after a restart in the same minute) is merged with, not replaced, by the
//! backend. What a killed daemon had not written is rebuilt at start from the raw results and
//! minute rows after each host's last written row ([`super::Restored`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::history::{bucket_start, Bucket};
use crate::model::CheckResult;

use super::backend::Resolution;
use super::StoredBucket;

/// How long after its end a row is written: results are saved about a second after their
/// check ends, so a row written at once would miss its last ones (they would be merged in
/// later, at the cost of a second write).
const GRACE: Duration = Duration::from_secs(5);

/// Every host's unfinished rows.
#[derive(Debug, Default)]
pub struct OpenRollups {
    hosts: HashMap<Arc<str>, HostRollups>,
}

#[derive(Debug, Default)]
struct HostRollups {
    /// Normally one open row each; more only around a bucket's end.
    minutes: Vec<Bucket>,
    hours: Vec<Bucket>,
}

impl OpenRollups {
    /// Counts one saved result into its host's minute row.
    pub fn add(&mut self, label: &Arc<str>, result: &CheckResult) {
        let host = self.hosts.entry(label.clone()).or_default();
        let start = bucket_start(result.at, Resolution::Minute.duration());
        let bucket = open_bucket(&mut host.minutes, start);
        bucket.checks += 1;
        if result.ok {
            // Only passing checks' latencies: a failure's latency is the time it took to
            // fail (a timeout, a refused connection) and would make p95 read the timeout.
            bucket.latency.add(result.latency);
        } else {
            bucket.failures += 1;
        }
    }

    /// Takes back a minute row written by an earlier run that its hour row does not hold.
    pub fn add_minute(&mut self, label: &Arc<str>, minute: &Bucket) {
        let host = self.hosts.entry(label.clone()).or_default();
        merge_into_hour(host, minute);
    }

    /// The rows finished by `now` (all of them with `now: None`, at shutdown): minute rows
    /// are merged into their hour as they go.
    pub fn finished(&mut self, now: Option<SystemTime>) -> Vec<StoredBucket> {
        let mut done = Vec::new();
        let over = |bucket: &Bucket, resolution: Resolution| match now {
            None => true,
            Some(now) => bucket.start + resolution.duration() + GRACE <= now,
        };
        for (label, host) in &mut self.hosts {
            let (finished, open): (Vec<Bucket>, Vec<Bucket>) = std::mem::take(&mut host.minutes)
                .into_iter()
                .partition(|b| over(b, Resolution::Minute));
            host.minutes = open;
            for minute in finished {
                merge_into_hour(host, &minute);
                done.push(StoredBucket {
                    label: label.clone(),
                    resolution: Resolution::Minute,
                    bucket: minute,
                });
            }
            let (finished, open): (Vec<Bucket>, Vec<Bucket>) = std::mem::take(&mut host.hours)
                .into_iter()
                .partition(|b| over(b, Resolution::Hour));
            host.hours = open;
            done.extend(finished.into_iter().map(|hour| StoredBucket {
                label: label.clone(),
                resolution: Resolution::Hour,
                bucket: hour,
            }));
        }
        self.hosts
            .retain(|_, host| !host.minutes.is_empty() || !host.hours.is_empty());
        done
    }
}

fn merge_into_hour(host: &mut HostRollups, minute: &Bucket) {
    let start = bucket_start(minute.start, Resolution::Hour.duration());
    open_bucket(&mut host.hours, start).merge(minute);
}

fn open_bucket(buckets: &mut Vec<Bucket>, start: SystemTime) -> &mut Bucket {
    match buckets.iter().position(|b| b.start == start) {
        Some(at) => &mut buckets[at],
        None => {
            buckets.push(Bucket::empty(start));
            let last = buckets.len() - 1;
            &mut buckets[last]
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::history::LatencySketch;

    fn at(secs: u64) -> SystemTime {
        // 1_800_000_000 is a whole hour.
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn result(secs: u64, ok: bool, ms: u64) -> CheckResult {
        CheckResult {
            at: at(secs),
            ok,
            degraded: false,
            cert_not_after: None,
            latency: Duration::from_millis(ms),
            detail: String::new(),
            perfdata: Vec::new(),
            phases: Vec::new(),
            trace: None,
            status_code: None,
        }
    }

    #[test]
    fn minutes_are_written_after_their_grace_and_hours_when_they_end() {
        let label: Arc<str> = Arc::from("api");
        let mut open = OpenRollups::default();
        for s in 0..120 {
            open.add(&label, &result(s, s % 10 != 0, 5));
        }
        assert!(open.finished(Some(at(64))).is_empty(), "within the grace");
        let first = open.finished(Some(at(65)));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].resolution, Resolution::Minute);
        assert_eq!(
            (
                first[0].bucket.start,
                first[0].bucket.checks,
                first[0].bucket.failures
            ),
            (at(0), 60, 6)
        );
        assert_eq!(first[0].bucket.latency.count(), 54, "passes only");
        let rest = open.finished(Some(at(3605)));
        let kinds: Vec<(Resolution, u64)> = rest
            .iter()
            .map(|b| (b.resolution, b.bucket.checks))
            .collect();
        assert_eq!(
            kinds,
            [(Resolution::Minute, 60), (Resolution::Hour, 120)],
            "the hour holds both minutes"
        );
        assert!(open.finished(None).is_empty(), "nothing left open");
    }

    #[test]
    fn shutdown_writes_the_unfinished_rows() {
        let label: Arc<str> = Arc::from("api");
        let mut open = OpenRollups::default();
        open.add(&label, &result(10, true, 3));
        open.add_minute(
            &label,
            &Bucket {
                start: at(0),
                checks: 7,
                failures: 1,
                latency: LatencySketch::default(),
            },
        );
        let all = open.finished(None);
        let hour = all
            .iter()
            .find(|b| b.resolution == Resolution::Hour)
            .expect("the open hour");
        assert_eq!(
            hour.bucket.checks, 8,
            "the restored minute and the new result"
        );
    }
}
