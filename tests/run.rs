//! `flowstate run`: the daemon as a child process, against loopback targets, with real files,
//! real signals and its real API.
//!
//! Every condition is awaited by polling the API or the captured output with a deadline;
//! nothing is asserted after a sleep. Intervals are short (100–500 ms) so the module stays
//! fast; where a test needs one check in flight for long (10 s intervals), the host's label
//! is one whose schedule phase (derived from the label) comes early in the interval. Where a
//! duration matters it is bounded by far: a stalled target never answers at all, rather than
//! "a bit later than the timeout".

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::common::configs::{document_serving, host, ALERTS};
use crate::common::daemon::http_get;
use crate::common::events::{assert_event, events, timestamp, wait_for_events};
use crate::common::hosts::history;
use crate::common::repo::read;
use crate::common::target::StallServer;
use crate::common::wait::wait_until;
use crate::common::{closed_port, start, switchable, Response, Sandbox, TestServer, DEADLINE};

/// A config with the API on a free port, `defaults` (the inside of a flow mapping) and two
/// notifiers every host alerts: `console` (stdout, text) and `audit` (the file [`ALERTS`]).
fn config(defaults: &str, hosts: &[String]) -> String {
    config_listening("\"127.0.0.1:0\"", defaults, hosts)
}

/// [`config`] with `server.listen` written as `listen` (YAML).
fn config_listening(listen: &str, defaults: &str, hosts: &[String]) -> String {
    document_serving(&format!("listen: {listen}"), "", defaults, hosts)
}

/// Event ids are unique per event.
#[track_caller]
fn assert_unique_ids(events: &[Value]) {
    let ids: HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "duplicate event ids: {events:?}");
}

// --- Transitions and alerts -------------------------------------------------------------

#[test]
fn host_goes_down_after_exactly_failure_threshold_failures_with_one_alert() {
    let (answer, server) = switchable(200);
    let (sandbox, mut daemon) = start(&config(
        "interval: 200ms, timeout: 200ms, failure_threshold: 3",
        &[host("api", &server.url("/health"), "status: 200")],
    ));
    daemon.wait_for_status("api", "up");
    answer.store(503, SeqCst);

    let sent = wait_for_events(&sandbox, &daemon, 1);
    let down = &sent[0];
    assert_event(down, "down", "api", "up");
    assert_eq!(down["reason"], "status 503, expected 200", "{down}");
    assert_eq!(down["consecutive_failures"], 3, "{down}");
    assert_eq!(down["since"], down["at"], "{down}");

    // Failures go on; the host stays down and nothing more is sent.
    let api = daemon.wait_for_host("api", "has failed 5 times in a row", |h| {
        h["consecutive_failures"].as_u64() >= Some(5)
    });
    assert_eq!(api["status"], "down", "{api}");
    assert_eq!(api["since"], down["at"], "{api}");
    // The alert came from the third failure in a row, not the second or the fourth.
    let results = history(&api);
    let first_failure = results
        .iter()
        .rposition(|r| r["ok"] == true)
        .expect("a passed check before the failures")
        + 1;
    assert_eq!(
        results[first_failure + 2]["at"],
        down["at"],
        "the down event is not the third failure: {api}"
    );

    assert_eq!(events(&sandbox).len(), 1, "{daemon}");
    let printed = daemon.stdout_lines();
    assert_eq!(
        printed,
        [format!(
            "{} DOWN api: status 503, expected 200 (was up; 3 consecutive failures)",
            down["at"].as_str().unwrap()
        )],
        "{daemon}"
    );
}

