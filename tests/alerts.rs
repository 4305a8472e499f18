//! Alert delivery by a running `flowstate run`: which events each notifier hears and when
//! (`cooldown`, `remind_every`, `send_resolved`, a host's own `alerts` list), what a webhook
//! posts for each service it speaks to, how refusals, slow receivers and failing commands are
//! handled, and what a command notifier gets on stdin and in its environment.
//!
//! Every test runs the real binary against loopback targets whose status the test flips (an
//! `AtomicU16` read by the handler), so hosts go down and up for real; webhooks post to a
//! loopback [`Receiver`] that records each request with the wall-clock time it arrived, and
//! the file notifier `audit` (no cooldown, no reminders) is the reference of what happened.
//! Checks are fast (100 ms) and need two failures in a row, so one slow answer on a loaded
//! machine is not an outage.
//!
//! Everything is awaited by polling with a deadline. Where a test shows that something does
//! *not* happen, the clock is other activity: a later event that would have had to come after
//! it (deliveries are ordered per host and notifier), or the host's own checks running past
//! the moment it would have happened. Lower bounds in time ("not before the cooldown ended")
//! compare the daemon's own event timestamps with when the receiver got the request: a loaded
//! machine only makes such a gap larger, never smaller.

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::common::configs::{document_with_notifiers, host};
use crate::common::events::{assert_spec_event, events, id, kinds, timestamp, wait_for_events};
use crate::common::receiver::{Post, Receiver};
use crate::common::scrape::{metrics, sample, wait_for_sample};
use crate::common::wait::wait_for;
use crate::common::{start, switchable, Daemon, Response, Sandbox, TestServer, DEADLINE};

/// Fast checks: a failed check every 100 ms, two in a row make a host down, one pass makes it
/// up again.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

/// The reference notifier: the file [`ALERTS`] (in the sandbox), with no policy of its own, so
/// it hears every event at once.
const AUDIT: &str = "  audit: { type: file, path: alerts.jsonl }\n";

// --- Observations ------------------------------------------------------------------------

/// `flowstate_alerts_total{notifier,result}`.
fn alerts_total(notifier: &str, result: &str) -> String {
    format!("flowstate_alerts_total{{notifier=\"{notifier}\",result=\"{result}\"}}")
}

/// `flowstate_alerts_dropped_total{notifier,reason}`.
fn alerts_dropped(notifier: &str, reason: &str) -> String {
    format!("flowstate_alerts_dropped_total{{notifier=\"{notifier}\",reason=\"{reason}\"}}")
}

/// The clock of tests that show something does not happen: waits until `label` has been
/// checked after `moment` (wall clock), so the daemon demonstrably ran past it.
#[track_caller]
fn wait_until_checked_after(daemon: &mut Daemon, label: &str, moment: SystemTime) {
    daemon.wait_for_host(label, "is checked after the moment of interest", |h| {
        h["last_check"]["at"]
            .as_str()
            .and_then(|at| humantime::parse_rfc3339(at).ok())
            .is_some_and(|at| at > moment)
    });
}

// --- Policy ------------------------------------------------------------------------------

