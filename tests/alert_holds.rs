//! Holds on a running daemon (SPEC §9): maintenance windows, silences and flapping keep problem
//! alerts from receivers while checks and state go on; a recovery is never held; when a hold
//! ends, each receiver hears the host's status if it differs from what it was last told.
//!
//! One-off windows are placed a few seconds ahead of the wall clock with RFC 3339 `start` and
//! `end`, long enough for what must happen inside them on a loaded machine; where a test needs
//! "still inside the window" to mean anything, it checks that the API still showed the window
//! *after* what it observed, and otherwise says the machine was too slow rather than failing
//! on a wrong verdict. That nothing was sent is shown by the host's own checks running on past
//! the moment it would have been.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::configs::{document_with_notifiers, host};
use crate::common::daemon::CONFIG;
use crate::common::events::{events, kinds, timestamp, wait_for_event, wait_for_events};
use crate::common::hosts::let_checks_pass;
use crate::common::scrape::{metrics, sample, wait_for_sample};
use crate::common::{start, switchable, Daemon, Outcome, Response, Sandbox, TestServer};

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// The reference notifier: every event, no policy of its own.
const AUDIT: &str = "  audit: { type: file, path: alerts.jsonl }\n";

/// A config with host `api` checking `url`, alerting `audit`, and `maintenance` (lines of the
/// top-level `maintenance:` list, indented two spaces; none when empty).
fn config(url: &str, maintenance: &str) -> String {
    let document = document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [audit]"),
        AUDIT,
        &[host("api", url, "")],
    );
    if maintenance.is_empty() {
        document
    } else {
        format!("{document}maintenance:\n{maintenance}")
    }
}

/// A one-off window `name` over `api` from `start` to `end`, as a `maintenance:` list item.
fn one_off(name: &str, start: SystemTime, end: SystemTime) -> String {
    format!(
        "  - {{ name: {name}, hosts: [api], start: '{}', end: '{}' }}\n",
        humantime::format_rfc3339_millis(start),
        humantime::format_rfc3339_millis(end),
    )
}

/// `d` from now, to the millisecond (as the window's RFC 3339 times are written).
fn from_now(d: Duration) -> SystemTime {
    let since_epoch = (SystemTime::now() + d)
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    SystemTime::UNIX_EPOCH + Duration::from_millis(since_epoch.as_millis() as u64)
}

/// `flowstate_alerts_total{notifier="audit",result}`.
fn audit_total(result: &str) -> String {
    format!("flowstate_alerts_total{{notifier=\"audit\",result=\"{result}\"}}")
}

/// The API's host `label` as `GET /api/v1/hosts` lists it.
#[track_caller]
fn listed(daemon: &mut Daemon, label: &str) -> Value {
    daemon
        .hosts()
        .into_iter()
        .find(|h| h["label"] == label)
        .unwrap_or_else(|| panic!("{label} is not in /api/v1/hosts"))
}

/// The `kind` of each of a host's `holds`.
fn hold_kinds(host: &Value) -> Vec<&str> {
    host["holds"]
        .as_array()
        .map(|holds| holds.iter().filter_map(|h| h["kind"].as_str()).collect())
        .unwrap_or_default()
}

/// Waits until host `label` has been checked after `moment` (wall clock) and then three more
/// times: the daemon, whose router settles held hosts every second, demonstrably ran past it.
#[track_caller]
fn run_past(daemon: &mut Daemon, label: &str, moment: SystemTime) -> Value {
    daemon.wait_for_host(label, "is checked after the moment of interest", |h| {
        h["last_check"]["at"]
            .as_str()
            .and_then(|at| humantime::parse_rfc3339(at).ok())
            .is_some_and(|at| at > moment)
    });
    let_checks_pass(daemon, label, 3)
}

/// Fails the test, saying the machine was too slow, unless `host` (read after what the test
/// observed) was still in maintenance window `name`.
#[track_caller]
fn assert_still_in(host: &Value, name: &str, daemon: &Daemon) {
    assert_eq!(
        host["maintenance"], name,
        "the machine is too slow for this test: the window closed before the test was done \
         with what had to happen inside it\n{host:#}\n{daemon}"
    );
}