#[test]
fn one_blip_does_not_alert() {
    // The third request fails, every other one passes.
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let server = TestServer::start(move |_, _| match count.fetch_add(1, SeqCst) {
        2 => Response::status(503),
        _ => Response::ok("fine"),
    });
    let (sandbox, mut daemon) = start(&config(
        "interval: 200ms, timeout: 200ms, failure_threshold: 2",
        &[host("api", &server.url("/"), "")],
    ));
    let api = daemon.wait_for_checks("api", 6);
    assert_eq!(api["status"], "up", "{api}");
    assert_eq!(api["failures"], 1, "the blip was not seen: {api}");
    assert_eq!(
        history(&api).iter().filter(|r| r["ok"] == false).count(),
        1,
        "{api}"
    );
    assert_eq!(api["transitions"], 1, "only unknown -> up: {api}");
    assert!(events(&sandbox).is_empty(), "{:?}", events(&sandbox));
    assert!(daemon.stdout_lines().is_empty(), "{daemon}");
    let changes = daemon
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("host status changed"))
        .collect::<Vec<_>>();
    assert_eq!(changes.len(), 1, "{daemon}");
    assert!(
        changes[0].contains("status=up previous=unknown"),
        "{daemon}"
    );
}

#[test]
fn recovery_sends_one_up_event_but_the_first_up_sends_none() {
    let (answer, server) = switchable(200);
    let (sandbox, mut daemon) = start(&config(
        "interval: 200ms, timeout: 200ms, failure_threshold: 2, success_threshold: 2",
        &[host("api", &server.url("/"), "")],
    ));
    // unknown -> up is decided (and logged) but is no event.
    daemon.wait_for_checks("api", 3);
    daemon.wait_for_log("the first decision is logged", |l| {
        l.contains("host=api status=up previous=unknown")
    });
    assert!(events(&sandbox).is_empty(), "{:?}", events(&sandbox));
    assert!(daemon.stdout_lines().is_empty(), "{daemon}");

    answer.store(503, SeqCst);
    let events_so_far = wait_for_events(&sandbox, &daemon, 1);
    assert_event(&events_so_far[0], "down", "api", "up");

    answer.store(200, SeqCst);
    let events_so_far = wait_for_events(&sandbox, &daemon, 2);
    let up = &events_so_far[1];
    assert_event(up, "up", "api", "down");
    assert_eq!(up["reason"], "status 200", "{up}");
    assert_eq!(up["consecutive_failures"], 0, "{up}");

    // Up after exactly success_threshold (2) passes; then nothing more.
    let checks = daemon.host("api")["checks"].as_u64().unwrap();
    let api = daemon.wait_for_checks("api", checks + 3);
    let results = history(&api);
    let first_pass = results
        .iter()
        .rposition(|r| r["ok"] == false)
        .expect("failures before the recovery")
        + 1;
    assert_eq!(
        results[first_pass + 1]["at"],
        up["at"],
        "the up event is not the second pass: {api}"
    );
    assert_eq!(api["status"], "up", "{api}");
    assert_eq!(api["since"], up["at"], "{api}");
    let all = events(&sandbox);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_unique_ids(&all);
    let printed = daemon.stdout_lines();
    assert_eq!(printed.len(), 2, "{daemon}");
    assert!(printed[0].contains(" DOWN api: "), "{daemon}");
    assert_eq!(
        printed[1],
        format!(
            "{} UP api: status 200 (was down)",
            up["at"].as_str().unwrap()
        ),
        "{daemon}"
    );
}