#[test]
fn cooldown_holds_a_flap_and_never_holds_the_recovery() {
    const COOLDOWN: Duration = Duration::from_secs(2);
    let (status, target) = switchable(200);
    let hook = Receiver::accepting();
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', cooldown: 2s }}\n{AUDIT}",
        hook.url("/hook")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook, audit]"),
        &notifiers,
        &[host("flappy", &target.url("/"), "")],
    ));
    daemon.wait_for_status("flappy", "up");

    status.store(503, SeqCst);
    let first = hook.wait_for_count(&daemon, 1);
    status.store(200, SeqCst);
    let second = hook.wait_for_count(&daemon, 2);
    assert_eq!(kinds(&[first[0].json(), second[1].json()]), ["down", "up"]);

    // Down again within the cooldown: held, not sent.
    status.store(503, SeqCst);
    let audited = wait_for_events(&sandbox, &daemon, 3);
    assert_eq!(kinds(&audited), ["down", "up", "down"], "{daemon}");
    daemon.wait_for_log("the second down is held by the cooldown", |l| {
        l.contains("alert held by the cooldown") && l.contains("notifier=hook")
    });
    let down_at = timestamp(&audited[0]["at"]);
    let again_at = timestamp(&audited[2]["at"]);
    assert!(
        again_at < down_at + COOLDOWN,
        "the machine is too slow for this test: the flap took longer than the cooldown\n{daemon}"
    );

    // The host stays down, so the held event goes out when the cooldown ends, not before.
    let posts = hook.wait_for_count(&daemon, 3);
    let bodies: Vec<Value> = posts.iter().map(Post::json).collect();
    assert_eq!(kinds(&bodies), ["down", "up", "down"], "{bodies:#?}");
    assert!(
        posts[2].arrived >= down_at + COOLDOWN,
        "the held down arrived {:?} after the first down, within the {COOLDOWN:?} cooldown",
        posts[2].arrived.duration_since(down_at).unwrap_or_default()
    );
    // The recovery was not held: it arrived before the host even went down again.
    assert!(posts[1].arrived <= again_at + Duration::from_millis(1));
    // The receiver got exactly what the reference file got, the held event included.
    assert_eq!(
        bodies, audited,
        "the webhook got other events than the file"
    );
    let ids: Vec<&str> = bodies.iter().map(id).collect();
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    for (post, body) in posts.iter().zip(&bodies) {
        assert_eq!(post.request.header("Idempotency-Key"), Some(id(body)));
    }

    // A request counts as sent once its answer is back, a moment after it arrived.
    let (_, metrics) = wait_for_sample(&mut daemon, &alerts_total("hook", "sent"), |v| v >= 3.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "sent")), 3.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "suppressed")), 1.0);
    assert_eq!(sample(&metrics, &alerts_total("audit", "suppressed")), 0.0);
}

#[test]
fn a_flap_inside_the_cooldown_sends_nothing_more() {
    const COOLDOWN: Duration = Duration::from_secs(3);
    let (status, target) = switchable(200);
    let hook = Receiver::accepting();
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', cooldown: 3s }}\n{AUDIT}",
        hook.url("/hook")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook, audit]"),
        &notifiers,
        &[host("flappy", &target.url("/"), "")],
    ));
    daemon.wait_for_status("flappy", "up");

    // Down, up, down, up: each step awaited in the reference file.
    for (n, answer) in [503, 200, 503, 200].into_iter().enumerate() {
        status.store(answer, SeqCst);
        wait_for_events(&sandbox, &daemon, n + 1);
    }
    let audited = events(&sandbox);
    assert_eq!(kinds(&audited), ["down", "up", "down", "up"], "{daemon}");
    let down_at = timestamp(&audited[0]["at"]);
    assert!(
        timestamp(&audited[3]["at"]) < down_at + COOLDOWN,
        "the machine is too slow for this test: the flaps took longer than the cooldown\n{daemon}"
    );

    // Past the end of the cooldown, when a held event still true would go out.
    wait_until_checked_after(
        &mut daemon,
        "flappy",
        down_at + COOLDOWN + Duration::from_millis(500),
    );
    let bodies = hook.bodies();
    assert_eq!(kinds(&bodies), ["down", "up"], "{bodies:#?}\n{daemon}");
    assert_eq!(bodies, audited[..2], "the webhook got other events");

    let metrics = metrics(&mut daemon);
    // The held down and the up of a problem the receiver never heard of.
    assert_eq!(
        sample(&metrics, &alerts_total("hook", "suppressed")),
        2.0,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, &alerts_total("hook", "sent")), 2.0);
    assert_eq!(sample(&metrics, &alerts_total("audit", "sent")), 4.0);
}

