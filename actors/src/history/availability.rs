//! How available a host was over a window, and its incidents, from its status timeline.
//!
//! Availability is measured in *time*, from the changes of status the store keeps, not by
//! counting checks: a host checked every 10 s and one checked every 5 min weigh the same
//! minute equally, and a change of interval does not shift the figure.
//!
//! Time flowstate did not see is not availability. Outside every [`Run`] (the daemon was
//! stopped, the machine was down) the host's status is unknown, never "up until told
//! otherwise": Uptime Kuma counts its own downtime as uptime (louislam/uptime-kuma#6475), and
//! an availability figure must not be better for the monitor having been off. Excluded time
//! (maintenance, silences) is unknown as well. The figure is
//! `(up + degraded) / (up + degraded + down)` over the rest, and `None` when nothing is known.
//!
//! Everything here is arithmetic on times given as arguments, without allocation except the
//! result of [`incidents`]: `/api/v1/hosts` answers it for thousands of hosts at once.

use std::borrow::Cow;
use std::iter::{self, Peekable};
use std::time::{Duration, SystemTime};

use crate::model::Status;

/// A span of time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub from: SystemTime,
    pub to: SystemTime,
}

impl Interval {
    /// Zero when `to` is not after `from`.
    pub fn duration(&self) -> Duration {
        self.to.duration_since(self.from).unwrap_or_default()
    }

    /// The part of both, `None` when they do not overlap (touching is not overlapping).
    pub fn intersection(&self, other: &Interval) -> Option<Interval> {
        let from = self.from.max(other.from);
        let to = self.to.min(other.to);
        (from < to).then_some(Interval { from, to })
    }
}

/// A change of a host's status as stored: when, the new status, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub at: SystemTime,
    pub status: Status,
    pub reason: String,
}

/// A period flowstate ran: from its start to its last sign of life. The current run's
/// `last_alive` is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub started: SystemTime,
    pub last_alive: SystemTime,
}

/// What the store knows of one host around a window.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    /// The last change at or before the window's start: the status in effect when it opens.
    pub before: Option<&'a StatusChange>,
    /// The changes inside the window, sorted by `at`.
    pub changes: &'a [StatusChange],
    /// flowstate's runs, sorted by `started`; they may reach outside the window.
    pub runs: &'a [Run],
}

/// Time per status over a window, and the availability figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub window: Interval,
    /// `(up + degraded) / (up + degraded + down)`; `None` when none of the window is known.
    pub availability: Option<f64>,
    pub up: Duration,
    pub degraded: Duration,
    pub down: Duration,
    /// The rest of the window: status unknown, flowstate not running, or excluded.
    pub unknown: Duration,
}

/// A period of trouble: from a change to `down` or `degraded` to the next change to `up` (or
/// to `unknown`: the host was removed, or its state reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub from: SystemTime,
    /// `None` while it is still open at the window's end.
    pub to: Option<SystemTime>,
    /// The worst it reached: `down` over `degraded`.
    pub status: Status,
    /// The reason of the change that opened it.
    pub reason: String,
}

/// Time per status of `timeline` over `window`, counting only time inside a run and outside
/// `excluded` (which may be unsorted, overlapping, or reach outside the window).
pub fn availability(timeline: &Timeline, window: Interval, excluded: &[Interval]) -> Availability {
    let excluded = sorted_by_start(excluded);
    // Known time is the time flowstate ran, less the part of it that is excluded: two passes
    // of intersections over sorted intervals, no list of pieces built in between.
    let mut known = StatusTime::default();
    for (span, status) in overlaps(status_spans(timeline, window), running(timeline, window)) {
        known.add(status, span.duration());
    }
    let excluded_known = overlaps(
        overlaps(status_spans(timeline, window), running(timeline, window)),
        coalesced(excluded.iter().filter_map(|e| e.intersection(&window))),
    );
    for (span, status) in excluded_known {
        known.remove(status, span.duration());
    }
    let available = known.up.saturating_add(known.degraded);
    let total = available.saturating_add(known.down);
    Availability {
        window,
        availability: (!total.is_zero()).then(|| available.as_secs_f64() / total.as_secs_f64()),
        up: known.up,
        degraded: known.degraded,
        down: known.down,
        unknown: window.duration().saturating_sub(total),
    }
}