#[test]
fn slow_answers_degrade_the_host_and_fast_ones_restore_it() {
    let delay_ms = Arc::new(AtomicU64::new(0));
    let delay = delay_ms.clone();
    let server = TestServer::start(move |_, _| {
        Response::ok("fine").delay_headers(Duration::from_millis(delay.load(SeqCst)))
    });
    let (sandbox, mut daemon) = start(&config(
        "interval: 500ms, timeout: 500ms, failure_threshold: 2",
        &[host("api", &server.url("/"), "max_response_time: 100ms")],
    ));
    daemon.wait_for_status("api", "up");
    delay_ms.store(300, SeqCst);

    let degraded = wait_for_events(&sandbox, &daemon, 1)[0].clone();
    assert_event(&degraded, "degraded", "api", "up");
    let reason = degraded["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("responded in ") && reason.ends_with(" ms, slower than 100ms"),
        "{degraded}"
    );
    assert!(
        degraded["latency_ms"].as_f64().unwrap() >= 300.0,
        "{degraded}"
    );
    let api = daemon.host("api");
    assert_eq!(api["status"], "degraded", "{api}");
    assert!(api["last_check"]["ok"] == true, "slow is not failed: {api}");

    delay_ms.store(0, SeqCst);
    let all = wait_for_events(&sandbox, &daemon, 2);
    assert_event(&all[1], "up", "api", "degraded");
    daemon.wait_for_status("api", "up");
    let printed = daemon.stdout_lines();
    assert_eq!(printed.len(), 2, "{daemon}");
    assert!(
        printed[0].contains(" DEGRADED api: responded in "),
        "{daemon}"
    );
    assert!(printed[1].ends_with(" (was degraded)"), "{daemon}");
}

#[test]
fn every_notifier_gets_the_same_event_and_stdout_can_print_it_as_json() {
    let (sandbox, mut daemon) = start(&format!(
            "server: {{ listen: null }}\n\
             defaults: {{ interval: 200ms, timeout: 200ms, failure_threshold: 1, alerts: [console, audit] }}\n\
             notifiers:\n  console: {{ type: stdout, format: json }}\n  audit: {{ type: file, path: {ALERTS} }}\n\
             hosts:\n{}",
            host("gone", &format!("http://127.0.0.1:{}/", closed_port()), "")
        ));
    let line = daemon.wait_for_stdout("an event is printed", |l| !l.trim().is_empty());
    let printed: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("stdout line {line:?} is not JSON ({e})\n{daemon}"));
    assert_event(&printed, "down", "gone", "unknown");
    let written = wait_for_events(&sandbox, &daemon, 1);
    assert_eq!(written, [printed], "the notifiers got different events");
}

// --- Scheduling -------------------------------------------------------------------------

#[test]
fn stalled_target_neither_delays_other_hosts_nor_overlaps_its_own_checks() {
    let stall = StallServer::start();
    let server = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(&config(
        "interval: 100ms, timeout: 100ms",
        &[
            host("stalled", &stall.url(), "interval: 500ms\ntimeout: 300ms"),
            host("fast", &server.url("/"), ""),
        ],
    ));
    let stalled = daemon.wait_for_checks("stalled", 4);
    let fast = daemon.host("fast");

    // Every check of the stalled host ended at its timeout, and closed its connection.
    assert_eq!(
        stalled["last_check"]["detail"], "timed out after 300ms",
        "{stalled}"
    );
    for result in history(&stalled) {
        assert_eq!(result["ok"], false, "{stalled}");
        assert_eq!(result["detail"], "timed out after 300ms", "{stalled}");
        let latency = result["latency_ms"].as_f64().unwrap();
        assert!(
            (300.0..600.0).contains(&latency),
            "a check ended long after its timeout: {stalled}"
        );
    }
    let counts = stall.counts();
    assert!(counts.accepted >= 4, "{counts:?}");
    assert_eq!(
        counts.peak, 1,
        "two checks of one host were open at once: {counts:?}"
    );

    // While each stalled check was in flight, the other host's checks went on.
    assert_eq!(fast["status"], "up", "{fast}");
    // A check is dated when its verdict was in: it started its latency earlier.
    let started = |r: &Value| {
        timestamp(&r["at"]) - Duration::from_secs_f64(r["latency_ms"].as_f64().unwrap() / 1000.0)
    };
    let fast_starts: Vec<SystemTime> = history(&fast).iter().map(started).collect();
    let first_fast = fast_starts[0];
    for result in history(&stalled) {
        let from = started(result);
        let until = from + Duration::from_millis(300);
        if from < first_fast {
            continue;
        }
        assert!(
            fast_starts.iter().any(|&at| at >= from && at < until),
            "no check of `fast` started while `stalled` was in flight from {}\nstalled: {stalled}\nfast: {fast}",
            result["at"]
        );
    }
    let fast_later = daemon.wait_for_checks("fast", fast["checks"].as_u64().unwrap() + 3);
    assert_eq!(fast_later["status"], "up", "{fast_later}");
}

