//! Questions about history, answered from the store for the API: a host's availability and
//! incidents over a window, its latency series, the event log, and every host's availability
//! over 24 h, 7 d and 30 d (what `/api/v1/hosts` carries, refreshed in the background).
//!
//! [`StoreReader`] runs on threads and connections of its own, so a long query never waits
//! behind the writer's batches, nor they behind it. The arithmetic is [`crate::history`]'s;
//! this file only fetches rows and cuts them to windows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::StateSettings;

use crate::history::{
    self, availability, incidents, Availability, Bucket, Incident, Interval, LatencySketch, Run,
    SeriesPoint, StatusChange, Timeline,
};

use super::backend::{Backend, EventQuery, Resolution};
use super::{StoreError, StoreLocation, StoredEvent};

/// Threads (and connections) answering the API's history questions.
const READERS: usize = 2;

/// The most points one series answer holds: a week at one minute is 10 080.
pub const MAX_POINTS: u64 = 20_000;

/// The windows every host's availability is kept for, as `/api/v1/hosts` names them.
pub const WINDOWS: [(&str, Duration); 3] = [
    ("24h", Duration::from_secs(86_400)),
    ("7d", Duration::from_secs(7 * 86_400)),
    ("30d", Duration::from_secs(30 * 86_400)),
];

/// A host's availability and incidents over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Uptime {
    pub availability: Availability,
    pub incidents: Vec<Incident>,
}

/// A host's availability over each of [`WINDOWS`] (`None` where nothing is known).
pub type Availabilities = [Option<f64>; 3];

/// How available `label` was over the `window` ending at `now`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Uptime, StoreError>")]
pub struct GetUptime {
    pub label: String,
    pub window: Duration,
    pub now: SystemTime,
}

/// `label`'s checks, failures and latency in points of `step` over `[from, to)`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<SeriesPoint>, StoreError>")]
pub struct GetSeries {
    pub label: String,
    pub from: SystemTime,
    pub to: SystemTime,
    pub step: Duration,
    pub now: SystemTime,
}

/// Transitions and alert events, newest first.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<StoredEvent>, StoreError>")]
pub struct GetEvents(pub EventQuery);

/// Every host's availability over [`WINDOWS`] ending at `now`.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<HashMap<Arc<str>, Availabilities>, StoreError>")]
pub struct GetAvailabilities {
    pub now: SystemTime,
}

/// One reader thread's connection.
pub struct StoreReader {
    backend: Box<dyn Backend>,
    /// When this run of flowstate started: its run lasts until `now`, not just until its
    /// last save.
    run_started: SystemTime,
    raw_retention: Duration,
}

impl StoreReader {
    /// Starts the readers for the store `state` names, for the run that started at
    /// `run_started`; `None` without a store.
    pub fn start(state: &StateSettings, run_started: SystemTime) -> Option<Addr<StoreReader>> {
        let location = StoreLocation::of(state)?;
        let raw_retention = state.raw_retention;
        Some(SyncArbiter::start(READERS, move || StoreReader {
            backend: location.backend(),
            run_started,
            raw_retention,
        }))
    }

    fn connect(&mut self) -> Result<&mut dyn Backend, StoreError> {
        if !self.backend.is_connected() {
            self.backend.connect()?;
        }
        Ok(self.backend.as_mut())
    }

    /// Runs `query`, dropping a connection that failed so the next question opens another.
    fn ask<T>(
        &mut self,
        query: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self.connect().and_then(query);
        if result.is_err() {
            self.backend.disconnect();
        }
        result
    }

    /// The runs overlapping `[from, now)`, this one lasting until `now`.
    fn runs(&mut self, from: SystemTime, now: SystemTime) -> Result<Vec<Run>, StoreError> {
        let started = self.run_started;
        let mut runs = self.ask(|b| b.runs(from, now))?;
        match runs.iter_mut().find(|run| run.started == started) {
            Some(run) => run.last_alive = now,
            None => runs.push(Run {
                started,
                last_alive: now,
            }),
        }
        runs.sort_by_key(|run| run.started);
        Ok(runs)
    }
}

impl Actor for StoreReader {
    type Context = SyncContext<Self>;
}

/// The part of one host's changes (the last one before `from` first, if any) that a window
/// from `from` needs.
fn timeline<'a>(changes: &'a [StatusChange], from: SystemTime, runs: &'a [Run]) -> Timeline<'a> {
    let inside = changes.partition_point(|c| c.at <= from);
    Timeline {
        before: inside.checked_sub(1).map(|at| &changes[at]),
        changes: &changes[inside..],
        runs,
    }
}