/// The incidents of `timeline` that overlap `window`, clipped to it, in time order.
///
/// Only changes of status open and close an incident: while flowstate is stopped the host
/// keeps the status it had, so a restart does not split one.
///
/// An incident already open when the window starts begins at `window.from`; the timeline
/// holds only the change in effect then, so its reason is that change's and its status the
/// worst from there on (the store reads no further back for it).
pub fn incidents(timeline: &Timeline, window: Interval) -> Vec<Incident> {
    let (in_effect, inside) = split_at_window(timeline, window);
    let mut found = Vec::new();
    let mut open = in_effect
        .filter(|change| is_trouble(change.status))
        .map(|change| Incident::opened_by(change, window.from));
    for change in inside {
        if is_trouble(change.status) {
            match open.as_mut() {
                Some(incident) => incident.status = worse(incident.status, change.status),
                None => open = Some(Incident::opened_by(change, change.at)),
            }
        } else if let Some(mut ended) = open.take() {
            ended.to = Some(change.at);
            found.push(ended);
        }
    }
    found.extend(open);
    found
}

impl Incident {
    /// Open from `from`: the change's own time, or the window's start when it came before.
    fn opened_by(change: &StatusChange, from: SystemTime) -> Incident {
        Incident {
            from,
            to: None,
            status: change.status,
            reason: change.reason.clone(),
        }
    }
}

fn is_trouble(status: Status) -> bool {
    matches!(
        status,
        Status::Down | Status::Degraded | Status::Unreachable
    )
}

fn worse(a: Status, b: Status) -> Status {
    if a.is_failing() || b.is_failing() {
        Status::Down
    } else {
        a
    }
}

/// Known time per status; unknown is what is left of the window.
#[derive(Default)]
struct StatusTime {
    up: Duration,
    degraded: Duration,
    down: Duration,
}

impl StatusTime {
    fn slot(&mut self, status: Status) -> Option<&mut Duration> {
        match status {
            Status::Up => Some(&mut self.up),
            Status::Degraded => Some(&mut self.degraded),
            // Cut off by a parent is unavailable all the same; the incident's reason names it.
            Status::Down | Status::Unreachable => Some(&mut self.down),
            Status::Unknown => None,
        }
    }

    fn add(&mut self, status: Status, time: Duration) {
        if let Some(slot) = self.slot(status) {
            *slot = slot.saturating_add(time);
        }
    }

    /// Excluded time is a part of time already added, so this never goes below zero; it
    /// saturates all the same rather than trust that.
    fn remove(&mut self, status: Status, time: Duration) {
        if let Some(slot) = self.slot(status) {
            *slot = slot.saturating_sub(time);
        }
    }
}

/// The change in effect at `window.from` (if any) and the changes strictly inside the window.
/// Changes outside `[from, to)` in `changes` are tolerated: the earlier ones only decide the
/// status at the start, the later ones are ignored.
fn split_at_window<'a>(
    timeline: &Timeline<'a>,
    window: Interval,
) -> (Option<&'a StatusChange>, &'a [StatusChange]) {
    let changes = timeline.changes;
    let started = changes.partition_point(|change| change.at <= window.from);
    let inside = &changes[started..];
    let inside = &inside[..inside.partition_point(|change| change.at < window.to)];
    let in_effect = changes[..started]
        .last()
        .or(timeline.before.filter(|change| change.at <= window.from));
    (in_effect, inside)
}