#[test]
fn reminders_repeat_while_down_and_stop_on_recovery() {
    const EVERY: Duration = Duration::from_secs(1);
    let (status, target) = switchable(503);
    let hook = Receiver::accepting();
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', remind_every: 1s }}\n{AUDIT}",
        hook.url("/hook")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook, audit]"),
        &notifiers,
        &[host("broken", &target.url("/"), "")],
    ));

    // The first decision is down; then two reminders.
    let posts = hook.wait_for_count(&daemon, 3);
    let bodies: Vec<Value> = posts.iter().map(Post::json).collect();
    assert_eq!(
        kinds(&bodies),
        ["down", "reminder", "reminder"],
        "{bodies:#?}"
    );
    let down = &bodies[0];
    assert_spec_event(down, "down", "broken", "down", "unknown");
    for (n, reminder) in bodies[1..].iter().enumerate() {
        assert_spec_event(reminder, "reminder", "broken", "down", "down");
        assert_eq!(reminder["since"], down["since"], "{reminder}");
        assert_eq!(reminder["reason"], down["reason"], "{reminder}");
        let previous = &bodies[n];
        let gap = timestamp(&reminder["at"])
            .duration_since(timestamp(&previous["at"]))
            .unwrap_or_default();
        assert!(
            gap >= EVERY,
            "a reminder came {gap:?} after the event before it"
        );
    }
    let mut ids: Vec<&str> = bodies.iter().map(id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "event ids repeat: {bodies:#?}");

    status.store(200, SeqCst);
    let up = wait_for(DEADLINE, "the receiver gets the recovery", || {
        hook.bodies().into_iter().find(|b| b["event"] == "up")
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{:#?}\n{daemon}", hook.bodies()));
    assert_spec_event(&up, "up", "broken", "up", "down");

    // Two reminder intervals later, nothing followed the recovery.
    wait_until_checked_after(&mut daemon, "broken", timestamp(&up["at"]) + EVERY * 2);
    let bodies = hook.bodies();
    assert_eq!(
        bodies.last(),
        Some(&up),
        "something followed the recovery: {bodies:#?}"
    );
    // Reminders are the webhook's setting alone: the file heard only the changes.
    assert_eq!(kinds(&events(&sandbox)), ["down", "up"], "{daemon}");
}

#[test]
fn send_resolved_false_sends_no_recovery() {
    let (status, target) = switchable(200);
    let hook = Receiver::accepting();
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', send_resolved: false }}\n{AUDIT}",
        hook.url("/hook")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook, audit]"),
        &notifiers,
        &[host("flappy", &target.url("/"), "")],
    ));
    daemon.wait_for_status("flappy", "up");

    for (n, answer) in [503, 200, 503].into_iter().enumerate() {
        status.store(answer, SeqCst);
        wait_for_events(&sandbox, &daemon, n + 1);
    }
    // Deliveries to one receiver about one host are in order: a recovery sent would have
    // arrived before the second down.
    hook.wait_for_count(&daemon, 2);
    let bodies = hook.bodies();
    assert_eq!(kinds(&bodies), ["down", "down"], "{bodies:#?}");
    let audited = events(&sandbox);
    assert_eq!(kinds(&audited), ["down", "up", "down"]);
    assert_eq!(bodies, [audited[0].clone(), audited[2].clone()]);

    let (_, metrics) = wait_for_sample(&mut daemon, &alerts_total("hook", "sent"), |v| v >= 2.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "suppressed")), 1.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "sent")), 2.0);
}

#[test]
fn every_notifier_of_a_host_hears_and_host_alerts_override_defaults() {
    let (status, target) = switchable(200);
    let (a, b) = (Receiver::accepting(), Receiver::accepting());
    let notifiers = format!(
        "  a: {{ type: webhook, url: '{}' }}\n  b: {{ type: webhook, url: '{}' }}\n{AUDIT}",
        a.url("/a"),
        b.url("/b")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [audit]"),
        &notifiers,
        &[
            host("both", &target.url("/both"), "alerts: [a, b]"),
            host("only-a", &target.url("/only-a"), "alerts: [a]"),
            host("plain", &target.url("/plain"), ""),
        ],
    ));
    for label in ["both", "only-a", "plain"] {
        daemon.wait_for_status(label, "up");
    }

    status.store(503, SeqCst);
    wait_for_events(&sandbox, &daemon, 1);
    a.wait_for_count(&daemon, 2);
    b.wait_for_count(&daemon, 1);
    status.store(200, SeqCst);
    wait_for_events(&sandbox, &daemon, 2);
    a.wait_for_count(&daemon, 4);
    b.wait_for_count(&daemon, 2);
    // Each receiver has its due; anything misrouted would come as quickly, so a few more
    // checks are long enough for it to show.
    let checks = daemon.host("plain")["checks"].as_u64().unwrap_or_default();
    daemon.wait_for_checks("plain", checks + 5);

    // What a notifier heard, as sorted `host event` pairs.
    let heard = |bodies: &[Value]| -> Vec<String> {
        let mut heard: Vec<String> = bodies
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["host"].as_str().unwrap_or("?"),
                    e["event"].as_str().unwrap_or("?")
                )
            })
            .collect();
        heard.sort();
        heard
    };
    assert_eq!(
        heard(&a.bodies()),
        ["both down", "both up", "only-a down", "only-a up"],
        "{daemon}"
    );
    assert_eq!(heard(&b.bodies()), ["both down", "both up"], "{daemon}");
    // `alerts` on a host replaces the defaults' list: `both` and `only-a` never reach audit.
    assert_eq!(
        heard(&events(&sandbox)),
        ["plain down", "plain up"],
        "{daemon}"
    );
    // Both receivers heard the very same events about `both`.
    let about_both = |receiver: &Receiver| -> Vec<Value> {
        receiver
            .bodies()
            .into_iter()
            .filter(|e| e["host"] == "both")
            .collect()
    };
    assert_eq!(about_both(&a), about_both(&b));
}