fn window(now: SystemTime, length: Duration) -> Interval {
    Interval {
        from: now.checked_sub(length).unwrap_or(SystemTime::UNIX_EPOCH),
        to: now,
    }
}

impl Handler<GetUptime> for StoreReader {
    type Result = Result<Uptime, StoreError>;

    fn handle(&mut self, msg: GetUptime, _: &mut SyncContext<Self>) -> Self::Result {
        let window = window(msg.now, msg.window);
        let runs = self.runs(window.from, msg.now)?;
        let changes: Vec<StatusChange> = self
            .ask(|b| b.changes(Some(&msg.label), window.from, msg.now))?
            .into_iter()
            .map(|(_, change)| change)
            .collect();
        let timeline = timeline(&changes, window.from, &runs);
        Ok(Uptime {
            availability: availability(&timeline, window, &[]),
            incidents: incidents(&timeline, window),
        })
    }
}

impl Handler<GetAvailabilities> for StoreReader {
    type Result = Result<HashMap<Arc<str>, Availabilities>, StoreError>;

    fn handle(&mut self, msg: GetAvailabilities, _: &mut SyncContext<Self>) -> Self::Result {
        let longest = window(msg.now, WINDOWS[WINDOWS.len() - 1].1);
        let runs = self.runs(longest.from, msg.now)?;
        let changes = self.ask(|b| b.changes(None, longest.from, msg.now))?;
        let mut found = HashMap::new();
        // Rows come ordered by host: one slice per host.
        let mut rest = &changes[..];
        while let Some((label, _)) = rest.first() {
            let end = rest.partition_point(|(l, _)| l == label);
            let host: Vec<StatusChange> = rest[..end].iter().map(|(_, c)| c.clone()).collect();
            let mut availabilities: Availabilities = [None; 3];
            for (slot, (_, length)) in availabilities.iter_mut().zip(WINDOWS) {
                let window = window(msg.now, length);
                *slot =
                    availability(&timeline(&host, window.from, &runs), window, &[]).availability;
            }
            found.insert(label.clone(), availabilities);
            rest = &rest[end..];
        }
        Ok(found)
    }
}

impl Handler<GetSeries> for StoreReader {
    type Result = Result<Vec<SeriesPoint>, StoreError>;

    fn handle(&mut self, msg: GetSeries, _: &mut SyncContext<Self>) -> Self::Result {
        let GetSeries {
            label,
            from,
            to,
            step,
            now,
        } = msg;
        let mut buckets = Vec::new();
        // Older than the raw retention only hourly rows are left.
        let raw_cutoff = history::bucket_start(
            now.checked_sub(self.raw_retention)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            Resolution::Hour.duration(),
        ) + Resolution::Hour.duration();
        let mut minutes_from = from;
        if from < raw_cutoff {
            let hours_to = raw_cutoff.min(to);
            buckets.extend(self.ask(|b| b.buckets(&label, Resolution::Hour, from, hours_to))?);
            minutes_from = hours_to;
        }
        let mut raw_from = minutes_from;
        if step >= Resolution::Minute.duration() && minutes_from < to {
            let minutes = self.ask(|b| b.buckets(&label, Resolution::Minute, minutes_from, to))?;
            if let Some(last) = minutes.last() {
                raw_from = last.start + Resolution::Minute.duration();
            }
            buckets.extend(minutes);
        }
        if raw_from < to {
            // Not rolled up yet (or a step finer than a minute): from the raw results.
            let results = self.ask(|b| b.results(&label, raw_from, to))?;
            buckets.extend(results.into_iter().map(|result| {
                let mut latency = LatencySketch::default();
                if result.ok {
                    latency.add(result.latency);
                }
                Bucket {
                    start: result.at,
                    checks: 1,
                    failures: u64::from(!result.ok),
                    latency,
                }
            }));
        }
        buckets.sort_by_key(|b| b.start);
        Ok(history::series(buckets, from, to, step))
    }
}

impl Handler<GetEvents> for StoreReader {
    type Result = Result<Vec<StoredEvent>, StoreError>;

    fn handle(&mut self, msg: GetEvents, _: &mut SyncContext<Self>) -> Self::Result {
        self.ask(|b| b.events(&msg.0))
    }
}