#[test]
fn a_host_still_down_when_its_maintenance_ends_is_alerted_once_then() {
    let (status, target) = switchable(200);
    let opens = from_now(Duration::from_secs(3));
    let closes = opens + Duration::from_secs(6);
    let (sandbox, mut daemon) = start(&config(&target.url("/"), &one_off("deploy", opens, closes)));
    daemon.wait_for_status("api", "up");
    let before = listed(&mut daemon, "api");
    if SystemTime::now() < opens {
        assert!(before.get("maintenance").is_none(), "{before:#}");
    }

    // The window opens; the host fails inside it.
    daemon.wait_for_host("api", "is in maintenance", |h| h["maintenance"] == "deploy");
    status.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    let_checks_pass(&mut daemon, "api", 5);
    let held = events(&sandbox);
    let api = daemon.host("api");
    assert_still_in(&api, "deploy", &daemon);
    assert_eq!(kinds(&held), Vec::<&str>::new(), "{daemon}");

    // The API says why nobody heard of it.
    assert_eq!(api["status"], "down", "{api:#}");
    assert_eq!(hold_kinds(&api), ["maintenance"], "{api:#}");
    assert_eq!(api["holds"][0]["name"], "deploy", "{api:#}");
    assert_eq!(timestamp(&api["holds"][0]["until"]), closes, "{api:#}");
    let suppressed = &api["last_suppressed"];
    assert_eq!(suppressed["event"], "down", "{api:#}");
    assert_eq!(suppressed["hold"]["kind"], "maintenance", "{api:#}");
    assert_eq!(suppressed["hold"]["name"], "deploy", "{api:#}");
    assert!(suppressed.get("notifier").is_none(), "{api:#}");
    assert!(
        suppressed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("deploy")),
        "{api:#}"
    );
    assert_eq!(listed(&mut daemon, "api")["maintenance"], "deploy");
    wait_for_sample(&mut daemon, &audit_total("suppressed"), |v| v >= 1.0);

    // The window closes with the host still down: one `down`, then nothing more.
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert!(timestamp(&down["at"]) >= closes, "{down:#}");
    assert_eq!(down["status"], "down", "{down:#}");
    assert_eq!(down["previous"], "up", "{down:#}");
    let api = let_checks_pass(&mut daemon, "api", 5);
    assert_eq!(kinds(&events(&sandbox)), ["down"], "{daemon}");
    assert!(api.get("maintenance").is_none(), "{api:#}");
    assert_eq!(hold_kinds(&api), Vec::<&str>::new(), "{api:#}");

    // Its recovery is news to the receiver that heard the `down`.
    status.store(200, SeqCst);
    let up = wait_for_event(&sandbox, &daemon, "up", "api");
    assert_eq!(up["previous"], "down", "{up:#}");
    let_checks_pass(&mut daemon, "api", 3);
    assert_eq!(kinds(&events(&sandbox)), ["down", "up"], "{daemon}");
}

#[test]
fn an_outage_that_begins_and_ends_inside_a_window_alerts_nobody() {
    let (status, target) = switchable(200);
    let opens = from_now(Duration::from_secs(2));
    let closes = opens + Duration::from_secs(6);
    let (sandbox, mut daemon) = start(&config(
        &target.url("/"),
        &one_off("patching", opens, closes),
    ));
    daemon.wait_for_status("api", "up");
    daemon.wait_for_host("api", "is in maintenance", |h| {
        h["maintenance"] == "patching"
    });

    status.store(503, SeqCst);
    let api = daemon.wait_for_host("api", "is down, its `down` held", |h| {
        h["status"] == "down" && h["last_suppressed"]["event"] == "down"
    });
    assert_eq!(api["last_suppressed"]["hold"]["kind"], "maintenance");
    status.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    let api = daemon.host("api");
    assert_still_in(&api, "patching", &daemon);
    // The recovery is not held, but the receiver never heard of the problem.
    let suppressed = &api["last_suppressed"];
    assert_eq!(suppressed["event"], "up", "{api:#}");
    assert_eq!(suppressed["notifier"], "audit", "{api:#}");
    assert_eq!(
        suppressed["reason"], "the notifier never heard of the problem",
        "{api:#}"
    );

    // Past the window's end and the router's next look at held hosts.
    let api = run_past(&mut daemon, "api", closes + Duration::from_secs(2));
    assert_eq!(api["status"], "up", "{api:#}");
    assert_eq!(
        kinds(&events(&sandbox)),
        Vec::<&str>::new(),
        "a problem nobody was told of, over before the window closed\n{daemon}"
    );
}

