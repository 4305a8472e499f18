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
use super::{codec, StoreError, StoreLocation, StoredEvent};
use crate::quiet_time::QuietTime;

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

/// Why a history question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SQLite file was deleted or replaced under the open connection: answering from it
    /// would show a past the store no longer holds.
    #[error("{place}: the state store file was deleted or replaced while flowstate runs; ask again in a moment")]
    Lost { place: String },
}

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
#[rtype(result = "Result<Uptime, ReadError>")]
pub struct GetUptime {
    pub label: String,
    pub window: Duration,
    pub now: SystemTime,
}

/// `label`'s checks, failures and latency in points of `step` over `[from, to)`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<SeriesPoint>, ReadError>")]
pub struct GetSeries {
    pub label: String,
    pub from: SystemTime,
    pub to: SystemTime,
    pub step: Duration,
    pub now: SystemTime,
}

/// Transitions and alert events, newest first.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Vec<StoredEvent>, ReadError>")]
pub struct GetEvents(pub EventQuery);

/// Every host's availability over [`WINDOWS`] ending at `now`.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<HashMap<Arc<str>, Availabilities>, ReadError>")]
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
    /// Maintenance windows and silences: time availability leaves out.
    quiet: Arc<QuietTime>,
}

impl StoreReader {
    /// Starts the readers for the store `state` names, for the run that started at
    /// `run_started`; `None` without a store.
    pub fn start(
        state: &StateSettings,
        run_started: SystemTime,
        quiet: Arc<QuietTime>,
    ) -> Option<Addr<StoreReader>> {
        let location = StoreLocation::of(state)?;
        let raw_retention = state.raw_retention;
        Some(SyncArbiter::start(READERS, move || StoreReader {
            backend: location.backend(),
            run_started,
            raw_retention,
            quiet: quiet.clone(),
        }))
    }

    fn connect(&mut self) -> Result<&mut dyn Backend, ReadError> {
        // A file deleted or replaced under a connection would go on answering from the old
        // one forever. This question fails; the next opens the file the writer (which saves
        // every second, and notices it too) has made by then, rather than this reader
        // creating it first and the writer taking it for a replacement.
        if self.backend.lost().is_some() {
            return Err(ReadError::Lost {
                place: self.backend.place().to_string(),
            });
        }
        if !self.backend.is_connected() {
            self.backend.connect()?;
        }
        Ok(self.backend.as_mut())
    }

    /// Runs `query`, dropping a connection that failed so the next question opens another.
    fn ask<T>(
        &mut self,
        query: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError>,
    ) -> Result<T, ReadError> {
        let result = self
            .connect()
            .and_then(|backend| query(backend).map_err(ReadError::from));
        if result.is_err() {
            self.backend.disconnect();
        }
        result
    }

