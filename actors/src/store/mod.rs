//! The state store, so a restart loses nothing and history answers "how available was it":
//! an embedded SQLite file at `state.path`, or PostgreSQL at `state.url`.
//!
//! It keeps each host's state (so a restart sends no alert for a host whose status did not
//! change), the alert **outbox** (every event is stored before its first delivery attempt and
//! deleted once delivered, so a crash never loses one), what each notifier was told about
//! each host (cooldowns and reminders carry on after a restart), and the **history**: every
//! result for `raw_retention`, every transition, per-minute and per-hour rollups for
//! `retention`, and the runs of flowstate itself (time it was not running is unknown, never
//! up).
//!
//! The store is a mirror, never the source of truth while running: the registry and the router
//! keep everything in memory and send batches here. The [`Store`] actor runs on a `SyncArbiter`
//! thread of its own with one [`Backend`], so the database's blocking calls never touch a
//! thread that runs checks; reads for the API go through [`reader::StoreReader`] on threads
//! and connections of their own. A locked, full, broken or unreachable database is logged and
//! counted; what failed to save stays marked unsaved by its writer and is written again once
//! the store works, and monitoring and alerting go on regardless.
//!
//! - [`backend`]: the [`Backend`] trait; [`sqlite`] and [`postgres`] implement it.
//! - [`codec`]: how values are written into columns, the same for both.
//! - [`rollups`]: the minute and hour rows being filled.
//! - [`reader`]: availability, incidents, series and events for the API.

pub mod backend;
pub mod codec;
pub mod postgres;
pub mod reader;
pub mod rollups;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod temp_db;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use serde::Serialize;

use flowstate_config::StateSettings;

use crate::announcements::Announcement;
use crate::event::{AlertEvent, EventKind};
use crate::history::{Bucket, Run};
use crate::metrics::Metrics;
use crate::model::{CheckResult, Host, HostCounters, HostState, Status};
use crate::silences::{Silence, ENDED_KEPT};

pub use backend::{Backend, Connected, Cutoffs, EventQuery, Pruned, Resolution};
use rollups::OpenRollups;

/// Bumped when the tables change shape; a newer database is refused rather than misread, an
/// older one is migrated when opened.
/// 1: one column per host counter. 2: the counters in one JSON column. 3: history (results
/// kept by time, transitions, rollups, runs, the alert log). 4: announcements. 5: silences.
/// 6: a result's trace id, so a stored result links to its check's trace.
pub const SCHEMA_VERSION: i64 = 6;

/// How often a store that cannot be opened is tried again (a full disk, a missing mount, a
/// database server restarting).
const REOPEN_EVERY: Duration = Duration::from_secs(10);

/// How often a pruning round over all hosts starts, and how many hosts each step (one with a
/// save, at most one per [`PRUNE_STEP_EVERY`]) covers.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const PRUNE_HOSTS_PER_STEP: usize = 500;

/// The least time between two pruning steps. Saves come once a second, and back to back when
/// thousands of hosts are checked each second (their batches are kept small so an alert is
/// never stored behind a long one): a step with each of those would prune fastest exactly
/// when the store is busiest.
const PRUNE_STEP_EVERY: Duration = Duration::from_secs(1);

/// One host's counters as stored; its history travels separately (appended, not rewritten).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHost {
    pub label: Arc<str>,
    pub kind: String,
    pub status: Status,
    pub since: SystemTime,
    pub counters: HostCounters,
    /// The newest results, oldest first (filled when loading; empty in a save batch).
    pub history: Vec<CheckResult>,
}

impl From<&Host> for StoredHost {
    /// The row of a host's counters; its history is appended separately.
    fn from(host: &Host) -> Self {
        let state = host.state();
        StoredHost {
            label: host.label().clone(),
            kind: host.kind().to_string(),
            status: state.status,
            since: state.since,
            counters: state.counters,
            history: Vec::new(),
        }
    }
}

