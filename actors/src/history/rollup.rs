//! Rollups: one host's check results summed into rows per minute or per hour, and those rows
//! merged back into the points of a chart.
//!
//! A row ([`Bucket`]) keeps counts and a [`LatencySketch`], never percentiles: percentiles of
//! rows cannot be combined, sketches can, exactly. So a chart of any step over any span of
//! rows has true p50, p95 and max (within the sketch's 1 %), not averages of averages.
//!
//! Rows are aligned to the Unix epoch, so rows of different hosts, and of one host before and
//! after a restart, share their boundaries, and an hour is exactly sixty minute rows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sketch::LatencySketch;
use crate::clock;

/// One rollup row: checks, failures and a latency sketch of a host over
/// `[start, start + resolution)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: SystemTime,
    pub checks: u64,
    pub failures: u64,
    /// Latencies of the *passing* checks only: a failed check's latency is the time it took to
    /// fail (a refused connection in 1 ms, a timeout at exactly the limit), which says nothing
    /// of how fast the host answers and would drag p50 down or pin p95 at the timeout.
    /// Failures are counted in `failures` instead.
    pub latency: LatencySketch,
}

impl Bucket {
    /// A row with nothing in it yet.
    pub fn empty(start: SystemTime) -> Bucket {
        Bucket {
            start,
            checks: 0,
            failures: 0,
            latency: LatencySketch::default(),
        }
    }

    /// Adds the counts and latencies of `other`, whatever its start: the row of both.
    pub fn merge(&mut self, other: &Bucket) {
        self.checks = self.checks.saturating_add(other.checks);
        self.failures = self.failures.saturating_add(other.failures);
        self.latency.merge(&other.latency);
    }

    fn add(&mut self, ok: bool, latency: Duration) {
        self.checks = self.checks.saturating_add(1);
        if ok {
            self.latency.add(latency);
        } else {
            self.failures = self.failures.saturating_add(1);
        }
    }
}

/// The start of the row of `resolution` that holds `at`, counted from the Unix epoch. A time
/// before the epoch belongs to the row at the epoch; a zero resolution leaves `at` as it is.
pub fn bucket_start(at: SystemTime, resolution: Duration) -> SystemTime {
    let resolution_nanos = resolution.as_nanos();
    if resolution_nanos == 0 {
        return at;
    }
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let into_row = since_epoch.as_nanos() % resolution_nanos;
    // `into_row` is less than `resolution`, so its seconds fit where `resolution`'s do.
    let into_row = Duration::new(
        u64::try_from(into_row / 1_000_000_000).unwrap_or(u64::MAX),
        (into_row % 1_000_000_000) as u32,
    );
    UNIX_EPOCH + since_epoch.saturating_sub(into_row)
}

/// Why a [`Rollup`] cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rollup's resolution must be longer than zero")]
pub struct ZeroResolution;

/// The rows of ONE host at one resolution, as results arrive: add each result, and drain the
/// rows that are over to store them.
#[derive(Debug, Clone)]
pub struct Rollup {
    resolution: Duration,
    /// Rows not drained yet, sorted by start. Usually one, two when a check ends just after a
    /// boundary while the previous row is still open for late results.
    open: Vec<Bucket>,
}

impl Rollup {
    pub fn new(resolution: Duration) -> Result<Rollup, ZeroResolution> {
        if resolution.is_zero() {
            return Err(ZeroResolution);
        }
        Ok(Rollup {
            resolution,
            open: Vec::new(),
        })
    }

    pub fn resolution(&self) -> Duration {
        self.resolution
    }

    /// Counts one result, ended at `at`, in its row. `latency` enters the row's sketch only
    /// when `ok` (see [`Bucket::latency`]).
    ///
    /// A result for a row already drained opens that row again; it is drained as a second row
    /// with the same start, which the store merges into the first ([`Bucket::merge`]).
    pub fn add(&mut self, at: SystemTime, ok: bool, latency: Duration) {
        let start = bucket_start(at, self.resolution);
        let index = match self.open.binary_search_by_key(&start, |row| row.start) {
            Ok(index) => index,
            Err(index) => {
                self.open.insert(index, Bucket::empty(start));
                index
            }
        };
        self.open[index].add(ok, latency);
    }

