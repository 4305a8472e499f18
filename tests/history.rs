//! History (SPEC §7) on the real daemon, on a real SQLite file and a real PostgreSQL server: availability and incidents
//! from the transitions the API itself reports, series that add up to the checks a host ran,
//! a restart that keeps history and counts the stopped time as unknown, the event log with the
//! alerts sent, the token and the store the routes need, and `status` and `report` reading it.
//!
//! Expected figures are computed from the times `/api/v1/events` and the answers report,
//! never from how long the test slept: checks land on their own schedule.

use std::sync::atomic::Ordering::SeqCst;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::common::configs::{document_serving, host, ALERTS};
use crate::common::daemon::{http_get, http_request, CONFIG};
use crate::common::events::{timestamp, wait_for_event};
use crate::common::hosts::{checks, history};
use crate::common::postgres::Postgres;
use crate::common::wait::wait_for;
use crate::common::{closed_port, start, switchable, Daemon, Sandbox, DEADLINE};

/// The answer of every history route without a store.
const NO_STORE: &str =
    "history needs a state store: set state.path (SQLite) or state.url (PostgreSQL)";

const TOKEN: &str = "history-test-token";

/// History in a SQLite file beside the config.
const SQLITE: &str = "state: { path: state.db }\n";

/// History in a database of a throwaway PostgreSQL server.
fn postgres(server: &Postgres) -> String {
    format!("state: {{ url: '{}' }}\n", server.database("flowstate"))
}

/// One host `api` checking `url` every second, down after one failure and up after one pass,
/// with its history where `state` (a `state:` line, or nothing for no store) says; `server`
/// is more of the `server` mapping.
fn config(url: &str, state: &str, server: &str) -> String {
    document_serving(
        &format!("listen: \"127.0.0.1:0\"{server}"),
        state,
        "interval: 1s, timeout: 500ms, failure_threshold: 1, success_threshold: 1",
        &[host("api", url, "")],
    )
}

/// Waits until host `label` has run `target` checks, however many that is: each step of at
/// most ten checks has [`DEADLINE`].
#[track_caller]
fn run_until_checks(daemon: &mut Daemon, label: &str, target: u64) -> Value {
    loop {
        let host = daemon.host(label);
        let now = checks(&host);
        if now >= target {
            return host;
        }
        daemon.wait_for_checks(label, target.min(now + 10));
    }
}

/// `GET /api/v1/events?QUERY`: the array it answers.
#[track_caller]
fn events(daemon: &mut Daemon, query: &str) -> Vec<Value> {
    match daemon.json(&format!("/api/v1/events?{query}")) {
        Value::Array(events) => events,
        other => panic!("/api/v1/events is not an array: {other}\n{daemon}"),
    }
}

/// Host `label`'s transitions, newest first, once there are at least `n`: they reach the
/// store with the next save, within about a second.
#[track_caller]
fn wait_for_transitions(daemon: &mut Daemon, label: &str, n: usize) -> Vec<Value> {
    let api = daemon.api();
    let path = format!("/api/v1/events?host={label}");
    let found = wait_for(
        DEADLINE,
        &format!("{n} transitions of {label} are listed"),
        || {
            let answer = http_get(api, &path).ok()?;
            let Ok(Value::Array(events)) = answer.json() else {
                return None;
            };
            let transitions: Vec<Value> = events
                .into_iter()
                .filter(|e| e["kind"] == "transition")
                .collect();
            (transitions.len() >= n).then_some(transitions)
        },
    );
    found.unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"))
}

