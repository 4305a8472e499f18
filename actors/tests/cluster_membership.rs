//! Cluster membership and the leader lease against a real PostgreSQL (a throwaway cluster):
//! agents that heartbeat are live and listed by location, one that stops is gone after the
//! window, the lease has one holder at a time, renewing keeps its fencing token, taking it
//! over after it expired increments it, and the old holder then knows it no longer leads.
//! What only the leader writes (statuses by quorum, the outbox, tracks) is refused to any
//! other agent and to a leader whose lease was taken over, and read whole by the next one.

#[path = "common/postgres.rs"]
mod postgres_server;

use std::time::{Duration, Instant};

use flowstate_actors::cluster::membership::{LeaseHolder, Membership};
use flowstate_config::DatabaseUrl;
use postgres_server::Postgres;

fn database_url(text: &str) -> DatabaseUrl {
    DatabaseUrl::new(url::Url::parse(text).expect("a URL"), text.to_string())
}

/// Polls `condition` every 50 ms until it holds or `deadline` passes.
fn eventually(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ids(rows: &[flowstate_actors::cluster::membership::AgentRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn agents_that_heartbeat_are_live_by_location_and_one_that_stops_is_gone() {
    let server = Postgres::start();
    let url = database_url(&server.database("members"));
    let mut eu_1 = Membership::connect(&url, "eu-1", "eu").expect("connects");
    let mut eu_2 = Membership::connect(&url, "eu-2", "eu").expect("connects");
    let mut us_1 = Membership::connect(&url, "us-1", "us").expect("connects");
    for (agent, hosts) in [(&mut eu_1, 10), (&mut eu_2, 12), (&mut us_1, 22)] {
        agent.heartbeat(hosts, "cfg-a").expect("heartbeat");
    }
    let window = Duration::from_secs(2);
    let eu = eu_1.live_agents(Some("eu"), window).expect("listed");
    assert_eq!(ids(&eu), ["eu-1", "eu-2"]);
    assert_eq!(eu[1].hosts, 12);
    assert_eq!(eu[1].config_hash, "cfg-a");
    assert!(eu.iter().all(|a| a.idle_ms < 2000), "{eu:?}");
    let all = us_1.live_agents(None, window).expect("listed");
    assert_eq!(ids(&all), ["eu-1", "eu-2", "us-1"]);

    // eu-2 stops; the others go on: once its heartbeat is older than the window it is gone.
    eventually("eu-2 leaves the live list", Duration::from_secs(10), || {
        eu_1.heartbeat(10, "cfg-a").expect("heartbeat");
        us_1.heartbeat(22, "cfg-a").expect("heartbeat");
        let live = eu_1.live_agents(Some("eu"), window).expect("listed");
        ids(&live) == ["eu-1"]
    });
    // A clean leave is seen at once.
    us_1.leave().expect("leaves");
    let all = eu_1.live_agents(None, window).expect("listed");
    assert_eq!(ids(&all), ["eu-1"]);
}

#[test]
fn the_lease_has_one_holder_and_a_new_holder_gets_a_higher_fencing_token() {
    let server = Postgres::start();
    let url = database_url(&server.database("lease"));
    let mut a = Membership::connect(&url, "a", "eu").expect("connects");
    let mut b = Membership::connect(&url, "b", "us").expect("connects");
    let ttl = Duration::from_secs(1);

    let first = a.acquire_lease(ttl).expect("asked").expect("granted");
    assert_eq!(b.acquire_lease(ttl).expect("asked"), None, "a holds it");
    assert_eq!(
        b.leader().expect("read"),
        Some(LeaseHolder {
            agent: "a".into(),
            token: first.token
        })
    );
    let renewed = a.acquire_lease(ttl).expect("asked").expect("renewed");
    assert_eq!(renewed.token, first.token, "renewing keeps the token");
    assert!(a.holds(first.token).expect("checked"));

    // a stops renewing (paused); once the lease expired, b takes it with a higher token.
    let mut taken = None;
    eventually("b takes the expired lease", Duration::from_secs(10), || {
        taken = b.acquire_lease(ttl).expect("asked");
        taken.is_some()
    });
    let taken = taken.expect("taken");
    assert!(taken.token > first.token, "{taken:?} after {first:?}");
    // The old holder is fenced: it no longer holds its token, and cannot take the lease back
    // while b renews it.
    assert!(!a.holds(first.token).expect("checked"));
    assert_eq!(a.acquire_lease(ttl).expect("asked"), None);
    assert!(b.holds(taken.token).expect("checked"));

    // Leaving releases the lease at once.
    b.leave().expect("leaves");
    assert_eq!(a.leader().expect("read"), None);
    let back = a.acquire_lease(ttl).expect("asked").expect("granted");
    assert!(back.token > taken.token);
}

#[test]
fn agents_starting_together_create_the_tables_once() {
    let server = Postgres::start();
    let url = database_url(&server.database("together"));
    let joined: Vec<_> = (0..4)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || Membership::connect(&url, &format!("a{n}"), "eu").is_ok())
        })
        .collect();
    for handle in joined {
        assert!(handle.join().expect("no panic"), "every agent connects");
    }
}

