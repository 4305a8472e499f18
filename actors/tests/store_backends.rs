//! One suite for both state store backends: every scenario runs against SQLite (a file in a
//! temporary directory) and against a real PostgreSQL server (a throwaway cluster), so the
//! two behave the same by construction, not by promise.

#[path = "common/postgres.rs"]
mod postgres_server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flowstate_actors::announcements::{Announcement, AnnouncementState, AnnouncementUpdate};
use flowstate_actors::event::{AlertEvent, EventKind};
use flowstate_actors::history::{Bucket, LatencySketch, Run};
use flowstate_actors::model::{CheckResult, HostCounters, Status};
use flowstate_actors::probe::TraceParent;
use flowstate_actors::silences::Silence;
use flowstate_actors::store::postgres::PostgresBackend;
use flowstate_actors::store::sqlite::SqliteBackend;
use flowstate_actors::store::{
    AlertLogEntry, AlertOutcome, Backend, Cutoffs, EventQuery, Resolution, SaveAlertState,
    SaveHostStates, Store, StoreError, StoredBucket, StoredDelivery, StoredEvent, StoredHost,
    StoredResult, StoredTrack, StoredTransition, SCHEMA_VERSION,
};
use flowstate_config::DatabaseUrl;
use postgres_server::Postgres;

/// A whole hour after the epoch, so minute and hour rows start where the tests expect.
fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn result(secs: u64, ok: bool, ms: u64) -> CheckResult {
    CheckResult {
        at: at(secs),
        ok,
        degraded: false,
        cert_not_after: None,
        latency: Duration::from_millis(ms),
        detail: format!("check at {secs}"),
        perfdata: Vec::new(),
        phases: Vec::new(),
        trace: None,
        status_code: None,
    }
}

