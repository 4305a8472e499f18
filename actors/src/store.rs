//! The state store: an embedded SQLite database at `state.path`, so a restart loses nothing.
//!
//! It keeps three things: each host's state and history (so a restart sends no alert for a
//! host whose status did not change), the alert **outbox** (every event is stored before its
//! first delivery attempt and deleted once delivered, so a crash never loses one), and what
//! each notifier was told about each host (cooldowns and reminders carry on after a restart).
//!
//! The store is a mirror, never the source of truth while running: the registry and the router
//! keep everything in memory and send batches here. The [`Store`] actor runs on a `SyncArbiter`
//! thread of its own, so SQLite's blocking calls never touch a thread that runs checks. A
//! locked, full or broken database is logged and counted; what failed to save stays marked
//! unsaved by its writer and is written again once the store works, and monitoring and
//! alerting go on regardless.
//!
//! A file deleted (or replaced) while the daemon runs would otherwise swallow every later write
//! silently: SQLite goes on writing to the unlinked inode. So before each write, and at least
//! once a second, the store compares the file at `state.path` with the one it opened (device
//! and inode); when they differ it logs it, counts it (`operation="recreate"`), opens a new
//! file, and tells its writers ([`StoreRecreated`]) to write their whole state into it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use rusqlite::{params, Connection};

use crate::event::AlertEvent;
use crate::metrics::Metrics;
use crate::model::{CheckResult, Host, HostCounters, HostState, Status};

/// Bumped when the tables change shape; a newer file is refused rather than misread, an older
/// one is migrated when opened (see [`migrate`]).
/// 1: one column per host counter. 2: the counters in one JSON column.
const SCHEMA_VERSION: i64 = 2;

/// How long a write waits for a lock held by another process (a backup tool, `sqlite3`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a store that cannot be opened is tried again (a full disk, a missing mount).
const REOPEN_EVERY: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hosts (
    label TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    -- model::HostCounters as JSON: a new counter needs no new column.
    counters TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    label TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (label, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    notifier TEXT NOT NULL,
    id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (notifier, id)
);
CREATE TABLE IF NOT EXISTS alert_tracks (
    notifier TEXT NOT NULL,
    host TEXT NOT NULL,
    track TEXT NOT NULL,
    PRIMARY KEY (notifier, host)
);
";

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

/// Why the state store could not do what it was asked. Its text names the file and, where
/// there is one, what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory of `state.path` does not exist and cannot be made.
    #[error("{}: cannot create the state directory: {source}; create it or point state.path elsewhere", .dir.display())]
    CreateDirectory {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// Opening or reading the file failed.
    #[error("{}: state store: {source}{}", .path.display(), hint(.source))]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The file's tables are of a later shape than this build knows: refused, not misread.
    #[error("{}: written by a newer flowstate (schema {found}, this one knows {SCHEMA_VERSION}); upgrade flowstate or move the file away", .path.display())]
    NewerSchema { path: PathBuf, found: i64 },
    /// Opening failed a moment ago: not tried again before `REOPEN_EVERY` has passed.
    #[error("{}: the state store is unavailable (retrying every {}s)", .path.display(), REOPEN_EVERY.as_secs())]
    Unavailable { path: PathBuf },
    /// A write into the open file failed (a full disk, a lock held too long).
    #[error(transparent)]
    Write(rusqlite::Error),
}

/// A check result to append to a host's stored history: `seq` is the host's check count
/// when it was recorded, so old rows are pruned by number.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub label: Arc<str>,
    pub seq: u64,
    pub result: CheckResult,
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
}

/// Save these hosts' counters, append these results, and forget hosts that left.
#[derive(Message, Debug, Default)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SaveHostStates {
    pub hosts: Vec<StoredHost>,
    pub results: Vec<StoredResult>,
    pub removed: Vec<Arc<str>>,
    /// Results kept per host: older rows are deleted.
    pub history_limit: usize,
    /// Told the outcome when the batch is written: a message rather than an awaited reply,
    /// because actix polls an actor's pending futures on every message it handles.
    pub reply_to: Option<Recipient<HostStatesSaved>>,
}

/// A batch of host state was written (or not): the hosts of a failed one are saved again.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct HostStatesSaved {
    pub saved: bool,
    pub hosts: Vec<Arc<str>>,
    pub removed: Vec<Arc<str>>,
    /// The results of a batch that failed, to be saved with the next one (empty when saved).
    pub results: Vec<StoredResult>,
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