// --- Webhooks ----------------------------------------------------------------------------

/// One outage of host `api` (down with `status 503, expected 200`, then up again) told to four
/// webhooks on one receiver, a format each: `generic` (with headers, one of them from
/// `${HOOK_TOKEN}`), `slack`, `discord` (whose URL has a query of its own) and `pagerduty`.
struct WebhookOutage {
    daemon: Daemon,
    /// All eight posts, in arrival order.
    posts: Vec<Post>,
    /// The posts to each path (`/generic`, `/slack`, `/discord`, `/pagerduty`): two, the
    /// down's first.
    by_path: HashMap<String, Vec<Post>>,
    /// The down and up events as `generic` posted them: the SPEC §3 events themselves.
    down: Value,
    up: Value,
    _hooks: Receiver,
    _target: TestServer,
    _sandbox: Sandbox,
}

impl WebhookOutage {
    fn start() -> Self {
        let (status, target) = switchable(200);
        let hooks = Receiver::accepting();
        let notifiers = format!(
            "  generic:\n    type: webhook\n    url: '{}'\n    format: generic\n    \
         headers: {{ X-Team: payments, Authorization: 'Bearer ${{HOOK_TOKEN}}' }}\n  \
         slack: {{ type: webhook, url: '{}', format: slack }}\n  \
         discord: {{ type: webhook, url: '{}', format: discord }}\n  \
         pagerduty: {{ type: webhook, url: '{}', format: pagerduty, routing_key: R0UT1NGKEY }}\n",
            hooks.url("/generic"),
            hooks.url("/slack"),
            hooks.url("/discord?thread_id=42"),
            hooks.url("/pagerduty"),
        );
        let sandbox = Sandbox::new();
        sandbox.write(
            "flowstate.yaml",
            &document_with_notifiers(
                "",
                &format!("{FAST}, alerts: [generic, slack, discord, pagerduty]"),
                &notifiers,
                &[host("api", &target.url("/health"), "status: 200")],
            ),
        );
        let mut daemon = sandbox
            .daemon("flowstate.yaml")
            .env("HOOK_TOKEN", "s3cr3t-hook-token")
            .start();
        daemon.wait_for_status("api", "up");

        status.store(503, SeqCst);
        hooks.wait_for_count(&daemon, 4);
        status.store(200, SeqCst);
        let posts = hooks.wait_for_count(&daemon, 8);
        assert_eq!(posts.len(), 8, "{posts:#?}");

        let mut by_path: HashMap<String, Vec<Post>> = HashMap::new();
        for post in &posts {
            by_path
                .entry(post.request.path().to_string())
                .or_default()
                .push(post.clone());
        }
        for path in ["/generic", "/slack", "/discord", "/pagerduty"] {
            assert_eq!(
                by_path.get(path).map(Vec::len),
                Some(2),
                "two requests to {path} expected: {posts:#?}"
            );
        }
        let (down, up) = (by_path["/generic"][0].json(), by_path["/generic"][1].json());
        WebhookOutage {
            daemon,
            posts,
            by_path,
            down,
            up,
            _hooks: hooks,
            _target: target,
            _sandbox: sandbox,
        }
    }
}