    /// The runs overlapping `[from, now)`, this one lasting until `now`.
    fn runs(&mut self, from: SystemTime, now: SystemTime) -> Result<Vec<Run>, ReadError> {
        let started = self.run_started;
        let mut runs = self.ask(|b| b.runs(from, now))?;
        // Stored to the millisecond: this run's row is the one with its start in milliseconds.
        let stored_start = codec::millis(started);
        match runs
            .iter_mut()
            .find(|run| codec::millis(run.started) == stored_start)
        {
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

/// Each of `labels`' availability per UTC day over the last `days` days up to `now`, oldest
/// first (today is the last, up to `now`): the status page's bars.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<HashMap<String, Vec<Option<f64>>>, ReadError>")]
pub struct GetDailyAvailability {
    pub labels: Vec<String>,
    pub days: u32,
    pub now: SystemTime,
}

/// The UTC days, oldest first, that end with the one holding `now` (cut at `now`).
pub fn days_until(now: SystemTime, days: u32) -> Vec<Interval> {
    const DAY: Duration = Duration::from_secs(86_400);
    let today = crate::history::bucket_start(now, DAY);
    (0..days)
        .rev()
        .map(|back| {
            let from = today
                .checked_sub(DAY * back)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            Interval {
                from,
                to: (from + DAY).min(now),
            }
        })
        .collect()
}

impl Handler<GetDailyAvailability> for StoreReader {
    type Result = Result<HashMap<String, Vec<Option<f64>>>, ReadError>;

    fn handle(&mut self, msg: GetDailyAvailability, _: &mut SyncContext<Self>) -> Self::Result {
        let days = days_until(msg.now, msg.days);
        let Some(first) = days.first().map(|d| d.from) else {
            return Ok(HashMap::new());
        };
        let runs = self.runs(first, msg.now)?;
        let quiet = self.quiet.plan(Interval {
            from: first,
            to: msg.now,
        });
        let mut found = HashMap::with_capacity(msg.labels.len());
        for label in &msg.labels {
            let changes: Vec<StatusChange> = self
                .ask(|b| b.changes(Some(label), first, msg.now))?
                .into_iter()
                .map(|(_, change)| change)
                .collect();
            let excluded = quiet.for_host(label);
            let figures = days
                .iter()
                .map(|day| {
                    availability(&timeline(&changes, day.from, &runs), *day, &excluded).availability
                })
                .collect();
            found.insert(label.clone(), figures);
        }
        Ok(found)
    }
}

impl Handler<GetUptime> for StoreReader {
    type Result = Result<Uptime, ReadError>;

    fn handle(&mut self, msg: GetUptime, _: &mut SyncContext<Self>) -> Self::Result {
        let window = window(msg.now, msg.window);
        let runs = self.runs(window.from, msg.now)?;
        let changes: Vec<StatusChange> = self
            .ask(|b| b.changes(Some(&msg.label), window.from, msg.now))?
            .into_iter()
            .map(|(_, change)| change)
            .collect();
        let timeline = timeline(&changes, window.from, &runs);
        let excluded = self.quiet.plan(window).for_host(&msg.label);
        Ok(Uptime {
            availability: availability(&timeline, window, &excluded),
            incidents: incidents(&timeline, window),
        })
    }
}

impl Handler<GetAvailabilities> for StoreReader {
    type Result = Result<HashMap<Arc<str>, Availabilities>, ReadError>;

    fn handle(&mut self, msg: GetAvailabilities, _: &mut SyncContext<Self>) -> Self::Result {
        let longest = window(msg.now, WINDOWS[WINDOWS.len() - 1].1);
        let runs = self.runs(longest.from, msg.now)?;
        let changes = self.ask(|b| b.changes(None, longest.from, msg.now))?;
        let quiet = self.quiet.plan(longest);
        let mut found = HashMap::new();
        // Rows come ordered by host: one slice per host.
        let mut rest = &changes[..];
        while let Some((label, _)) = rest.first() {
            let end = rest.partition_point(|(l, _)| l == label);
            let host: Vec<StatusChange> = rest[..end].iter().map(|(_, c)| c.clone()).collect();
            let excluded = quiet.for_host(label);
            let mut availabilities: Availabilities = [None; 3];
            for (slot, (_, length)) in availabilities.iter_mut().zip(WINDOWS) {
                let window = window(msg.now, length);
                *slot = availability(&timeline(&host, window.from, &runs), window, &excluded)
                    .availability;
            }
            found.insert(label.clone(), availabilities);
            rest = &rest[end..];
        }
        Ok(found)
    }
}

impl Handler<GetSeries> for StoreReader {
    type Result = Result<Vec<SeriesPoint>, ReadError>;

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
    type Result = Result<Vec<StoredEvent>, ReadError>;

    fn handle(&mut self, msg: GetEvents, _: &mut SyncContext<Self>) -> Self::Result {
        self.ask(|b| b.events(&msg.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckResult, Status};
    use crate::store::sqlite::SqliteBackend;
    use crate::store::temp_db::TempDb;
    use crate::store::{SaveHostStates, StoredBucket, StoredResult, StoredTransition};

    /// `seconds` after an hour boundary (1.8e9 s is 500 000 hours): no clock is read.
    fn t(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn transition(at: u64, previous: Status, status: Status, reason: &str) -> StoredTransition {
        StoredTransition {
            label: Arc::from("api"),
            at: t(at),
            status,
            previous,
            reason: reason.into(),
        }
    }

    fn result(at: u64, ok: bool, seq: u64) -> StoredResult {
        StoredResult {
            label: Arc::from("api"),
            seq,
            result: CheckResult {
                at: t(at),
                ok,
                degraded: false,
                cert_not_after: None,
                latency: Duration::from_millis(10 + at % 7),
                detail: if ok { "status 200" } else { "status 503" }.into(),
                perfdata: Vec::new(),
                phases: Vec::new(),
                trace: None,
                status_code: None,
            },
        }
    }

    /// Two runs written as the store writer writes them: the first from 0 s to 10 s (the
    /// host up from 1 s), nobody watching from 10 s to 20 s, the second from 20 s with the host
    /// down from 25 s. One result a second while running.
    fn two_runs(db: &TempDb) {
        let mut backend = SqliteBackend::new(db.0.clone());
        backend.connect().expect("opens");
        for (started, alive, transitions, results) in [
            (
                0,
                10,
                vec![transition(1, Status::Unknown, Status::Up, "status 200")],
                (1..10).map(|s| result(s, true, s)).collect::<Vec<_>>(),
            ),
            (
                20,
                30,
                vec![transition(25, Status::Up, Status::Down, "status 503")],
                (20..30).map(|s| result(s, s < 25, s)).collect(),
            ),
        ] {
            backend.begin_run(t(started)).expect("a run");
            let batch = SaveHostStates {
                results,
                transitions,
                ..SaveHostStates::default()
            };
            let run = Run {
                started: t(started),
                last_alive: t(alive),
            };
            backend.save_hosts(&batch, run).expect("saved");
        }
    }

    #[actix_rt::test]
    async fn time_nobody_watched_is_unknown_and_the_current_run_lasts_until_now() {
        let db = TempDb::new("uptime");
        two_runs(&db);
        // The second run is this one: started with a sub-millisecond part the store drops.
        let Some(reader) = StoreReader::start(
            &db.settings(),
            t(20) + Duration::from_micros(300),
            Arc::default(),
        ) else {
            panic!("a store is configured");
        };
        let uptime = reader
            .send(GetUptime {
                label: "api".into(),
                window: Duration::from_secs(40),
                now: t(40),
            })
            .await
            .expect("the reader answers")
            .expect("the store answers");
        let seen = &uptime.availability;
        // Up 1–10 s and 20–25 s, down 25–40 s (this run lasts until now, not its last save at
        // 30 s), unknown 0–1 s and the 10 s flowstate was stopped.
        assert_eq!(
            (seen.up, seen.down, seen.unknown),
            (
                Duration::from_secs(14),
                Duration::from_secs(15),
                Duration::from_secs(11)
            )
        );
        assert_eq!(seen.availability, Some(14.0 / 29.0));
        assert_eq!(
            uptime.incidents,
            [Incident {
                from: t(25),
                to: None,
                status: Status::Down,
                reason: "status 503".into(),
            }]
        );

        let all = reader
            .send(GetAvailabilities { now: t(40) })
            .await
            .expect("the reader answers")
            .expect("the store answers");
        assert_eq!(all.len(), 1);
        // Every window reaches back before the first run: the same known time in each.
        assert_eq!(all.get("api"), Some(&[Some(14.0 / 29.0); 3]));
    }

    #[actix_rt::test]
    async fn a_series_adds_minute_rows_and_the_results_not_rolled_up_yet() {
        let db = TempDb::new("series");
        two_runs(&db);
        // The first minute is rolled up (as if by the writer); the results stay as well.
        let mut backend = SqliteBackend::new(db.0.clone());
        backend.connect().expect("opens");
        let mut minute = Bucket::empty(t(0));
        for second in (1..10).chain(20..30) {
            minute.checks += 1;
            if second >= 25 {
                minute.failures += 1;
            } else {
                minute.latency.add(Duration::from_millis(10 + second % 7));
            }
        }
        backend
            .save_buckets(&[StoredBucket {
                label: Arc::from("api"),
                resolution: Resolution::Minute,
                bucket: minute,
            }])
            .expect("saved");
        let batch = SaveHostStates {
            results: (60..65).map(|s| result(s, true, s)).collect(),
            ..SaveHostStates::default()
        };
        let run = Run {
            started: t(20),
            last_alive: t(65),
        };
        backend.save_hosts(&batch, run).expect("saved");

        let Some(reader) = StoreReader::start(&db.settings(), t(20), Arc::default()) else {
            panic!("a store is configured");
        };
        let ask = |step: u64| {
            reader.send(GetSeries {
                label: "api".into(),
                from: t(0),
                to: t(120),
                step: Duration::from_secs(step),
                now: t(70),
            })
        };
        let minutes = ask(60).await.expect("answers").expect("reads");
        let summary: Vec<_> = minutes
            .iter()
            .map(|p| (p.at, p.checks, p.failures))
            .collect();
        // The minute row, then the raw results after it: nothing counted twice.
        assert_eq!(summary, [(t(0), 19, 5), (t(60), 5, 0)]);
        assert_eq!(minutes[0].max, Some(Duration::from_millis(16)));
        // Finer than a minute, every point comes from the raw results.
        let seconds = ask(10).await.expect("answers").expect("reads");
        assert_eq!(seconds.iter().map(|p| p.checks).sum::<u64>(), 24);
        assert_eq!(seconds.iter().map(|p| p.failures).sum::<u64>(), 5);
    }

    #[actix_rt::test]
    async fn events_are_newest_first() {
        let db = TempDb::new("events");
        two_runs(&db);
        let Some(reader) = StoreReader::start(&db.settings(), t(20), Arc::default()) else {
            panic!("a store is configured");
        };
        let events = reader
            .send(GetEvents(EventQuery {
                host: Some("api".into()),
                prefix: None,
                since: None,
                limit: 10,
            }))
            .await
            .expect("answers")
            .expect("reads");
        let times: Vec<SystemTime> = events.iter().map(StoredEvent::at).collect();
        assert_eq!(times, [t(25), t(1)]);
    }

    #[test]
    fn no_store_no_reader() {
        assert!(StoreReader::start(&StateSettings::default(), t(0), Arc::default()).is_none());
    }
}