/// The file at `state.path` was deleted or replaced while running and a new one was opened:
/// everything the receiver keeps must be written into it, not just what changed.
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

/// The SQLite connection, opened on its own thread.
pub struct Store {
    path: PathBuf,
    connection: Option<Connection>,
    last_open_attempt: Option<Instant>,
    metrics: Arc<Metrics>,
    /// The file the store holds: what `state.path` must still be. Kept while the connection
    /// is closed after an error, so a file deleted meanwhile is noticed too.
    file: Option<FileIdentity>,
    /// The file was lost: once a new one is open, the writers must fill it.
    must_refill: bool,
    /// Who writes here, told when the file had to be recreated.
    writers: Vec<Recipient<StoreRecreated>>,
}

/// Which file a path names: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

impl Store {
    /// Opens (or creates) the database and reads everything in it. Runs once at start, before
    /// the actors; an error names the file and what to do.
    pub fn load(path: &Path, history_limit: usize) -> Result<Restored, StoreError> {
        let connection = open(path)?;
        read_all(&connection, history_limit).map_err(|e| opening(path, e))
    }

    /// Starts the store actor on a thread of its own.
    pub fn start(path: PathBuf, metrics: Arc<Metrics>) -> Addr<Store> {
        // The file `load` read, if any: one deleted before the first write is noticed too.
        let file = FileIdentity::of(&path).ok();
        SyncArbiter::start(1, move || Store::new(path.clone(), metrics.clone(), file))
    }

    fn new(path: PathBuf, metrics: Arc<Metrics>, file: Option<FileIdentity>) -> Store {
        Store {
            path,
            connection: None,
            last_open_attempt: None,
            metrics,
            file,
            must_refill: false,
            writers: Vec::new(),
        }
    }

    /// Whether `state.path` still names the file the store holds. If not (deleted, or
    /// replaced by another file), logs and counts it once, and closes the connection so the
    /// next use opens a new file, which the writers are then told to fill.
    fn notice_lost_file(&mut self) {
        let Some(known) = self.file else {
            return;
        };
        let reason = match FileIdentity::of(&self.path) {
            Ok(now) if now == known => return,
            Ok(_) => "replaced",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
            // Cannot tell (a permission problem, a vanished mount): the write will say more.
            Err(_) => return,
        };
        self.metrics.record_store_error("recreate");
        log::warn!(path = self.path.display().to_string().as_str(), reason; "the state store file was {reason} while flowstate runs; creating a new one and writing the whole current state into it");
        // Closing checkpoints into the old file and removes its `-wal` and `-shm` by name:
        // done before the new file is opened, whose own they would otherwise be.
        self.connection = None;
        self.file = None;
        self.must_refill = true;
        self.last_open_attempt = None;
    }

    /// The open connection, opening it if needed (at most every [`REOPEN_EVERY`] after a
    /// failure, so a missing disk is not hammered).
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        self.notice_lost_file();
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => self.reopen()?,
        };
        Ok(self.connection.insert(connection))
    }

    /// Opens the file again after an error or a loss, unless the last attempt was too recent;
    /// when the file is a new one, its writers are told to fill it.
    fn reopen(&mut self) -> Result<Connection, StoreError> {
        if let Some(last) = self.last_open_attempt {
            if last.elapsed() < REOPEN_EVERY {
                return Err(StoreError::Unavailable {
                    path: self.path.clone(),
                });
            }
        }
        self.last_open_attempt = Some(Instant::now());
        let connection = open(&self.path)?;
        let opened = FileIdentity::of(&self.path).ok();
        if self.file.is_some_and(|known| Some(known) != opened) {
            // Gone while the connection was closed after an error: `open` made a new one.
            self.metrics.record_store_error("recreate");
            log::warn!(path = self.path.display().to_string().as_str(), reason = "replaced"; "the state store file changed while the store was closed; writing the whole current state into the new one");
            self.must_refill = true;
        }
        self.file = opened;
        if std::mem::take(&mut self.must_refill) {
            for writer in &self.writers {
                writer.do_send(StoreRecreated);
            }
        }
        Ok(connection)
    }

    /// Runs one write of what `operations` name; on failure logs it, counts it under each of
    /// them, and drops a connection that may be broken so the next write reopens it.
    fn write(
        &mut self,
        operations: &[&'static str],
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        let result = self
            .connection()
            .and_then(|c| work(c).map_err(StoreError::Write));
        if let Err(e) = &result {
            for operation in operations {
                self.metrics.record_store_error(operation);
            }
            let operation = operations.join(",");
            log::error!(path = self.path.display().to_string().as_str(), operation = operation.as_str(), error = e.to_string().as_str(); "state store write failed; keeping the data in memory and retrying");
            // A store waiting to retry has no connection to drop.
            if !matches!(e, StoreError::Unavailable { .. }) {
                self.connection = None;
            }
        }
        result
    }
}