impl From<&StoredHost> for HostState {
    /// A host's state as an earlier run saved it. The stored `kind` is not read back: the
    /// check type follows the configuration.
    fn from(stored: &StoredHost) -> Self {
        HostState {
            status: stored.status,
            since: stored.since,
            counters: stored.counters,
            history: stored.history.iter().cloned().collect(),
        }
    }
}

/// A database error, whichever backend met it.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres::describe(.0))]
    Postgres(#[from] ::postgres::Error),
}

impl DatabaseError {
    /// What the user can do about it (`; ...`), if anything is known.
    fn hint(&self) -> &'static str {
        match self {
            DatabaseError::Sqlite(e) => sqlite::hint(e),
            DatabaseError::Postgres(e) => postgres::hint(e),
        }
    }
}

/// Why the state store could not do what it was asked. Its text names the file or database
/// and, where there is one, what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory of `state.path` does not exist and cannot be made.
    #[error("{}: cannot create the state directory: {source}; create it or point state.path elsewhere", .dir.display())]
    CreateDirectory {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// Opening the database, or reading it at start, failed.
    #[error("{place}: state store: {source}{}", .source.hint())]
    Open {
        place: String,
        source: DatabaseError,
    },
    /// The tables are of a later shape than this build knows: refused, not misread.
    #[error("{place}: written by a newer flowstate (schema {found}, this one knows {SCHEMA_VERSION}); upgrade flowstate or move the file away")]
    NewerSchema { place: String, found: i64 },
    /// Opening failed a moment ago: not tried again before `REOPEN_EVERY` has passed.
    #[error("{place}: the state store is unavailable (retrying every {}s)", REOPEN_EVERY.as_secs())]
    Unavailable { place: String },
    /// A write into the open database failed (a full disk, a lock held too long).
    #[error("{0}")]
    Write(DatabaseError),
    /// A query for the API failed.
    #[error("{0}")]
    Read(DatabaseError),
    /// In a cluster: the alert state is the leader's to write, and this agent does not lead
    /// (any more).
    #[error("{0}")]
    Cluster(String),
}

/// A check result to append to a host's stored history: `seq` is the host's check count
/// when it was recorded, which orders results of the same millisecond.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub label: Arc<str>,
    pub seq: u64,
    pub result: CheckResult,
}

/// A change of a host's status, for availability and `/api/v1/events`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTransition {
    pub label: Arc<str>,
    pub at: SystemTime,
    pub status: Status,
    pub previous: Status,
    pub reason: String,
}

/// A finished rollup row of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBucket {
    pub label: Arc<str>,
    pub resolution: Resolution,
    pub bucket: Bucket,
}

/// What happened to an alert event for one notifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOutcome {
    Sent,
    /// One attempt failed; it is retried.
    Failed,
    /// No more attempts (`max_age` passed, or the receiver refused it for good).
    GivenUp,
    /// Not sent by policy (cooldown, `send_resolved: false`, nothing to resolve).
    Suppressed,
}

impl AlertOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOutcome::Sent => "sent",
            AlertOutcome::Failed => "failed",
            AlertOutcome::GivenUp => "given_up",
            AlertOutcome::Suppressed => "suppressed",
        }
    }
}

/// One line of the alert log.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertLogEntry {
    pub at: SystemTime,
    pub host: String,
    pub notifier: Arc<str>,
    pub event: EventKind,
    pub event_id: String,
    pub outcome: AlertOutcome,
    /// Why (a suppression's reason, a failure's error); empty when sent.
    pub detail: String,
}

/// What `/api/v1/events` lists.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredEvent {
    Transition {
        host: String,
        at: SystemTime,
        status: Status,
        previous: Status,
        reason: String,
    },
    Alert(AlertLogEntry),
}

impl StoredEvent {
    /// Transitions and alert lines merged, newest first, at most `limit`.
    pub fn newest_first(mut events: Vec<StoredEvent>, limit: usize) -> Vec<StoredEvent> {
        events.sort_by_key(|event| std::cmp::Reverse(event.at()));
        events.truncate(limit);
        events
    }