#[test]
fn a_recovery_inside_a_window_is_sent_at_once() {
    let (status, target) = switchable(200);
    let opens = from_now(Duration::from_secs(4));
    let closes = opens + Duration::from_secs(60);
    let (sandbox, mut daemon) = start(&config(&target.url("/"), &one_off("deploy", opens, closes)));
    daemon.wait_for_status("api", "up");

    // Down and alerted before the window.
    status.store(503, SeqCst);
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert!(
        timestamp(&down["at"]) < opens,
        "the machine is too slow for this test: the host went down after the window opened\n\
         {down:#}\n{daemon}"
    );

    // The window opens; the recovery inside it still goes out.
    daemon.wait_for_host("api", "is in maintenance", |h| h["maintenance"] == "deploy");
    status.store(200, SeqCst);
    let up = wait_for_event(&sandbox, &daemon, "up", "api");
    assert_eq!(up["previous"], "down", "{up:#}");
    let at = timestamp(&up["at"]);
    assert!(opens <= at && at < closes, "{up:#}");
    let api = let_checks_pass(&mut daemon, "api", 3);
    assert_eq!(api["maintenance"], "deploy", "{api:#}");
    assert_eq!(kinds(&events(&sandbox)), ["down", "up"], "{daemon}");
}

#[test]
fn a_window_added_by_a_reload_holds_alerts_and_its_removal_releases_them() {
    let (status, target) = switchable(200);
    let plain = config(&target.url("/"), "");
    let (sandbox, mut daemon) = start(&plain);
    daemon.wait_for_status("api", "up");
    assert!(listed(&mut daemon, "api").get("maintenance").is_none());

    // Every minute, for an hour: the occurrence that began this minute covers the host now.
    let with_window = config(
        &target.url("/"),
        "  - { name: hourly-work, hosts: ['ap*'], schedule: '* * * * *', duration: 1h, \
         timezone: Europe/Berlin }\n",
    );
    let edited = SystemTime::now();
    sandbox.write(CONFIG, &with_window);
    let api = daemon.wait_for_host("api", "is in maintenance after the reload", |h| {
        h["maintenance"] == "hourly-work"
    });
    let until = timestamp(&api["holds"][0]["until"]);
    assert!(
        until > edited + Duration::from_secs(58 * 60)
            && until <= SystemTime::now() + Duration::from_secs(3600),
        "{api:#}"
    );

    status.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    let api = let_checks_pass(&mut daemon, "api", 5);
    assert_eq!(kinds(&events(&sandbox)), Vec::<&str>::new(), "{daemon}");
    assert_eq!(api["last_suppressed"]["hold"]["kind"], "maintenance");
    assert_eq!(api["last_suppressed"]["hold"]["name"], "hourly-work");

    // The window is taken out again: it ends now, and the host is still down.
    sandbox.write(CONFIG, &plain);
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down["previous"], "up", "{down:#}");
    let api = let_checks_pass(&mut daemon, "api", 5);
    assert!(api.get("maintenance").is_none(), "{api:#}");
    assert_eq!(kinds(&events(&sandbox)), ["down"], "{daemon}");
}

/// `flowstate silence ARGS` against the daemon's API.
fn silence(sandbox: &Sandbox, daemon: &mut Daemon, args: &[&str]) -> Outcome {
    let api = format!("http://{}", daemon.api());
    let mut all = vec!["silence", "--api", api.as_str()];
    all.extend_from_slice(args);
    sandbox.run(&all)
}