#[test]
fn every_webhook_post_is_json_from_flowstate_keyed_by_its_events_id() {
    let outage = WebhookOutage::start();
    let (down, up) = (&outage.down, &outage.up);
    for post in &outage.posts {
        let request = &post.request;
        assert_eq!(request.method, "POST");
        assert!(
            request
                .header("Content-Type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{request:?}"
        );
        assert!(
            request
                .header("User-Agent")
                .is_some_and(|a| a.starts_with("flowstate/")),
            "{request:?}"
        );
    }
    // Every format carries the same event's id as its Idempotency-Key.
    for (path, requests) in &outage.by_path {
        for (post, event) in requests.iter().zip([down, up]) {
            assert_eq!(
                post.request.header("Idempotency-Key"),
                Some(id(event)),
                "{path}"
            );
        }
    }
}

#[test]
fn generic_webhook_posts_the_spec_event_with_its_headers_and_never_prints_the_token() {
    let outage = WebhookOutage::start();
    // generic: the SPEC §3 event itself; its id is the Idempotency-Key.
    let generic = &outage.by_path["/generic"];
    let (down, up) = (&outage.down, &outage.up);
    assert_spec_event(down, "down", "api", "down", "up");
    assert_spec_event(up, "up", "api", "up", "down");
    assert_eq!(down["reason"], "status 503, expected 200");
    assert_ne!(id(down), id(up));
    for (post, event) in generic.iter().zip([down, up]) {
        assert_eq!(post.request.header("Idempotency-Key"), Some(id(event)));
        assert_eq!(post.request.header("X-Team"), Some("payments"));
        assert_eq!(
            post.request.header("Authorization"),
            Some("Bearer s3cr3t-hook-token")
        );
    }
    // The token of a header from ${VAR} is sent, never printed.
    assert!(
        !outage.daemon.stderr().contains("s3cr3t") && !outage.daemon.stdout().contains("s3cr3t"),
        "{}",
        outage.daemon
    );
}

#[test]
fn slack_webhook_posts_text_and_block_kit_blocks() {
    let outage = WebhookOutage::start();
    let (by_path, down, up) = (&outage.by_path, &outage.down, &outage.up);
    // slack: a plain `text` plus Block Kit blocks (header, mrkdwn section, context).
    for (post, event) in by_path["/slack"].iter().zip([down, up]) {
        let body = post.json();
        let text = body["text"].as_str().unwrap_or_default();
        assert!(text.contains("api"), "{body:#}");
        let blocks = body["blocks"].as_array().expect("blocks is an array");
        let types: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
        assert_eq!(types, ["header", "section", "context"], "{body:#}");
        assert_eq!(blocks[0]["text"]["type"], "plain_text", "{body:#}");
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("api")),
            "{body:#}"
        );
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn", "{body:#}");
        let kind = event["event"].as_str().unwrap().to_ascii_uppercase();
        assert!(text.contains(&kind), "{kind} not in {text:?}");
    }
    let slack_down = by_path["/slack"][0].json();
    assert!(
        slack_down["blocks"][1]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("status 503, expected 200")),
        "{slack_down:#}"
    );
}

#[test]
fn discord_webhook_adds_wait_to_its_query_and_posts_one_embed_without_mentions() {
    let outage = WebhookOutage::start();
    let (by_path, down, up) = (&outage.by_path, &outage.down, &outage.up);
    // discord: `?wait=true` added to the URL's own query; one embed; no mentions.
    for (post, event) in by_path["/discord"].iter().zip([down, up]) {
        let query: Vec<&str> = post
            .request
            .target
            .split_once('?')
            .map(|(_, q)| q.split('&').collect())
            .unwrap_or_default();
        assert!(
            query.contains(&"wait=true") && query.contains(&"thread_id=42"),
            "{}",
            post.request.target
        );
        let body = post.json();
        let embed = &body["embeds"][0];
        assert_eq!(body["embeds"].as_array().map(Vec::len), Some(1), "{body:#}");
        assert!(
            embed["title"].as_str().is_some_and(|t| t.contains("api")),
            "{body:#}"
        );
        assert!(embed["color"].is_u64(), "{body:#}");
        assert_eq!(embed["timestamp"], event["at"], "{body:#}");
        assert_eq!(body["allowed_mentions"]["parse"], json!([]), "{body:#}");
    }
    let red = by_path["/discord"][0].json()["embeds"][0]["color"].clone();
    let green = by_path["/discord"][1].json()["embeds"][0]["color"].clone();
    assert_ne!(red, green, "down and up have the same colour");
}