    pub fn at(&self) -> SystemTime {
        match self {
            StoredEvent::Transition { at, .. } => *at,
            StoredEvent::Alert(entry) => entry.at,
        }
    }
}

/// An undelivered event for one notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDelivery {
    pub notifier: Arc<str>,
    pub event: AlertEvent,
    /// When it was first queued: `max_age` counts from here, across restarts.
    pub created: SystemTime,
}

/// Everything the store held at start.
#[derive(Debug, Default)]
pub struct Restored {
    pub hosts: Vec<StoredHost>,
    /// Oldest first, so the original order is kept per host.
    pub outbox: Vec<StoredDelivery>,
    /// `(notifier, host) -> track` as JSON written by the router.
    pub tracks: Vec<(Arc<str>, String, String)>,
    /// Raw results after each host's last minute row: the last run was killed before it
    /// rolled them up.
    pub unrolled_results: Vec<(Arc<str>, Vec<CheckResult>)>,
    /// Minute rows after each host's last hour row, likewise.
    pub unrolled_minutes: Vec<StoredBucket>,
    pub announcements: Vec<Announcement>,
    /// The silences active at start or ended within the last year, oldest first (older
    /// ones are deleted on load).
    pub silences: Vec<Silence>,
}

/// Save these hosts' counters, append these results and transitions, and forget hosts that
/// left.
#[derive(Message, Debug, Default)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveHostStates {
    pub hosts: Vec<StoredHost>,
    pub results: Vec<StoredResult>,
    pub transitions: Vec<StoredTransition>,
    pub removed: Vec<Arc<str>>,
    /// Told the outcome when the batch is written: a message rather than an awaited reply,
    /// because actix polls an actor's pending futures on every message it handles.
    pub reply_to: Option<Recipient<HostStatesSaved>>,
}

impl SaveHostStates {
    fn is_empty(&self) -> bool {
        self.hosts.is_empty()
            && self.results.is_empty()
            && self.transitions.is_empty()
            && self.removed.is_empty()
    }
}

/// A batch of host state was written (or not): the hosts of a failed one are saved again.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct HostStatesSaved {
    pub saved: bool,
    pub hosts: Vec<Arc<str>>,
    pub removed: Vec<Arc<str>>,
    /// The results and transitions of a batch that failed, to be saved with the next one
    /// (empty when saved).
    pub results: Vec<StoredResult>,
    pub transitions: Vec<StoredTransition>,
}

/// What a notifier was told about a host (`track: None`: nothing to remember).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrack {
    pub notifier: Arc<str>,
    pub host: String,
    /// The router's track as JSON.
    pub track: Option<String>,
}

/// The AlertRouter's changes, in one transaction: events to store before their first attempt,
/// events done with (delivered or given up), and what notifiers were told. A batch that fails
/// is sent again, whole or with newer versions, until one is saved (see [`crate::unsaved`]).
#[derive(Message, Debug, Clone, Default)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveAlertState {
    pub deliveries: Vec<StoredDelivery>,
    /// `(notifier, id)` of events done with.
    pub forgotten: Vec<(Arc<str>, String)>,
    pub tracks: Vec<StoredTrack>,
}

/// Append these lines to the alert log (best effort: a lost line loses no alert).
#[derive(Message, Debug, Clone, Default)]
#[rtype(result = "()")]
pub struct LogAlerts(pub Vec<AlertLogEntry>);

/// Save an announcement (new, or with a new update), answered once it is written.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveAnnouncement(pub Announcement);

/// Delete the announcement with this id, answered once it is done.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct DeleteAnnouncement(pub String);

/// Save a silence, answered once it is written.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveSilence(pub Silence);

/// Delete the silence with this id, answered once it is done.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct DeleteSilence(pub String);

/// Write the rollup rows not finished yet (shutdown): the next run merges into them.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct FlushRollups;

