//! Alert delivery that is neither lost nor doubled: a real `flowstate run` posting to real
//! loopback receivers that fail on purpose, killed with real SIGKILL and stopped with SIGTERM,
//! then started again on the same `state.path`.
//!
//! What is tested, grouped by concern:
//! - retries: a failing receiver gets the same event (same `id`, same body, same
//!   `Idempotency-Key`) until it takes it, never sooner than the backoff allows and never again
//!   after; a host's later event waits behind it; `Retry-After` is heeded up to
//!   `max_backoff`; a 4xx refusal and `max_age` end the retries (counted, logged, final); one
//!   failing receiver holds up no other host and no other notifier; a reload that fixes the
//!   notifier delivers what waits.
//! - restarts with a state store: an undelivered event survives SIGKILL and SIGTERM (also with
//!   its post hanging) and is sent with its original `id` and `at`, ahead of newer events of
//!   its host; `max_age` counts from when it was first queued; host status, `since`, counters
//!   and history carry on, so unchanged hosts alert nothing and changed ones exactly once.
//! - without a (working) store: an undelivered event is reported lost at shutdown, with its id;
//!   a file that is not a database costs no check and no alert, and is left as it was.
//!
//! How: a receiver is a [`Receiver`] (`common/receiver.rs`) that answers with a status the
//! test sets (or 503 to the first N posts) and records every post with its arrival instant.
//! Targets are switchable TestServers that make a host go down and up. Everything is awaited with a
//! deadline, on the receiver's posts, the API, `/metrics` or the log. Where a test shows that
//! something does *not* happen (a fifth post, an alert after a restart), other activity is the
//! clock: it waits until a host has run more checks (or a later event arrived), then asserts
//! the absence. Timing is asserted only where load cannot break it: a retry never comes
//! *sooner* than its backoff's lower bound.
//!
//! Host state reaches the store once per second, an event and what each notifier was told at
//! once: so the SIGKILL tests kill right after the first post, when the host's new status may
//! not be saved yet, and still expect no second event.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::common::configs::{host, ALERTS};
use crate::common::daemon::complete_lines;
use crate::common::events::assert_event;
use crate::common::hosts::{checks, history, let_checks_pass};
use crate::common::receiver::{shown, Post, Receiver};
use crate::common::scrape::{wait_for_scrape, Scrape};
use crate::common::wait::wait_for;
use crate::common::{start, switchable, Response, Sandbox, TestServer, DEADLINE};

/// The config file, relative to the sandbox.
const CONFIG: &str = "flowstate.yaml";

/// The state store, relative to the config file: in a directory the daemon must create.
const STATE: &str = "state/flowstate.db";

/// Checks every 100 ms; a host is down after two failures in a row, so one answer slowed by a
/// loaded machine past the timeout is no outage (and no unwanted event).
const CHECKS: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// Retries in tenths of a second: waits of 50–100, 100–200, 200–400, then 250–500 ms.
const RETRY: &str = "backoff: 100ms, max_backoff: 500ms";

// --- Configs ----------------------------------------------------------------------------

/// A config: the API on a free port, `state.path` when `state` is set, [`CHECKS`] for every
/// host, alerting `alerts`, then `notifiers` (YAML lines) and `hosts`.
fn document(state: Option<&str>, alerts: &str, notifiers: &str, hosts: &[String]) -> String {
    let state = state
        .map(|path| format!("state: {{ path: {path} }}\n"))
        .unwrap_or_default();
    format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\n{state}\
         defaults: {{ {CHECKS}, alerts: [{alerts}] }}\n\
         notifiers:\n{notifiers}hosts:\n{}",
        hosts.concat()
    )
}

/// The notifier `name` posting to `receiver`, with the fast [`RETRY`] settings and `extra`
/// (more `key: value` pairs, each starting with `, `).
fn webhook(name: &str, receiver: &Receiver, extra: &str) -> String {
    format!(
        "  {name}: {{ type: webhook, url: '{}', timeout: 5s, {RETRY}{extra} }}\n",
        receiver.url("/hook")
    )
}

/// [`document`] with the one webhook notifier `hook`.
fn hooked(state: Option<&str>, receiver: &Receiver, extra: &str, hosts: &[String]) -> String {
    document(state, "hook", &webhook("hook", receiver, extra), hosts)
}

// --- Observations -----------------------------------------------------------------------

// --- Retries ----------------------------------------------------------------------------