#[test]
fn pagerduty_webhook_triggers_and_resolves_an_incident_keyed_by_the_host() {
    let outage = WebhookOutage::start();
    let (by_path, down) = (&outage.by_path, &outage.down);
    // pagerduty: Events API v2, a trigger keyed by the host, resolved by the recovery.
    let pagerduty = &by_path["/pagerduty"];
    let trigger = pagerduty[0].json();
    assert_eq!(trigger["routing_key"], "R0UT1NGKEY", "{trigger:#}");
    assert_eq!(trigger["event_action"], "trigger", "{trigger:#}");
    assert_eq!(trigger["dedup_key"], "api", "{trigger:#}");
    let payload = &trigger["payload"];
    assert!(
        payload["summary"]
            .as_str()
            .is_some_and(|s| s.contains("api") && s.contains("status 503, expected 200")),
        "{trigger:#}"
    );
    assert_eq!(payload["source"], "api", "{trigger:#}");
    assert_eq!(payload["severity"], "critical", "{trigger:#}");
    assert_eq!(payload["timestamp"], down["at"], "{trigger:#}");
    let resolve = pagerduty[1].json();
    assert_eq!(resolve["routing_key"], "R0UT1NGKEY", "{resolve:#}");
    assert_eq!(resolve["event_action"], "resolve", "{resolve:#}");
    assert_eq!(resolve["dedup_key"], "api", "{resolve:#}");
}

#[test]
fn every_webhook_format_counts_its_posts_as_sent() {
    let mut outage = WebhookOutage::start();
    let daemon = &mut outage.daemon;
    for notifier in ["generic", "slack", "discord", "pagerduty"] {
        let (_, metrics) = wait_for_sample(daemon, &alerts_total(notifier, "sent"), |v| v >= 2.0);
        assert_eq!(
            sample(&metrics, &alerts_total(notifier, "sent")),
            2.0,
            "{notifier}"
        );
        assert_eq!(
            sample(&metrics, &alerts_total(notifier, "failed")),
            0.0,
            "{notifier}"
        );
    }
}

#[test]
fn a_receiver_that_rejects_the_payload_is_not_retried() {
    let (status, target) = switchable(503);
    let hook = Receiver::answering_with(Response::status(400).body("invalid payload"));
    // Retries would come fast, and the URL's path holds a token, as Slack's and Discord's do.
    let notifiers = format!(
        "  hook: {{ type: webhook, url: '{}', backoff: 100ms, max_backoff: 200ms }}\n",
        hook.url("/hooks/T0K3N-in-the-path")
    );
    let (_sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        &format!("{FAST}, alerts: [hook]"),
        &notifiers,
        &[host("broken", &target.url("/"), "")],
    ));

    let given_up = daemon.wait_for_log("the delivery is given up", |l| {
        l.contains("alert delivery given up") && l.contains("notifier=hook")
    });
    assert!(given_up.contains("rejected"), "{given_up}");
    assert!(given_up.contains("event=down"), "{given_up}");
    assert!(given_up.contains("attempts=1"), "{given_up}");
    assert!(given_up.contains("invalid payload"), "{given_up}");
    let metrics_then = metrics(&mut daemon);
    assert_eq!(
        sample(&metrics_then, &alerts_dropped("hook", "rejected")),
        1.0,
        "{metrics_then}"
    );

    // The recovery comes after the down in the host's queue: once it arrived, the down is
    // known to have been attempted for the last time.
    status.store(200, SeqCst);
    let posts = hook.wait_for_count(&daemon, 2);
    let bodies: Vec<Value> = posts.iter().map(Post::json).collect();
    daemon.wait_for_log("the recovery is given up too", |l| {
        l.contains("alert delivery given up") && l.contains("event=up")
    });
    assert_eq!(
        kinds(&hook.bodies()),
        ["down", "up"],
        "the rejected down was attempted again: {bodies:#?}"
    );
    assert!(daemon.log_lines_with(&["retrying"]).is_empty(), "{daemon}");
    assert!(!daemon.stderr().contains("T0K3N"), "{daemon}");

    let metrics = metrics(&mut daemon);
    assert_eq!(sample(&metrics, &alerts_dropped("hook", "rejected")), 2.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "failed")), 2.0);
    assert_eq!(sample(&metrics, &alerts_total("hook", "sent")), 0.0);
}