    /// Removes and yields, in time order, the rows that are over at `now`:
    /// `start + resolution <= now`.
    pub fn drain_finished(&mut self, now: SystemTime) -> impl Iterator<Item = Bucket> + '_ {
        let resolution = self.resolution;
        let finished = self
            .open
            .partition_point(|row| clock::system_after(row.start, resolution) <= now);
        self.open.drain(..finished)
    }

    /// Removes and yields every row, over or not: at shutdown, so that nothing counted is lost.
    pub fn finish_all(&mut self) -> impl Iterator<Item = Bucket> + '_ {
        self.open.drain(..)
    }
}

/// One point of a chart: the rows of one step merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    /// The start of the step, aligned to the epoch.
    pub at: SystemTime,
    pub checks: u64,
    pub failures: u64,
    /// Of passing checks; `None` when none passed.
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub max: Option<Duration>,
}

impl From<&Bucket> for SeriesPoint {
    fn from(bucket: &Bucket) -> SeriesPoint {
        SeriesPoint {
            at: bucket.start,
            checks: bucket.checks,
            failures: bucket.failures,
            p50: bucket.latency.quantile(0.5),
            p95: bucket.latency.quantile(0.95),
            max: bucket.latency.max(),
        }
    }
}

/// Merges rows (sorted by start, of any resolution not longer than `step`) into points of
/// `step`, aligned to the epoch. A row whose start is in `[from, to)` counts in the step that
/// holds its start, so the first point may be dated before `from`; steps with no row are left
/// out. Rows out of order are merged all the same, only less cheaply.
pub fn series(
    buckets: impl IntoIterator<Item = Bucket>,
    from: SystemTime,
    to: SystemTime,
    step: Duration,
) -> Vec<SeriesPoint> {
    let mut steps: Vec<Bucket> = Vec::new();
    for bucket in buckets {
        if bucket.start < from || bucket.start >= to {
            continue;
        }
        let start = bucket_start(bucket.start, step);
        match steps.last_mut() {
            Some(last) if last.start == start => last.merge(&bucket),
            _ => match steps.binary_search_by_key(&start, |row| row.start) {
                Ok(index) => steps[index].merge(&bucket),
                Err(index) => steps.insert(index, Bucket { start, ..bucket }),
            },
        }
    }
    steps.iter().map(SeriesPoint::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    /// 2023-11-14T22:00:00Z: on an hour, so tests can count rows from it.
    fn hour_start() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_699_999_200)
    }

    fn at(seconds: u64) -> SystemTime {
        hour_start() + Duration::from_secs(seconds)
    }

    #[test]
    fn rows_start_on_multiples_of_the_resolution_since_the_epoch() {
        assert_eq!(
            bucket_start(at(125) + Duration::from_millis(999), MINUTE),
            at(120)
        );
        assert_eq!(bucket_start(at(120), MINUTE), at(120));
        assert_eq!(bucket_start(at(3599), HOUR), at(0));
        assert_eq!(
            bucket_start(
                UNIX_EPOCH + Duration::from_millis(2_500),
                Duration::from_secs(1)
            ),
            UNIX_EPOCH + Duration::from_secs(2)
        );
        assert_eq!(
            bucket_start(UNIX_EPOCH - Duration::from_secs(5), MINUTE),
            UNIX_EPOCH
        );
        assert_eq!(bucket_start(at(7), Duration::ZERO), at(7));
        assert_eq!(bucket_start(at(7), Duration::MAX), UNIX_EPOCH);
    }

    #[test]
    fn a_rollup_needs_a_resolution() {
        assert_eq!(Rollup::new(Duration::ZERO).err(), Some(ZeroResolution));
        assert_eq!(Rollup::new(MINUTE).map(|r| r.resolution()), Ok(MINUTE));
    }

    #[test]
    fn finished_rows_are_drained_in_time_order() {
        let Ok(mut rollup) = Rollup::new(MINUTE) else {
            panic!("a minute is a resolution");
        };
        rollup.add(at(5), true, Duration::from_millis(10));
        rollup.add(at(65), true, Duration::from_millis(20));
        // A slow check that ended in the first minute reports after one of the second.
        rollup.add(at(59), false, Duration::from_secs(5));
        rollup.add(at(130), true, Duration::from_millis(30));

        assert_eq!(rollup.drain_finished(at(59)).count(), 0);
        let drained: Vec<Bucket> = rollup.drain_finished(at(120)).collect();
        let summary: Vec<_> = drained
            .iter()
            .map(|row| (row.start, row.checks, row.failures, row.latency.count()))
            .collect();
        assert_eq!(summary, [(at(0), 2, 1, 1), (at(60), 1, 0, 1)]);
        // The failed check's 5 s is not a latency of the host.
        assert_eq!(drained[0].latency.max(), Some(Duration::from_millis(10)));

        let rest: Vec<Bucket> = rollup.finish_all().collect();
        assert_eq!(rest.len(), 1);
        assert_eq!((rest[0].start, rest[0].checks), (at(120), 1));
        assert_eq!(rollup.finish_all().count(), 0);
    }

    /// A day-like spread of latencies without a clock or a random crate: 1 to 40 ms,
    /// with a slow check now and then.
    fn latency_of(index: u64) -> Duration {
        let micros = 1_000 + (index * 7_919) % 39_000;
        if index.is_multiple_of(97) {
            Duration::from_micros(micros * 25)
        } else {
            Duration::from_micros(micros)
        }
    }

    #[test]
    fn series_from_minute_rows_equals_the_sketch_of_every_result() {
        let Ok(mut rollup) = Rollup::new(MINUTE) else {
            panic!("a minute is a resolution");
        };
        let mut all = LatencySketch::default();
        let mut results = 0;
        // Two hours, a check every 7 s, one in eleven failing.
        for index in 0..(2 * 3600 / 7u64) {
            let ok = !index.is_multiple_of(11);
            let latency = latency_of(index);
            rollup.add(at(index * 7), ok, latency);
            if ok {
                all.add(latency);
            }
            results += 1;
        }
        let rows: Vec<Bucket> = rollup.finish_all().collect();
        assert_eq!(rows.len(), 120);

        let points = series(rows.clone(), at(0), at(2 * 3600), HOUR);
        assert_eq!(points.len(), 2);
        assert_eq!(points.iter().map(|p| p.checks).sum::<u64>(), results);
        assert_eq!(
            points.iter().map(|p| p.failures).sum::<u64>(),
            results.div_ceil(11)
        );

        let whole = series(rows.clone(), at(0), at(2 * 3600), 2 * HOUR);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].checks, results);
        assert_eq!(whole[0].p95, all.quantile(0.95));
        assert_eq!(whole[0].p50, all.quantile(0.5));
        assert_eq!(whole[0].max, all.max());
        assert!(whole[0].p95.is_some());

        // The same rows out of order give the same points.
        let reversed = series(rows.into_iter().rev(), at(0), at(2 * 3600), HOUR);
        assert_eq!(reversed, points);
    }

    #[test]
    fn series_keeps_to_the_range_and_leaves_empty_steps_out() {
        let row = |minute: u64, checks: u64| Bucket {
            checks,
            ..Bucket::empty(at(minute * 60))
        };
        let rows = [row(0, 1), row(1, 2), row(7, 4), row(8, 8), row(20, 16)];
        let points = series(rows, at(60), at(20 * 60), 5 * MINUTE);
        let summary: Vec<_> = points.iter().map(|p| (p.at, p.checks)).collect();
        // Minute 0 is before `from`, minute 20 at `to`; minutes 10–14 and 15–19 had no row.
        assert_eq!(summary, [(at(0), 2), (at(300), 12)]);
        assert_eq!(points[0].p50, None);
        assert_eq!(points[0].max, None);
    }
}