fn host(label: &str, status: Status, checks: u64) -> StoredHost {
    StoredHost {
        label: Arc::from(label),
        kind: "http".into(),
        status,
        since: at(5),
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

fn results(label: &str, seconds: impl IntoIterator<Item = u64>) -> Vec<StoredResult> {
    seconds
        .into_iter()
        .map(|s| StoredResult {
            label: Arc::from(label),
            seq: s,
            result: result(s, s % 2 == 0, 10 + s),
        })
        .collect()
}

fn transition(label: &str, secs: u64, status: Status, previous: Status) -> StoredTransition {
    StoredTransition {
        label: Arc::from(label),
        at: at(secs),
        status,
        previous,
        reason: format!("{} at {secs}", status.as_str()),
    }
}

fn run(started: u64, alive: u64) -> Run {
    Run {
        started: at(started),
        last_alive: at(alive),
    }
}

fn event(id: &str) -> AlertEvent {
    AlertEvent {
        id: id.into(),
        event: EventKind::Down,
        host: "api".into(),
        group: None,
        status: Status::Down,
        previous: Status::Up,
        at: "2027-01-15T08:00:01.500Z".into(),
        since: "2027-01-15T08:00:01.500Z".into(),
        reason: "connection refused".into(),
        consecutive_failures: 3,
        latency_ms: 1.5,
        trace: None,
    }
}

fn bucket(label: &str, resolution: Resolution, start: u64, checks: u64, ms: u64) -> StoredBucket {
    let mut latency = LatencySketch::default();
    for _ in 0..checks {
        latency.add(Duration::from_millis(ms));
    }
    StoredBucket {
        label: Arc::from(label),
        resolution,
        bucket: Bucket {
            start: at(start),
            checks,
            failures: 0,
            latency,
        },
    }
}

fn save(backend: &mut dyn Backend, batch: SaveHostStates, alive: u64) {
    backend
        .save_hosts(&batch, run(0, alive))
        .expect("the batch is saved");
}

/// What a scenario gets: a fresh, connected backend, and a way to make a second backend on
/// the same database (a restart).
struct Fixture {
    backend: Box<dyn Backend>,
    reopen: Box<dyn Fn() -> Box<dyn Backend>>,
}

impl Fixture {
    fn restart(&mut self) -> &mut dyn Backend {
        self.backend = (self.reopen)();
        self.backend.connect().expect("reconnects");
        self.backend.as_mut()
    }
}

fn hosts_counters_and_newest_history_come_back_after_a_restart(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    backend.begin_run(at(0)).unwrap();
    save(
        backend,
        SaveHostStates {
            hosts: vec![host("api", Status::Down, 10), host("old", Status::Up, 1)],
            results: results("api", 1..=10),
            ..SaveHostStates::default()
        },
        10,
    );
    save(
        backend,
        SaveHostStates {
            removed: vec![Arc::from("old")],
            ..SaveHostStates::default()
        },
        11,
    );
    let restored = f.restart().read_state(3).unwrap();
    assert_eq!(
        restored.hosts.len(),
        1,
        "the removed host's state is forgotten"
    );
    let api = &restored.hosts[0];
    assert_eq!((api.status, api.since), (Status::Down, at(5)));
    assert_eq!(api.counters, host("api", Status::Down, 10).counters);
    let details: Vec<&str> = api.history.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(
        details,
        ["check at 8", "check at 9", "check at 10"],
        "the newest, oldest first"
    );
    assert_eq!(api.history[2], result(10, true, 20));
}

fn the_outbox_keeps_events_until_forgotten_in_order(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    let notifier: Arc<str> = Arc::from("hook");
    let deliveries = [("B", 2), ("A", 1), ("C", 3)]
        .into_iter()
        .map(|(id, s)| StoredDelivery {
            notifier: notifier.clone(),
            event: event(id),
            created: at(s),
        })
        .collect();
    backend
        .save_alert_state(&SaveAlertState {
            deliveries,
            tracks: vec![StoredTrack {
                notifier: notifier.clone(),
                host: "api".into(),
                track: Some("{\"told\":\"down\"}".into()),
            }],
            ..SaveAlertState::default()
        })
        .unwrap();
    backend
        .save_alert_state(&SaveAlertState {
            forgotten: vec![
                (notifier.clone(), "B".into()),
                (Arc::from("other"), "A".into()),
            ],
            ..SaveAlertState::default()
        })
        .unwrap();
    let restored = f.restart().read_state(10).unwrap();
    let ids: Vec<&str> = restored
        .outbox
        .iter()
        .map(|d| d.event.id.as_str())
        .collect();
    assert_eq!(ids, ["A", "C"], "oldest first, delivered ones gone");
    assert_eq!(restored.outbox[0].event, event("A"));
    assert_eq!(restored.outbox[0].created, at(1));
    assert_eq!(
        restored.tracks,
        [(
            notifier,
            "api".to_string(),
            "{\"told\":\"down\"}".to_string()
        )]
    );
}

fn changes_open_with_the_status_before_the_window(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    save(
        backend,
        SaveHostStates {
            transitions: vec![
                transition("api", 10, Status::Up, Status::Unknown),
                transition("api", 100, Status::Down, Status::Up),
                transition("api", 160, Status::Up, Status::Down),
                transition("db", 20, Status::Up, Status::Unknown),
            ],
            ..SaveHostStates::default()
        },
        200,
    );
    let api: Vec<(SystemTime, Status)> = backend
        .changes(Some("api"), at(50), at(170))
        .unwrap()
        .into_iter()
        .map(|(label, c)| {
            assert_eq!(&*label, "api");
            (c.at, c.status)
        })
        .collect();
    assert_eq!(
        api,
        [
            (at(10), Status::Up),
            (at(100), Status::Down),
            (at(160), Status::Up)
        ],
        "the change in effect at the window's start comes first"
    );
    let all = backend.changes(None, at(150), at(300)).unwrap();
    let labels: Vec<(&str, Status)> = all.iter().map(|(l, c)| (&**l, c.status)).collect();
    assert_eq!(
        labels,
        [
            ("api", Status::Down),
            ("api", Status::Up),
            ("db", Status::Up)
        ],
        "ordered by host, then time"
    );
    assert_eq!(all[1].1.reason, "up at 160");
}

fn runs_record_each_start_and_its_last_sign_of_life(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    backend.begin_run(at(0)).unwrap();
    backend
        .save_hosts(&SaveHostStates::default(), run(0, 50))
        .unwrap();
    backend.begin_run(at(100)).unwrap();
    backend
        .save_hosts(&SaveHostStates::default(), run(100, 130))
        .unwrap();
    // A late heartbeat never moves the last sign of life back.
    backend
        .save_hosts(&SaveHostStates::default(), run(100, 120))
        .unwrap();
    assert_eq!(
        backend.runs(at(0), at(200)).unwrap(),
        [run(0, 50), run(100, 130)]
    );
    assert_eq!(backend.runs(at(60), at(200)).unwrap(), [run(100, 130)]);
}

fn rollup_rows_written_twice_are_merged(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    backend
        .save_buckets(&[
            bucket("api", Resolution::Minute, 0, 30, 10),
            bucket("api", Resolution::Minute, 60, 60, 10),
        ])
        .unwrap();
    backend
        .save_buckets(&[bucket("api", Resolution::Minute, 0, 30, 30)])
        .unwrap();
    let rows = backend
        .buckets("api", Resolution::Minute, at(0), at(120))
        .unwrap();
    let checks: Vec<u64> = rows.iter().map(|b| b.checks).collect();
    assert_eq!(checks, [60, 60]);
    assert_eq!(rows[0].latency.count(), 60, "the sketches are merged too");
    let p95 = rows[0].latency.quantile(0.95).expect("latencies");
    assert!(
        (29_000..=31_000).contains(&(p95.as_micros() as u64)),
        "{p95:?}: half the minute answered in 30 ms"
    );
    assert!(backend
        .buckets("api", Resolution::Hour, at(0), at(3600))
        .unwrap()
        .is_empty());
}

fn what_the_rollups_had_not_written_comes_back_at_start(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    // Minutes 0 and 1 were rolled up and hour 0 not yet; results of minute 2 not yet either.
    backend
        .save_buckets(&[
            bucket("api", Resolution::Minute, 0, 60, 10),
            bucket("api", Resolution::Minute, 60, 60, 10),
        ])
        .unwrap();
    save(
        backend,
        SaveHostStates {
            results: results("api", 100..=130),
            ..SaveHostStates::default()
        },
        130,
    );
    let restored = f.restart().read_state(10).unwrap();
    let unrolled: Vec<(&str, usize)> = restored
        .unrolled_results
        .iter()
        .map(|(label, results)| (&**label, results.len()))
        .collect();
    assert_eq!(
        unrolled,
        [("api", 11)],
        "results from 120 s, after the last minute row"
    );
    let minutes: Vec<SystemTime> = restored
        .unrolled_minutes
        .iter()
        .map(|b| b.bucket.start)
        .collect();
    assert_eq!(minutes, [at(0), at(60)], "no hour row holds them yet");
}

fn raw_results_are_read_by_time(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    save(
        backend,
        SaveHostStates {
            results: results("api", 0..20),
            ..SaveHostStates::default()
        },
        20,
    );
    let found = backend.results("api", at(5), at(8)).unwrap();
    let seconds: Vec<SystemTime> = found.iter().map(|r| r.at).collect();
    assert_eq!(seconds, [at(5), at(6), at(7)]);
    assert!(!found[0].ok && found[1].ok);
}

/// The check span of a traced result.
fn span(n: u8) -> TraceParent {
    TraceParent {
        trace_id: [n; 16],
        span_id: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, n],
        sampled: true,
    }
}

/// Results at `seconds`, those at even seconds traced (their span numbered by the second).
fn traced_results(label: &str, seconds: std::ops::Range<u64>) -> Vec<StoredResult> {
    let mut stored = results(label, seconds);
    for entry in &mut stored {
        let second = entry.seq as u8;
        entry.result.trace = second.is_multiple_of(2).then(|| span(second));
    }
    stored
}

fn traced_results_keep_their_trace_and_untraced_ones_have_none(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    // An unsampled trace of a failed check was exported too: it reads back as kept.
    let mut saved = traced_results("api", 0..4);
    if let Some(trace) = saved[0].result.trace.as_mut() {
        trace.sampled = false;
    }
    save(
        backend,
        SaveHostStates {
            hosts: vec![host("api", Status::Down, 4)],
            results: saved,
            ..SaveHostStates::default()
        },
        4,
    );
    let expected = [Some(span(0)), None, Some(span(2)), None];
    let traces = |found: &[CheckResult]| found.iter().map(|r| r.trace).collect::<Vec<_>>();
    // Read by time (the API), at start (the host's history), and to roll up again.
    assert_eq!(
        traces(&backend.results("api", at(0), at(4)).unwrap()),
        expected
    );
    let restored = f.restart().read_state(10).unwrap();
    assert_eq!(traces(&restored.hosts[0].history), expected);
    assert_eq!(traces(&restored.unrolled_results[0].1), expected);
    let Some(kept) = restored.hosts[0].history[2].trace else {
        panic!("the traced result lost its trace");
    };
    assert_eq!(
        (kept.trace_id_hex(), kept.span_id_hex()),
        ("02".repeat(16), "0123456789abcd02".to_string())
    );
}

fn pruning_deletes_what_retention_no_longer_keeps(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    backend.begin_run(at(0)).unwrap();
    save(
        backend,
        SaveHostStates {
            results: results("api", 0..100),
            transitions: vec![
                transition("api", 10, Status::Up, Status::Unknown),
                transition("api", 90, Status::Down, Status::Up),
            ],
            ..SaveHostStates::default()
        },
        100,
    );
    backend
        .save_buckets(&[
            bucket("api", Resolution::Minute, 0, 60, 10),
            bucket("api", Resolution::Hour, 0, 60, 10),
        ])
        .unwrap();
    backend
        .log_alerts(&[AlertLogEntry {
            at: at(10),
            host: "api".into(),
            notifier: Arc::from("hook"),
            event: EventKind::Down,
            event_id: "E1".into(),
            outcome: AlertOutcome::Sent,
            detail: String::new(),
        }])
        .unwrap();
    // Raw rows and minute rows before 50 s go; the rest stays (retention reaches 0 s).
    let cutoffs = Cutoffs {
        raw: at(50),
        all: at(0),
    };
    let mut rounds = 0;
    loop {
        rounds += 1;
        if backend.prune(cutoffs, 1).unwrap().done {
            break;
        }
        assert!(rounds < 10, "a round over one host ends");
    }
    let kept = backend.results("api", at(0), at(100)).unwrap();
    assert_eq!(kept.first().map(|r| r.at), Some(at(50)));
    assert_eq!(kept.len(), 50);
    assert!(backend
        .buckets("api", Resolution::Minute, at(0), at(3600))
        .unwrap()
        .is_empty());
    assert_eq!(
        backend
            .buckets("api", Resolution::Hour, at(0), at(3600))
            .unwrap()
            .len(),
        1
    );
    // Then everything before 95 s.
    let cutoffs = Cutoffs {
        raw: at(95),
        all: at(95),
    };
    while !backend.prune(cutoffs, 100).unwrap().done {}
    assert_eq!(backend.results("api", at(0), at(100)).unwrap().len(), 5);
    assert!(backend
        .buckets("api", Resolution::Hour, at(0), at(3600))
        .unwrap()
        .is_empty());
    assert!(backend
        .changes(Some("api"), at(0), at(200))
        .unwrap()
        .is_empty());
    assert_eq!(
        backend.runs(at(0), at(200)).unwrap(),
        [run(0, 100)],
        "a run is kept while it reaches into the retention"
    );
    let query = EventQuery {
        host: None,
        prefix: None,
        since: None,
        limit: 10,
    };
    assert!(backend.events(&query).unwrap().is_empty());
}

fn events_are_transitions_and_alerts_newest_first(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    save(
        backend,
        SaveHostStates {
            transitions: vec![
                transition("api", 10, Status::Up, Status::Unknown),
                transition("api", 30, Status::Down, Status::Up),
                transition("db", 20, Status::Up, Status::Unknown),
            ],
            ..SaveHostStates::default()
        },
        40,
    );
    backend
        .log_alerts(&[AlertLogEntry {
            at: at(31),
            host: "api".into(),
            notifier: Arc::from("hook"),
            event: EventKind::Down,
            event_id: "E1".into(),
            outcome: AlertOutcome::Failed,
            detail: "status 503".into(),
        }])
        .unwrap();
    let all = backend
        .events(&EventQuery {
            host: None,
            prefix: None,
            since: None,
            limit: 10,
        })
        .unwrap();
    let at_: Vec<SystemTime> = all.iter().map(StoredEvent::at).collect();
    assert_eq!(at_, [at(31), at(30), at(20), at(10)]);
    match &all[0] {
        StoredEvent::Alert(entry) => {
            assert_eq!(
                (entry.outcome, entry.detail.as_str(), &*entry.notifier),
                (AlertOutcome::Failed, "status 503", "hook")
            );
        }
        other => panic!("expected the alert line first, got {other:?}"),
    }
    let api = backend
        .events(&EventQuery {
            host: Some("api".into()),
            prefix: None,
            since: Some(at(15)),
            limit: 1,
        })
        .unwrap();
    assert_eq!(api.len(), 1);
    assert_eq!(api[0].at(), at(31));
    // One tenant's events: the prefix is compared as text (`_` and `%` are not patterns),
    // and `limit` counts the tenant's own.
    save(
        backend,
        SaveHostStates {
            transitions: vec![
                transition("team_a/api", 50, Status::Down, Status::Up),
                transition("teamXa/api", 51, Status::Down, Status::Up),
                transition("team_b/api", 52, Status::Down, Status::Up),
            ],
            ..SaveHostStates::default()
        },
        60,
    );
    let tenant = backend
        .events(&EventQuery {
            host: None,
            prefix: Some("team_a/".into()),
            since: None,
            limit: 1,
        })
        .unwrap();
    let hosts: Vec<&str> = tenant
        .iter()
        .map(|e| match e {
            StoredEvent::Transition { host, .. } => host.as_str(),
            StoredEvent::Alert(entry) => entry.host.as_str(),
        })
        .collect();
    assert_eq!(hosts, ["team_a/api"]);
}

fn a_newer_schema_is_refused(f: &mut Fixture, make_newer: &dyn Fn()) {
    make_newer();
    let mut backend = f.restart_unconnected();
    let error = backend.connect().expect_err("refused");
    assert!(
        matches!(error, StoreError::NewerSchema { found: 99, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("upgrade flowstate"), "{error}");
}

impl Fixture {
    fn restart_unconnected(&mut self) -> Box<dyn Backend> {
        (self.reopen)()
    }
}

fn announcements_are_kept_replaced_and_deleted(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    let mut first = Announcement::new(
        "API errors".into(),
        AnnouncementState::Investigating,
        "Looking into it".into(),
        at(0),
    );
    let second = Announcement::new(
        "Maintenance".into(),
        AnnouncementState::Monitoring,
        "Done soon".into(),
        at(10),
    );
    backend.save_announcement(&first).unwrap();
    backend.save_announcement(&second).unwrap();
    first.updates.push(AnnouncementUpdate {
        at: at(60),
        state: AnnouncementState::Resolved,
        message: "Fixed".into(),
    });
    backend.save_announcement(&first).unwrap();
    backend.delete_announcement(&second.id).unwrap();
    let restored = f.restart().read_state(1).unwrap();
    assert_eq!(restored.announcements, [first]);
}

fn silence(hosts: &[&str], made: u64, until: u64, comment: &str) -> Silence {
    Silence::new(
        hosts.iter().map(|h| h.to_string()).collect(),
        at(until),
        comment.into(),
        at(made),
    )
}

fn silences_are_kept_replaced_and_ended_ones_deleted_at_start(f: &mut Fixture) {
    let backend = f.backend.as_mut();
    let deploy = silence(&["api", "db-*"], 0, 7200, "deploy");
    let ended = silence(&["www"], 1, 60, "");
    let removed = silence(&["api"], 2, 7200, "made by mistake");
    for made in [&deploy, &ended, &removed] {
        backend.save_silence(made).unwrap();
    }
    let mut longer = deploy.clone();
    longer.until = at(9000);
    longer.comment = "deploy, longer than planned".into();
    backend.save_silence(&longer).unwrap();
    backend.delete_silence(&removed.id).unwrap();
    backend
        .delete_silence("01JNOSUCHSILENCE0000000000")
        .expect("deleting what is not there is no error");

    let read = f.restart().read_state(1).unwrap();
    assert_eq!(
        read.silences,
        [longer.clone(), ended.clone()],
        "oldest first"
    );
    // A start soon after `ended` ended keeps it (its time is left out of availability); one
    // more than a year after both ended deletes them.
    let restored = Store::load(f.restart(), 1, at(100)).unwrap();
    assert_eq!(restored.silences, [longer.clone(), ended.clone()]);
    let year_later = at(9000) + flowstate_actors::silences::ENDED_KEPT + Duration::from_secs(1);
    let restored = Store::load(f.restart(), 1, year_later).unwrap();
    assert!(restored.silences.is_empty(), "{:?}", restored.silences);
    let after = f.restart().read_state(1).unwrap();
    assert!(after.silences.is_empty());
}

/// A store of schema 4 (announcements, no silences), made from a current one by
/// `make_schema_4`, is brought to the current schema when opened and keeps what it held.
fn a_schema_4_store_gains_silences_and_keeps_the_rest(
    f: &mut Fixture,
    make_schema_4: &dyn Fn(),
    schema_version: &dyn Fn() -> i64,
) {
    let note = Announcement::new(
        "API errors".into(),
        AnnouncementState::Investigating,
        "Looking into it".into(),
        at(0),
    );
    f.backend.save_announcement(&note).unwrap();
    f.backend.disconnect();
    make_schema_4();
    assert_eq!(schema_version(), 4);
    let backend = f.restart();
    let deploy = silence(&["api"], 0, 7200, "deploy");
    backend
        .save_silence(&deploy)
        .expect("the silences table exists");
    let restored = f.restart().read_state(1).unwrap();
    assert_eq!(restored.announcements, [note]);
    assert_eq!(restored.silences, [deploy]);
    assert_eq!(schema_version(), SCHEMA_VERSION);
}

/// A store of schema 5 (results without trace ids), made from a current one by
/// `make_schema_5`, gains the column when opened: its results are kept, untraced, and new
/// ones keep their trace.
fn a_schema_5_store_gains_trace_ids_and_keeps_its_results(
    f: &mut Fixture,
    make_schema_5: &dyn Fn(),
    schema_version: &dyn Fn() -> i64,
) {
    save(
        f.backend.as_mut(),
        SaveHostStates {
            hosts: vec![host("api", Status::Down, 2)],
            results: results("api", 0..2),
            ..SaveHostStates::default()
        },
        2,
    );
    f.backend.disconnect();
    make_schema_5();
    assert_eq!(schema_version(), 5);
    let backend = f.restart();
    assert_eq!(schema_version(), SCHEMA_VERSION);
    save(
        backend,
        SaveHostStates {
            results: traced_results("api", 2..4),
            ..SaveHostStates::default()
        },
        4,
    );
    let restored = f.restart().read_state(10).unwrap();
    let kept: Vec<(SystemTime, Option<TraceParent>)> = restored.hosts[0]
        .history
        .iter()
        .map(|r| (r.at, r.trace))
        .collect();
    assert_eq!(
        kept,
        [
            (at(0), None),
            (at(1), None),
            (at(2), Some(span(2))),
            (at(3), None)
        ]
    );
}

type Scenario = (&'static str, fn(&mut Fixture));

const SCENARIOS: [Scenario; 12] = [
    (
        "traced_results_keep_their_trace_and_untraced_ones_have_none",
        traced_results_keep_their_trace_and_untraced_ones_have_none,
    ),
    (
        "silences_are_kept_replaced_and_ended_ones_deleted_at_start",
        silences_are_kept_replaced_and_ended_ones_deleted_at_start,
    ),
    (
        "announcements_are_kept_replaced_and_deleted",
        announcements_are_kept_replaced_and_deleted,
    ),
    (
        "hosts_counters_and_newest_history_come_back_after_a_restart",
        hosts_counters_and_newest_history_come_back_after_a_restart,
    ),
    (
        "the_outbox_keeps_events_until_forgotten_in_order",
        the_outbox_keeps_events_until_forgotten_in_order,
    ),
    (
        "changes_open_with_the_status_before_the_window",
        changes_open_with_the_status_before_the_window,
    ),
    (
        "runs_record_each_start_and_its_last_sign_of_life",
        runs_record_each_start_and_its_last_sign_of_life,
    ),
    (
        "rollup_rows_written_twice_are_merged",
        rollup_rows_written_twice_are_merged,
    ),
    (
        "what_the_rollups_had_not_written_comes_back_at_start",
        what_the_rollups_had_not_written_comes_back_at_start,
    ),
    ("raw_results_are_read_by_time", raw_results_are_read_by_time),
    (
        "pruning_deletes_what_retention_no_longer_keeps",
        pruning_deletes_what_retention_no_longer_keeps,
    ),
    (
        "events_are_transitions_and_alerts_newest_first",
        events_are_transitions_and_alerts_newest_first,
    ),
];

/// A SQLite file in a directory of its own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "flowstate-backends-{}-{}",
            std::process::id(),
            ulid::Ulid::new()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sqlite_fixture(dir: &TempDir) -> Fixture {
    let path = dir.0.join("state.db");
    let reopen = move || Box::new(SqliteBackend::new(path.clone())) as Box<dyn Backend>;
    let mut backend = reopen();
    backend.connect().expect("SQLite opens");
    Fixture {
        backend,
        reopen: Box::new(reopen),
    }
}

fn database_url(text: &str) -> DatabaseUrl {
    DatabaseUrl::new(url::Url::parse(text).expect("a URL"), text.to_string())
}

fn postgres_fixture(server: &Postgres, database: &str) -> Fixture {
    let url = database_url(&server.database(database));
    let reopen = move || Box::new(PostgresBackend::new(url.clone())) as Box<dyn Backend>;
    let mut backend = reopen();
    backend.connect().expect("PostgreSQL connects");
    Fixture {
        backend,
        reopen: Box::new(reopen),
    }
}

#[test]
fn sqlite_backend_passes_every_scenario() {
    for (name, scenario) in SCENARIOS {
        eprintln!("sqlite: {name}");
        let dir = TempDir::new();
        scenario(&mut sqlite_fixture(&dir));
    }
}

#[test]
fn postgres_backend_passes_every_scenario() {
    let server = Postgres::start();
    for (index, (name, scenario)) in SCENARIOS.into_iter().enumerate() {
        eprintln!("postgres: {name}");
        scenario(&mut postgres_fixture(&server, &format!("scenario{index}")));
    }
}

#[test]
fn sqlite_refuses_a_newer_schema() {
    let dir = TempDir::new();
    let mut fixture = sqlite_fixture(&dir);
    let path = dir.0.join("state.db");
    a_newer_schema_is_refused(&mut fixture, &|| {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
    });
}

#[test]
fn sqlite_migrates_a_schema_4_store() {
    let dir = TempDir::new();
    let mut fixture = sqlite_fixture(&dir);
    let path = dir.0.join("state.db");
    let open = || rusqlite::Connection::open(&path).unwrap();
    a_schema_4_store_gains_silences_and_keeps_the_rest(
        &mut fixture,
        &|| {
            open()
                .execute_batch("DROP TABLE silences; PRAGMA user_version = 4;")
                .unwrap();
        },
        &|| {
            open()
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .unwrap()
        },
    );
}

#[test]
fn postgres_migrates_a_schema_4_database() {
    let server = Postgres::start();
    let mut fixture = postgres_fixture(&server, "schema4");
    a_schema_4_store_gains_silences_and_keeps_the_rest(
        &mut fixture,
        &|| {
            server.psql(
                "schema4",
                "DROP TABLE silences; UPDATE flowstate_meta SET value = '4' WHERE key = 'schema'",
            );
        },
        &|| {
            server
                .psql(
                    "schema4",
                    "SELECT value FROM flowstate_meta WHERE key = 'schema'",
                )
                .trim()
                .parse()
                .unwrap()
        },
    );
}

#[test]
fn sqlite_migrates_a_schema_5_store() {
    let dir = TempDir::new();
    let mut fixture = sqlite_fixture(&dir);
    let path = dir.0.join("state.db");
    let open = || rusqlite::Connection::open(&path).unwrap();
    a_schema_5_store_gains_trace_ids_and_keeps_its_results(
        &mut fixture,
        &|| {
            open()
                .execute_batch("ALTER TABLE results DROP COLUMN trace_id; PRAGMA user_version = 5;")
                .unwrap();
        },
        &|| {
            open()
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .unwrap()
        },
    );
}

#[test]
fn postgres_migrates_a_schema_5_database() {
    let server = Postgres::start();
    let mut fixture = postgres_fixture(&server, "schema5");
    a_schema_5_store_gains_trace_ids_and_keeps_its_results(
        &mut fixture,
        &|| {
            server.psql(
                "schema5",
                "ALTER TABLE results DROP COLUMN trace_id; \
                 UPDATE flowstate_meta SET value = '5' WHERE key = 'schema'",
            );
        },
        &|| {
            server
                .psql(
                    "schema5",
                    "SELECT value FROM flowstate_meta WHERE key = 'schema'",
                )
                .trim()
                .parse()
                .unwrap()
        },
    );
}

#[test]
fn postgres_refuses_a_newer_schema_and_names_what_is_wrong_with_a_bad_url() {
    let server = Postgres::start();
    let mut fixture = postgres_fixture(&server, "newer");
    a_newer_schema_is_refused(&mut fixture, &|| {
        server.psql(
            "newer",
            "UPDATE flowstate_meta SET value = '99' WHERE key = 'schema'",
        );
    });

    let mut missing = PostgresBackend::new(database_url(&server.url("nosuchdb")));
    let error = missing.connect().expect_err("no such database").to_string();
    assert!(
        error.contains("nosuchdb") && error.contains("create the database"),
        "{error}"
    );
    let closed = format!(
        "postgres://flowstate:pw@127.0.0.1:{}/db?sslmode=disable",
        free_port()
    );
    let shown = "postgres://flowstate:***@127.0.0.1/db";
    let mut down = PostgresBackend::new(DatabaseUrl::new(
        url::Url::parse(&closed).unwrap(),
        shown.into(),
    ));
    let error = down.connect().expect_err("nothing listens").to_string();
    assert!(
        error.starts_with(shown) && error.contains("is PostgreSQL running"),
        "{error}"
    );
    assert!(
        !error.contains(":pw@"),
        "the password is never shown: {error}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}