#[test]
fn a_silence_holds_a_down_until_it_is_removed() {
    let (status, target) = switchable(200);
    let (sandbox, mut daemon) = start(&config(&target.url("/"), ""));
    daemon.wait_for_status("api", "up");

    let made = silence(
        &sandbox,
        &mut daemon,
        &[
            "add",
            "--host",
            "api",
            "--for",
            "1h",
            "--comment",
            "migration",
        ],
    );
    made.expect_code(0);
    let id = made.stdout.trim().to_string();
    assert_eq!(listed(&mut daemon, "api")["silenced"], id.as_str());

    status.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    let api = let_checks_pass(&mut daemon, "api", 5);
    assert_eq!(kinds(&events(&sandbox)), Vec::<&str>::new(), "{daemon}");
    assert_eq!(api["silenced"], id.as_str(), "{api:#}");
    assert_eq!(hold_kinds(&api), ["silence"], "{api:#}");
    assert_eq!(api["holds"][0]["id"], id.as_str(), "{api:#}");
    assert_eq!(api["last_suppressed"]["event"], "down", "{api:#}");
    assert_eq!(api["last_suppressed"]["hold"]["kind"], "silence");
    assert_eq!(api["last_suppressed"]["hold"]["id"], id.as_str());

    let removed_at = SystemTime::now();
    silence(&sandbox, &mut daemon, &["rm", &id]).expect_code(0);
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert_eq!(down["previous"], "up", "{down:#}");
    let late = timestamp(&down["at"])
        .duration_since(removed_at)
        .unwrap_or_default();
    assert!(
        late < Duration::from_secs(5),
        "the down came {late:?} after the silence was removed"
    );
    let api = let_checks_pass(&mut daemon, "api", 5);
    assert!(api.get("silenced").is_none(), "{api:#}");
    assert_eq!(kinds(&events(&sandbox)), ["down"], "{daemon}");
}

/// A target that fails its first request and then alternates (503, 200, 503, ...) until
/// `steady` is set; from then on it fails every request.
fn alternating() -> (Arc<AtomicBool>, TestServer) {
    let steady = Arc::new(AtomicBool::new(false));
    let requests = AtomicU64::new(0);
    let failing = steady.clone();
    let server = TestServer::start(move |_, _| {
        let n = requests.fetch_add(1, SeqCst);
        if failing.load(SeqCst) || n.is_multiple_of(2) {
            Response::status(503).body("no")
        } else {
            Response::ok("yes")
        }
    });
    (steady, server)
}

#[test]
fn a_flapping_host_says_so_once_and_then_only_the_status_it_settles_in() {
    let (steady, target) = alternating();
    // Every result a transition; the window judged from its fifth result on.
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        "interval: 250ms, timeout: 250ms, failure_threshold: 1, success_threshold: 1, \
         alerts: [audit]",
        AUDIT,
        &[host(
            "flappy",
            &target.url("/"),
            "flapping: { window: 10, high: 50%, low: 25% }",
        )],
    ));

    // Down, up, down, up: each alerted; the fifth result starts flapping, said once.
    wait_for_event(&sandbox, &daemon, "flapping", "flappy");
    let host = let_checks_pass(&mut daemon, "flappy", 10);
    let seen = events(&sandbox);
    assert_eq!(
        kinds(&seen),
        ["down", "up", "down", "up", "flapping"],
        "after `flapping`, no down/up while it flaps\n{daemon}"
    );
    assert_eq!(host["flapping"], true, "{host:#}");
    assert_eq!(hold_kinds(&host), ["flapping"], "{host:#}");
    assert_eq!(host["last_suppressed"]["hold"]["kind"], "flapping");
    assert!(
        ["down", "up"].contains(&host["last_suppressed"]["event"].as_str().unwrap_or("")),
        "{host:#}"
    );
    assert_eq!(listed(&mut daemon, "flappy")["flapping"], true);
    let scrape = metrics(&mut daemon);
    assert_eq!(
        sample(&scrape, "flowstate_host_flapping{host=\"flappy\"}"),
        1.0,
        "{scrape}"
    );

    // It fails steadily: once the changes age out it stops flapping, and the receiver, last
    // told `up`, hears `down` once.
    steady.store(true, SeqCst);
    daemon.wait_for_host("flappy", "stops flapping", |h| h["flapping"] == false);
    let settled = wait_for_events(&sandbox, &daemon, 6);
    assert_eq!(settled[5]["event"], "down", "{settled:#?}");
    assert_eq!(settled[5]["previous"], "up", "{settled:#?}");
    let host = let_checks_pass(&mut daemon, "flappy", 5);
    assert_eq!(host["status"], "down", "{host:#}");
    assert_eq!(hold_kinds(&host), Vec::<&str>::new(), "{host:#}");
    assert_eq!(
        kinds(&events(&sandbox)),
        ["down", "up", "down", "up", "flapping", "down"],
        "{daemon}"
    );
    wait_for_sample(
        &mut daemon,
        "flowstate_host_flapping{host=\"flappy\"}",
        |v| v == 0.0,
    );
}