/// The window cut at every change, each part with the status in effect over it.
fn status_spans<'a>(
    timeline: &Timeline<'a>,
    window: Interval,
) -> impl Iterator<Item = (Interval, Status)> + 'a {
    let (in_effect, inside) = split_at_window(timeline, window);
    let first = in_effect.map_or(Status::Unknown, |change| change.status);
    let starts = iter::once((window.from, first))
        .chain(inside.iter().map(|change| (change.at, change.status)));
    let ends = inside
        .iter()
        .map(|change| change.at)
        .chain(iter::once(window.to));
    starts
        .zip(ends)
        .filter_map(|((from, status), to)| (from < to).then_some((Interval { from, to }, status)))
}

/// When flowstate ran inside `window`, as sorted, disjoint intervals.
fn running<'a>(timeline: &Timeline<'a>, window: Interval) -> impl Iterator<Item = Interval> + 'a {
    coalesced(timeline.runs.iter().filter_map(move |run| {
        Interval {
            from: run.started,
            to: run.last_alive,
        }
        .intersection(&window)
    }))
}

/// `intervals` sorted by start; borrowed when they already are, as they usually will be.
fn sorted_by_start(intervals: &[Interval]) -> Cow<'_, [Interval]> {
    if intervals.is_sorted_by_key(|interval| interval.from) {
        Cow::Borrowed(intervals)
    } else {
        let mut sorted = intervals.to_vec();
        sorted.sort_by_key(|interval| interval.from);
        Cow::Owned(sorted)
    }
}

/// Intervals sorted by start, with overlapping or touching ones joined: sorted and disjoint.
fn coalesced(intervals: impl Iterator<Item = Interval>) -> impl Iterator<Item = Interval> {
    let mut intervals = intervals.peekable();
    iter::from_fn(move || {
        let mut joined = intervals.next()?;
        while let Some(next) = intervals.next_if(|next| next.from <= joined.to) {
            joined.to = joined.to.max(next.to);
        }
        Some(joined)
    })
}