// --- Signals ----------------------------------------------------------------------------

#[test]
fn sigterm_exits_0_promptly_with_a_check_in_flight() {
    let stall = StallServer::start();
    // The first check of a host comes at a phase of its interval derived from its label;
    // "slowpoke"'s is early (about 0.65 s of 10 s), so the wait for it is short.
    let (_sandbox, mut daemon) = start(&config(
        "interval: 10s, timeout: 10s",
        &[host("slowpoke", &stall.url(), "")],
    ));
    wait_until(DEADLINE, "the check is in flight", || {
        stall.counts().open == 1
    })
    .unwrap();
    let api = daemon.api();
    let signalled = Instant::now();
    daemon.signal("TERM");
    // While it waits for the check, it says it is no longer ready (or is already gone).
    wait_until(DEADLINE, "/readyz answers 503 or nothing", || {
        http_get(api, "/readyz").map_or(true, |a| a.status == 503)
    })
    .unwrap();
    let exit = daemon.wait_exit(Duration::from_secs(5).saturating_sub(signalled.elapsed()));
    assert_eq!(exit.code, Some(0), "{daemon}");
    assert!(daemon.stderr().contains("stopped"), "{daemon}");
}

#[test]
fn second_stop_signal_exits_at_once() {
    let stall = StallServer::start();
    let (_sandbox, mut daemon) = start(&config(
        "interval: 10s, timeout: 10s",
        &[host("slowpoke", &stall.url(), "")],
    ));
    wait_until(DEADLINE, "the check is in flight", || {
        stall.counts().open == 1
    })
    .unwrap();
    daemon.signal("TERM");
    daemon.wait_for_log("the shutdown is logged", |l| l.contains("shutting down"));
    daemon.signal("INT");
    // Well before the grace period (4 s) ends.
    let exit = daemon.wait_exit(Duration::from_secs(2));
    assert_eq!(exit.code, Some(1), "{daemon}");
    assert!(daemon.stderr().contains("second stop signal"), "{daemon}");
}

#[test]
fn sigint_lets_the_check_in_flight_finish_and_delivers_its_alert() {
    let server = TestServer::always(
        Response::status(503)
            .body("maintenance")
            .delay_headers(Duration::from_millis(1000)),
    );
    // "pending" is first checked early in its interval (about 0.93 s of 10 s).
    let (sandbox, mut daemon) = start(&config(
        "interval: 10s, timeout: 5s, failure_threshold: 1",
        &[host("pending", &server.url("/"), "")],
    ));
    wait_until(DEADLINE, "the check is in flight", || {
        server.traffic().in_flight() == 1
    })
    .unwrap();
    daemon.signal("INT");
    let exit = daemon.wait_exit(Duration::from_secs(5));
    assert_eq!(exit.code, Some(0), "{daemon}");
    let all = events(&sandbox);
    assert_eq!(
        all.len(),
        1,
        "the alert of the last check was lost: {daemon}"
    );
    assert_event(&all[0], "down", "pending", "unknown");
    assert_eq!(all[0]["reason"], "status 503, expected 2xx", "{all:?}");
    assert_eq!(daemon.stdout_lines().len(), 1, "{daemon}");
    assert!(
        !daemon.stderr().contains("grace period"),
        "the check should have finished: {daemon}"
    );
}

// --- Logs -------------------------------------------------------------------------------

/// A host whose port refuses connections: down at its first check (failure_threshold 1).
fn refused_host_config() -> String {
    config(
        "interval: 200ms, timeout: 200ms, failure_threshold: 1",
        &[host(
            "gone",
            &format!("http://127.0.0.1:{}/", closed_port()),
            "",
        )],
    )
}