/// The database was replaced while running and a new one was opened: everything the
/// receiver keeps must be written into it, not just what changed.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct StoreRecreated;

/// Tell `0` whenever the store had to be recreated.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribeToStore(pub Recipient<StoreRecreated>);

/// Answers once every write sent before it is done: the store handles messages in order.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct AwaitStoreWrites;

/// Where the store is, as `state` names it: SQLite for `path`, PostgreSQL for `url`.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    Postgres(flowstate_config::DatabaseUrl),
}

impl StoreLocation {
    /// `None` without a store (state in memory only).
    pub fn of(state: &StateSettings) -> Option<StoreLocation> {
        if let Some(url) = &state.url {
            return Some(StoreLocation::Postgres(url.clone()));
        }
        state.path.clone().map(StoreLocation::Sqlite)
    }

    /// A backend for it, not connected yet.
    pub fn backend(&self) -> Box<dyn Backend> {
        match self {
            StoreLocation::Sqlite(path) => Box::new(sqlite::SqliteBackend::new(path.clone())),
            StoreLocation::Postgres(url) => Box::new(postgres::PostgresBackend::new(url.clone())),
        }
    }
}

/// The silences of `silences` that ended less than [`ENDED_KEPT`] before `now` (the time
/// they covered is left out of availability); older ones are deleted from the store. A
/// deletion that fails only leaves a row that mutes nothing, deleted at a later start:
/// logged, never a reason not to start.
fn forget_ended_silences(
    backend: &mut dyn Backend,
    silences: Vec<Silence>,
    now: SystemTime,
) -> Vec<Silence> {
    let cutoff = now
        .checked_sub(ENDED_KEPT)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let (active, ended): (Vec<Silence>, Vec<Silence>) =
        silences.into_iter().partition(|s| s.until >= cutoff);
    for silence in ended {
        if let Err(e) = backend.delete_silence(&silence.id) {
            log::warn!(id = silence.id.as_str(), error = e.to_string().as_str(); "cannot delete a silence that has ended from the state store; it mutes nothing and is deleted at a later start");
        }
    }
    active
}

/// The store writer, on a thread of its own.
pub struct Store {
    backend: Box<dyn Backend>,
    last_open_attempt: Option<Instant>,
    metrics: Arc<Metrics>,
    /// The database was lost: once a new one is open, the writers must fill it.
    must_refill: bool,
    /// Who writes here, told when the database had to be recreated.
    writers: Vec<Recipient<StoreRecreated>>,
    /// This run: its start, and its last save (its last sign of life).
    run: Run,
    rollups: OpenRollups,
    /// Finished rollup rows whose write failed: tried again with the next batch.
    unsaved_buckets: Vec<StoredBucket>,
    raw_retention: Duration,
    retention: Duration,
    /// When the current pruning round started, if one runs; when the last one ended.
    pruning: bool,
    last_prune: Option<Instant>,
    /// When the last pruning step ran.
    last_prune_step: Option<Instant>,
}

impl Store {
    /// Opens (or creates) the database named by `state`, reads everything in it and marks
    /// the start of this run. Runs once at start, before the actors; an error names the
    /// database and what to do.
    pub fn load(
        backend: &mut dyn Backend,
        history_limit: usize,
        now: SystemTime,
    ) -> Result<Restored, StoreError> {
        backend.connect()?;
        let mut restored = backend.read_state(history_limit)?;
        restored.silences = forget_ended_silences(backend, restored.silences, now);
        backend.begin_run(now)?;
        Ok(restored)
    }