/// A target that answers `script` (`P` 200, `F` 503), one character per request, then fails
/// every request.
fn scripted(script: &'static str) -> TestServer {
    let requests = AtomicU64::new(0);
    TestServer::start(move |_, _| {
        let n = requests.fetch_add(1, SeqCst) as usize;
        match script.as_bytes().get(n) {
            Some(b'P') => Response::ok("yes"),
            _ => Response::status(503).body("no"),
        }
    })
}

#[test]
fn flapping_that_stops_on_the_check_that_takes_the_host_down_alerts_down_once() {
    // Single failures flap without taking the host down (two are needed); seven passes age
    // most changes out; the second of two failures then both takes the host down and brings
    // the percent (21.5) below `low`: the one check ends flapping and changes the status.
    let target = scripted("PFPFPFPFPFPFPPPPPPP");
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        "interval: 250ms, timeout: 250ms, failure_threshold: 2, success_threshold: 1, \
         alerts: [audit]",
        AUDIT,
        &[host(
            "flappy",
            &target.url("/"),
            "flapping: { window: 10, high: 50%, low: 25% }",
        )],
    ));
    wait_for_event(&sandbox, &daemon, "flapping", "flappy");
    daemon.wait_for_host("flappy", "stops flapping", |h| h["flapping"] == false);
    daemon.wait_for_status("flappy", "down");
    let down = wait_for_event(&sandbox, &daemon, "down", "flappy");
    let_checks_pass(&mut daemon, "flappy", 5);
    assert_eq!(
        kinds(&events(&sandbox)),
        ["flapping", "down"],
        "{:#?}\n{daemon}",
        events(&sandbox)
    );
    assert_eq!(down["status"], "down", "{down:#}");
    assert_eq!(down["previous"], "up", "{down:#}");
    assert!(
        down["reason"].as_str().is_some_and(|r| r.contains("503")),
        "{down:#}"
    );
}

#[test]
fn a_down_held_when_flowstate_stops_is_alerted_once_its_window_ends_after_the_restart() {
    let (status, target) = switchable(200);
    let opens = from_now(Duration::from_secs(2));
    let closes = opens + Duration::from_secs(8);
    let document = format!(
        "{}state: {{ path: state.db }}\n",
        config(&target.url("/"), &one_off("deploy", opens, closes))
    );
    let (sandbox, mut daemon) = start(&document);
    daemon.wait_for_status("api", "up");
    daemon.wait_for_host("api", "is in maintenance", |h| h["maintenance"] == "deploy");
    status.store(503, SeqCst);
    daemon.wait_for_host("api", "is down with its alert held", |h| {
        h["status"] == "down" && h["last_suppressed"]["event"] == "down"
    });
    daemon.stop("TERM");
    assert_eq!(kinds(&events(&sandbox)), Vec::<&str>::new());

    // Restarted inside the window, still down: nothing yet; once it closes, one `down`.
    let mut daemon = sandbox.daemon(CONFIG).start();
    let down = wait_for_event(&sandbox, &daemon, "down", "api");
    assert!(
        timestamp(&down["at"]) >= closes,
        "sent inside the window: {down:#}"
    );
    assert_eq!(down["status"], "down");
    run_past(&mut daemon, "api", SystemTime::now());
    assert_eq!(kinds(&events(&sandbox)), ["down"], "{daemon}");
}