#[test]
fn json_log_is_one_object_per_line_with_the_transition_fields() {
    // Debug lines too, so more kinds of lines (and fields) are checked.
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &refused_host_config());
    let mut daemon = sandbox
        .daemon("flowstate.yaml")
        .args(&["--log-format", "json"])
        .env("RUST_LOG", "debug,actix_server=warn,actix_web=warn")
        .start();
    daemon.wait_for_log("the transition is logged", |l| {
        l.contains("host status changed")
    });
    let exit = daemon.stop("TERM");
    assert_eq!(exit.code, Some(0), "{daemon}");

    let lines = daemon.log_lines();
    assert!(lines.len() >= 4, "{daemon}");
    let objects: Vec<Value> = lines
        .iter()
        .map(|line| {
            let object: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line {line:?} is not JSON ({e})\n{daemon}"));
            assert!(object.is_object(), "{line}");
            timestamp(&object["ts"]);
            assert!(
                ["error", "warn", "info", "debug", "trace"]
                    .contains(&object["level"].as_str().unwrap_or_default()),
                "{line}"
            );
            for key in ["target", "msg"] {
                assert!(
                    object[key].as_str().is_some_and(|s| !s.is_empty()),
                    "no `{key}` in {line}"
                );
            }
            object
        })
        .collect();
    let transition = objects
        .iter()
        .find(|o| o["msg"] == "host status changed")
        .unwrap();
    assert_eq!(transition["level"], "info", "{transition}");
    assert_eq!(transition["host"], "gone", "{transition}");
    assert_eq!(transition["status"], "down", "{transition}");
    assert_eq!(transition["previous"], "unknown", "{transition}");
    assert_eq!(transition["reason"], "connection refused", "{transition}");
    let check = objects
        .iter()
        .find(|o| o["msg"] == "check completed")
        .unwrap_or_else(|| panic!("no `check completed` debug line\n{daemon}"));
    assert_eq!(check["host"], "gone", "{check}");
    assert_eq!(check["ok"], false, "{check}");
    assert!(check["latency_ms"].is_number(), "{check}");
    let listening = objects
        .iter()
        .find(|o| o["msg"] == "API listening")
        .unwrap();
    assert!(
        listening["listen"]
            .as_str()
            .is_some_and(|a| a.parse::<SocketAddr>().is_ok()),
        "{listening}"
    );
    assert_eq!(
        listening["dashboard"].as_str(),
        listening["listen"]
            .as_str()
            .map(|a| format!("http://{a}/"))
            .as_deref(),
        "the dashboard's address, ready to open: {listening}"
    );
}

#[test]
fn text_log_lines_carry_key_value_fields() {
    let (_sandbox, mut daemon) = start(&refused_host_config());
    let line = daemon.wait_for_log("the transition is logged", |l| {
        l.contains("host status changed")
    });
    let mut words = line.split_whitespace();
    humantime::parse_rfc3339(words.next().unwrap())
        .unwrap_or_else(|e| panic!("{line:?} does not start with a timestamp: {e}"));
    assert_eq!(words.next(), Some("INFO"), "{line}");
    assert!(
        line.ends_with(
            " host status changed host=gone status=down previous=unknown reason=\"connection refused\""
        ),
        "{line}"
    );
}

// --- API --------------------------------------------------------------------------------