    /// Starts the store actor on a thread of its own with `backend` (loaded or not), for
    /// the run that started at `started`; `restored` is what its rollups resume from.
    pub fn start(
        backend: Box<dyn Backend>,
        state: &StateSettings,
        started: SystemTime,
        restored: &Restored,
        metrics: Arc<Metrics>,
    ) -> Addr<Store> {
        let mut rollups = OpenRollups::default();
        for (label, results) in &restored.unrolled_results {
            for result in results {
                rollups.add(label, result);
            }
        }
        for minute in &restored.unrolled_minutes {
            rollups.add_minute(&minute.label, &minute.bucket);
        }
        // SyncArbiter makes its actor with a factory it may call again; there is one thread
        // and one backend, handed over once.
        let parts = Mutex::new(Some((backend, rollups)));
        let (raw_retention, retention) = (state.raw_retention, state.retention);
        SyncArbiter::start(1, move || {
            let taken = parts.lock().ok().and_then(|mut parts| parts.take());
            let Some((backend, rollups)) = taken else {
                // Only if actix restarted the thread: its replacement cannot exist without
                // the backend, so stop rather than run a store that writes nowhere.
                panic!("the state store thread was started twice");
            };
            Store::new(backend, rollups, started, metrics.clone()).keeping(raw_retention, retention)
        })
    }

    /// A store writer for the run that started at `started`, keeping the default retention.
    fn new(
        backend: Box<dyn Backend>,
        rollups: OpenRollups,
        started: SystemTime,
        metrics: Arc<Metrics>,
    ) -> Store {
        let defaults = StateSettings::default();
        Store {
            backend,
            last_open_attempt: None,
            metrics,
            must_refill: false,
            writers: Vec::new(),
            run: Run {
                started,
                last_alive: started,
            },
            rollups,
            unsaved_buckets: Vec::new(),
            raw_retention: defaults.raw_retention,
            retention: defaults.retention,
            pruning: false,
            last_prune: None,
            last_prune_step: None,
        }
    }

    fn keeping(mut self, raw_retention: Duration, retention: Duration) -> Store {
        self.raw_retention = raw_retention;
        self.retention = retention;
        self
    }

    /// Whether the database is still the one configured. If not (a file deleted or
    /// replaced), logs and counts it once; the next use opens a new one, which the writers
    /// are then told to fill.
    fn notice_lost_database(&mut self) {
        let Some(reason) = self.backend.lost() else {
            return;
        };
        self.metrics.record_store_error("recreate");
        log::warn!(path = self.backend.place(), reason; "the state store file was {reason} while flowstate runs; creating a new one and writing the whole current state into it");
        self.must_refill = true;
        self.last_open_attempt = None;
    }

    /// Opens the connection if needed, at most every [`REOPEN_EVERY`] after a failure so a
    /// missing disk or a database that is down is not hammered.
    fn connect(&mut self) -> Result<(), StoreError> {
        self.notice_lost_database();
        if self.backend.is_connected() {
            return Ok(());
        }
        if let Some(last) = self.last_open_attempt {
            if last.elapsed() < REOPEN_EVERY {
                return Err(StoreError::Unavailable {
                    place: self.backend.place().to_string(),
                });
            }
        }
        self.last_open_attempt = Some(Instant::now());
        if self.backend.connect()? == Connected::Fresh {
            // Gone while the connection was closed after an error: a new one was made.
            self.metrics.record_store_error("recreate");
            log::warn!(path = self.backend.place(), reason = "replaced"; "the state store changed while the store was closed; writing the whole current state into the new one");
            self.must_refill = true;
        }
        if std::mem::take(&mut self.must_refill) {
            // The new database has no run yet: this one goes on in it.
            let _ = self.backend.begin_run(self.run.started);
            for writer in &self.writers {
                writer.do_send(StoreRecreated);
            }
        }
        Ok(())
    }