#[test]
fn a_slow_webhook_does_not_delay_other_notifiers() {
    const HELD: Duration = Duration::from_secs(3);
    let (status, target) = switchable(200);
    // When each request's answer may go out, at the earliest: HELD after its handler ran.
    let answers_from: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let slow = {
        let answers_from = answers_from.clone();
        TestServer::start(move |_, _| {
            answers_from.lock().unwrap().push(Instant::now() + HELD);
            Response::ok("ok").delay_headers(HELD)
        })
    };
    let notifiers = format!(
        "  slow: {{ type: webhook, url: '{}', timeout: 5s }}\n{AUDIT}",
        slow.url("/slow")
    );
    let (sandbox, mut daemon) = start(&document_with_notifiers(
        "",
        // The slow notifier first: the file must not wait behind it.
        &format!("{FAST}, alerts: [slow, audit]"),
        &notifiers,
        &[host("api", &target.url("/"), "")],
    ));
    daemon.wait_for_status("api", "up");

    status.store(503, SeqCst);
    wait_for_events(&sandbox, &daemon, 1);
    let written = Instant::now();
    // Either the slow receiver has not even seen the request yet, or it holds it still.
    let earliest_answer = answers_from.lock().unwrap().first().copied();
    assert!(
        earliest_answer.is_none_or(|at| written < at),
        "the file got the event only after the slow receiver answered\n{daemon}"
    );
    assert_eq!(kinds(&events(&sandbox)), ["down"]);

    // The slow receiver still gets it, within its timeout, at the first attempt.
    let (_, metrics) = wait_for_sample(&mut daemon, &alerts_total("slow", "sent"), |v| v >= 1.0);
    assert_eq!(slow.requests().len(), 1);
    assert_eq!(sample(&metrics, &alerts_total("slow", "failed")), 0.0);
    assert_eq!(sample(&metrics, &alerts_total("audit", "sent")), 1.0);
}

// --- Commands ----------------------------------------------------------------------------