#[test]
fn each_location_writes_its_verdicts_and_marks_them_fresh() {
    let server = Postgres::start();
    let url = database_url(&server.database("verdicts"));
    let mut eu = Membership::connect(&url, "eu-1", "eu").expect("connects");
    let mut us = Membership::connect(&url, "us-1", "us").expect("connects");
    let decided = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    eu.record_verdicts(&[
        ("api".into(), "down".into(), decided, "status 503".into()),
        ("web".into(), "up".into(), decided, "status 200".into()),
    ])
    .expect("written");
    us.record_verdicts(&[("api".into(), "up".into(), decided, "status 200".into())])
        .expect("written");
    let api = eu.verdicts(Some("api")).expect("read");
    let seen: Vec<(&str, &str, &str)> = api
        .iter()
        .map(|v| (v.location.as_str(), v.status.as_str(), v.reason.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("eu", "down", "status 503"), ("us", "up", "status 200")]
    );
    assert_eq!(api[0].decided_at, decided);
    // A verdict rewritten replaces the location's row; marks refresh only the named hosts.
    eu.record_verdicts(&[("api".into(), "up".into(), decided, "status 200".into())])
        .expect("written");
    eu.mark_fresh(&["web".to_string()]).expect("marked");
    let all = us.verdicts(None).expect("read");
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|v| v.age_ms < 5_000), "{all:?}");
    assert_eq!(all.iter().filter(|v| v.status == "up").count(), 3);
}

/// An event as the router stores it, from its JSON form.
fn event(id: &str) -> flowstate_actors::event::AlertEvent {
    serde_json::from_value(serde_json::json!({
        "id": id, "event": "down", "host": "api", "status": "down", "previous": "up",
        "at": "2026-12-07T10:00:00.000Z", "since": "2026-12-07T10:00:00.000Z",
        "reason": "down in eu, us", "consecutive_failures": 0, "latency_ms": 0.0
    }))
    .expect("an event")
}