    /// Runs one write of what `operations` name; on failure logs it, counts it under each of
    /// them, and drops a connection that may be broken so the next write reopens it.
    fn write(
        &mut self,
        operations: &[&'static str],
        work: impl FnOnce(&mut dyn Backend) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let result = self.connect().and_then(|()| work(self.backend.as_mut()));
        if let Err(e) = &result {
            for operation in operations {
                self.metrics.record_store_error(operation);
            }
            let operation = operations.join(",");
            log::error!(path = self.backend.place(), operation = operation.as_str(), error = e.to_string().as_str(); "state store write failed; keeping the data in memory and retrying");
            // A store waiting to retry has no connection to drop.
            if !matches!(e, StoreError::Unavailable { .. }) {
                self.backend.disconnect();
            }
        }
        result
    }

    /// Writes the rollup rows finished by `now` (all with `None`), and those that failed
    /// before.
    fn write_rollups(&mut self, now: Option<SystemTime>) {
        let mut buckets = std::mem::take(&mut self.unsaved_buckets);
        buckets.extend(self.rollups.finished(now));
        if buckets.is_empty() {
            return;
        }
        if self
            .write(&["save_rollups"], |b| b.save_buckets(&buckets))
            .is_err()
        {
            self.unsaved_buckets = buckets;
        }
    }

    /// One small pruning step when a round is due or running.
    fn prune_step(&mut self, now: SystemTime) {
        let due = self.last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        if !self.pruning && !due {
            return;
        }
        if self
            .last_prune_step
            .is_some_and(|at| at.elapsed() < PRUNE_STEP_EVERY)
        {
            return;
        }
        self.last_prune_step = Some(Instant::now());
        self.pruning = true;
        let cutoffs = Cutoffs {
            raw: now
                .checked_sub(self.raw_retention)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            all: now
                .checked_sub(self.retention)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        };
        let mut pruned = None;
        let result = self.write(&["prune"], |b| {
            pruned = Some(b.prune(cutoffs, PRUNE_HOSTS_PER_STEP)?);
            Ok(())
        });
        if result.is_err() || pruned.is_some_and(|p| p.done) {
            // A failed step ends the round: the next starts a minute later.
            self.pruning = false;
            self.last_prune = Some(Instant::now());
        }
    }
}

impl Actor for Store {
    type Context = SyncContext<Self>;
}

impl Handler<SaveHostStates> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, mut batch: SaveHostStates, _: &mut SyncContext<Self>) -> Self::Result {
        let now = SystemTime::now();
        self.run.last_alive = now;
        let result = if batch.is_empty() && !self.backend.is_connected() {
            // Nothing to write and no connection: a store that is failing is retried by the
            // writes that need it, not by the once-a-second heartbeat.
            Ok(())
        } else {
            let run = self.run;
            self.write(&["save_hosts"], |b| b.save_hosts(&batch, run))
        };
        let saved = result.is_ok();
        if saved {
            for entry in &batch.results {
                self.rollups.add(&entry.label, &entry.result);
            }
            self.write_rollups(Some(now));
            self.prune_step(now);
        }
        if let Some(reply_to) = batch.reply_to.take() {
            reply_to.do_send(HostStatesSaved {
                saved,
                hosts: batch.hosts.into_iter().map(|h| h.label).collect(),
                removed: batch.removed,
                results: if saved { Vec::new() } else { batch.results },
                transitions: if saved { Vec::new() } else { batch.transitions },
            });
        }
        result
    }
}

impl Handler<SaveAlertState> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: SaveAlertState, _: &mut SyncContext<Self>) -> Self::Result {
        // Counted by what the batch held, as the separate writes it stands for were.
        let operations: Vec<&'static str> = [
            (!msg.deliveries.is_empty(), "save_delivery"),
            (!msg.forgotten.is_empty(), "forget_delivery"),
            (!msg.tracks.is_empty(), "save_alert_track"),
        ]
        .into_iter()
        .filter_map(|(held, operation)| held.then_some(operation))
        .collect();
        self.write(&operations, |b| b.save_alert_state(&msg))
    }
}

impl Handler<LogAlerts> for Store {
    type Result = ();

    fn handle(&mut self, msg: LogAlerts, _: &mut SyncContext<Self>) {
        if !msg.0.is_empty() {
            let _ = self.write(&["log_alerts"], |b| b.log_alerts(&msg.0));
        }
    }
}