impl Actor for Store {
    type Context = SyncContext<Self>;
}

impl Handler<SaveHostStates> for Store {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, mut batch: SaveHostStates, _: &mut SyncContext<Self>) -> Self::Result {
        let result =
            if batch.hosts.is_empty() && batch.results.is_empty() && batch.removed.is_empty() {
                // Nothing to write: the once-a-second look at the file, while it is open (a
                // store that is failing is retried by the writes that need it, not by this).
                if self.connection.is_some() {
                    self.write(&["save_hosts"], |_| Ok(()))
                } else {
                    Ok(())
                }
            } else {
                self.write(&["save_hosts"], |c| save_hosts(c, &batch))
            };
        if let Some(reply_to) = batch.reply_to.take() {
            let saved = result.is_ok();
            reply_to.do_send(HostStatesSaved {
                saved,
                hosts: batch.hosts.into_iter().map(|h| h.label).collect(),
                removed: batch.removed,
                results: if saved { Vec::new() } else { batch.results },
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
        self.write(&operations, |c| save_alert_state(c, &msg))
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

fn save_track(connection: &Connection, msg: &StoredTrack) -> rusqlite::Result<()> {
    match &msg.track {
        Some(track) => connection
            .prepare_cached(
                "INSERT OR REPLACE INTO alert_tracks (notifier, host, track) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![&*msg.notifier, msg.host, track])
            .map(|_| ()),
        None => connection
            .prepare_cached("DELETE FROM alert_tracks WHERE notifier = ?1 AND host = ?2")?
            .execute(params![&*msg.notifier, msg.host])
            .map(|_| ()),
    }
}

fn save_alert_state(connection: &mut Connection, state: &SaveAlertState) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    for delivery in &state.deliveries {
        insert_delivery(&transaction, delivery)?;
    }
    for (notifier, id) in &state.forgotten {
        delete_delivery(&transaction, notifier, id)?;
    }
    for track in &state.tracks {
        save_track(&transaction, track)?;
    }
    transaction.commit()
}

/// Opens the database in WAL mode and creates or checks the tables.
fn open(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDirectory {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let connection = Connection::open(path).map_err(|e| opening(path, e))?;
    prepare(&connection).map_err(|e| opening(path, e))?;
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| opening(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    Ok(connection)
}

fn prepare(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer, and a SIGKILL loses nothing committed. NORMAL
    // sync is crash-safe for the process; only a power cut may lose the last commits.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version <= SCHEMA_VERSION {
        migrate(connection)?;
        connection.execute_batch(SCHEMA)?;
        // Only when it changes: reopening a store on a full disk must not need a write.
        if version != SCHEMA_VERSION {
            connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
    }
    Ok(())
}

/// Brings the tables of an older flowstate to this shape, in one transaction so a crash half
/// way leaves the old shape intact. Judged by the columns, not `user_version`: a file written
/// before the version was kept has the old columns too.
fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    let per_counter_columns: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('hosts') WHERE name = 'consecutive_failures'",
        [],
        |row| row.get(0),
    )?;
    if per_counter_columns {
        log::info!("migrating the state store's host counters to schema {SCHEMA_VERSION}");
        connection.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE hosts RENAME TO hosts_v1;
             CREATE TABLE hosts (
                 label TEXT PRIMARY KEY,
                 kind TEXT NOT NULL,
                 status TEXT NOT NULL,
                 since_ms INTEGER NOT NULL,
                 counters TEXT NOT NULL
             );
             INSERT INTO hosts (label, kind, status, since_ms, counters)
                 SELECT label, kind, status, since_ms, json_object(
                     'consecutive_failures', consecutive_failures,
                     'consecutive_successes', consecutive_successes,
                     'consecutive_slow', consecutive_slow,
                     'consecutive_fast', consecutive_fast,
                     'checks', checks,
                     'failures', failures,
                     'transitions', transitions,
                     'restarts', restarts)
                 FROM hosts_v1;
             DROP TABLE hosts_v1;
             COMMIT;",
        )?;
    }
    Ok(())
}

/// A SQLite error met opening or reading the file at `path`.
fn opening(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        source,
    }
}

/// What the user can do about a SQLite error met opening the file (`; ...`), if anything.
fn hint(error: &rusqlite::Error) -> &'static str {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            "; the file is not a flowstate state store: move it away and flowstate starts a new one"
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            "; the database is corrupt: move it away (keep it for inspection) and flowstate starts a new one"
        }
        Some(rusqlite::ErrorCode::DiskFull) => "; the disk is full: free space",
        Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::CannotOpen) => {
            "; check that the directory exists and is writable by flowstate"
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            "; another process holds a lock on it (is a second flowstate using the same state.path?)"
        }
        _ => "",
    }
}