#[test]
fn only_the_lease_holder_judges_and_writes_the_outbox_and_the_next_leader_reads_it() {
    use flowstate_actors::cluster::leader_state::HostQuorum;
    use flowstate_actors::cluster::membership::ClusterError;
    use flowstate_actors::cluster::quorum::ClusterStatus;
    use flowstate_actors::store::{SaveAlertState, StoredDelivery, StoredTrack};

    let server = Postgres::start();
    let url = database_url(&server.database("leader_state"));
    let mut a = Membership::connect(&url, "a", "eu").expect("connects");
    let mut b = Membership::connect(&url, "b", "us").expect("connects");
    let now = std::time::SystemTime::now();
    for agent in [&mut a, &mut b] {
        let verdict = (
            "api".to_string(),
            "down".to_string(),
            now,
            "refused".to_string(),
        );
        agent.record_verdicts(&[verdict]).expect("written");
    }
    let hosts = [HostQuorum {
        label: "api".into(),
        expected: ["eu", "us"].into_iter().map(std::sync::Arc::from).collect(),
        fresh_for: Duration::from_secs(30),
    }];
    let ttl = Duration::from_secs(1);
    let first = a.acquire_lease(ttl).expect("asked").expect("granted");

    // The leader judges: down by quorum, recorded once.
    let changes = a.judge(first.token, &hosts, 2, &mut None).expect("judged");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].previous, ClusterStatus::Unknown);
    assert_eq!(changes[0].verdict.status, ClusterStatus::Down);
    assert!(a
        .judge(first.token, &hosts, 2, &mut None)
        .expect("judged")
        .is_empty());
    let queued = SaveAlertState {
        deliveries: vec![StoredDelivery {
            notifier: "hook".into(),
            event: event("01EVENT"),
            created: now,
        }],
        forgotten: vec![],
        tracks: vec![StoredTrack {
            notifier: "hook".into(),
            host: "api".into(),
            track: Some("{\"told\":\"down\"}".into()),
        }],
    };
    a.save_alert_state(first.token, &queued).expect("written");

    // Another agent, with the leader's token or without the lease, writes nothing.
    assert!(matches!(
        b.judge(first.token, &hosts, 2, &mut None),
        Err(ClusterError::Fenced)
    ));
    assert!(matches!(
        b.save_alert_state(first.token, &SaveAlertState::default()),
        Err(ClusterError::Fenced)
    ));

    // The lease expires and b takes it: the old leader is fenced, the new one reads it all.
    let mut taken = None;
    eventually("b takes the expired lease", Duration::from_secs(10), || {
        taken = b.acquire_lease(ttl).expect("asked");
        taken.is_some()
    });
    let taken = taken.expect("taken");
    let done = SaveAlertState {
        forgotten: vec![("hook".into(), "01EVENT".into())],
        ..SaveAlertState::default()
    };
    assert!(matches!(
        a.save_alert_state(first.token, &done),
        Err(ClusterError::Fenced)
    ));
    assert!(matches!(
        a.judge(first.token, &hosts, 2, &mut None),
        Err(ClusterError::Fenced)
    ));
    let state = b.leader_state().expect("read");
    assert_eq!(state.statuses.len(), 1);
    assert_eq!(state.statuses[0].status, ClusterStatus::Down);
    assert_eq!(state.outbox.len(), 1, "the fenced forget changed nothing");
    assert_eq!(state.outbox[0].event.id, "01EVENT");
    assert_eq!(state.tracks[0].2, "{\"told\":\"down\"}");
    assert!(b
        .judge(taken.token, &hosts, 2, &mut None)
        .expect("judged")
        .is_empty());
    b.save_alert_state(taken.token, &done).expect("written");
    assert!(b.leader_state().expect("read").outbox.is_empty());
}