impl Handler<SaveAnnouncement> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: SaveAnnouncement, _: &mut SyncContext<Self>) -> Self::Result {
        self.write(&["save_announcement"], |b| b.save_announcement(&msg.0))
    }
}

impl Handler<DeleteAnnouncement> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: DeleteAnnouncement, _: &mut SyncContext<Self>) -> Self::Result {
        self.write(&["save_announcement"], |b| b.delete_announcement(&msg.0))
    }
}

impl Handler<SaveSilence> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: SaveSilence, _: &mut SyncContext<Self>) -> Self::Result {
        self.write(&["save_silence"], |b| b.save_silence(&msg.0))
    }
}

impl Handler<DeleteSilence> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, msg: DeleteSilence, _: &mut SyncContext<Self>) -> Self::Result {
        self.write(&["save_silence"], |b| b.delete_silence(&msg.0))
    }
}

impl Handler<FlushRollups> for Store {
    type Result = ();

    fn handle(&mut self, _: FlushRollups, _: &mut SyncContext<Self>) {
        self.write_rollups(None);
    }
}

impl Handler<SubscribeToStore> for Store {
    type Result = ();

    fn handle(&mut self, msg: SubscribeToStore, _: &mut SyncContext<Self>) {
        self.writers.push(msg.0);
    }
}

impl Handler<AwaitStoreWrites> for Store {
    type Result = ();