/// The TCP ports a process listens on: its socket inodes, looked up in the kernel's tables.
#[cfg(target_os = "linux")]
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list the daemon's file descriptors")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is fields[1] (hex ip:port), st fields[3] (0A: listen), inode [9].
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                if let Some(port) = fields[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                {
                    ports.push(port);
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[test]
fn api_reports_health_readiness_and_every_host() {
    let server = TestServer::routes([
        ("/up", Response::ok("fine")),
        ("/down", Response::status(503)),
    ]);
    let (_sandbox, mut daemon) = start(&config(
        "interval: 200ms, timeout: 200ms, failure_threshold: 1",
        &[
            host("web", &server.url("/up"), ""),
            host("broken", &server.url("/down"), ""),
        ],
    ));
    let api = daemon.api();

    let health = daemon.get("/healthz");
    assert_eq!(health.status, 200, "{health}");
    assert_eq!(health.body.trim(), "ok", "{health}");
    wait_until(DEADLINE, "/readyz answers 200", || {
        http_get(api, "/readyz").is_ok_and(|a| a.status == 200)
    })
    .unwrap();

    daemon.wait_for_checks("web", 3);
    daemon.wait_for_status("broken", "down");
    let answer = daemon.get("/api/v1/hosts");
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{answer:?}"
    );
    let hosts = daemon.hosts();
    let labels: Vec<&str> = hosts.iter().filter_map(|h| h["label"].as_str()).collect();
    assert_eq!(labels, ["web", "broken"], "in configuration order");
    for host in &hosts {
        assert_eq!(host["type"], "http", "{host}");
        timestamp(&host["since"]);
        assert!(host["checks"].as_u64() >= Some(1), "{host}");
        assert!(host["consecutive_failures"].is_u64(), "{host}");
        assert!(host["consecutive_successes"].is_u64(), "{host}");
        let last = &host["last_check"];
        timestamp(&last["at"]);
        assert!(last["ok"].is_boolean(), "{host}");
        assert!(
            last["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{host}"
        );
        assert!(last["detail"].is_string(), "{host}");
        assert!(
            host.get("history").is_none(),
            "history only for one host: {host}"
        );
    }
    let (web, broken) = (&hosts[0], &hosts[1]);
    assert_eq!(web["status"], "up", "{web}");
    assert_eq!(web["consecutive_failures"], 0, "{web}");
    assert_eq!(web["consecutive_successes"], web["checks"], "{web}");
    assert_eq!(web["last_check"]["ok"], true, "{web}");
    assert_eq!(web["last_check"]["detail"], "status 200", "{web}");
    assert_eq!(broken["status"], "down", "{broken}");
    assert_eq!(broken["consecutive_successes"], 0, "{broken}");
    assert_eq!(
        broken["last_check"]["detail"], "status 503, expected 2xx",
        "{broken}"
    );

    let web = daemon.host("web");
    let results = history(&web);
    assert_eq!(
        results.len() as u64,
        web["checks"].as_u64().unwrap(),
        "{web}"
    );
    let starts: Vec<SystemTime> = results.iter().map(|r| timestamp(&r["at"])).collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "history is not oldest first: {web}"
    );
    assert_eq!(
        results.last(),
        Some(&web["last_check"]),
        "newest last: {web}"
    );

    let missing = daemon.get("/api/v1/hosts/nope");
    assert_eq!(missing.status, 404, "{missing}");
    let error = missing.json().unwrap_or_else(|e| panic!("{e}: {missing}"));
    assert!(
        error["error"].as_str().is_some_and(|e| e.contains("nope")),
        "{missing}"
    );
    let scheduler = daemon.json("/api/v1/scheduler");
    assert!(scheduler["checks_total"].as_u64() >= Some(4), "{scheduler}");

    #[cfg(target_os = "linux")]
    assert_eq!(listening_ports(daemon.pid()), [api.port()], "{daemon}");
}

#[test]
fn history_keeps_the_newest_state_history_results() {
    let server = TestServer::always(Response::ok("fine"));
    let (_sandbox, mut daemon) = start(
        &(config(
            "interval: 100ms, timeout: 100ms",
            &[host("api", &server.url("/"), "")],
        ) + "state: { history: 3 }\n"),
    );
    let api = daemon.wait_for_checks("api", 5);
    let results = history(&api);
    assert_eq!(results.len(), 3, "{api}");
    assert_eq!(
        results.last(),
        Some(&api["last_check"]),
        "newest last: {api}"
    );
}

#[test]
fn listen_null_serves_no_api_but_keeps_monitoring() {
    let (sandbox, mut daemon) = start(&config_listening(
        "null",
        "interval: 200ms, timeout: 200ms, failure_threshold: 2",
        &[host(
            "gone",
            &format!("http://127.0.0.1:{}/", closed_port()),
            "",
        )],
    ));
    // A first decision to down is news: previous is unknown.
    let all = wait_for_events(&sandbox, &daemon, 1);
    assert_event(&all[0], "down", "gone", "unknown");
    assert_eq!(all[0]["consecutive_failures"], 2, "{all:?}");
    assert!(!daemon.stderr().contains("API listening"), "{daemon}");
    #[cfg(target_os = "linux")]
    assert_eq!(listening_ports(daemon.pid()), [0u16; 0], "{daemon}");
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

#[test]
fn taken_listen_address_exits_2_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = taken.local_addr().unwrap();
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &config_listening(
            &format!("\"{address}\""),
            "interval: 1s",
            &[host("api", "http://127.0.0.1:9/", "")],
        ),
    );
    let mut daemon = sandbox.daemon("flowstate.yaml").spawn();
    let exit = daemon.wait_exit(DEADLINE);
    assert_eq!(exit.code, Some(2), "{daemon}");
    assert!(
        daemon
            .stderr()
            .contains(&format!("cannot listen on {address}")),
        "{daemon}"
    );
}