/// The parts of labelled spans that some interval of `cover` covers, keeping the labels.
/// Both must be sorted and disjoint; one pass over each.
fn overlaps<L: Copy>(
    spans: impl Iterator<Item = (Interval, L)>,
    cover: impl Iterator<Item = Interval>,
) -> impl Iterator<Item = (Interval, L)> {
    let (mut spans, mut cover): (Peekable<_>, Peekable<_>) = (spans.peekable(), cover.peekable());
    iter::from_fn(move || loop {
        let &(span, label) = spans.peek()?;
        let &covering = cover.peek()?;
        let overlap = span.intersection(&covering);
        // Step past whichever ends first: the other may reach into the next one.
        if span.to <= covering.to {
            spans.next();
        } else {
            cover.next();
        }
        if let Some(part) = overlap {
            return Some((part, label));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// `seconds` after an arbitrary fixed instant: no clock is read.
    fn t(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000u64.saturating_add_signed(seconds))
    }

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    fn window(from: i64, to: i64) -> Interval {
        Interval {
            from: t(from),
            to: t(to),
        }
    }

    fn change(at: i64, status: Status, reason: &str) -> StatusChange {
        StatusChange {
            at: t(at),
            status,
            reason: reason.to_string(),
        }
    }

    fn run(started: i64, last_alive: i64) -> Run {
        Run {
            started: t(started),
            last_alive: t(last_alive),
        }
    }

    /// flowstate never ran.
    const NO_RUNS: &[Run] = &[];

    /// flowstate running from long before until after every test window.
    fn always() -> [Run; 1] {
        [run(-10_000, 10_000)]
    }

    #[test]
    fn six_seconds_down_in_a_minute_is_ninety_percent() {
        let before = change(-100, Status::Up, "status 200");
        let changes = [
            change(20, Status::Down, "connection refused"),
            change(26, Status::Up, "status 200"),
        ];
        let runs = [run(-500, 60)];
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!(result.availability, Some(0.9));
        assert_eq!((result.up, result.down), (secs(54), secs(6)));
        assert_eq!(
            (result.degraded, result.unknown),
            (Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(result.window, window(0, 60));
        assert_eq!(
            incidents(&timeline, window(0, 60)),
            [Incident {
                from: t(20),
                to: Some(t(26)),
                status: Status::Down,
                reason: "connection refused".to_string(),
            }]
        );
    }

    #[test]
    fn a_window_starting_mid_incident_clips_it() {
        let before = change(-10, Status::Down, "timeout after 5s");
        let changes = [change(15, Status::Up, "status 200")];
        let runs = always();
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!((result.up, result.down), (secs(45), secs(15)));
        assert_eq!(result.availability, Some(0.75));
        assert_eq!(
            incidents(&timeline, window(0, 60)),
            [Incident {
                from: t(0),
                to: Some(t(15)),
                status: Status::Down,
                reason: "timeout after 5s".to_string(),
            }]
        );
    }

    #[test]
    fn time_flowstate_was_stopped_is_unknown_not_up() {
        // Up all along, but flowstate stopped from 10 s to 40 s, and the host was down for
        // 6 s after the restart.
        let before = change(-100, Status::Up, "status 200");
        let changes = [
            change(45, Status::Down, "status 503"),
            change(51, Status::Up, "status 200"),
        ];
        let runs = [run(-200, 10), run(40, 60)];
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!(result.unknown, secs(30));
        assert_eq!((result.up, result.down), (secs(24), secs(6)));
        assert_eq!(result.availability, Some(0.8));
        // Without the outage, 30 known seconds of up: 100 %, not 50 % nor 100 % of 60 s.
        let no_outage = Timeline {
            changes: &[],
            ..timeline
        };
        let result = availability(&no_outage, window(0, 60), &[]);
        assert_eq!((result.up, result.unknown), (secs(30), secs(30)));
        assert_eq!(result.availability, Some(1.0));
    }

    #[test]
    fn overlapping_runs_are_not_counted_twice() {
        let before = change(-100, Status::Up, "status 200");
        let runs = [run(-5, 20), run(10, 30), run(30, 35)];
        let timeline = Timeline {
            before: Some(&before),
            changes: &[],
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!((result.up, result.unknown), (secs(35), secs(25)));
    }

    #[test]
    fn degraded_counts_as_available() {
        let before = change(-100, Status::Up, "status 200");
        let changes = [
            change(30, Status::Degraded, "answered in 2.1s, limit 2s"),
            change(45, Status::Down, "status 500"),
        ];
        let runs = always();
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!(
            (result.up, result.degraded, result.down),
            (secs(30), secs(15), secs(15))
        );
        assert_eq!(result.availability, Some(0.75));
        // One incident, down at worst, opened by the slow answer, still open at the end.
        assert_eq!(
            incidents(&timeline, window(0, 60)),
            [Incident {
                from: t(30),
                to: None,
                status: Status::Down,
                reason: "answered in 2.1s, limit 2s".to_string(),
            }]
        );
    }

    #[test]
    fn excluded_time_is_unknown() {
        let before = change(-100, Status::Up, "status 200");
        let changes = [
            change(20, Status::Down, "connection refused"),
            change(26, Status::Up, "status 200"),
        ];
        let runs = always();
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        // Unsorted and overlapping: [18, 30) with [25, 28) inside it; [50, 70) reaching past
        // the window; [-40, -30) before it.
        let excluded = [
            window(25, 28),
            window(50, 70),
            window(18, 30),
            window(-40, -30),
        ];
        let result = availability(&timeline, window(0, 60), &excluded);
        assert_eq!(result.down, Duration::ZERO);
        assert_eq!(result.up, secs(60 - 12 - 10));
        assert_eq!(result.unknown, secs(22));
        assert_eq!(result.availability, Some(1.0));
        // Excluded while flowstate was stopped: unknown once, not twice.
        let stopped = [run(-100, 20), run(30, 60)];
        let timeline = Timeline {
            runs: &stopped,
            ..timeline
        };
        let result = availability(&timeline, window(0, 60), &[window(15, 35)]);
        assert_eq!(result.unknown, secs(20));
        assert_eq!((result.up, result.down), (secs(40), Duration::ZERO));
    }

    #[test]
    fn nothing_known_is_no_availability() {
        let empty = Timeline {
            before: None,
            changes: &[],
            runs: &always(),
        };
        let result = availability(&empty, window(0, 60), &[]);
        assert_eq!(result.availability, None);
        assert_eq!(result.unknown, secs(60));
        assert_eq!(incidents(&empty, window(0, 60)), []);
        // Changes, but flowstate never ran in the window.
        let before = change(-100, Status::Down, "status 500");
        let not_running = Timeline {
            before: Some(&before),
            changes: &[],
            runs: NO_RUNS,
        };
        let result = availability(&not_running, window(0, 60), &[]);
        assert_eq!((result.availability, result.unknown), (None, secs(60)));
        assert_eq!(result.down, Duration::ZERO);
    }

    #[test]
    fn status_unknown_is_unknown_time_and_ends_an_incident() {
        let changes = [
            change(10, Status::Up, "status 200"),
            change(20, Status::Down, "status 500"),
            change(30, Status::Unknown, "host removed"),
        ];
        let runs = always();
        let timeline = Timeline {
            before: None,
            changes: &changes,
            runs: &runs,
        };
        let result = availability(&timeline, window(0, 60), &[]);
        assert_eq!((result.up, result.down), (secs(10), secs(10)));
        assert_eq!(result.unknown, secs(40));
        assert_eq!(result.availability, Some(0.5));
        let found = incidents(&timeline, window(0, 60));
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].from, found[0].to), (t(20), Some(t(30))));
    }

    #[test]
    fn an_incident_across_a_restart_stays_one_incident() {
        let before = change(-100, Status::Up, "status 200");
        let changes = [
            change(10, Status::Degraded, "certificate expires in 3 days"),
            change(15, Status::Down, "status 502"),
            change(35, Status::Degraded, "answered in 3s, limit 2s"),
            change(40, Status::Up, "status 200"),
            change(50, Status::Degraded, "answered in 4s, limit 2s"),
        ];
        let runs = [run(-200, 20), run(30, 60)];
        let timeline = Timeline {
            before: Some(&before),
            changes: &changes,
            runs: &runs,
        };
        assert_eq!(
            incidents(&timeline, window(0, 60)),
            [
                Incident {
                    from: t(10),
                    to: Some(t(40)),
                    status: Status::Down,
                    reason: "certificate expires in 3 days".to_string(),
                },
                Incident {
                    from: t(50),
                    to: None,
                    status: Status::Degraded,
                    reason: "answered in 4s, limit 2s".to_string(),
                },
            ]
        );
        // The same history seen through a window that ends inside the first incident.
        let found = incidents(&timeline, window(0, 30));
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].from, found[0].to), (t(10), None));
    }

    #[test]
    fn a_change_at_the_window_start_is_in_effect_from_it() {
        // The store may hand the change at `from` as `before` or inside `changes`.
        let down = change(0, Status::Down, "status 500");
        let up = [change(30, Status::Up, "status 200")];
        let runs = always();
        let as_before = Timeline {
            before: Some(&down),
            changes: &up,
            runs: &runs,
        };
        let both = [down.clone(), up[0].clone()];
        let as_change = Timeline {
            before: None,
            changes: &both,
            runs: &runs,
        };
        for timeline in [as_before, as_change] {
            let result = availability(&timeline, window(0, 60), &[]);
            assert_eq!((result.up, result.down), (secs(30), secs(30)));
            let found = incidents(&timeline, window(0, 60));
            assert_eq!(found.len(), 1);
            assert_eq!((found[0].from, found[0].to), (t(0), Some(t(30))));
            assert_eq!(found[0].reason, "status 500");
        }
    }
}