#[test]
fn a_receiver_failing_its_first_three_posts_gets_the_event_exactly_once_more() {
    let (target, api) = switchable(503);
    let receiver = Receiver::failing_first(3, 200);
    let (_sandbox, mut daemon) = start(&hooked(
        None,
        &receiver,
        "",
        &[host("api", &api.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    let down = first[0].json();
    assert_event(&down, "down", "api", "unknown");
    // The host recovers while its down event is still being retried: the up event waits
    // behind it, so the receiver never hears of the recovery before the outage.
    target.store(200, SeqCst);

    let posts = receiver.wait_for_posts(&daemon, "the up event is delivered", |p| {
        p.iter()
            .any(|p| p.json()["event"] == "up" && p.answered == 200)
    });
    let (downs, rest): (Vec<&Post>, Vec<&Post>) = posts.iter().partition(|p| p.json() == down);
    assert_eq!(
        downs.iter().map(|p| p.answered).collect::<Vec<_>>(),
        [503, 503, 503, 200],
        "the down event is posted until taken, then never again:{}",
        shown(&posts)
    );
    for post in &downs {
        assert_eq!(post.key(), Some(post.id()), "{}", shown(&posts));
    }
    assert_eq!(
        rest.len(),
        1,
        "one more post, the up event:{}",
        shown(&posts)
    );
    let up = &rest[0];
    assert_event(&up.json(), "up", "api", "down");
    assert_eq!(up.key(), Some(up.id()), "{}", shown(&posts));
    assert_ne!(up.id(), downs[0].id(), "{}", shown(&posts));
    assert!(
        up.instant > downs[3].instant,
        "the up event overtook the down event:{}",
        shown(&posts)
    );
    // Each wait is at least half the doubled backoff (jitter takes it down to half, never
    // lower); load can only make it longer.
    for (i, least_ms) in [50, 100, 200].into_iter().enumerate() {
        let waited = downs[i + 1].instant - downs[i].instant;
        assert!(
            waited >= Duration::from_millis(least_ms),
            "retry {} came after {waited:?}, sooner than the backoff allows (at least \
             {least_ms} ms):{}",
            i + 1,
            shown(&posts)
        );
    }

    let scrape = wait_for_scrape(&mut daemon, "both events count as sent", |s| {
        s.alerts("hook", "sent") == Some(2.0) && s.pending("hook") == Some(0.0)
    });
    assert_eq!(
        scrape.alerts("hook", "failed"),
        Some(3.0),
        "{}",
        scrape.body
    );
    for reason in ["expired", "rejected", "overflow"] {
        assert_eq!(scrape.dropped("hook", reason), Some(0.0), "{}", scrape.body);
    }
    let id = format!("id={}", down["id"].as_str().unwrap());
    let retried = daemon
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("alert delivery failed; retrying") && l.contains(&id))
        .count();
    assert_eq!(retried, 3, "{daemon}");
    daemon.wait_for_log("the delivery after retries is logged", |l| {
        l.contains("alert delivered after retries") && l.contains(&id) && l.contains("retries=3")
    });
}

#[test]
fn retry_after_is_heeded_up_to_max_backoff() {
    // 429 with `Retry-After: 1` first: the next attempt waits what the receiver asked for,
    // capped at max_backoff (800 ms), instead of the 50–100 ms backoff.
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let receiver = TestServer::start({
        let arrivals = arrivals.clone();
        move |_, _| {
            let mut arrivals = arrivals.lock().unwrap();
            arrivals.push(Instant::now());
            match arrivals.len() {
                1 => Response::status(429).header("Retry-After", "1"),
                _ => Response::status(200),
            }
        }
    });
    let target = TestServer::always(Response::status(503));
    let notifier = format!(
        "  hook: {{ type: webhook, url: '{}', timeout: 5s, backoff: 100ms, max_backoff: 800ms }}\n",
        receiver.url("/hook")
    );
    let (_sandbox, mut daemon) = start(&document(
        None,
        "hook",
        &notifier,
        &[host("api", &target.url("/"), "")],
    ));
    let line = daemon.wait_for_log("the retry is logged", |l| {
        l.contains("alert delivery failed; retrying")
    });
    assert!(
        line.contains("retry_in_ms=800") && line.contains("status 429"),
        "{line}"
    );
    let arrived = wait_for(DEADLINE, "the retry arrived", || {
        let arrivals = arrivals.lock().unwrap();
        (arrivals.len() >= 2).then(|| arrivals.clone())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let waited = arrived[1] - arrived[0];
    assert!(
        waited >= Duration::from_millis(800),
        "retried after {waited:?}\n{daemon}"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn a_receiver_refusing_the_event_with_a_4xx_is_not_asked_again() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(400);
    let (_sandbox, mut daemon) = start(&hooked(
        None,
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let line = daemon.wait_for_log("the refusal is logged", |l| {
        l.contains("alert delivery given up") && l.contains("reason=rejected")
    });
    let scrape = wait_for_scrape(&mut daemon, "the refusal is counted", |s| {
        s.dropped("hook", "rejected") == Some(1.0) && s.pending("hook") == Some(0.0)
    });
    assert_eq!(
        scrape.alerts("hook", "failed"),
        Some(1.0),
        "{}",
        scrape.body
    );
    assert_eq!(scrape.alerts("hook", "sent"), Some(0.0), "{}", scrape.body);
    // Longer than any backoff (500 ms at most): a retry would have come.
    let_checks_pass(&mut daemon, "api", 10);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{line}{}", shown(&posts));
    assert!(line.contains(&format!("id={}", posts[0].id())), "{line}");
}

#[test]
fn an_event_older_than_max_age_is_given_up() {
    // With a state store, so giving up also means not trying again after a restart.
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let config = hooked(
        Some(STATE),
        &receiver,
        ", max_age: 1s",
        &[host("api", &target.url("/"), "")],
    );
    let (sandbox, mut daemon) = start(&config);
    let line = daemon.wait_for_log("giving up is logged", |l| {
        l.contains("alert delivery given up") && l.contains("reason=expired")
    });
    let scrape = wait_for_scrape(&mut daemon, "the event counts as expired", |s| {
        s.dropped("hook", "expired") == Some(1.0) && s.pending("hook") == Some(0.0)
    });
    assert_eq!(
        scrape.dropped("hook", "rejected"),
        Some(0.0),
        "{}",
        scrape.body
    );
    assert_eq!(scrape.alerts("hook", "sent"), Some(0.0), "{}", scrape.body);

    let posts = receiver.posts();
    assert!(posts.len() >= 2, "retried before max_age:{}", shown(&posts));
    assert!(
        posts.iter().all(|p| p.json() == posts[0].json()),
        "one event, retried:{}",
        shown(&posts)
    );
    assert!(line.contains(&format!("id={}", posts[0].id())), "{line}");
    // Every failed attempt counts, the last one too.
    assert_eq!(
        scrape.alerts("hook", "failed"),
        Some(posts.len() as f64),
        "{}{}",
        scrape.body,
        shown(&posts)
    );
    // Longer than max_backoff: a retry would have come by now.
    let_checks_pass(&mut daemon, "api", 10);
    assert_eq!(
        receiver.posts().len(),
        posts.len(),
        "{}",
        shown(&receiver.posts())
    );

    // Given up is final: a healthy receiver after a restart hears nothing of it (and the host,
    // still down, is no news).
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    receiver.answer(200);
    let mut again = sandbox.daemon(CONFIG).start();
    let_checks_pass(&mut again, "api", 10);
    assert_eq!(
        receiver.posts().len(),
        posts.len(),
        "{}\n{again}",
        shown(&receiver.posts())
    );
    assert!(!again.stderr().contains("resuming delivery"), "{again}");
}

#[test]
fn one_hosts_undeliverable_event_holds_up_no_other_host_or_notifier() {
    // `hook` refuses (503) every event of `stuck` and takes those of `fine`; `other` takes all.
    let receiver = Receiver::deciding(|event, _| (event["host"] == "stuck").then_some(503), 200);
    let other = Receiver::answering(200);
    let target = TestServer::always(Response::status(503));
    let notifiers = format!(
        "{}{}",
        webhook("hook", &receiver, ""),
        webhook("other", &other, "")
    );
    let (_sandbox, daemon) = start(&document(
        None,
        "hook, other",
        &notifiers,
        &[
            host("stuck", &target.url("/stuck"), ""),
            host("fine", &target.url("/fine"), ""),
        ],
    ));
    // While `stuck` is retried at `hook`, `fine`'s event gets through there, and both get
    // through to `other`.
    let posts = receiver.wait_for_posts(&daemon, "stuck was retried and fine delivered", |p| {
        p.iter().filter(|p| p.json()["host"] == "stuck").count() >= 3
            && p.iter()
                .any(|p| p.json()["host"] == "fine" && p.answered == 200)
    });
    let fine: Vec<&Post> = posts
        .iter()
        .filter(|p| p.json()["host"] == "fine")
        .collect();
    assert_eq!(fine.len(), 1, "{}", shown(&posts));
    assert_event(&fine[0].json(), "down", "fine", "unknown");
    let taken = other.wait_for_posts(&daemon, "other got both events", |p| p.len() >= 2);
    let mut hosts: Vec<String> = taken
        .iter()
        .map(|p| p.json()["host"].as_str().unwrap_or_default().to_string())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["fine", "stuck"], "{}", shown(&taken));
    assert!(taken.iter().all(|p| p.answered == 200));
}

#[test]
fn a_notifier_fixed_by_a_reload_gets_the_waiting_event() {
    // `hook` points at a receiver that fails; the user points it at one that works.
    let wrong = Receiver::answering(503);
    let right = Receiver::answering(200);
    let target = TestServer::always(Response::status(503));
    let hosts = [host("api", &target.url("/"), "")];
    let (sandbox, mut daemon) = start(&hooked(None, &wrong, "", &hosts));
    let failed = wrong.wait_for_posts(&daemon, "the event was retried", |p| p.len() >= 2);
    sandbox.write(CONFIG, &hooked(None, &right, "", &hosts));
    daemon.signal("HUP");
    let posts = right.wait_for_posts(&daemon, "the fixed notifier gets the event", |p| {
        !p.is_empty()
    });
    assert_eq!(posts[0].json(), failed[0].json(), "{}", shown(&posts));
    assert_eq!(posts[0].key(), Some(failed[0].id()));
    let_checks_pass(&mut daemon, "api", 10);
    assert_eq!(right.posts().len(), 1, "{}", shown(&right.posts()));
    let wrong_after = wrong.posts().len();
    let_checks_pass(&mut daemon, "api", 5);
    assert_eq!(
        wrong.posts().len(),
        wrong_after,
        "{}",
        shown(&wrong.posts())
    );
}

#[test]
fn a_notifier_removed_while_its_post_is_in_flight_leaves_no_metric_series() {
    // The receiver holds its answer until the test lets it go.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Mutex::new(released);
    let receiver = TestServer::start(move |_, _| {
        let _ = released
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(30));
        Response::status(200)
    });
    let target = TestServer::always(Response::status(503));
    let hosts = [host("api", &target.url("/"), "")];
    let hook = format!(
        "  hook: {{ type: webhook, url: '{}', timeout: 50s, {RETRY} }}\n",
        receiver.url("/hook")
    );
    let audit = format!("  audit: {{ type: file, path: {ALERTS} }}\n");
    let (sandbox, mut daemon) = start(&document(
        None,
        "hook, audit",
        &format!("{hook}{audit}"),
        &hosts,
    ));
    wait_for(DEADLINE, "the post is in flight", || {
        (receiver.traffic().in_flight() == 1).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));

    sandbox.write(CONFIG, &document(None, "audit", &audit, &hosts));
    daemon.signal("HUP");
    daemon.wait_for_log("the reload is applied", |l| {
        l.contains("config reloaded") && !l.contains("nothing changed")
    });
    let has_hook = |s: &Scrape| s.body.lines().any(|l| l.contains("notifier=\"hook\""));
    wait_for_scrape(&mut daemon, "hook's series are gone", |s| !has_hook(s));

    // The attempt ends after the notifier left: nothing of it may come back.
    release.send(()).unwrap();
    wait_for(DEADLINE, "the post is answered", || {
        (receiver.traffic().in_flight() == 0).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let_checks_pass(&mut daemon, "api", 5);
    let scrape = wait_for_scrape(&mut daemon, "a scrape", |_| true);
    let stale: Vec<&str> = scrape
        .body
        .lines()
        .filter(|l| l.contains("notifier=\"hook\""))
        .collect();
    assert!(
        stale.is_empty(),
        "series of the removed notifier came back: {stale:#?}\n{daemon}"
    );
}

// --- Restarts ---------------------------------------------------------------------------

#[test]
fn an_event_survives_sigkill_while_the_receiver_is_down() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    let down = first[0].json();
    assert_event(&down, "down", "api", "unknown");
    let id = format!("id={}", first[0].id());
    daemon.wait_for_log("a failed attempt is logged", |l| {
        l.contains("alert delivery failed; retrying") && l.contains(&id)
    });
    daemon.signal("KILL");
    assert_eq!(daemon.wait_exit(DEADLINE).code, None, "{daemon}");

    let before = receiver.posts();
    assert!(
        before.iter().all(|p| p.json() == down && p.answered == 503),
        "{}",
        shown(&before)
    );
    receiver.answer(200);
    let mut again = sandbox.daemon(CONFIG).start();
    again.wait_for_log("the restored event is announced", |l| {
        l.contains("resuming delivery") && l.contains("events=1")
    });
    let posts = receiver.wait_for_posts(&again, "the event is delivered after the restart", |p| {
        p[before.len()..].iter().any(|p| p.answered == 200)
    });
    let after = &posts[before.len()..];
    // The same event: original id, at, since and reason, and the same Idempotency-Key.
    assert_eq!(after[0].json(), down, "{}", shown(&posts));
    assert_eq!(after[0].key(), Some(first[0].id()), "{}", shown(&posts));

    // Exactly once, and no new event: the host is still down, as it was.
    let_checks_pass(&mut again, "api", 10);
    let posts = receiver.posts();
    assert_eq!(
        posts.len(),
        before.len() + 1,
        "after the restart:{}\n{again}",
        shown(&posts[before.len()..])
    );
    let scrape = wait_for_scrape(&mut again, "the outbox is empty", |s| {
        s.pending("hook") == Some(0.0)
    });
    assert_eq!(scrape.alerts("hook", "sent"), Some(1.0), "{}", scrape.body);
}

#[test]
fn a_sigkill_just_after_a_transition_sends_no_second_event() {
    // Killed within the second before the host's new status is saved, the next start may
    // decide the host anew; the notifier's record of what it was told (saved at once) keeps
    // that from becoming a second `down` with a new id, which receivers could not drop.
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(200);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is delivered", |p| !p.is_empty());
    daemon.signal("KILL");
    assert_eq!(daemon.wait_exit(DEADLINE).code, None, "{daemon}");

    let mut again = sandbox.daemon(CONFIG).start();
    again.wait_for_status("api", "down");
    let_checks_pass(&mut again, "api", 10);
    // The first event may come again (killed before it was marked delivered): same id,
    // harmless. Another event is not.
    let posts = receiver.posts();
    assert!(
        posts.iter().all(|p| p.json() == first[0].json()),
        "a second event for an unchanged host:{}\n{again}",
        shown(&posts)
    );
}

#[test]
fn sigterm_keeps_undelivered_events_for_the_next_start() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    let down = first[0].json();
    let id = format!("id={}", first[0].id());
    daemon.wait_for_log("a failed attempt is logged", |l| {
        l.contains("alert delivery failed; retrying") && l.contains(&id)
    });
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    assert!(
        daemon.log_lines().iter().any(|l| {
            l.contains("undelivered alert events are kept in the state store")
                && l.contains("events=1")
        }),
        "{daemon}"
    );
    assert!(!daemon.stderr().contains("lost"), "{daemon}");

    let before = receiver.posts().len();
    receiver.answer(200);
    let mut again = sandbox.daemon(CONFIG).start();
    let posts = receiver.wait_for_posts(&again, "the event is delivered after the restart", |p| {
        p[before..].iter().any(|p| p.answered == 200)
    });
    assert_eq!(posts[before].json(), down, "{}", shown(&posts));
    assert_eq!(posts[before].key(), Some(first[0].id()));
    let_checks_pass(&mut again, "api", 10);
    assert_eq!(
        receiver.posts().len(),
        before + 1,
        "exactly once, and nothing new:{}\n{again}",
        shown(&receiver.posts()[before..])
    );
}

#[test]
fn a_kept_down_event_goes_out_before_the_recovery_seen_after_the_restart() {
    let (answer, target) = switchable(503);
    let receiver = Receiver::answering(503);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    let down = first[0].json();
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");

    // While stopped, the host recovers; the receiver still fails at first.
    answer.store(200, SeqCst);
    let before = receiver.posts().len();
    let mut again = sandbox.daemon(CONFIG).start();
    wait_for_scrape(&mut again, "the kept down and the new up wait", |s| {
        s.pending("hook") == Some(2.0)
    });
    receiver.wait_for_posts(&again, "a post after the restart", |p| p.len() > before);
    receiver.answer(200);
    let posts = receiver.wait_for_posts(&again, "the up event is delivered", |p| {
        p.iter()
            .any(|p| p.json()["event"] == "up" && p.answered == 200)
    });
    let after: Vec<&Post> = posts[before..].iter().collect();
    let taken: Vec<&Post> = after
        .iter()
        .copied()
        .filter(|p| p.answered == 200)
        .collect();
    assert_eq!(taken.len(), 2, "{}", shown(&posts));
    assert_eq!(
        taken[0].json(),
        down,
        "the kept event first:{}",
        shown(&posts)
    );
    assert_event(&taken[1].json(), "up", "api", "down");
    // Until the down event was taken, nothing else was posted.
    let first_up = after
        .iter()
        .position(|p| p.json()["event"] == "up")
        .unwrap();
    assert!(
        after[..first_up].iter().all(|p| p.json() == down) && after[first_up - 1].answered == 200,
        "the up event overtook the down event:{}",
        shown(&posts)
    );
    wait_for_scrape(&mut again, "nothing waits", |s| {
        s.pending("hook") == Some(0.0)
    });
}

#[test]
fn max_age_counts_from_when_the_event_was_first_queued_across_restarts() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        ", max_age: 2s",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    assert!(
        !daemon.stderr().contains("given up"),
        "given up before the restart; the test needs a longer max_age\n{daemon}"
    );
    // Stopped until the event is older than max_age (queued just after its `at`).
    let at = humantime::parse_rfc3339(first[0].json()["at"].as_str().unwrap()).unwrap();
    wait_for(DEADLINE, "the event is 3 s old", || {
        (SystemTime::now() >= at + Duration::from_secs(3)).then_some(())
    })
    .unwrap();

    let before = receiver.posts().len();
    let mut again = sandbox.daemon(CONFIG).start();
    let line = again.wait_for_log("the kept event is given up", |l| {
        l.contains("alert delivery given up") && l.contains("reason=expired")
    });
    assert!(line.contains(&format!("id={}", first[0].id())), "{line}");
    wait_for_scrape(&mut again, "it counts as expired", |s| {
        s.dropped("hook", "expired") == Some(1.0) && s.pending("hook") == Some(0.0)
    });
    let_checks_pass(&mut again, "api", 10);
    let posts = receiver.posts();
    assert!(
        posts.len() <= before + 1,
        "retried after the restart as if new:{}",
        shown(&posts[before..])
    );
}

#[test]
fn sigterm_does_not_wait_for_a_hanging_receiver_and_keeps_its_event() {
    // The first post is answered only after a minute; later ones at once.
    let posted = Arc::new(AtomicUsize::new(0));
    let receiver = TestServer::start({
        let posted = posted.clone();
        move |_, _| match posted.fetch_add(1, SeqCst) {
            0 => Response::status(200).delay_headers(Duration::from_secs(60)),
            _ => Response::status(200),
        }
    });
    let target = TestServer::always(Response::status(503));
    let notifier = format!(
        "  hook: {{ type: webhook, url: '{}', timeout: 50s, {RETRY} }}\n",
        receiver.url("/hook")
    );
    let config = document(
        Some(STATE),
        "hook",
        &notifier,
        &[host("api", &target.url("/"), "")],
    );
    let (sandbox, mut daemon) = start(&config);
    wait_for(DEADLINE, "the post hangs", || {
        (receiver.traffic().in_flight() == 1).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let signalled = Instant::now();
    daemon.signal("TERM");
    let exit = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{daemon}");
    eprintln!("delivery: stopped {:?} after SIGTERM", signalled.elapsed());
    assert!(
        daemon.log_lines().iter().any(|l| {
            l.contains("undelivered alert events are kept in the state store")
                && l.contains("events=1")
        }),
        "{daemon}"
    );

    let mut again = sandbox.daemon(CONFIG).start();
    wait_for(DEADLINE, "the event is posted again", || {
        (receiver.requests().len() >= 2).then_some(())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{again}"));
    let_checks_pass(&mut again, "api", 10);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}\n{again}");
    // The same event and key: a receiver that acted on the first can drop the second.
    assert_eq!(requests[1].body, requests[0].body);
    let key = requests[0].header("Idempotency-Key");
    assert!(key.is_some(), "{requests:#?}");
    assert_eq!(requests[1].header("Idempotency-Key"), key);
}

#[test]
fn a_kept_event_for_a_notifier_no_longer_configured_is_dropped_for_good() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let hosts = [host("api", &target.url("/"), "")];
    let with_hook = hooked(Some(STATE), &receiver, "", &hosts);
    let (sandbox, mut daemon) = start(&with_hook);
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");

    // Started without `hook`: its kept event is dropped, loudly.
    let audit = format!("  audit: {{ type: file, path: {ALERTS} }}\n");
    sandbox.write(CONFIG, &document(Some(STATE), "audit", &audit, &hosts));
    let mut without = sandbox.daemon(CONFIG).start();
    let line = without.wait_for_log("the dropped event is logged", |l| {
        l.contains("no longer configured")
    });
    assert!(
        line.contains(&format!("id={}", first[0].id())) && line.contains("notifier=hook"),
        "{line}"
    );
    assert_eq!(without.stop("TERM").code, Some(0), "{without}");

    // With `hook` back and its receiver healthy, the dropped event stays dropped.
    receiver.answer(200);
    let before = receiver.posts().len();
    sandbox.write(CONFIG, &with_hook);
    let mut again = sandbox.daemon(CONFIG).start();
    let_checks_pass(&mut again, "api", 10);
    assert_eq!(
        receiver.posts().len(),
        before,
        "{}\n{again}",
        shown(&receiver.posts()[before..])
    );
}

#[test]
fn a_restart_sends_nothing_for_unchanged_hosts_and_one_up_on_recovery() {
    let (broken, down_target) = switchable(503);
    let up_target = TestServer::always(Response::ok("fine"));
    let receiver = Receiver::answering(200);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[
            host("down", &down_target.url("/"), ""),
            host("up", &up_target.url("/"), ""),
        ],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is delivered", |p| !p.is_empty());
    assert_event(&first[0].json(), "down", "down", "unknown");
    daemon.wait_for_status("up", "up");
    // Enough checks that a counter starting again from 0 cannot catch up unnoticed.
    daemon.wait_for_checks("down", 10);
    daemon.wait_for_checks("up", 10);
    let before: Vec<Value> = ["down", "up"].map(|label| daemon.host(label)).into();
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    assert!(!daemon.stderr().contains("ERROR"), "{daemon}");

    let mut again = sandbox.daemon(CONFIG).start();
    for old in &before {
        let label = old["label"].as_str().unwrap();
        let new = let_checks_pass(&mut again, label, 5);
        assert_eq!(
            new["status"], old["status"],
            "{label}: {new}\nbefore: {old}"
        );
        assert_eq!(new["since"], old["since"], "{label}: {new}\nbefore: {old}");
        // Every check since the restart is in the history (far below its 100 entries), so a
        // count that carried on is at least the old count plus those.
        let last_before = history(old).last().unwrap()["at"].clone();
        let since_restart = history(&new)
            .iter()
            .filter(|r| r["at"].as_str() > last_before.as_str())
            .count() as u64;
        assert!(since_restart >= 5, "{label}: {new}");
        assert!(
            checks(&new) >= checks(old) + since_restart,
            "{label}: the check count started again: {new}\nbefore: {old}"
        );
    }
    assert_eq!(
        receiver.posts().len(),
        1,
        "an alert for a host that did not change:{}\n{again}",
        shown(&receiver.posts())
    );

    broken.store(200, SeqCst);
    let posts = receiver.wait_for_posts(&again, "the recovery is posted", |p| p.len() >= 2);
    assert_event(&posts[1].json(), "up", "down", "down");
    let_checks_pass(&mut again, "down", 10);
    assert_eq!(
        receiver.posts().len(),
        2,
        "exactly one up:{}\n{again}",
        shown(&receiver.posts())
    );
}

#[test]
fn a_host_that_changed_while_stopped_gets_exactly_one_event() {
    let (answer, target) = switchable(200);
    let receiver = Receiver::answering(200);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    daemon.wait_for_status("api", "up");
    daemon.wait_for_checks("api", 3);
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    assert!(
        receiver.posts().is_empty(),
        "a first `up` is no news:{}",
        shown(&receiver.posts())
    );

    answer.store(503, SeqCst);
    let mut again = sandbox.daemon(CONFIG).start();
    let posts = receiver.wait_for_posts(&again, "the down event is delivered", |p| !p.is_empty());
    assert_event(&posts[0].json(), "down", "api", "up");
    let_checks_pass(&mut again, "api", 10);
    assert_eq!(
        receiver.posts().len(),
        1,
        "exactly one event:{}\n{again}",
        shown(&receiver.posts())
    );
}

#[test]
fn history_survives_a_restart() {
    let target = TestServer::always(Response::ok("fine"));
    let receiver = Receiver::answering(200);
    let (sandbox, mut daemon) = start(&hooked(
        Some(STATE),
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let old = daemon.wait_for_checks("api", 5);
    let old = history(&old).clone();
    assert!(old.len() >= 5, "{old:?}");
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");

    let mut again = sandbox.daemon(CONFIG).start();
    let new = history(&let_checks_pass(&mut again, "api", 2)).clone();
    assert!(new.len() >= old.len() + 2, "old: {old:?}\nnew: {new:?}");
    for (before, after) in old.iter().zip(&new) {
        assert_eq!(after["at"], before["at"], "old: {old:?}\nnew: {new:?}");
        assert_eq!(after["ok"], before["ok"], "old: {old:?}\nnew: {new:?}");
        assert_eq!(
            after["detail"], before["detail"],
            "old: {old:?}\nnew: {new:?}"
        );
        // Stored in microseconds; shown rounded to 0.1 ms.
        let (b, a) = (
            before["latency_ms"].as_f64().unwrap(),
            after["latency_ms"].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= 0.1 + 1e-9, "old: {old:?}\nnew: {new:?}");
    }
    // Newest last, across the restart.
    let times: Vec<&str> = new.iter().map(|r| r["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

// --- Without a (working) store ----------------------------------------------------------

#[test]
fn without_a_state_path_undelivered_events_are_reported_lost_at_shutdown() {
    let target = TestServer::always(Response::status(503));
    let receiver = Receiver::answering(503);
    let (_sandbox, mut daemon) = start(&hooked(
        None,
        &receiver,
        "",
        &[host("api", &target.url("/"), "")],
    ));
    let first = receiver.wait_for_posts(&daemon, "the down event is posted", |p| !p.is_empty());
    let id = format!("id={}", first[0].id());
    daemon.wait_for_log("a failed attempt is logged", |l| {
        l.contains("alert delivery failed; retrying") && l.contains(&id)
    });
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let lost: Vec<String> = daemon
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("alert event lost at shutdown"))
        .collect();
    assert_eq!(lost.len(), 1, "{daemon}");
    assert!(
        lost[0].contains(&id) && lost[0].contains("notifier=hook") && lost[0].contains("host=api"),
        "{}",
        lost[0]
    );
    assert!(
        !daemon.stderr().contains("kept in the state store"),
        "{daemon}"
    );
}

#[test]
fn a_broken_state_store_never_stops_checks_or_alerts() {
    let target = TestServer::always(Response::status(503));
    let sandbox = Sandbox::new();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 13) as u8).collect();
    let store = sandbox.path().join("state.db");
    std::fs::write(&store, &garbage).unwrap();
    let notifiers =
        format!("  console: {{ type: stdout }}\n  audit: {{ type: file, path: {ALERTS} }}\n");
    sandbox.write(
        CONFIG,
        &document(
            Some("state.db"),
            "console, audit",
            &notifiers,
            &[host("api", &target.url("/"), "")],
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    let line = daemon.wait_for_log("the broken store is logged", |l| {
        l.contains("cannot open the state store")
    });
    assert!(line.contains("state.db"), "the file is not named: {line}");
    assert!(line.contains("ERROR"), "{line}");

    daemon.wait_for_status("api", "down");
    let printed = daemon.wait_for_stdout("the stdout notifier prints the event", |l| {
        l.contains("DOWN api")
    });
    let written = wait_for(DEADLINE, "the file notifier writes the event", || {
        let text = std::fs::read_to_string(sandbox.path().join(ALERTS)).ok()?;
        complete_lines(&text)
            .first()
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert_event(&written, "down", "api", "unknown");
    assert!(
        printed.contains(written["at"].as_str().unwrap()),
        "{printed}"
    );
    let_checks_pass(&mut daemon, "api", 5);

    let scrape = wait_for_scrape(&mut daemon, "store errors are counted", |s| {
        s.body.lines().any(|l| {
            l.starts_with("flowstate_state_store_errors_total{")
                && l.rsplit_once(' ')
                    .and_then(|(_, v)| v.parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
        })
    });
    assert!(
        scrape.value(
            "flowstate_state_store_errors_total",
            &[("operation", "open")]
        ) >= 1.0
    );
    assert_eq!(scrape.alerts("audit", "sent"), Some(1.0), "{}", scrape.body);
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    // Not ours to overwrite: the file is as the user left it.
    assert_eq!(
        std::fs::read(&store).unwrap(),
        garbage,
        "the file was changed"
    );
}

// --- Config ---------------------------------------------------------------------------

#[test]
fn run_refuses_a_backoff_longer_than_max_backoff_before_starting() {
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        "notifiers:\n  hook: { type: webhook, url: 'http://127.0.0.1:9/x', max_backoff: 500ms }\n\
         hosts:\n  - { label: api, url: 'http://127.0.0.1:9/' }\n",
    );
    let outcome = sandbox.run(&["run", "-c", CONFIG]);
    outcome.expect_code(2);
    assert!(
        outcome
            .stderr
            .contains("backoff (1s) is longer than max_backoff (500ms)")
            && outcome.stderr.contains("notifiers.hook.max_backoff"),
        "{outcome}"
    );
}