// --- The bundled example ----------------------------------------------------------------

#[test]
fn bundled_example_checks_itself_and_alerts_on_the_missing_service() {
    let example = read("examples/flowstate.yaml");
    assert_eq!(
        example.matches("9900").count(),
        3,
        "the example's port is expected in `listen`, the self-check url and the TCP check"
    );
    let sandbox = Sandbox::new();
    // The port is freed before the daemon binds it: if something else takes it meanwhile,
    // try another.
    let mut attempts = 0;
    let mut daemon = loop {
        let port = crate::common::server::free_port();
        sandbox.write(
            "flowstate.yaml",
            &example.replace("9900", &port.to_string()),
        );
        let mut daemon = sandbox.daemon("flowstate.yaml").spawn();
        if daemon
            .wait_for_log_or_exit("the daemon logs `API listening`", |l| {
                l.contains("API listening")
            })
            .is_some()
        {
            break daemon;
        }
        attempts += 1;
        assert!(
            attempts < 3 && daemon.stderr().contains("cannot listen"),
            "{daemon}"
        );
    };
    daemon.wait_for_status("flowstate-api", "up");
    let port = daemon.wait_for_status("api-port", "up");
    assert_eq!(port["type"], "tcp", "{port}");
    let down = daemon.wait_for_status("not-running", "down");
    assert_eq!(down["consecutive_failures"], 3, "{down}");
    let line = daemon.wait_for_stdout("a DOWN line is printed", |l| l.contains(" DOWN "));
    assert!(
        line.ends_with(
            " DOWN not-running: connection refused (was unknown; 3 consecutive failures)"
        ),
        "{line}"
    );
    assert_eq!(daemon.host("flowstate-api")["status"], "up");
    assert_eq!(daemon.stdout_lines(), [line], "{daemon}");
}

#[test]
fn the_graph_route_lists_dependencies_with_each_hosts_status() {
    let (_sandbox, mut daemon) = start(&format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\n\
         defaults: {{ interval: 200ms, timeout: 200ms, failure_threshold: 1 }}\n\
         hosts:\n  - {{ label: router, url: 'http://127.0.0.1:{}/' }}\n  - {{ label: api, url: 'http://127.0.0.1:{}/', depends_on: [router] }}\n",
        closed_port(),
        closed_port()
    ));
    daemon.wait_for_status("router", "down");
    let graph = daemon.json("/api/v1/graph");
    assert_eq!(
        graph["edges"],
        serde_json::json!([{ "parent": "router", "child": "api", "any": false }]),
        "{graph}"
    );
    assert_eq!(graph["nodes"][0]["label"], "router", "{graph}");
    assert_eq!(graph["nodes"][0]["status"], "down", "{graph}");
}
