//! What a state store backend does, whatever the database: one trait, implemented by
//! [`super::sqlite`] (the embedded default) and [`super::postgres`].
//!
//! A backend is used from one thread at a time (a `SyncArbiter` thread of its own), so its
//! calls block: SQLite's calls are blocking anyway, and keeping PostgreSQL's behind the same
//! trait means one [`super::Store`] actor, one reader, and one test suite for both. The actor
//! decides when to reconnect, what to log and count, and when its writers must refill a new
//! database; a backend only talks to its database.

use std::sync::Arc;
use std::time::SystemTime;

use crate::announcements::Announcement;
use crate::history::{Bucket, Run, StatusChange};
use crate::model::CheckResult;
use crate::silences::Silence;

use super::{
    AlertLogEntry, Restored, SaveAlertState, SaveHostStates, StoreError, StoredBucket, StoredEvent,
};

/// What connecting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// The database the store used before (or the first one): nothing to do.
    Same,
    /// A different, new database (the file was deleted or replaced while running): the
    /// writers must write their whole state into it.
    Fresh,
}

/// The width of a rollup row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub fn seconds(self) -> u64 {
        match self {
            Resolution::Minute => 60,
            Resolution::Hour => 3600,
        }
    }

    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds())
    }
}

/// Before when each kind of history row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// Raw results and per-minute rollups (`now - raw_retention`).
    pub raw: SystemTime,
    /// Hourly rollups, transitions, runs and the alert log (`now - retention`).
    pub all: SystemTime,
}

/// What one pruning step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deleted: usize,
    /// The round reached its last host: the next step starts a new one.
    pub done: bool,
}

/// Which events `/api/v1/events` asks for, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub host: Option<String>,
    /// Only hosts whose label starts with this (`team-a/`: one tenant's), when set.
    pub prefix: Option<String>,
    pub since: Option<SystemTime>,
    pub limit: usize,
}

/// A database flowstate keeps its state and history in.
pub trait Backend: Send {
    /// Where the data lives, as it may be shown: a path, or a URL without its password.
    fn place(&self) -> &str;

    /// Opens the connection if it is not open, creating or migrating the schema; a schema
    /// newer than this build knows is refused ([`StoreError::NewerSchema`]).
    fn connect(&mut self) -> Result<Connected, StoreError>;

    /// Drops the connection (after an error that may have broken it); the next
    /// [`Backend::connect`] opens a new one.
    fn disconnect(&mut self);

    fn is_connected(&self) -> bool;

    /// Whether the database the open connection uses is no longer the one configured, and
    /// how (SQLite: `"deleted"` or `"replaced"`, when the file at `state.path` changed).
    fn lost(&mut self) -> Option<&'static str> {
        None
    }

    /// Everything a start needs: hosts with their newest `history_limit` results, the
    /// outbox, alert tracks, and what the rollups of the last run had not finished.
    fn read_state(&mut self, history_limit: usize) -> Result<Restored, StoreError>;

    /// Marks the start of a run of flowstate at `started`: time between the last run's last
    /// sign of life and this is time nobody watched (availability counts it as unknown).
    fn begin_run(&mut self, started: SystemTime) -> Result<(), StoreError>;

    /// Writes hosts' counters, appends results and transitions, forgets removed hosts'
    /// current state (their history stays until retention), and records that `run` was
    /// alive at its `last_alive`: in one transaction.
    fn save_hosts(&mut self, batch: &SaveHostStates, run: Run) -> Result<(), StoreError>;

    /// Adds finished rollup rows, merging into a row already there for the same host,
    /// resolution and start (results that arrived after their bucket was written).
    fn save_buckets(&mut self, buckets: &[StoredBucket]) -> Result<(), StoreError>;

    /// The AlertRouter's changes, in one transaction.
    fn save_alert_state(&mut self, batch: &SaveAlertState) -> Result<(), StoreError>;

    /// Adds or replaces (by id) an announcement.
    fn save_announcement(&mut self, announcement: &Announcement) -> Result<(), StoreError>;

    fn delete_announcement(&mut self, id: &str) -> Result<(), StoreError>;

    /// Adds or replaces (by id) a silence.
    fn save_silence(&mut self, silence: &Silence) -> Result<(), StoreError>;

    /// Deletes a silence; one that is not there is no error (it ended and was deleted).
    fn delete_silence(&mut self, id: &str) -> Result<(), StoreError>;

    /// Records what happened to alert events (sent, failed, given up, suppressed).
    fn log_alerts(&mut self, entries: &[AlertLogEntry]) -> Result<(), StoreError>;

    /// Deletes rows older than `cutoffs` of the next `hosts` hosts of a round over all of
    /// them (the backend keeps its place), so pruning goes in small steps between writes and
    /// never stalls them; the tables not kept per host are pruned when a round ends.
    fn prune(&mut self, cutoffs: Cutoffs, hosts: usize) -> Result<Pruned, StoreError>;

    /// Runs of flowstate that overlap `[from, to)`, oldest first.
    fn runs(&mut self, from: SystemTime, to: SystemTime) -> Result<Vec<Run>, StoreError>;

    /// Status changes in `[from, to)` of one host (or of every host), ordered by host and
    /// time, each host's last change at or before `from` first (the status the window opens
    /// with).
    fn changes(
        &mut self,
        label: Option<&str>,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<(Arc<str>, StatusChange)>, StoreError>;

    /// Rollup rows of one host and resolution starting in `[from, to)`, oldest first.
    fn buckets(
        &mut self,
        label: &str,
        resolution: Resolution,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<Bucket>, StoreError>;

    /// Raw results of one host checked in `[from, to)`, oldest first.
    fn results(
        &mut self,
        label: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CheckResult>, StoreError>;

    /// Transitions and alert events, newest first.
    fn events(&mut self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;
}