fn read_all(connection: &Connection, history_limit: usize) -> rusqlite::Result<Restored> {
    let mut history: HashMap<String, Vec<CheckResult>> = HashMap::new();
    {
        // Newest first per host, then reversed: only the last `history_limit` are read.
        let mut statement = connection.prepare(
            "SELECT label, at_ms, ok, latency_us, detail FROM history ORDER BY label, seq DESC",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let label: String = row.get(0)?;
            let entries = history.entry(label).or_default();
            if entries.len() >= history_limit {
                continue;
            }
            entries.push(CheckResult {
                at: from_millis(row.get(1)?),
                // 0 failed, 1 passed, 2 passed but degraded.
                ok: row.get::<_, i64>(2)? != 0,
                degraded: row.get::<_, i64>(2)? == 2,
                cert_not_after: None,
                latency: Duration::from_micros(row.get::<_, i64>(3)?.max(0) as u64),
                detail: row.get(4)?,
            });
        }
    }
    let mut hosts = Vec::new();
    let mut statement =
        connection.prepare("SELECT label, kind, status, since_ms, counters FROM hosts")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let label: String = row.get(0)?;
        let status: String = row.get(2)?;
        let mut results = history.remove(&label).unwrap_or_default();
        results.reverse();
        hosts.push(StoredHost {
            label: Arc::from(label.as_str()),
            kind: row.get(1)?,
            status: parse_status(&status),
            since: from_millis(row.get(3)?),
            counters: counters(&label, &row.get::<_, String>(4)?),
            history: results,
        });
    }
    let mut outbox = Vec::new();
    let mut statement = connection
        .prepare("SELECT notifier, created_ms, event, id FROM outbox ORDER BY created_ms, id")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let notifier: String = row.get(0)?;
        let json: String = row.get(2)?;
        match serde_json::from_str::<AlertEvent>(&json) {
            Ok(event) => outbox.push(StoredDelivery {
                notifier: Arc::from(notifier.as_str()),
                event,
                created: from_millis(row.get(1)?),
            }),
            Err(e) => {
                let id: String = row.get(3)?;
                log::error!(notifier = notifier.as_str(), id = id.as_str(), error = e.to_string().as_str(); "an event in the outbox cannot be read; skipping it");
            }
        }
    }
    let mut tracks = Vec::new();
    let mut statement = connection.prepare("SELECT notifier, host, track FROM alert_tracks")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let notifier: String = row.get(0)?;
        tracks.push((Arc::from(notifier.as_str()), row.get(1)?, row.get(2)?));
    }
    Ok(Restored {
        hosts,
        outbox,
        tracks,
    })
}

fn save_hosts(connection: &mut Connection, batch: &SaveHostStates) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT OR REPLACE INTO hosts (label, kind, status, since_ms, counters)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for host in &batch.hosts {
            upsert.execute(params![
                &*host.label,
                host.kind,
                host.status.as_str(),
                millis(host.since),
                counters_json(&host.counters),
            ])?;
        }
        let mut append = transaction.prepare_cached(
            "INSERT OR REPLACE INTO history (label, seq, at_ms, ok, latency_us, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for entry in &batch.results {
            append.execute(params![
                &*entry.label,
                clamp(entry.seq),
                millis(entry.result.at),
                i64::from(entry.result.ok) + i64::from(entry.result.ok && entry.result.degraded),
                clamp(entry.result.latency.as_micros() as u64),
                entry.result.detail,
            ])?;
            let seq = newest.entry(&entry.label).or_default();
            *seq = (*seq).max(entry.seq);
        }
        let mut prune =
            transaction.prepare_cached("DELETE FROM history WHERE label = ?1 AND seq <= ?2")?;
        for (label, seq) in newest {
            let oldest_kept = seq.saturating_sub(batch.history_limit as u64);
            if oldest_kept > 0 {
                prune.execute(params![label, clamp(oldest_kept)])?;
            }
        }
        let mut forget_host = transaction.prepare_cached("DELETE FROM hosts WHERE label = ?1")?;
        let mut forget_history =
            transaction.prepare_cached("DELETE FROM history WHERE label = ?1")?;
        for label in &batch.removed {
            forget_host.execute(params![&**label])?;
            forget_history.execute(params![&**label])?;
        }
    }
    transaction.commit()
}