/// Seconds from `from` to `to` (negative when `to` is earlier).
fn seconds(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// `/api/v1/hosts` until host `label`'s availability over 24 h is a number (the figures are
/// computed at start and every 30 s), and then that host.
#[track_caller]
fn wait_for_availability(daemon: &mut Daemon, label: &str) -> Value {
    let api = daemon.api();
    let found = wait_for(DEADLINE, &format!("{label} has an availability"), || {
        let answer = http_get(api, "/api/v1/hosts").ok()?;
        let Ok(Value::Array(hosts)) = answer.json() else {
            return None;
        };
        hosts
            .into_iter()
            .find(|h| h["label"] == label && h["availability"]["24h"].is_number())
    });
    found.unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"))
}

#[test]
fn a_host_down_six_of_sixty_seconds_is_ninety_percent_available_with_one_incident_on_sqlite() {
    a_host_down_six_of_sixty_seconds_is_ninety_percent_available_with_one_incident(SQLITE);
}

#[test]
fn a_host_down_six_of_sixty_seconds_is_ninety_percent_available_with_one_incident_on_postgres() {
    let server = Postgres::start();
    a_host_down_six_of_sixty_seconds_is_ninety_percent_available_with_one_incident(&postgres(
        &server,
    ));
}

fn a_host_down_six_of_sixty_seconds_is_ninety_percent_available_with_one_incident(state: &str) {
    let (answer, target) = switchable(200);
    let (_sandbox, mut daemon) = start(&config(&target.url("/"), state, ""));
    let first = daemon.wait_for_status("api", "up");
    // Up for a while; then down from the next check for six checks (a second each).
    run_until_checks(&mut daemon, "api", checks(&first) + 25);
    answer.store(503, SeqCst);
    let down = daemon.wait_for_status("api", "down");
    daemon.wait_for_checks("api", checks(&down) + 5);
    answer.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    // Until the first verdict is more than a minute old: the window below is all known.
    run_until_checks(&mut daemon, "api", checks(&first) + 62);

    let uptime = daemon.json("/api/v1/hosts/api/uptime?window=60s");
    let transitions = wait_for_transitions(&mut daemon, "api", 3);
    let [recovered, failed, decided] = &transitions[..3] else {
        panic!("three transitions expected: {transitions:?}");
    };
    assert_eq!(
        (&decided["previous"], &decided["status"]),
        (&Value::from("unknown"), &Value::from("up")),
        "{transitions:?}"
    );
    assert_eq!(failed["status"], "down", "{transitions:?}");
    assert_eq!(recovered["status"], "up", "{transitions:?}");
    let (from, to) = (timestamp(&uptime["from"]), timestamp(&uptime["to"]));
    assert_eq!(uptime["window"], "60s", "{uptime}");
    assert!(
        (seconds(from, to) - 60.0).abs() < 1e-3,
        "a window of 60 s: {uptime}"
    );
    // What the transitions say: down from one to the other, known from the first verdict.
    let down_for = seconds(timestamp(&failed["at"]), timestamp(&recovered["at"]));
    let known = seconds(from.max(timestamp(&decided["at"])), to);
    let expected = 1.0 - down_for / known;
    let availability = number(&uptime["availability"]);
    assert!(
        (availability - expected).abs() < 1e-4,
        "availability {availability}, the transitions say {expected}: {uptime}\n{transitions:?}"
    );
    assert!(
        (availability - 0.9).abs() <= 0.02,
        "about 6 s down of 60: {uptime}\n{transitions:?}"
    );
    assert!(
        (number(&uptime["downtime_s"]) - down_for).abs() < 2e-3,
        "{uptime}"
    );
    assert!(number(&uptime["unknown_s"]) < 1e-3, "{uptime}");
    let incidents = uptime["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{uptime}");
    let incident = &incidents[0];
    assert_eq!(incident["from"], failed["at"], "{uptime}");
    assert_eq!(incident["to"], recovered["at"], "{uptime}");
    assert_eq!(incident["status"], "down", "{uptime}");
    assert_eq!(incident["reason"], failed["reason"], "{uptime}");
    assert!(
        (number(&incident["duration_s"]) - down_for).abs() < 2e-3,
        "{uptime}"
    );

    // `/api/v1/hosts` carries the figures computed in the background: every window reaches
    // back before this daemon started, so all three are the same.
    let listed = wait_for_availability(&mut daemon, "api");
    let figures = &listed["availability"];
    let day = number(&figures["24h"]);
    assert!((0.0..=1.0).contains(&day), "{listed}");
    assert_eq!(figures["7d"], figures["24h"], "{listed}");
    assert_eq!(figures["30d"], figures["24h"], "{listed}");
    assert_eq!(
        daemon.host("api")["availability"],
        listed["availability"],
        "/api/v1/hosts/api carries it too"
    );
}

#[test]
fn series_points_add_up_to_the_checks_the_host_ran_on_sqlite() {
    series_points_add_up_to_the_checks_the_host_ran(SQLITE);
}

#[test]
fn series_points_add_up_to_the_checks_the_host_ran_on_postgres() {
    let server = Postgres::start();
    series_points_add_up_to_the_checks_the_host_ran(&postgres(&server));
}

fn series_points_add_up_to_the_checks_the_host_ran(state: &str) {
    let (answer, target) = switchable(200);
    let (_sandbox, mut daemon) = start(&config(&target.url("/"), state, ""));
    let up = daemon.wait_for_status("api", "up");
    run_until_checks(&mut daemon, "api", checks(&up) + 3);
    answer.store(503, SeqCst);
    let down = daemon.wait_for_status("api", "down");
    daemon.wait_for_checks("api", checks(&down) + 1);
    answer.store(200, SeqCst);
    daemon.wait_for_status("api", "up");

    for query in ["", "?step=1s"] {
        let path = format!("/api/v1/hosts/api/series{query}");
        let api = daemon.api();
        // Results reach the store with the save after them: the sums catch up with the
        // host's counters within about a second, between two checks.
        let found = wait_for(
            DEADLINE,
            &format!("{path} adds up to the checks run"),
            || {
                let host: Value = http_get(api, "/api/v1/hosts/api").ok()?.json().ok()?;
                let series: Value = http_get(api, &path).ok()?.json().ok()?;
                let points = series["points"].as_array()?.clone();
                let sum = |key: &str| points.iter().filter_map(|p| p[key].as_u64()).sum::<u64>();
                (sum("checks") == checks(&host) && sum("failures") == host["failures"].as_u64()?)
                    .then_some((series, points))
            },
        );
        let (series, points) = found.unwrap_or_else(|timed_out| {
            let last = daemon.json(&path);
            panic!(
                "{timed_out}\nlast series: {last}\nhost: {}\n{daemon}",
                daemon.host("api")
            )
        });
        let step = if query.is_empty() { 60.0 } else { 1.0 };
        assert_eq!(number(&series["step_s"]), step, "{series}");
        // The default range is the last hour.
        let range = seconds(timestamp(&series["from"]), timestamp(&series["to"]));
        assert!((range - 3600.0).abs() < 1e-3, "{series}");
        for point in &points {
            let at = timestamp(&point["at"]);
            let since_epoch = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970");
            assert_eq!(
                since_epoch.as_millis() % (step as u128 * 1000),
                0,
                "points start on a step: {point}"
            );
            let latency = &point["latency_ms"];
            if point["checks"] == point["failures"] {
                // Only failures: a failure's time says nothing of the host's speed.
                assert!(
                    latency["p50"].is_null() && latency["max"].is_null(),
                    "{point}"
                );
            } else {
                let (p50, p95, max) = (
                    number(&latency["p50"]),
                    number(&latency["p95"]),
                    number(&latency["max"]),
                );
                assert!(p50 <= p95 && p95 <= max * 1.01 + 0.1, "{point}");
            }
        }
    }

    // More than the most points one answer holds: refused, naming the step to use.
    let too_many = daemon
        .get("/api/v1/hosts/api/series?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=1s");
    assert_eq!(too_many.status, 400, "{too_many}");
    let said = too_many.json().expect("JSON")["error"].to_string();
    assert!(
        said.contains("86400 points") && said.contains("use step=5s or longer"),
        "{said}"
    );
    let bad_time = daemon.get("/api/v1/hosts/api/series?from=yesterday");
    assert_eq!(bad_time.status, 400, "{bad_time}");
    assert!(
        bad_time
            .body
            .contains("from \\\"yesterday\\\" is not an RFC 3339 time"),
        "{bad_time}"
    );
    let unknown = daemon.get("/api/v1/hosts/nope/series");
    assert_eq!(unknown.status, 404, "{unknown}");
    assert!(unknown.body.contains("no host labelled"), "{unknown}");
}

#[test]
fn a_restart_keeps_history_and_counts_the_stopped_time_as_unknown_on_sqlite() {
    a_restart_keeps_history_and_counts_the_stopped_time_as_unknown(SQLITE);
}

#[test]
fn a_restart_keeps_history_and_counts_the_stopped_time_as_unknown_on_postgres() {
    let server = Postgres::start();
    a_restart_keeps_history_and_counts_the_stopped_time_as_unknown(&postgres(&server));
}

fn a_restart_keeps_history_and_counts_the_stopped_time_as_unknown(state: &str) {
    let (answer, target) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, &config(&target.url("/"), state, ""));
    let mut first = sandbox.daemon(CONFIG).start();
    let up = first.wait_for_status("api", "up");
    let ran = checks(&run_until_checks(&mut first, "api", checks(&up) + 3));
    assert_eq!(first.stop("TERM").code, Some(0), "{first}");

    // Nobody watches while the target fails: that time is not down, nor up.
    let stopped = Instant::now();
    let stopped_at = SystemTime::now();
    answer.store(503, SeqCst);
    thread::sleep(Duration::from_secs(3));
    let gap = stopped.elapsed().as_secs_f64();
    let mut second = sandbox.daemon(CONFIG).start();
    // History and counters carry on from the first run.
    let restored = second.host("api");
    assert!(checks(&restored) >= ran, "{restored}");
    assert!(
        timestamp(&history(&restored)[0]["at"]) < stopped_at,
        "the first run's results are kept: {restored}"
    );
    // Restored as up, so the first failing check is a change to down, then back up.
    second.wait_for_status("api", "down");
    answer.store(200, SeqCst);
    let recovered = second.wait_for_status("api", "up");
    second.wait_for_checks("api", checks(&recovered) + 2);

    let transitions = wait_for_transitions(&mut second, "api", 3);
    let [back, failed, decided] = &transitions[..3] else {
        panic!("three transitions expected: {transitions:?}");
    };
    assert_eq!(
        decided["previous"], "unknown",
        "the first run's: {transitions:?}"
    );
    assert_eq!(
        (&failed["previous"], &failed["status"]),
        (&Value::from("up"), &Value::from("down")),
        "{transitions:?}"
    );
    assert!(timestamp(&failed["at"]) > stopped_at, "{transitions:?}");
    assert_eq!(back["status"], "up", "{transitions:?}");

    let uptime = second.json("/api/v1/hosts/api/uptime?window=1h");
    let (from, to) = (timestamp(&uptime["from"]), timestamp(&uptime["to"]));
    let before_first_verdict = seconds(from, timestamp(&decided["at"]));
    let (up_s, down_s, unknown_s) = (
        number(&uptime["up_s"]),
        number(&uptime["downtime_s"]),
        number(&uptime["unknown_s"]),
    );
    // Unknown: the hour before the first verdict and at least the time it was stopped.
    assert!(
        unknown_s >= before_first_verdict + gap - 0.01,
        "unknown {unknown_s} s, stopped {gap} s: {uptime}"
    );
    // So what is known is at most the rest: the stop was not counted as up.
    assert!(
        up_s + down_s <= seconds(timestamp(&decided["at"]), to) - gap + 0.01,
        "{uptime}"
    );
    let down_for = seconds(timestamp(&failed["at"]), timestamp(&back["at"]));
    assert!(
        (down_s - down_for).abs() < 2e-3,
        "{uptime}\n{transitions:?}"
    );
    let availability = number(&uptime["availability"]);
    assert!(
        (availability - up_s / (up_s + down_s)).abs() < 1e-3,
        "over known time only: {uptime}"
    );
    // One incident: after the restart, none for the stop.
    let incidents = uptime["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{uptime}");
    assert_eq!(incidents[0]["from"], failed["at"], "{uptime}");
    assert_eq!(incidents[0]["to"], back["at"], "{uptime}");

    // `/api/v1/hosts` has figures at once after the restart, from the first run's history.
    let listed = wait_for_availability(&mut second, "api");
    let day = number(&listed["availability"]["24h"]);
    assert!(day > 0.0 && day <= 1.0, "{listed}");

    // A report with a bar it does not clear exits 1.
    let api = format!("http://{}", second.api());
    let report = sandbox.run(&[
        "report",
        "--api",
        &api,
        "--window",
        "1h",
        "--fail-below",
        "100",
        "--json",
    ]);
    report.expect_code(1);
    let rows = report.json();
    assert_eq!(rows[0]["label"], "api", "{report}");
    assert_eq!(rows[0]["incidents"], 1, "{report}");
}

