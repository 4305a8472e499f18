//! Properties of the history arithmetic over generated inputs (proptest, a fixed small number
//! of cases so `cargo test` stays fast).
//!
//! "Availability from rollups equals availability from transitions" cannot be stated as one
//! equation: availability is measured in *time* from the status transitions
//! (`history::availability`), while the rollup rows (`store::rollups`, `history::series`)
//! count *checks* and failures, and a host checked every 10 s weighs its checks differently
//! from one checked every 5 min. So the law is stated for each side, over how each is
//! rolled up:
//! - transitions: the availability of a window, rolled up per day as the status page does
//!   (`GetDailyAvailability`), adds up to the availability of the whole window from the same
//!   transitions (`GetUptime`): every status's time, the unknown time, and so the figure;
//! - rollups: the checks and failures in the minute rows, in the hour rows they are merged
//!   into, and in a chart's points of any step, equal those of the results themselves, whenever
//!   the rows are finished.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flowstate_actors::history::availability::{
    availability, Availability, Interval, Run, StatusChange, Timeline,
};
use flowstate_actors::history::series;
use flowstate_actors::model::{CheckResult, Status};
use flowstate_actors::store::rollups::OpenRollups;
use flowstate_actors::store::Resolution;
use proptest::prelude::*;

/// 2027-01-15T00:00:00Z, a whole day: windows start here.
const ORIGIN: u64 = 1_799_971_200;
const DAY: u64 = 86_400;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(ORIGIN + seconds)
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Up),
        Just(Status::Degraded),
        Just(Status::Down),
        Just(Status::Unknown),
    ]
}

/// Changes over three days, sorted, at whole seconds (some before the window, some after).
fn changes() -> impl Strategy<Value = Vec<StatusChange>> {
    prop::collection::vec((0..3 * DAY, status()), 0..40).prop_map(|mut raw| {
        raw.sort_by_key(|(t, _)| *t);
        raw.into_iter()
            .map(|(t, status)| StatusChange {
                at: at(t),
                status,
                reason: String::new(),
            })
            .collect()
    })
}

/// Runs of flowstate, sorted by start and not overlapping.
fn runs() -> impl Strategy<Value = Vec<Run>> {
    prop::collection::vec(0..3 * DAY, 0..10).prop_map(|mut points| {
        points.sort_unstable();
        points
            .chunks_exact(2)
            .map(|pair| Run {
                started: at(pair[0]),
                last_alive: at(pair[1]),
            })
            .collect()
    })
}

fn excluded() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((0..3 * DAY, 0..DAY), 0..5).prop_map(|raw| {
        raw.into_iter()
            .map(|(from, length)| Interval {
                from: at(from),
                to: at(from + length),
            })
            .collect()
    })
}

/// The store reader's timeline of `window` (`store::reader::timeline`): the change in
/// effect at its start, and every later one.
fn timeline<'a>(changes: &'a [StatusChange], from: SystemTime, runs: &'a [Run]) -> Timeline<'a> {
    let inside = changes.partition_point(|c| c.at <= from);
    Timeline {
        before: inside.checked_sub(1).map(|i| &changes[i]),
        changes: &changes[inside..],
        runs,
    }
}

fn result(seconds: u64, ok: bool, ms: u64) -> CheckResult {
    CheckResult {
        at: at(seconds),
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The availability of a window is the sum of its pieces' (cut at arbitrary points, as
    /// the status page cuts it at midnight): no time is lost or counted twice at a cut.
    #[test]
    fn availability_of_the_pieces_adds_up_to_the_whole(
        changes in changes(),
        runs in runs(),
        excluded in excluded(),
        mut cuts in prop::collection::vec(1..2 * DAY, 0..4),
    ) {
        let window = Interval { from: at(DAY / 2), to: at(2 * DAY + DAY / 2) };
        let whole = availability(&timeline(&changes, window.from, &runs), window, &excluded);
        cuts.sort_unstable();
        cuts.dedup();
        let mut edges = vec![window.from];
        edges.extend(cuts.iter().map(|&c| at(DAY / 2 + c)));
        edges.push(window.to);
        let pieces: Vec<Availability> = edges
            .windows(2)
            .map(|edge| {
                let piece = Interval { from: edge[0], to: edge[1] };
                availability(&timeline(&changes, piece.from, &runs), piece, &excluded)
            })
            .collect();
        let sum = |f: fn(&Availability) -> Duration| pieces.iter().map(f).sum::<Duration>();
        prop_assert_eq!(sum(|a| a.up), whole.up);
        prop_assert_eq!(sum(|a| a.degraded), whole.degraded);
        prop_assert_eq!(sum(|a| a.down), whole.down);
        prop_assert_eq!(sum(|a| a.unknown), whole.unknown);
        let known = whole.up + whole.degraded + whole.down;
        prop_assert_eq!(known + whole.unknown, window.duration());
        let from_pieces = {
            let available = sum(|a| a.up) + sum(|a| a.degraded);
            let total = available + sum(|a| a.down);
            (!total.is_zero()).then(|| available.as_secs_f64() / total.as_secs_f64())
        };
        prop_assert_eq!(from_pieces, whole.availability);
    }

    /// Checks and failures survive every way the rows are rolled up: the minute rows, the
    /// hour rows they are merged into, and a chart's points of any step over either.
    #[test]
    fn rollup_rows_count_every_result_once(
        raw in prop::collection::vec((0..3 * 3600u64, any::<bool>(), 0..5_000u64), 0..200),
        finish_at in prop::collection::vec(0..4 * 3600u64, 0..4),
        step_minutes in 1..180u64,
    ) {
        let mut raw = raw;
        raw.sort_by_key(|(t, _, _)| *t);
        let label: Arc<str> = Arc::from("api");
        let mut open = OpenRollups::default();
        let mut rows = Vec::new();
        let mut finish_at = finish_at;
        finish_at.sort_unstable();
        let mut finishes = finish_at.into_iter().peekable();
        for (t, ok, ms) in &raw {
            // Rows are finished as the store writer's clock passes them (results never
            // arrive before a row's end plus its grace: they are sorted here).
            while let Some(&f) = finishes.peek() {
                if f > *t {
                    break;
                }
                finishes.next();
                rows.extend(open.finished(Some(at(f))));
            }
            open.add(&label, &result(*t, *ok, *ms));
        }
        rows.extend(open.finished(None));
        let checks = raw.len() as u64;
        let failures = raw.iter().filter(|(_, ok, _)| !ok).count() as u64;
        for resolution in [Resolution::Minute, Resolution::Hour] {
            let mut buckets: Vec<_> = rows
                .iter()
                .filter(|row| row.resolution == resolution)
                .map(|row| row.bucket.clone())
                .collect();
            prop_assert_eq!(buckets.iter().map(|b| b.checks).sum::<u64>(), checks);
            prop_assert_eq!(buckets.iter().map(|b| b.failures).sum::<u64>(), failures);
            buckets.sort_by_key(|b| b.start);
            let points = series(
                buckets,
                at(0),
                at(5 * 3600),
                Duration::from_secs(60 * step_minutes),
            );
            prop_assert_eq!(points.iter().map(|p| p.checks).sum::<u64>(), checks);
            prop_assert_eq!(points.iter().map(|p| p.failures).sum::<u64>(), failures);
        }
    }
}