    fn handle(&mut self, _: AwaitStoreWrites, _: &mut SyncContext<Self>) {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::temp_db::TempDb;
    use super::*;

    /// Counts the `StoreRecreated` it is told.
    struct Writer(Arc<AtomicUsize>);

    impl Actor for Writer {
        type Context = Context<Self>;
    }

    impl Handler<StoreRecreated> for Writer {
        type Result = ();

        fn handle(&mut self, _: StoreRecreated, _: &mut Context<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn one_host_batch() -> SaveHostStates {
        SaveHostStates {
            hosts: vec![StoredHost {
                label: Arc::from("api"),
                kind: "http".into(),
                status: Status::Down,
                since: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                counters: HostCounters::default(),
                history: Vec::new(),
            }],
            results: vec![StoredResult {
                label: Arc::from("api"),
                seq: 3,
                result: CheckResult {
                    at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_003),
                    ok: false,
                    degraded: false,
                    cert_not_after: None,
                    latency: Duration::from_millis(3),
                    detail: "connection refused".into(),
                    perfdata: Vec::new(),
                    phases: Vec::new(),
                    trace: None,
                    status_code: None,
                },
            }],
            ..SaveHostStates::default()
        }
    }

    fn store_at(path: &std::path::Path, metrics: &Arc<Metrics>) -> Store {
        let backend = Box::new(sqlite::SqliteBackend::new(path.to_path_buf()));
        Store::new(
            backend,
            OpenRollups::default(),
            SystemTime::now(),
            metrics.clone(),
        )
    }

    fn save(store: &mut Store, batch: &SaveHostStates) -> Result<(), StoreError> {
        let run = store.run;
        store.write(&["save_hosts"], |b| b.save_hosts(batch, run))
    }

    #[actix_rt::test]
    async fn a_file_deleted_while_open_is_noticed_recreated_and_its_writers_told() {
        let db = TempDb::new("deleted");
        let metrics = Arc::new(Metrics::new());
        let mut store = store_at(&db.0, &metrics);
        let told = Arc::new(AtomicUsize::new(0));
        store.writers.push(Writer(told.clone()).start().recipient());
        save(&mut store, &one_host_batch()).expect("the first write");
        std::fs::remove_file(&db.0).expect("delete the file");

        // The next write goes into a new file, not the deleted one.
        save(&mut store, &SaveHostStates::default()).expect("a write after the deletion");
        assert!(db.0.exists(), "the file was not created again");
        assert!(metrics
            .render()
            .contains("flowstate_state_store_errors_total{operation=\"recreate\"} 1"));
        // Told once, after the new file is open: they write their whole state into it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while told.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the writers were not told");
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        save(&mut store, &one_host_batch()).expect("the refill");
        drop(store);
        let mut backend = sqlite::SqliteBackend::new(db.0.clone());
        let restored = Store::load(&mut backend, 10, SystemTime::now()).expect("reads");
        assert_eq!(restored.hosts.len(), 1);
        assert_eq!(restored.hosts[0].history.len(), 1);
        assert_eq!(told.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_store_that_cannot_open_counts_the_failure_and_waits_before_retrying() {
        let metrics = Arc::new(Metrics::new());
        // A path under a regular file can never be created.
        let mut store = store_at(std::path::Path::new("/dev/null/state.db"), &metrics);
        assert!(save(&mut store, &SaveHostStates::default()).is_err());
        let again = save(&mut store, &SaveHostStates::default()).unwrap_err();
        assert!(matches!(again, StoreError::Unavailable { .. }), "{again:?}");
        assert!(again.to_string().contains("unavailable"), "{again}");
        assert!(metrics
            .render()
            .contains("flowstate_state_store_errors_total{operation=\"save_hosts\"} 2"));
    }

    #[test]
    fn saves_prune_what_the_retention_no_longer_keeps_in_rounds() {
        let db = TempDb::new("prune");
        let metrics = Arc::new(Metrics::new());
        let mut store =
            store_at(&db.0, &metrics).keeping(Duration::from_secs(3600), Duration::from_secs(7200));
        let now = SystemTime::now();
        let old = |hours: u64, label: &str| StoredResult {
            label: Arc::from(label),
            seq: hours,
            result: CheckResult {
                at: now - Duration::from_secs(hours * 3600 + 60),
                ..one_host_batch().results[0].result.clone()
            },
        };
        let batch = SaveHostStates {
            results: vec![old(0, "api"), old(1, "api"), old(3, "api"), old(1, "db")],
            ..SaveHostStates::default()
        };
        save(&mut store, &batch).expect("saved");
        store.prune_step(now);
        assert!(!store.pruning, "one step covers two hosts: the round ended");
        let kept = |store: &mut Store, label: &str| {
            store
                .backend
                .results(label, SystemTime::UNIX_EPOCH, now)
                .expect("read")
                .len()
        };
        assert_eq!(kept(&mut store, "api"), 1, "only the result within an hour");
        assert_eq!(kept(&mut store, "db"), 0);
        // The next round waits for its minute.
        save(&mut store, &batch).expect("saved again");
        store.prune_step(now);
        assert_eq!(kept(&mut store, "api"), 3);
    }

    #[test]
    fn rollups_resume_from_what_the_last_run_left_and_are_written_at_shutdown() {
        let db = TempDb::new("rollups");
        let metrics = Arc::new(Metrics::new());
        let mut store = store_at(&db.0, &metrics);
        save(&mut store, &one_host_batch()).expect("saved");
        // Killed before any rollup row: the next start rebuilds them from the raw result.
        drop(store);
        let mut backend = sqlite::SqliteBackend::new(db.0.clone());
        let restored = Store::load(&mut backend, 10, SystemTime::now()).expect("reads");
        assert_eq!(restored.unrolled_results.len(), 1);
        let mut store = store_at(&db.0, &metrics);
        for (label, results) in &restored.unrolled_results {
            for result in results {
                store.rollups.add(label, result);
            }
        }
        store.write_rollups(None);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let minutes = store
            .backend
            .buckets(
                "api",
                Resolution::Minute,
                start,
                start + Duration::from_secs(60),
            )
            .expect("read");
        let hours = store
            .backend
            .buckets(
                "api",
                Resolution::Hour,
                start,
                start + Duration::from_secs(3600),
            )
            .expect("read");
        assert_eq!(
            (minutes.len(), minutes[0].checks, minutes[0].failures),
            (1, 1, 1)
        );
        assert_eq!(hours.len(), 1);
    }
}