#[test]
fn events_list_the_down_transition_and_the_alert_sent_for_it_on_sqlite() {
    events_list_the_down_transition_and_the_alert_sent_for_it(SQLITE);
}

#[test]
fn events_list_the_down_transition_and_the_alert_sent_for_it_on_postgres() {
    let server = Postgres::start();
    events_list_the_down_transition_and_the_alert_sent_for_it(&postgres(&server));
}

fn events_list_the_down_transition_and_the_alert_sent_for_it(state: &str) {
    let (answer, target) = switchable(200);
    let (sandbox, mut daemon) = start(&config(&target.url("/"), state, ""));
    daemon.wait_for_status("api", "up");
    answer.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    let sent = wait_for_event(&sandbox, &daemon, "down", "api");

    let api = daemon.api();
    // Alert lines are written as they happen, transitions with the next save: wait for both.
    let listed = wait_for(
        DEADLINE,
        "the down transition and alerts are listed",
        || {
            let Ok(Value::Array(events)) = http_get(api, "/api/v1/events?host=api").ok()?.json()
            else {
                return None;
            };
            let logged = |notifier: &str| {
                events.iter().any(|e| {
                    e["kind"] == "alert" && e["notifier"] == notifier && e["event"] == "down"
                })
            };
            let changed = events
                .iter()
                .any(|e| e["kind"] == "transition" && e["status"] == "down");
            (changed && logged("audit") && logged("console")).then_some(events)
        },
    )
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));

    // Newest first.
    let times: Vec<SystemTime> = listed.iter().map(|e| timestamp(&e["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{listed:?}");
    let down = listed
        .iter()
        .find(|e| e["kind"] == "transition" && e["status"] == "down")
        .unwrap_or_else(|| panic!("no down transition: {listed:?}"));
    assert_eq!(down["host"], "api");
    assert_eq!(down["previous"], "up");
    assert_eq!(down["reason"], sent["reason"], "{down}\n{sent}");
    assert_eq!(
        down["at"], sent["at"],
        "the event's time is the change's: {down}\n{sent}"
    );
    for notifier in ["audit", "console"] {
        let alert = listed
            .iter()
            .find(|e| e["kind"] == "alert" && e["notifier"] == notifier && e["event"] == "down")
            .unwrap_or_else(|| panic!("no down alert for {notifier}: {listed:?}"));
        assert_eq!(alert["host"], "api");
        assert_eq!(alert["outcome"], "sent", "{alert}");
        assert_eq!(
            alert["id"], sent["id"],
            "the id receivers saw: {alert}\n{sent}"
        );
        assert_eq!(alert["detail"], "", "{alert}");
    }
    // The first decision (unknown to up) is a transition and no alert.
    assert!(
        listed
            .iter()
            .any(|e| e["kind"] == "transition" && e["previous"] == "unknown"),
        "{listed:?}"
    );
    assert!(!sandbox.events(ALERTS).iter().any(|e| e["event"] == "up"));

    // `limit`, `since` and `host` narrow it.
    assert_eq!(events(&mut daemon, "limit=1"), listed[..1]);
    let since = events(
        &mut daemon,
        &format!("since={}", down["at"].as_str().expect("a time")),
    );
    assert!(
        since
            .iter()
            .all(|e| timestamp(&e["at"]) >= timestamp(&down["at"])),
        "{since:?}"
    );
    assert!(since.contains(down), "{since:?}");
    assert!(events(&mut daemon, "host=elsewhere").is_empty());
    let refused = daemon.get("/api/v1/events?limit=0");
    assert_eq!(refused.status, 400, "{refused}");
    assert!(refused.body.contains("limit"), "{refused}");
}

#[test]
fn history_routes_need_the_token_and_a_store() {
    let web = crate::common::TestServer::always(crate::common::Response::ok("fine"));
    let (_guarded_sandbox, mut guarded) =
        start(&config(&web.url("/"), SQLITE, &format!(", token: {TOKEN}")));
    let api = guarded.api();
    let bearer = format!("Bearer {TOKEN}");
    for path in [
        "/api/v1/hosts/api/uptime",
        "/api/v1/hosts/api/series",
        "/api/v1/events",
    ] {
        let refused = http_get(api, path).expect("answers");
        assert_eq!(refused.status, 401, "{path}: {refused}");
        // 200 once the host is tracked.
        wait_for(
            DEADLINE,
            &format!("{path} answers 200 with the token"),
            || {
                http_request(api, "GET", path, &[("Authorization", &bearer)], "")
                    .ok()
                    .filter(|answer| answer.status == 200)
            },
        )
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{guarded}"));
    }
    let unknown = http_request(
        api,
        "GET",
        "/api/v1/hosts/nope/uptime",
        &[("Authorization", &bearer)],
        "",
    )
    .expect("answers");
    assert_eq!(unknown.status, 404, "{unknown}");
    assert_eq!(
        unknown.json().expect("JSON")["error"],
        "no host labelled \"nope\""
    );
    let too_long = http_request(
        api,
        "GET",
        "/api/v1/hosts/api/uptime?window=91d",
        &[("Authorization", &bearer)],
        "",
    )
    .expect("answers");
    assert_eq!(too_long.status, 400, "{too_long}");
    assert_eq!(
        too_long.json().expect("JSON")["error"],
        "window \"91d\" is longer than state.retention (90d), the longest anything is kept; ask for at most window=90d, or raise state.retention"
    );

    let (_sandbox, mut bare) = start(&config(&web.url("/"), "", ""));
    bare.wait_for_status("api", "up");
    for path in [
        "/api/v1/hosts/api/uptime?window=24h",
        "/api/v1/hosts/api/series",
        "/api/v1/events",
    ] {
        let answer = bare.get(path);
        assert_eq!(answer.status, 404, "{path}: {answer}");
        assert_eq!(answer.json().expect("JSON")["error"], NO_STORE, "{path}");
    }
    for host in bare.hosts() {
        assert!(host["availability"].is_null(), "{host}");
    }
    assert!(bare.host("api")["availability"].is_null());
}

#[test]
fn status_and_report_show_availability() {
    let web = crate::common::TestServer::always(crate::common::Response::ok("fine"));
    let sandbox = Sandbox::new();
    sandbox.write(CONFIG, &config(&web.url("/"), SQLITE, ""));
    // A first run leaves a transition behind, so the second has figures from its start.
    let mut first = sandbox.daemon(CONFIG).start();
    first.wait_for_status("api", "up");
    wait_for_transitions(&mut first, "api", 1);
    assert_eq!(first.stop("TERM").code, Some(0), "{first}");
    let mut daemon = sandbox.daemon(CONFIG).start();
    wait_for_availability(&mut daemon, "api");
    let api = format!("http://{}", daemon.api());

    let status = sandbox.run(&["status", "--api", &api]);
    status.expect_code(0);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(
        crate::common::cli::cells(lines[0]),
        ["LABEL", "STATUS", "SINCE", "24H", "30D", "LATENCY", "DETAIL"],
        "{status}"
    );
    let row = crate::common::cli::cells(lines[1]);
    assert_eq!(
        (row[1].as_str(), row[4].as_str(), row[5].as_str()),
        ("api", "100.00%", "100.00%"),
        "{status}"
    );

    let table = sandbox.run(&["report", "--api", &api]);
    table.expect_code(0);
    assert!(
        table.stdout.starts_with("Availability over 30d ("),
        "{table}"
    );
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(
        crate::common::cli::cells(lines[2]),
        ["LABEL", "AVAILABILITY", "DOWNTIME", "INCIDENTS", "LONGEST"],
        "{table}"
    );
    assert_eq!(
        crate::common::cli::cells(lines[3]),
        ["api", "100.00%", "0s", "0", "-"],
        "{table}"
    );

    let json = sandbox.run(&["report", "--api", &api, "--window", "24h", "--json"]);
    json.expect_code(0);
    let rows = json.json();
    let rows = rows
        .as_array()
        .unwrap_or_else(|| panic!("an array: {json}"));
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["label"], "api");
    assert_eq!(rows[0]["window"], "24h");
    assert_eq!(rows[0]["availability"], 1.0);
    assert_eq!(rows[0]["incidents"], 0);
    assert!(rows[0]["longest_incident_s"].is_null(), "{json}");

    let csv = sandbox.run(&["report", "--api", &api, "--csv"]);
    csv.expect_code(0);
    let lines: Vec<Vec<&str>> = csv
        .stdout
        .lines()
        .map(|line| line.trim_end_matches('\r').split(',').collect())
        .collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(
        lines[0],
        [
            "label",
            "window",
            "from",
            "to",
            "availability",
            "downtime_s",
            "unknown_s",
            "incidents",
            "longest_incident_s"
        ],
        "{csv}"
    );
    assert_eq!(lines[1].len(), lines[0].len(), "{csv}");
    assert_eq!(
        (lines[1][0], lines[1][1], lines[1][4]),
        ("api", "30d", "1"),
        "{csv}"
    );

    // What the daemon refuses, and a daemon that is not there, are exit 2 with the reason.
    let too_long = sandbox.run(&["report", "--api", &api, "--window", "91d"]);
    too_long.expect_code(2);
    assert!(too_long.stderr.contains("state.retention"), "{too_long}");
    let not_a_window = sandbox.run(&["report", "--api", &api, "--window", "soon"]);
    not_a_window.expect_code(2);
    let nowhere = format!("127.0.0.1:{}", closed_port());
    let unreachable = sandbox.run(&["report", "--api", &format!("http://{nowhere}")]);
    unreachable.expect_code(2);
    assert!(unreachable.stderr.contains(&nowhere), "{unreachable}");
    assert!(unreachable.stdout.is_empty(), "{unreachable}");

    // Without a store there is nothing to report on, and `status` shows `-`.
    let (bare_sandbox, mut bare) = start(&config(&web.url("/"), "", ""));
    bare.wait_for_status("api", "up");
    let bare_api = format!("http://{}", bare.api());
    let no_history = bare_sandbox.run(&["report", "--api", &bare_api]);
    no_history.expect_code(2);
    assert!(no_history.stderr.contains("state.path"), "{no_history}");
    let status = bare_sandbox.run(&["status", "--api", &bare_api]);
    status.expect_code(0);
    let row = crate::common::cli::cells(status.stdout.lines().nth(1).unwrap_or(""));
    assert_eq!((row[4].as_str(), row[5].as_str()), ("-", "-"), "{status}");
}
