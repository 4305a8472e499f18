//! The embedded backend: one SQLite file at `state.path`, in WAL mode.
//!
//! A file deleted (or replaced) while the daemon runs would otherwise swallow every later
//! write silently: SQLite goes on writing to the unlinked inode. So the backend remembers which
//! file it opened (device and inode) and [`Backend::lost`] compares it with what `state.path`
//! names now; the [`super::Store`] actor asks before each write.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OptionalExtension};

use crate::announcements::Announcement;
use crate::history::{Bucket, Run, StatusChange};
use crate::model::CheckResult;
use crate::silences::Silence;

use super::backend::{Backend, Connected, Cutoffs, EventQuery, Pruned, Resolution};
use super::{
    codec, AlertLogEntry, DatabaseError, Restored, SaveAlertState, SaveHostStates, StoreError,
    StoredBucket, StoredDelivery, StoredEvent, StoredHost, StoredTrack, SCHEMA_VERSION,
};

/// How long a write waits for a lock held by another process (a backup tool, `sqlite3`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The tables of this version. Hosts are keyed by label for their current state and by a
/// small integer in the history tables, where a label repeated on every row would be most of
/// the file. Times are Unix milliseconds.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hosts (
    label TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    -- model::HostCounters as JSON: a new counter needs no new column.
    counters TEXT NOT NULL
);
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
CREATE TABLE IF NOT EXISTS series_keys (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS results (
    host INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- 0 failed, 1 passed, 2 passed but degraded.
    ok INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    detail TEXT NOT NULL,
    -- The check span when tracing exported it: 32 hex digits of trace id, 16 of span id
    -- (codec::trace_text). NULL when untraced (schema 6).
    trace_id TEXT,
    PRIMARY KEY (host, at_ms, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transitions (
    host INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    previous TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (host, at_ms, status)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transitions_at ON transitions (at_ms);
CREATE TABLE IF NOT EXISTS rollups (
    host INTEGER NOT NULL,
    resolution_s INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    checks INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    latency BLOB NOT NULL,
    PRIMARY KEY (host, resolution_s, start_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    started_ms INTEGER PRIMARY KEY,
    last_alive_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_log (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    host TEXT NOT NULL,
    notifier TEXT NOT NULL,
    event TEXT NOT NULL,
    event_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_log_at ON alert_log (at_ms);
CREATE INDEX IF NOT EXISTS alert_log_host ON alert_log (host, at_ms);
CREATE TABLE IF NOT EXISTS announcements (
    id TEXT PRIMARY KEY,
    -- announcements::Announcement as JSON: its updates are a list that only grows.
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    -- The labels and globs, as a JSON array.
    hosts TEXT NOT NULL,
    until_ms INTEGER NOT NULL,
    comment TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
";

/// The SQLite file and its connection.
pub struct SqliteBackend {
    path: PathBuf,
    place: String,
    connection: Option<Connection>,
    /// The file the connection holds: what `state.path` must still name. Kept while the
    /// connection is closed after an error, so a file deleted meanwhile is noticed too.
    file: Option<FileIdentity>,
    /// Hosts' keys in the history tables, cached: looked up on every result otherwise.
    keys: HashMap<Arc<str>, i64>,
    /// The last host key a pruning step reached; 0 starts a round.
    prune_after: i64,
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

impl SqliteBackend {
    pub fn new(path: PathBuf) -> Self {
        // The file an earlier `load` read, if any: one deleted before the first write is
        // noticed too.
        let file = FileIdentity::of(&path).ok();
        SqliteBackend {
            place: path.display().to_string(),
            path,
            connection: None,
            file,
            keys: HashMap::new(),
            prune_after: 0,
        }
    }

    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        self.connection
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable {
                place: self.place.clone(),
            })
    }

    fn opening(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Open {
            place: self.place.clone(),
            source: DatabaseError::Sqlite(source),
        }
    }
}

fn write_error(e: rusqlite::Error) -> StoreError {
    StoreError::Write(DatabaseError::Sqlite(e))
}

fn read_error(e: rusqlite::Error) -> StoreError {
    StoreError::Read(DatabaseError::Sqlite(e))
}

impl Backend for SqliteBackend {
    fn place(&self) -> &str {
        &self.place
    }

    fn connect(&mut self) -> Result<Connected, StoreError> {
        if self.connection.is_some() {
            return Ok(Connected::Same);
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDirectory {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let connection = Connection::open(&self.path).map_err(|e| self.opening(e))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.opening(e))?;
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| self.opening(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                place: self.place.clone(),
                found: version,
            });
        }
        prepare(&connection, version).map_err(|e| self.opening(e))?;
        let opened = FileIdentity::of(&self.path).ok();
        let fresh = self.file.is_some_and(|known| Some(known) != opened);
        self.file = opened;
        self.keys.clear();
        self.connection = Some(connection);
        Ok(if fresh {
            Connected::Fresh
        } else {
            Connected::Same
        })
    }

    fn disconnect(&mut self) {
        // Closing checkpoints into the old file and removes its `-wal` and `-shm` by name:
        // done before a new file is opened, whose own they would otherwise be.
        self.connection = None;
    }

    fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    fn lost(&mut self) -> Option<&'static str> {
        let known = self.file?;
        let reason = match FileIdentity::of(&self.path) {
            Ok(now) if now == known => return None,
            Ok(_) => "replaced",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
            // Cannot tell (a permission problem, a vanished mount): the write will say more.
            Err(_) => return None,
        };
        // Reported once: the next connect opens (and remembers) the new file.
        self.file = None;
        self.connection = None;
        Some(reason)
    }

    fn read_state(&mut self, history_limit: usize) -> Result<Restored, StoreError> {
        let place = self.place.clone();
        let connection = self.connection()?;
        read_all(connection, history_limit).map_err(|source| StoreError::Open {
            place,
            source: DatabaseError::Sqlite(source),
        })
    }

    fn begin_run(&mut self, started: SystemTime) -> Result<(), StoreError> {
        let connection = self.connection()?;
        connection
            .execute(
                "INSERT OR REPLACE INTO runs (started_ms, last_alive_ms) VALUES (?1, ?1)",
                params![codec::millis(started)],
            )
            .map(|_| ())
            .map_err(write_error)
    }

    fn save_hosts(&mut self, batch: &SaveHostStates, run: Run) -> Result<(), StoreError> {
        let mut keys = std::mem::take(&mut self.keys);
        let result = self
            .connection()
            .and_then(|c| save_hosts(c, &mut keys, batch, run).map_err(write_error));
        // Keys of a rolled-back transaction may not exist: start over after a failure.
        if result.is_ok() {
            self.keys = keys;
        }
        result
    }

    fn save_buckets(&mut self, buckets: &[StoredBucket]) -> Result<(), StoreError> {
        let mut keys = std::mem::take(&mut self.keys);
        let result = self
            .connection()
            .and_then(|c| save_buckets(c, &mut keys, buckets).map_err(write_error));
        if result.is_ok() {
            self.keys = keys;
        }
        result
    }

    fn save_alert_state(&mut self, batch: &SaveAlertState) -> Result<(), StoreError> {
        let connection = self.connection()?;
        save_alert_state(connection, batch).map_err(write_error)
    }

    fn save_announcement(&mut self, announcement: &Announcement) -> Result<(), StoreError> {
        let connection = self.connection()?;
        connection
            .execute(
                "INSERT OR REPLACE INTO announcements (id, body) VALUES (?1, ?2)",
                params![announcement.id, codec::announcement_json(announcement)],
            )
            .map(|_| ())
            .map_err(write_error)
    }

    fn delete_announcement(&mut self, id: &str) -> Result<(), StoreError> {
        let connection = self.connection()?;
        connection
            .execute("DELETE FROM announcements WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(write_error)
    }

    fn save_silence(&mut self, silence: &Silence) -> Result<(), StoreError> {
        let connection = self.connection()?;
        connection
            .execute(
                "INSERT OR REPLACE INTO silences (id, hosts, until_ms, comment, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    silence.id,
                    codec::silence_hosts_json(&silence.hosts),
                    codec::millis(silence.until),
                    silence.comment,
                    codec::millis(silence.created_at)
                ],
            )
            .map(|_| ())
            .map_err(write_error)
    }

    fn delete_silence(&mut self, id: &str) -> Result<(), StoreError> {
        let connection = self.connection()?;
        connection
            .execute("DELETE FROM silences WHERE id = ?1", params![id])
            .map(|_| ())
            .map_err(write_error)
    }

    fn log_alerts(&mut self, entries: &[AlertLogEntry]) -> Result<(), StoreError> {
        let connection = self.connection()?;
        log_alerts(connection, entries).map_err(write_error)
    }

    fn prune(&mut self, cutoffs: Cutoffs, hosts: usize) -> Result<Pruned, StoreError> {
        let after = self.prune_after;
        let connection = self.connection()?;
        let (pruned, last) = prune(connection, cutoffs, after, hosts).map_err(write_error)?;
        self.prune_after = last;
        Ok(pruned)
    }

    fn runs(&mut self, from: SystemTime, to: SystemTime) -> Result<Vec<Run>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection
            .prepare_cached(
                "SELECT started_ms, last_alive_ms FROM runs
                 WHERE last_alive_ms >= ?1 AND started_ms < ?2 ORDER BY started_ms",
            )
            .map_err(read_error)?;
        let rows = statement
            .query_map(params![codec::millis(from), codec::millis(to)], |row| {
                Ok(Run {
                    started: codec::from_millis(row.get(0)?),
                    last_alive: codec::from_millis(row.get(1)?),
                })
            })
            .map_err(read_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(read_error)
    }

    fn changes(
        &mut self,
        label: Option<&str>,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<(Arc<str>, StatusChange)>, StoreError> {
        let connection = self.connection()?;
        // Per host: its last change at or before `from`, then those inside the window.
        let sql = "SELECT k.label, t.at_ms, t.status, t.reason
             FROM series_keys k JOIN transitions t ON t.host = k.id
             WHERE (?1 IS NULL OR k.label = ?1)
               AND t.at_ms < ?3
               AND t.at_ms >= COALESCE(
                   (SELECT MAX(b.at_ms) FROM transitions b WHERE b.host = k.id AND b.at_ms <= ?2),
                   ?2)
             ORDER BY k.label, t.at_ms";
        let mut statement = connection.prepare_cached(sql).map_err(read_error)?;
        let mut rows = statement
            .query(params![label, codec::millis(from), codec::millis(to)])
            .map_err(read_error)?;
        let mut changes: Vec<(Arc<str>, StatusChange)> = Vec::new();
        while let Some(row) = rows.next().map_err(read_error)? {
            let label: String = row.get(0).map_err(read_error)?;
            let status: String = row.get(2).map_err(read_error)?;
            // One Arc per host, not per row.
            let label = match changes.last() {
                Some((last, _)) if **last == *label => last.clone(),
                _ => Arc::from(label.as_str()),
            };
            changes.push((
                label,
                StatusChange {
                    at: codec::from_millis(row.get(1).map_err(read_error)?),
                    status: codec::parse_status(&status),
                    reason: row.get(3).map_err(read_error)?,
                },
            ));
        }
        Ok(changes)
    }

    fn buckets(
        &mut self,
        label: &str,
        resolution: Resolution,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<Bucket>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection
            .prepare_cached(
                "SELECT r.start_ms, r.checks, r.failures, r.latency
                 FROM series_keys k JOIN rollups r ON r.host = k.id
                 WHERE k.label = ?1 AND r.resolution_s = ?2 AND r.start_ms >= ?3 AND r.start_ms < ?4
                 ORDER BY r.start_ms",
            )
            .map_err(read_error)?;
        let mut rows = statement
            .query(params![
                label,
                resolution.seconds() as i64,
                codec::millis(from),
                codec::millis(to)
            ])
            .map_err(read_error)?;
        let mut buckets = Vec::new();
        while let Some(row) = rows.next().map_err(read_error)? {
            let sketch: Vec<u8> = row.get(3).map_err(read_error)?;
            buckets.push(Bucket {
                start: codec::from_millis(row.get(0).map_err(read_error)?),
                checks: codec::unsigned(row.get(1).map_err(read_error)?),
                failures: codec::unsigned(row.get(2).map_err(read_error)?),
                latency: codec::sketch(label, &sketch),
            });
        }
        Ok(buckets)
    }

    fn results(
        &mut self,
        label: &str,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CheckResult>, StoreError> {
        let connection = self.connection()?;
        let mut statement = connection
            .prepare_cached(
                "SELECT r.at_ms, r.ok, r.latency_us, r.detail, r.trace_id
                 FROM series_keys k JOIN results r ON r.host = k.id
                 WHERE k.label = ?1 AND r.at_ms >= ?2 AND r.at_ms < ?3
                 ORDER BY r.at_ms, r.seq",
            )
            .map_err(read_error)?;
        let rows = statement
            .query_map(
                params![label, codec::millis(from), codec::millis(to)],
                result_row,
            )
            .map_err(read_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(read_error)
    }

    fn events(&mut self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let connection = self.connection()?;
        events(connection, query).map_err(read_error)
    }
}

/// Brings an older file to this version's tables, in transactions so a crash half way leaves
/// a shape that the next start migrates again. Judged by the tables and columns, not only
/// `user_version`: a file written before the version was kept has the old shapes too.
fn prepare(connection: &Connection, version: i64) -> rusqlite::Result<()> {
    // WAL: readers never block the writer, and a SIGKILL loses nothing committed. NORMAL
    // sync is crash-safe for the process; only a power cut may lose the last commits.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    if version == SCHEMA_VERSION {
        // Nothing to write: reopening a store on a full disk must not need a write.
        return Ok(());
    }
    let per_counter_columns: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('hosts') WHERE name = 'consecutive_failures'",
        [],
        |row| row.get(0),
    )?;
    if per_counter_columns {
        log::info!("migrating the state store's host counters to one column (schema 2)");
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
    let history_table: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'history'",
        [],
        |row| row.get(0),
    )?;
    connection.execute_batch("BEGIN IMMEDIATE;")?;
    connection.execute_batch(SCHEMA)?;
    if history_table {
        log::info!(
            "migrating the state store's per-host history into the results table (schema 3)"
        );
        connection.execute_batch(
            "INSERT OR IGNORE INTO series_keys (label) SELECT DISTINCT label FROM history;
             INSERT OR REPLACE INTO results (host, at_ms, seq, ok, latency_us, detail)
                 SELECT k.id, h.at_ms, h.seq, h.ok, h.latency_us, h.detail
                 FROM history h JOIN series_keys k ON k.label = h.label;
             DROP TABLE history;",
        )?;
    }
    // A results table of schema 3 to 5 was kept by `CREATE TABLE IF NOT EXISTS` as it was.
    let trace_column: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('results') WHERE name = 'trace_id'",
        [],
        |row| row.get(0),
    )?;
    if !trace_column {
        log::info!("adding a trace id to the state store's results (schema 6)");
        // Nullable without a default: SQLite only changes the table's definition, so a
        // large history is not rewritten, and its rows read as untraced.
        connection.execute_batch("ALTER TABLE results ADD COLUMN trace_id TEXT;")?;
    }
    connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    connection.execute_batch("COMMIT;")
}

/// A result from `at_ms, ok, latency_us, detail, trace_id`.
fn result_row(row: &rusqlite::Row) -> rusqlite::Result<CheckResult> {
    let ok: i64 = row.get(1)?;
    let trace: Option<String> = row.get(4)?;
    Ok(CheckResult {
        at: codec::from_millis(row.get(0)?),
        ok: ok != 0,
        degraded: ok == 2,
        cert_not_after: None,
        latency: Duration::from_micros(codec::unsigned(row.get(2)?)),
        detail: row.get(3)?,
        perfdata: Vec::new(),
        phases: Vec::new(),
        trace: codec::trace(trace.as_deref()),
        status_code: None,
    })
}

fn read_all(connection: &Connection, history_limit: usize) -> rusqlite::Result<Restored> {
    let mut hosts = Vec::new();
    {
        let mut history = connection.prepare(
            "SELECT r.at_ms, r.ok, r.latency_us, r.detail, r.trace_id
             FROM series_keys k JOIN results r ON r.host = k.id
             WHERE k.label = ?1 ORDER BY r.at_ms DESC, r.seq DESC LIMIT ?2",
        )?;
        let mut statement =
            connection.prepare("SELECT label, kind, status, since_ms, counters FROM hosts")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let label: String = row.get(0)?;
            let status: String = row.get(2)?;
            let mut results = history
                .query_map(params![label, history_limit as i64], result_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            results.reverse();
            hosts.push(StoredHost {
                kind: row.get(1)?,
                status: codec::parse_status(&status),
                since: codec::from_millis(row.get(3)?),
                counters: codec::counters(&label, &row.get::<_, String>(4)?),
                history: results,
                label: Arc::from(label.as_str()),
            });
        }
    }
    let mut outbox = Vec::new();
    let mut statement = connection
        .prepare("SELECT notifier, created_ms, event, id FROM outbox ORDER BY created_ms, id")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let notifier: String = row.get(0)?;
        let json: String = row.get(2)?;
        let id: String = row.get(3)?;
        if let Some(event) = codec::event(&notifier, &id, &json) {
            outbox.push(StoredDelivery {
                notifier: Arc::from(notifier.as_str()),
                event,
                created: codec::from_millis(row.get(1)?),
            });
        }
    }
    let mut tracks = Vec::new();
    let mut statement = connection.prepare("SELECT notifier, host, track FROM alert_tracks")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let notifier: String = row.get(0)?;
        tracks.push((Arc::from(notifier.as_str()), row.get(1)?, row.get(2)?));
    }
    let (unrolled_results, unrolled_minutes) = unrolled(connection)?;
    let mut announcements = Vec::new();
    let mut statement = connection.prepare("SELECT id, body FROM announcements ORDER BY id")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let body: String = row.get(1)?;
        announcements.extend(codec::announcement(&id, &body));
    }
    let mut silences = Vec::new();
    let mut statement = connection
        .prepare("SELECT id, hosts, until_ms, comment, created_ms FROM silences ORDER BY id")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let hosts: String = row.get(1)?;
        silences.extend(codec::silence(
            row.get(0)?,
            &hosts,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ));
    }
    Ok(Restored {
        hosts,
        outbox,
        tracks,
        unrolled_results,
        unrolled_minutes,
        announcements,
        silences,
    })
}

/// What the rollups of the last run had not written (it was killed): each host's raw results
/// after its last minute row, and minute rows after its last hour row.
#[allow(clippy::type_complexity)]
fn unrolled(
    connection: &Connection,
) -> rusqlite::Result<(Vec<(Arc<str>, Vec<CheckResult>)>, Vec<StoredBucket>)> {
    let minute = Resolution::Minute.seconds() as i64;
    let hour = Resolution::Hour.seconds() as i64;
    let mut results = Vec::new();
    let mut minutes = Vec::new();
    let mut keys = connection.prepare("SELECT id, label FROM series_keys")?;
    let keys: Vec<(i64, String)> = keys
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut raw = connection.prepare(
        "SELECT at_ms, ok, latency_us, detail, trace_id FROM results
         WHERE host = ?1 AND at_ms >= COALESCE(
             (SELECT MAX(start_ms) + ?2 * 1000 FROM rollups WHERE host = ?1 AND resolution_s = ?2), 0)
         ORDER BY at_ms, seq",
    )?;
    let mut rows = connection.prepare(
        "SELECT start_ms, checks, failures, latency FROM rollups
         WHERE host = ?1 AND resolution_s = ?2 AND start_ms >= COALESCE(
             (SELECT MAX(start_ms) + ?3 * 1000 FROM rollups WHERE host = ?1 AND resolution_s = ?3), 0)
         ORDER BY start_ms",
    )?;
    for (id, label) in keys {
        let label: Arc<str> = Arc::from(label.as_str());
        let host_results = raw
            .query_map(params![id, minute], result_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !host_results.is_empty() {
            results.push((label.clone(), host_results));
        }
        let mut found = rows.query(params![id, minute, hour])?;
        while let Some(row) = found.next()? {
            let sketch: Vec<u8> = row.get(3)?;
            minutes.push(StoredBucket {
                label: label.clone(),
                resolution: Resolution::Minute,
                bucket: Bucket {
                    start: codec::from_millis(row.get(0)?),
                    checks: codec::unsigned(row.get(1)?),
                    failures: codec::unsigned(row.get(2)?),
                    latency: codec::sketch(&label, &sketch),
                },
            });
        }
    }
    Ok((results, minutes))
}

/// The history key of `label`, created on first use.
fn key(
    connection: &Connection,
    keys: &mut HashMap<Arc<str>, i64>,
    label: &Arc<str>,
) -> rusqlite::Result<i64> {
    if let Some(id) = keys.get(label) {
        return Ok(*id);
    }
    connection
        .prepare_cached("INSERT OR IGNORE INTO series_keys (label) VALUES (?1)")?
        .execute(params![&**label])?;
    let id: i64 = connection
        .prepare_cached("SELECT id FROM series_keys WHERE label = ?1")?
        .query_row(params![&**label], |row| row.get(0))?;
    keys.insert(label.clone(), id);
    Ok(id)
}

fn save_hosts(
    connection: &mut Connection,
    keys: &mut HashMap<Arc<str>, i64>,
    batch: &SaveHostStates,
    run: Run,
) -> rusqlite::Result<()> {
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
                codec::millis(host.since),
                codec::counters_json(&host.counters),
            ])?;
        }
        let mut append = transaction.prepare_cached(
            "INSERT OR REPLACE INTO results (host, at_ms, seq, ok, latency_us, detail, trace_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for entry in &batch.results {
            let id = key(&transaction, keys, &entry.label)?;
            append.execute(params![
                id,
                codec::millis(entry.result.at),
                codec::clamp(entry.seq),
                codec::ok_code(&entry.result),
                codec::clamp(entry.result.latency.as_micros() as u64),
                entry.result.detail,
                codec::trace_text(entry.result.trace.as_ref()),
            ])?;
        }
        let mut transition = transaction.prepare_cached(
            "INSERT OR REPLACE INTO transitions (host, at_ms, status, previous, reason)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for change in &batch.transitions {
            let id = key(&transaction, keys, &change.label)?;
            transition.execute(params![
                id,
                codec::millis(change.at),
                change.status.as_str(),
                change.previous.as_str(),
                change.reason,
            ])?;
        }
        let mut forget_host = transaction.prepare_cached("DELETE FROM hosts WHERE label = ?1")?;
        for label in &batch.removed {
            forget_host.execute(params![&**label])?;
        }
        transaction
            .prepare_cached(
                "INSERT INTO runs (started_ms, last_alive_ms) VALUES (?1, ?2)
                 ON CONFLICT (started_ms) DO UPDATE SET last_alive_ms = MAX(last_alive_ms, ?2)",
            )?
            .execute(params![
                codec::millis(run.started),
                codec::millis(run.last_alive)
            ])?;
    }
    transaction.commit()
}