#[test]
fn each_locations_minutes_are_merged_and_read_back_as_its_availability() {
    use flowstate_actors::cluster::minute_tally::MinuteRow;

    let server = Postgres::start();
    let url = database_url(&server.database("rollups"));
    let mut eu_1 = Membership::connect(&url, "eu-1", "eu").expect("connects");
    let mut eu_2 = Membership::connect(&url, "eu-2", "eu").expect("connects");
    let mut us = Membership::connect(&url, "us-1", "us").expect("connects");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
        / 60;
    let row = |host: &str, minute: i64, checks: i32, failures: i32| MinuteRow {
        host: host.into(),
        minute,
        checks,
        failures,
        latency_ms: f64::from(checks) * 2.0,
    };
    // Two agents of eu each counted part of one minute (a handover): merged, not refused.
    eu_1.record_minutes(&[
        row("api", now - 2, 40, 10),
        row("api\tweird", now - 2, 1, 0),
    ])
    .expect("written");
    eu_2.record_minutes(&[row("api", now - 2, 20, 0)])
        .expect("written");
    // Older than a day: in the 7 d and 30 d figures only; older than 30 days: pruned.
    eu_1.record_minutes(&[row("api", now - 3 * 24 * 60, 60, 60)])
        .expect("written");
    eu_1.record_minutes(&[row("api", now - 31 * 24 * 60, 60, 60)])
        .expect("written");
    us.record_minutes(&[row("api", now - 2, 60, 0)])
        .expect("written");
    assert_eq!(us.prune_minutes().expect("pruned"), 1);

    let figures = us.location_availability("api").expect("read");
    let eu = figures.iter().find(|f| f.location == "eu").expect("eu");
    let us = figures.iter().find(|f| f.location == "us").expect("us");
    // eu: 10 of 60 failed today; with the older minute, 70 of 120.
    let close =
        |figure: Option<f64>, expected: f64| figure.is_some_and(|f| (f - expected).abs() < 1e-9);
    assert!(close(eu.windows[0], 50.0 / 60.0), "{eu:?}");
    assert!(close(eu.windows[1], 50.0 / 120.0), "{eu:?}");
    assert!(close(eu.windows[2], 50.0 / 120.0), "{eu:?}");
    assert_eq!(us.windows, [Some(1.0); 3]);
    let odd = eu_1.location_availability("api\tweird").expect("read");
    assert_eq!(
        odd[0].windows[0],
        Some(1.0),
        "a tab in a label survives COPY"
    );
}

#[test]
fn the_leader_reads_only_what_was_written_since_and_still_sees_changes_and_staleness() {
    use flowstate_actors::cluster::leader_state::HostQuorum;
    use flowstate_actors::cluster::quorum::ClusterStatus;

    let server = Postgres::start();
    let url = database_url(&server.database("incremental"));
    let mut eu = Membership::connect(&url, "eu-1", "eu").expect("connects");
    let mut us = Membership::connect(&url, "us-1", "us").expect("connects");
    let verdict = |status: &str| {
        let now = std::time::SystemTime::now();
        (
            "api".to_string(),
            status.to_string(),
            now,
            "seen".to_string(),
        )
    };
    let hosts = [HostQuorum {
        label: "api".into(),
        expected: ["eu", "us"].into_iter().map(std::sync::Arc::from).collect(),
        fresh_for: Duration::from_secs(2),
    }];
    let lease = eu
        .acquire_lease(Duration::from_secs(30))
        .expect("asked")
        .expect("granted");
    let mut cache = None;
    let judge = |eu: &mut Membership, cache: &mut _| {
        eu.judge(lease.token, &hosts, 2, cache)
            .expect("judged")
            .into_iter()
            .map(|c| c.verdict.status)
            .collect::<Vec<_>>()
    };

    eu.record_verdicts(&[verdict("up")]).expect("written");
    us.record_verdicts(&[verdict("up")]).expect("written");
    assert_eq!(judge(&mut eu, &mut cache), [ClusterStatus::Up]);
    assert!(judge(&mut eu, &mut cache).is_empty(), "nothing new");

    // Written after the last read: seen by the next, through the same cache.
    eu.record_verdicts(&[verdict("down")]).expect("written");
    us.record_verdicts(&[verdict("down")]).expect("written");
    assert_eq!(judge(&mut eu, &mut cache), [ClusterStatus::Down]);

    // us stops marking its verdict; eu goes on: us's goes stale with no row written, and the
    // host is partial: failing in eu only (never down on one location's word).
    let mut seen = Vec::new();
    eventually("us's verdict goes stale", Duration::from_secs(10), || {
        eu.mark_fresh(&["api".to_string()]).expect("marked");
        seen.extend(judge(&mut eu, &mut cache));
        !seen.is_empty()
    });
    assert_eq!(seen, [ClusterStatus::Partial]);
}