/// The `FLOWSTATE_*` variables of an `env -0` dump.
fn flowstate_variables(dump: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(dump)
        .split('\0')
        .filter_map(|entry| entry.split_once('='))
        .filter(|(name, _)| name.starts_with("FLOWSTATE_"))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn command_notifier_gets_the_event_on_stdin_and_in_the_environment() {
    let (status, target) = switchable(200);
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("out");
    fs::create_dir(&out).expect("create out/");
    // The last argument would run `touch` if anything passed it through a shell.
    let script = sandbox.write(
        "notify.sh",
        "#!/bin/sh\n\
         cat > \"$OUT_DIR/stdin-$FLOWSTATE_EVENT_ID.json\"\n\
         printf '%s' \"$1\" > \"$OUT_DIR/arg-$FLOWSTATE_EVENT_ID\"\n\
         env -0 > \"$OUT_DIR/env-$FLOWSTATE_EVENT_ID\"\n",
    );
    let injected = sandbox.path().join("injected");
    let argument = format!("x; touch {} #", injected.display());
    let notifiers = format!(
        "  pager: {{ type: command, command: [sh, '{}', '{argument}'], timeout: 10s }}\n{AUDIT}",
        script.display()
    );
    sandbox.write(
        "flowstate.yaml",
        &document_with_notifiers(
            "",
            &format!("{FAST}, alerts: [pager, audit]"),
            &notifiers,
            &[host("api", &target.url("/"), "status: 200")],
        ),
    );
    let mut daemon = sandbox
        .daemon("flowstate.yaml")
        .env("OUT_DIR", out.display().to_string())
        .start();
    daemon.wait_for_status("api", "up");

    status.store(503, SeqCst);
    wait_for_events(&sandbox, &daemon, 1);
    status.store(200, SeqCst);
    let audited = wait_for_events(&sandbox, &daemon, 2);
    assert_eq!(kinds(&audited), ["down", "up"]);
    // Each run has exited once it counts as sent, so its files are complete.
    wait_for_sample(&mut daemon, &alerts_total("pager", "sent"), |v| v >= 2.0);

    for event in &audited {
        let id = id(event);
        let stdin = fs::read_to_string(out.join(format!("stdin-{id}.json")))
            .unwrap_or_else(|e| panic!("no stdin file for {id} ({e})\n{daemon}"));
        assert_eq!(stdin.lines().count(), 1, "one line: {stdin:?}");
        let object: Value = serde_json::from_str(&stdin)
            .unwrap_or_else(|e| panic!("stdin is not JSON ({e}): {stdin:?}"));
        assert_eq!(
            &object, event,
            "stdin differs from the file notifier's event"
        );

        let dump = fs::read(out.join(format!("env-{id}"))).expect("the environment dump");
        let vars = flowstate_variables(&dump);
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
        let expected = [
            ("FLOWSTATE_EVENT_ID", text("id")),
            ("FLOWSTATE_EVENT", text("event")),
            ("FLOWSTATE_HOST", text("host")),
            ("FLOWSTATE_STATUS", text("status")),
            ("FLOWSTATE_PREVIOUS", text("previous")),
            ("FLOWSTATE_AT", text("at")),
            ("FLOWSTATE_SINCE", text("since")),
            ("FLOWSTATE_REASON", text("reason")),
            (
                "FLOWSTATE_CONSECUTIVE_FAILURES",
                event["consecutive_failures"].to_string(),
            ),
            ("FLOWSTATE_LATENCY_MS", event["latency_ms"].to_string()),
        ];
        for (name, value) in &expected {
            assert_eq!(vars.get(*name), Some(value), "{name} for {event}");
        }
        assert_eq!(vars.len(), expected.len(), "unexpected variables: {vars:?}");

        let arg = fs::read_to_string(out.join(format!("arg-{id}"))).expect("the argument");
        assert_eq!(arg, argument, "the argument did not arrive as written");
    }
    assert_eq!(audited[0]["event"], "down");
    assert_eq!(audited[0]["reason"], "status 503, expected 200");
    assert!(!injected.exists(), "an argument was run by a shell");
}

#[test]
fn a_failing_command_is_retried_with_the_same_event() {
    let (_status, target) = switchable(503);
    let sandbox = Sandbox::new();
    // Fails the first two runs, succeeds from the third; records each run's event id.
    let script = sandbox.write(
        "flaky-pager.sh",
        "#!/bin/sh\n\
         dir=$(dirname \"$0\")\n\
         cat > /dev/null\n\
         echo \"$FLOWSTATE_EVENT_ID\" >> \"$dir/ids\"\n\
         runs=$(wc -l < \"$dir/ids\")\n\
         if [ \"$runs\" -le 2 ]; then echo \"pager unreachable (run $runs)\" >&2; exit 1; fi\n\
         exit 0\n",
    );
    let notifiers = format!(
        "  pager: {{ type: command, command: [sh, '{}'], backoff: 100ms, max_backoff: 200ms }}\n{AUDIT}",
        script.display()
    );
    sandbox.write(
        "flowstate.yaml",
        &document_with_notifiers(
            "",
            &format!("{FAST}, alerts: [pager, audit]"),
            &notifiers,
            &[host("api", &target.url("/"), "")],
        ),
    );
    let mut daemon = sandbox.daemon("flowstate.yaml").start();

    let (_, metrics) = wait_for_sample(&mut daemon, &alerts_total("pager", "sent"), |v| v >= 1.0);
    let audited = events(&sandbox);
    assert_eq!(kinds(&audited), ["down"], "{daemon}");
    let ids = fs::read_to_string(sandbox.path().join("ids")).expect("the script ran");
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids, [id(&audited[0]); 3], "every run gets the same event");
    assert_eq!(sample(&metrics, &alerts_total("pager", "failed")), 2.0);
    assert_eq!(sample(&metrics, &alerts_total("pager", "sent")), 1.0);

    let retries = daemon.log_lines_with(&["alert delivery failed; retrying", "notifier=pager"]);
    assert_eq!(retries.len(), 2, "{daemon}");
    assert!(
        retries[0].contains("pager unreachable (run 1)"),
        "{}",
        retries[0]
    );
    assert!(
        retries[1].contains("pager unreachable (run 2)"),
        "{}",
        retries[1]
    );
    let delivered = daemon.wait_for_log("the delivery after retries is logged", |l| {
        l.contains("alert delivered after retries") && l.contains("notifier=pager")
    });
    assert!(delivered.contains("retries=2"), "{delivered}");
}