fn save_buckets(
    connection: &mut Connection,
    keys: &mut HashMap<Arc<str>, i64>,
    buckets: &[StoredBucket],
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut existing = transaction.prepare_cached(
            "SELECT checks, failures, latency FROM rollups
             WHERE host = ?1 AND resolution_s = ?2 AND start_ms = ?3",
        )?;
        let mut upsert = transaction.prepare_cached(
            "INSERT OR REPLACE INTO rollups (host, resolution_s, start_ms, checks, failures, latency)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for stored in buckets {
            let id = key(&transaction, keys, &stored.label)?;
            let resolution = stored.resolution.seconds() as i64;
            let start = codec::millis(stored.bucket.start);
            let mut merged = stored.bucket.clone();
            let before = existing
                .query_row(params![id, resolution, start], |row| {
                    Ok((
                        codec::unsigned(row.get(0)?),
                        codec::unsigned(row.get(1)?),
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .optional()?;
            if let Some((checks, failures, sketch)) = before {
                merged.checks += checks;
                merged.failures += failures;
                merged.latency.merge(&codec::sketch(&stored.label, &sketch));
            }
            upsert.execute(params![
                id,
                resolution,
                start,
                codec::clamp(merged.checks),
                codec::clamp(merged.failures),
                merged.latency.to_bytes(),
            ])?;
        }
    }
    transaction.commit()
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

fn log_alerts(connection: &mut Connection, entries: &[AlertLogEntry]) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO alert_log (at_ms, host, notifier, event, event_id, outcome, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for entry in entries {
            insert.execute(params![
                codec::millis(entry.at),
                entry.host,
                &*entry.notifier,
                entry.event.as_str(),
                entry.event_id,
                entry.outcome.as_str(),
                entry.detail,
            ])?;
        }
    }
    transaction.commit()
}

/// Deletes old rows of up to `hosts` hosts after `after` (a history key), each host's by
/// its primary key range: SQLite holds its write lock for a whole statement, so a week of
/// results deleted at once would stall every save behind it. The tables without hosts go at
/// the end of a round.
fn prune(
    connection: &mut Connection,
    cutoffs: Cutoffs,
    after: i64,
    hosts: usize,
) -> rusqlite::Result<(Pruned, i64)> {
    let raw = codec::millis(cutoffs.raw);
    let all = codec::millis(cutoffs.all);
    let minute = Resolution::Minute.seconds() as i64;
    let transaction = connection.transaction()?;
    let mut deleted = 0;
    let mut last = after;
    let ids: Vec<i64> = transaction
        .prepare_cached("SELECT id FROM series_keys WHERE id > ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![after, hosts.max(1) as i64], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for &id in &ids {
        deleted += transaction
            .prepare_cached("DELETE FROM results WHERE host = ?1 AND at_ms < ?2")?
            .execute(params![id, raw])?;
        deleted += transaction
            .prepare_cached(
                "DELETE FROM rollups WHERE host = ?1 AND resolution_s = ?2 AND start_ms < ?3",
            )?
            .execute(params![id, minute, raw])?;
        deleted += transaction
            .prepare_cached(
                "DELETE FROM rollups WHERE host = ?1 AND resolution_s > ?2 AND start_ms < ?3",
            )?
            .execute(params![id, minute, all])?;
        deleted += transaction
            .prepare_cached("DELETE FROM transitions WHERE host = ?1 AND at_ms < ?2")?
            .execute(params![id, all])?;
        last = id;
    }
    let done = ids.len() < hosts.max(1);
    if done {
        deleted += transaction
            .prepare_cached("DELETE FROM alert_log WHERE at_ms < ?1")?
            .execute(params![all])?;
        deleted += transaction
            .prepare_cached("DELETE FROM runs WHERE last_alive_ms < ?1")?
            .execute(params![all])?;
        last = 0;
    }
    transaction.commit()?;
    Ok((Pruned { deleted, done }, last))
}

fn events(connection: &Connection, query: &EventQuery) -> rusqlite::Result<Vec<StoredEvent>> {
    let since = query.since.map(codec::millis).unwrap_or(i64::MIN);
    let limit = query.limit as i64;
    let mut found = Vec::new();
    let mut statement = connection.prepare_cached(
        "SELECT k.label, t.at_ms, t.status, t.previous, t.reason
         FROM transitions t JOIN series_keys k ON k.id = t.host
         WHERE (?1 IS NULL OR k.label = ?1) AND t.at_ms >= ?2
           AND (?4 IS NULL OR substr(k.label, 1, length(?4)) = ?4)
         ORDER BY t.at_ms DESC LIMIT ?3",
    )?;
    let mut rows = statement.query(params![query.host, since, limit, query.prefix])?;
    while let Some(row) = rows.next()? {
        let status: String = row.get(2)?;
        let previous: String = row.get(3)?;
        found.push(StoredEvent::Transition {
            host: row.get(0)?,
            at: codec::from_millis(row.get(1)?),
            status: codec::parse_status(&status),
            previous: codec::parse_status(&previous),
            reason: row.get(4)?,
        });
    }
    let mut statement = connection.prepare_cached(
        "SELECT at_ms, host, notifier, event, event_id, outcome, detail FROM alert_log
         WHERE (?1 IS NULL OR host = ?1) AND at_ms >= ?2
           AND (?4 IS NULL OR substr(host, 1, length(?4)) = ?4)
         ORDER BY at_ms DESC, id DESC LIMIT ?3",
    )?;
    let mut rows = statement.query(params![query.host, since, limit, query.prefix])?;
    while let Some(row) = rows.next()? {
        let notifier: String = row.get(2)?;
        let event: String = row.get(3)?;
        let outcome: String = row.get(5)?;
        found.push(StoredEvent::Alert(AlertLogEntry {
            at: codec::from_millis(row.get(0)?),
            host: row.get(1)?,
            notifier: Arc::from(notifier.as_str()),
            event: codec::event_kind(&event),
            event_id: row.get(4)?,
            outcome: codec::outcome(&outcome),
            detail: row.get(6)?,
        }));
    }
    Ok(StoredEvent::newest_first(found, query.limit))
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
            codec::millis(delivery.created),
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

/// What the user can do about a SQLite error met opening the file (`; ...`), if anything.
pub fn hint(error: &rusqlite::Error) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::store::temp_db::TempDb;

    fn restored(db: &TempDb) -> Restored {
        let mut backend = SqliteBackend::new(db.0.clone());
        backend.connect().expect("opens");
        backend.read_state(10).expect("reads")
    }

    fn version(db: &TempDb) -> i64 {
        Connection::open(&db.0)
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    /// The history table of schemas 1 and 2: the newest results per host, by check number.
    const OLD_HISTORY: &str = "
        CREATE TABLE history (label TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
            ok INTEGER NOT NULL, latency_us INTEGER NOT NULL, detail TEXT NOT NULL,
            PRIMARY KEY (label, seq)) WITHOUT ROWID;
        INSERT INTO history VALUES ('api', 9, 1800000000009, 0, 1500, 'status 503');
        INSERT INTO history VALUES ('api', 10, 1800000000010, 2, 2500, 'slow');";

    #[test]
    fn a_schema_1_store_is_migrated_keeping_every_counter_and_its_history() {
        let db = TempDb::new("schema1");
        db.write(&format!(
            "CREATE TABLE hosts (label TEXT PRIMARY KEY, kind TEXT NOT NULL,
                status TEXT NOT NULL, since_ms INTEGER NOT NULL,
                consecutive_failures INTEGER NOT NULL, consecutive_successes INTEGER NOT NULL,
                consecutive_slow INTEGER NOT NULL, consecutive_fast INTEGER NOT NULL,
                checks INTEGER NOT NULL, failures INTEGER NOT NULL,
                transitions INTEGER NOT NULL, restarts INTEGER NOT NULL);
             INSERT INTO hosts VALUES ('api', 'http', 'down', 1800000000123, 4, 0, 0, 0, 10, 4, 1, 2);
             {OLD_HISTORY}
             PRAGMA user_version = 1;"
        ));
        let restored = restored(&db);
        let api = &restored.hosts[0];
        assert_eq!(api.status, Status::Down);
        assert_eq!(
            (
                api.counters.checks,
                api.counters.failures,
                api.counters.consecutive_failures,
                api.counters.restarts
            ),
            (10, 4, 4, 2)
        );
        let kept: Vec<(&str, bool, bool)> = api
            .history
            .iter()
            .map(|r| (r.detail.as_str(), r.ok, r.degraded))
            .collect();
        assert_eq!(kept, [("status 503", false, false), ("slow", true, true)]);
        assert_eq!(version(&db), SCHEMA_VERSION);
    }

    #[test]
    fn a_schema_2_store_keeps_its_history_as_results() {
        let db = TempDb::new("schema2");
        db.write(&format!(
            "CREATE TABLE hosts (label TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
                since_ms INTEGER NOT NULL, counters TEXT NOT NULL);
             INSERT INTO hosts VALUES ('api', 'http', 'up', 1800000000000, '{{\"checks\":10}}');
             {OLD_HISTORY}
             PRAGMA user_version = 2;"
        ));
        let restored = restored(&db);
        assert_eq!(restored.hosts[0].counters.checks, 10);
        assert_eq!(restored.hosts[0].history.len(), 2);
        let tables: i64 = Connection::open(&db.0)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'history'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the old table is gone");
        assert_eq!(version(&db), SCHEMA_VERSION);
    }

    #[test]
    fn a_schema_5_store_gains_trace_ids_and_keeps_its_results_untraced() {
        let db = TempDb::new("schema5");
        // The tables a result needs, as schema 5 made them: no trace_id.
        db.write(
            "CREATE TABLE hosts (label TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
                since_ms INTEGER NOT NULL, counters TEXT NOT NULL);
             CREATE TABLE series_keys (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
             CREATE TABLE results (host INTEGER NOT NULL, at_ms INTEGER NOT NULL,
                seq INTEGER NOT NULL, ok INTEGER NOT NULL, latency_us INTEGER NOT NULL,
                detail TEXT NOT NULL, PRIMARY KEY (host, at_ms, seq)) WITHOUT ROWID;
             INSERT INTO hosts VALUES ('api', 'http', 'down', 1800000000000, '{\"checks\":2}');
             INSERT INTO series_keys VALUES (1, 'api');
             INSERT INTO results VALUES (1, 1800000000001, 1, 1, 1500, 'status 200');
             INSERT INTO results VALUES (1, 1800000000002, 2, 0, 2500, 'status 503');
             PRAGMA user_version = 5;",
        );
        let restored = restored(&db);
        let kept: Vec<(&str, bool)> = restored.hosts[0]
            .history
            .iter()
            .map(|r| (r.detail.as_str(), r.trace.is_none()))
            .collect();
        assert_eq!(kept, [("status 200", true), ("status 503", true)]);
        assert_eq!(version(&db), SCHEMA_VERSION);
        let untraced: i64 = Connection::open(&db.0)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM results WHERE trace_id IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(untraced, 2, "the old rows are kept, untraced");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_a_way_out() {
        let db = TempDb::new("garbage");
        std::fs::write(&db.0, vec![0x42u8; 8192]).unwrap();
        let error = SqliteBackend::new(db.0.clone()).connect().unwrap_err();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        let error = error.to_string();
        assert!(error.starts_with(&db.0.display().to_string()), "{error}");
        assert!(error.contains("move it away"), "{error}");
    }

    #[test]
    fn a_current_store_opens_without_writing() {
        // Opening must not need a write: a store on a full disk (or one another process is
        // writing) still opens, so what is unsaved is retried as soon as there is room.
        let db = TempDb::new("reopen");
        SqliteBackend::new(db.0.clone()).connect().expect("create");
        let writer = Connection::open(&db.0).expect("a second connection");
        writer
            .execute_batch("BEGIN IMMEDIATE")
            .expect("hold the write lock");
        let started = std::time::Instant::now();
        let reopened = SqliteBackend::new(db.0.clone()).connect();
        assert!(reopened.is_ok(), "{:?}", reopened.err());
        assert!(started.elapsed() < BUSY_TIMEOUT, "{:?}", started.elapsed());
        writer.execute_batch("ROLLBACK").expect("release the lock");
    }

    #[test]
    fn a_replaced_file_is_lost_once_and_the_new_one_is_fresh() {
        let db = TempDb::new("replaced");
        let mut backend = SqliteBackend::new(db.0.clone());
        assert_eq!(backend.connect().unwrap(), Connected::Same);
        assert_eq!(backend.lost(), None);
        std::fs::remove_file(&db.0).unwrap();
        assert_eq!(backend.lost(), Some("deleted"));
        assert_eq!(backend.lost(), None, "told once");
        assert_eq!(
            backend.connect().unwrap(),
            Connected::Same,
            "nothing known to compare"
        );
    }
}