fn insert_delivery(connection: &Connection, delivery: &StoredDelivery) -> rusqlite::Result<()> {
    let event = serde_json::to_string(&delivery.event)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO outbox (notifier, id, created_ms, event) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            &*delivery.notifier,
            delivery.event.id,
            millis(delivery.created),
            event
        ])
        .map(|_| ())
}

fn delete_delivery(connection: &Connection, notifier: &str, id: &str) -> rusqlite::Result<()> {
    connection
        .prepare_cached("DELETE FROM outbox WHERE notifier = ?1 AND id = ?2")?
        .execute(params![notifier, id])
        .map(|_| ())
}

fn parse_status(text: &str) -> Status {
    match text {
        "up" => Status::Up,
        "down" => Status::Down,
        "degraded" => Status::Degraded,
        _ => Status::Unknown,
    }
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A host's stored counters; a row that cannot be read (edited by hand) starts from zero
/// rather than losing the host's status.
fn counters(label: &str, json: &str) -> HostCounters {
    serde_json::from_str(json).unwrap_or_else(|e| {
        log::warn!(host = label, error = e.to_string().as_str(); "the stored counters of a host cannot be read; counting from zero");
        HostCounters::default()
    })
}

fn counters_json(counters: &HostCounters) -> String {
    // Plain integers: serializing cannot fail.
    serde_json::to_string(counters).unwrap_or_default()
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    /// A fresh database path under the temp directory, removed with its WAL files on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "flowstate-store-{name}-{}-{}",
                std::process::id(),
                ulid::Ulid::new()
            ));
            TempDb(dir.join("state.db"))
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn host(label: &str, status: Status, checks: u64) -> StoredHost {
        StoredHost {
            label: Arc::from(label),
            kind: "http".into(),
            status,
            since: from_millis(1_800_000_000_123),
            counters: HostCounters {
                consecutive_failures: 4,
                checks,
                failures: 4,
                transitions: 1,
                restarts: 2,
                ..HostCounters::default()
            },
            history: Vec::new(),
        }
    }

    fn result(seq: u64) -> CheckResult {
        CheckResult {
            at: from_millis(1_800_000_000_000 + seq as i64),
            ok: seq.is_multiple_of(2),
            degraded: seq == 10,
            cert_not_after: None,
            latency: Duration::from_micros(1500 + seq),
            detail: format!("check {seq}"),
        }
    }

    fn event(id: &str) -> AlertEvent {
        AlertEvent {
            id: id.into(),
            event: EventKind::Down,
            host: "api".into(),
            status: Status::Down,
            previous: Status::Up,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:03:37.123Z".into(),
            reason: "connection refused".into(),
            consecutive_failures: 3,
            latency_ms: 1.5,
        }
    }

    #[test]
    fn hosts_and_the_newest_history_come_back_after_a_reopen() {
        let db = TempDb::new("hosts");
        let mut connection = open(&db.0).unwrap();
        let results = (1..=10)
            .map(|seq| StoredResult {
                label: Arc::from("api"),
                seq,
                result: result(seq),
            })
            .collect();
        let batch = SaveHostStates {
            hosts: vec![host("api", Status::Down, 10), host("old", Status::Up, 1)],
            results,
            removed: vec![],
            history_limit: 4,
            reply_to: None,
        };
        save_hosts(&mut connection, &batch).unwrap();
        save_hosts(
            &mut connection,
            &SaveHostStates {
                removed: vec![Arc::from("old")],
                history_limit: 4,
                ..SaveHostStates::default()
            },
        )
        .unwrap();
        drop(connection);

        let restored = Store::load(&db.0, 3).unwrap();
        assert_eq!(restored.hosts.len(), 1, "the removed host is forgotten");
        let api = &restored.hosts[0];
        assert_eq!(api.status, Status::Down);
        assert_eq!(api.since, from_millis(1_800_000_000_123));
        assert_eq!(
            (
                api.counters.checks,
                api.counters.consecutive_failures,
                api.counters.restarts
            ),
            (10, 4, 2)
        );
        let details: Vec<&str> = api.history.iter().map(|r| r.detail.as_str()).collect();
        assert_eq!(
            details,
            ["check 8", "check 9", "check 10"],
            "newest last, limited"
        );
        assert_eq!(api.history[2], result(10));
        let rows: i64 = open(&db.0)
            .unwrap()
            .query_row("SELECT count(*) FROM history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 4, "rows beyond history_limit are pruned");
    }

    #[test]
    fn a_schema_1_store_is_migrated_keeping_every_counter() {
        let db = TempDb::new("schema1");
        {
            std::fs::create_dir_all(db.0.parent().unwrap()).unwrap();
            let connection = Connection::open(&db.0).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE hosts (label TEXT PRIMARY KEY, kind TEXT NOT NULL,
                        status TEXT NOT NULL, since_ms INTEGER NOT NULL,
                        consecutive_failures INTEGER NOT NULL,
                        consecutive_successes INTEGER NOT NULL,
                        consecutive_slow INTEGER NOT NULL, consecutive_fast INTEGER NOT NULL,
                        checks INTEGER NOT NULL, failures INTEGER NOT NULL,
                        transitions INTEGER NOT NULL, restarts INTEGER NOT NULL);
                     INSERT INTO hosts VALUES ('api', 'http', 'down', 1800000000123,
                        4, 0, 0, 0, 10, 4, 1, 2);
                     PRAGMA user_version = 1;",
                )
                .unwrap();
        }
        let restored = Store::load(&db.0, 3).unwrap();
        assert_eq!(restored.hosts, [host("api", Status::Down, 10)]);
        let version: i64 = open(&db.0)
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_host_saved_from_the_model_comes_back_as_the_same_state() {
        let db = TempDb::new("model");
        let yaml = "hosts:\n  - { label: api, url: 'http://127.0.0.1:1/', failure_threshold: 2 }\n";
        let config = flowstate_config::load_str("t.yaml", yaml, &|_| None)
            .expect("the test configuration is valid");
        let config = config.hosts()[0].clone();
        let mut host = Host::new(config.clone(), from_millis(1_800_000_000_000));
        for seq in 1..=6 {
            host.record(&result(seq), &config, 4);
        }
        host.record_restart();
        let results = host
            .numbered_history()
            .map(|(seq, result)| StoredResult {
                label: host.label().clone(),
                seq,
                result: result.clone(),
            })
            .collect();
        let batch = SaveHostStates {
            hosts: vec![StoredHost::from(&host)],
            results,
            history_limit: 4,
            ..SaveHostStates::default()
        };
        save_hosts(&mut open(&db.0).unwrap(), &batch).unwrap();

        let restored = Store::load(&db.0, 4).unwrap();
        assert_eq!(restored.hosts.len(), 1);
        assert_eq!(restored.hosts[0].kind, "http");
        assert_eq!(&HostState::from(&restored.hosts[0]), host.state());
    }

    #[test]
    fn the_outbox_keeps_events_until_forgotten_in_order() {
        let db = TempDb::new("outbox");
        let connection = open(&db.0).unwrap();
        let notifier: Arc<str> = Arc::from("hook");
        for (id, ms) in [("B", 2), ("A", 1), ("C", 3)] {
            let delivery = StoredDelivery {
                notifier: notifier.clone(),
                event: event(id),
                created: from_millis(1_800_000_000_000 + ms),
            };
            insert_delivery(&connection, &delivery).unwrap();
        }
        delete_delivery(&connection, "hook", "B").unwrap();
        delete_delivery(&connection, "other", "A").unwrap();
        drop(connection);
        let restored = Store::load(&db.0, 10).unwrap();
        let ids: Vec<&str> = restored
            .outbox
            .iter()
            .map(|d| d.event.id.as_str())
            .collect();
        assert_eq!(ids, ["A", "C"], "oldest first, delivered ones gone");
        assert_eq!(restored.outbox[0].event, event("A"));
        assert_eq!(restored.outbox[0].created, from_millis(1_800_000_000_001));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_a_way_out() {
        let db = TempDb::new("garbage");
        std::fs::create_dir_all(db.0.parent().unwrap()).unwrap();
        std::fs::write(&db.0, vec![0x42u8; 8192]).unwrap();
        let error = Store::load(&db.0, 10).unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        let error = error.to_string();
        assert!(error.starts_with(&db.0.display().to_string()), "{error}");
        assert!(error.contains("move it away"), "{error}");
    }

    #[test]
    fn a_database_from_a_newer_flowstate_is_refused() {
        let db = TempDb::new("newer");
        drop(open(&db.0).unwrap());
        Connection::open(&db.0)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = Store::load(&db.0, 10).unwrap_err();
        assert!(
            matches!(error, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{error:?}"
        );
        assert!(error.to_string().contains("newer flowstate"), "{error}");
    }

    /// Counts the `StoreRecreated` it is told.
    struct Writer(Arc<std::sync::atomic::AtomicUsize>);

    impl Actor for Writer {
        type Context = Context<Self>;
    }

    impl Handler<StoreRecreated> for Writer {
        type Result = ();

        fn handle(&mut self, _: StoreRecreated, _: &mut Context<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn one_host_batch() -> SaveHostStates {
        SaveHostStates {
            hosts: vec![host("api", Status::Down, 3)],
            results: vec![StoredResult {
                label: Arc::from("api"),
                seq: 3,
                result: result(3),
            }],
            history_limit: 10,
            ..SaveHostStates::default()
        }
    }

    #[actix_rt::test]
    async fn a_file_deleted_while_open_is_noticed_recreated_and_its_writers_told() {
        let db = TempDb::new("deleted");
        let metrics = Arc::new(Metrics::new());
        let mut store = Store::new(db.0.clone(), metrics.clone(), None);
        let told = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        store.writers.push(Writer(told.clone()).start().recipient());
        store
            .write(&["save_hosts"], |c| save_hosts(c, &one_host_batch()))
            .expect("the first write");
        std::fs::remove_file(&db.0).expect("delete the file");

        // The next write goes into a new file, not the deleted one.
        store
            .write(&["save_hosts"], |c| {
                save_hosts(c, &SaveHostStates::default())
            })
            .expect("a write after the deletion");
        assert!(db.0.exists(), "the file was not created again");
        assert!(metrics
            .render()
            .contains("flowstate_state_store_errors_total{operation=\"recreate\"} 1"));
        // Told once, after the new file is open: they write their whole state into it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while told.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the writers were not told");
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        store
            .write(&["save_hosts"], |c| save_hosts(c, &one_host_batch()))
            .expect("the refill");
        drop(store);
        let restored = Store::load(&db.0, 10).expect("the new file reads");
        assert_eq!(restored.hosts.len(), 1);
        assert_eq!(restored.hosts[0].history.len(), 1);
        assert_eq!(told.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_current_store_opens_without_writing() {
        // Opening must not need a write: a store on a full disk (or one another process is
        // writing) still opens, so what is unsaved is retried as soon as there is room.
        let db = TempDb::new("reopen");
        drop(open(&db.0).expect("create"));
        let writer = Connection::open(&db.0).expect("a second connection");
        writer
            .execute_batch("BEGIN IMMEDIATE")
            .expect("hold the write lock");
        let started = Instant::now();
        let reopened = open(&db.0);
        assert!(reopened.is_ok(), "{:?}", reopened.err());
        assert!(started.elapsed() < BUSY_TIMEOUT, "{:?}", started.elapsed());
        writer.execute_batch("ROLLBACK").expect("release the lock");
    }

    #[test]
    fn a_store_that_cannot_open_counts_the_failure_and_waits_before_retrying() {
        let metrics = Arc::new(Metrics::new());
        // A path under a regular file can never be created.
        let mut store = Store::new(PathBuf::from("/dev/null/state.db"), metrics.clone(), None);
        assert!(store.write(&["save_hosts"], |_| Ok(())).is_err());
        let again = store.write(&["save_hosts"], |_| Ok(())).unwrap_err();
        assert!(matches!(again, StoreError::Unavailable { .. }), "{again:?}");
        assert!(again.to_string().contains("unavailable"), "{again}");
        assert!(metrics
            .render()
            .contains("flowstate_state_store_errors_total{operation=\"save_hosts\"} 2"));
    }
}
