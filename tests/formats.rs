//! The webhook formats for incident management and chat services (SPEC §11, issue 18):
//! `incidentio`, `teams`, `telegram`, `ntfy`, `gotify` and `matrix`, each delivered by the real
//! daemon to a loopback [`Receiver`] of its own, so the method, path, headers and body each
//! service documents are checked as they arrive on the wire.
//!
//! One outage of host `api` (down with `status 503, expected 200`, then up again) is told to
//! the six notifiers and to the file notifier `audit`, the reference for the events' ids.
//! Secrets travel the way each service wants them (the Telegram bot token in the URL path,
//! the Gotify app token and the Matrix access token in headers, all three from the environment)
//! and are never printed. A last test groups two hosts' events (`group_by: [group]`) and checks
//! each format gets one delivery listing both.

use std::sync::atomic::Ordering::SeqCst;

use serde_json::{json, Value};

use crate::common::configs::{document_with_notifiers, host};
use crate::common::events::{id, wait_for_events};
use crate::common::receiver::{Post, Receiver};
use crate::common::{switchable, Daemon, Sandbox, TestServer};

/// Fast checks: a failed check every 100 ms, two in a row make a host down.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 2";

const TELEGRAM_TOKEN: &str = "123456:tg-s3cret-bot-token";
const GOTIFY_TOKEN: &str = "gotify-s3cret-app-token";
const MATRIX_TOKEN: &str = "syt_matrix_s3cret_access_token";
const ROOM: &str = "!ops:example.org";

/// The formats, in the order of [`Outage::receivers`].
const FORMATS: [&str; 6] = [
    "incidentio",
    "teams",
    "telegram",
    "ntfy",
    "gotify",
    "matrix",
];

/// One outage told to every format; each receiver got two requests, the down's first.
struct Outage {
    daemon: Daemon,
    /// The down and up events as the file notifier wrote them.
    down: Value,
    up: Value,
    receivers: Vec<Receiver>,
    _target: TestServer,
    _sandbox: Sandbox,
}

impl Outage {
    fn start() -> Self {
        let (status, target) = switchable(200);
        let receivers: Vec<Receiver> = FORMATS.iter().map(|_| Receiver::accepting()).collect();
        let [incidentio, teams, telegram, ntfy, gotify, matrix] = &receivers[..] else {
            unreachable!()
        };
        let notifiers = format!(
            "  audit: {{ type: file, path: alerts.jsonl }}\n  \
             incidentio: {{ type: webhook, format: incidentio, url: '{}', \
             headers: {{ Authorization: 'Bearer inc-key' }} }}\n  \
             teams: {{ type: webhook, format: teams, url: '{}' }}\n  \
             telegram: {{ type: webhook, format: telegram, chat_id: '-1001234567890', \
             url: '{}' }}\n  \
             ntfy: {{ type: webhook, format: ntfy, url: '{}' }}\n  \
             gotify: {{ type: webhook, format: gotify, url: '{}', \
             headers: {{ X-Gotify-Key: '${{GOTIFY_TOKEN}}' }} }}\n  \
             matrix: {{ type: webhook, format: matrix, url: '{}', \
             headers: {{ Authorization: 'Bearer ${{MATRIX_TOKEN}}' }} }}\n",
            incidentio.url("/v2/alert_events/http/01HSOURCE"),
            teams.url("/workflows/abc/triggers/manual/paths/invoke?sig=teams-sig"),
            telegram.url("/bot${TELEGRAM_TOKEN}/sendMessage"),
            ntfy.url("/flowstate-alerts"),
            gotify.url("/message"),
            matrix.url(&format!(
                "/_matrix/client/v3/rooms/{ROOM}/send/m.room.message"
            )),
        );
        let (sandbox, mut daemon) = start_alerting_every_format(
            &notifiers,
            &[host("api", &target.url("/health"), "status: 200")],
        );
        daemon.wait_for_status("api", "up");

        status.store(503, SeqCst);
        for receiver in &receivers {
            receiver.wait_for_count(&daemon, 1);
        }
        status.store(200, SeqCst);
        for receiver in &receivers {
            receiver.wait_for_count(&daemon, 2);
        }
        let events = wait_for_events(&sandbox, &daemon, 2);
        let (down, up) = (events[0].clone(), events[1].clone());
        assert_eq!(
            (down["event"].as_str(), up["event"].as_str()),
            (Some("down"), Some("up"))
        );
        for (format, receiver) in FORMATS.iter().zip(&receivers) {
            assert_eq!(
                receiver.posts().len(),
                2,
                "{format}: {:#?}",
                receiver.posts()
            );
        }
        Outage {
            daemon,
            down,
            up,
            receivers,
            _target: target,
            _sandbox: sandbox,
        }
    }

    /// The two requests (down, up) the receiver of `format` got.
    fn posts(&self, format: &str) -> Vec<Post> {
        let index = FORMATS.iter().position(|f| *f == format).unwrap();
        self.receivers[index].posts()
    }
}

/// Checks method, path, JSON content type and the event id as `Idempotency-Key`.
#[track_caller]
/// Starts a daemon whose `hosts` alert the audit file and every one of `notifiers` (one per
/// format, named after it), with the tokens their URLs and headers take from the environment.
fn start_alerting_every_format(notifiers: &str, hosts: &[String]) -> (Sandbox, Daemon) {
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &document_with_notifiers(
            "",
            &format!("{FAST}, alerts: [audit, {}]", FORMATS.join(", ")),
            notifiers,
            hosts,
        ),
    );
    let daemon = sandbox
        .daemon("flowstate.yaml")
        .env("TELEGRAM_TOKEN", TELEGRAM_TOKEN)
        .env("GOTIFY_TOKEN", GOTIFY_TOKEN)
        .env("MATRIX_TOKEN", MATRIX_TOKEN)
        .start();
    (sandbox, daemon)
}

fn assert_request(post: &Post, method: &str, path: &str, event: &Value) {
    let request = &post.request;
    assert_eq!(request.method, method, "{request:?}");
    assert_eq!(request.path(), path, "{request:?}");
    assert!(
        request
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{request:?}"
    );
    assert_eq!(request.header("Idempotency-Key"), Some(id(event)));
}

#[track_caller]
fn text<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {body:#}"))
}

#[test]
fn incidentio_fires_then_resolves_one_alert_keyed_by_the_host() {
    let outage = Outage::start();
    let posts = outage.posts("incidentio");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        assert_request(post, "POST", "/v2/alert_events/http/01HSOURCE", event);
        assert_eq!(post.request.header("Authorization"), Some("Bearer inc-key"));
        let body = post.json();
        assert_eq!(body["deduplication_key"], "flowstate-api", "{body:#}");
        assert_eq!(body["metadata"]["host"], "api", "{body:#}");
        assert_eq!(body["metadata"]["event_id"], id(event), "{body:#}");
        assert_eq!(body["metadata"]["reason"], event["reason"], "{body:#}");
        assert!(text(&body, "/description").contains(id(event)), "{body:#}");
    }
    let firing = posts[0].json();
    assert_eq!(firing["status"], "firing", "{firing:#}");
    assert_eq!(firing["title"], "DOWN api: status 503, expected 200");
    assert_eq!(posts[1].json()["status"], "resolved");
}

#[test]
fn teams_posts_an_adaptive_card_message_to_the_workflow_url() {
    let outage = Outage::start();
    let posts = outage.posts("teams");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        let path = "/workflows/abc/triggers/manual/paths/invoke";
        assert_request(post, "POST", path, event);
        assert!(
            post.request.target.ends_with("?sig=teams-sig"),
            "{}",
            post.request.target
        );
        let body = post.json();
        assert_eq!(body["type"], "message", "{body:#}");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"], "application/vnd.microsoft.card.adaptive",
            "{body:#}"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard", "{body:#}");
        assert_eq!(card["version"], "1.4", "{body:#}");
        let blocks = card["body"].as_array().expect("a card body");
        assert!(blocks.iter().any(|b| b["type"] == "FactSet"), "{body:#}");
    }
    let down = posts[0].json();
    let blocks = &down["attachments"][0]["content"]["body"];
    assert_eq!(blocks[0]["text"], "🔴 DOWN: api");
    assert_eq!(blocks[0]["color"], "Attention");
    assert_eq!(blocks[2]["text"], "status 503, expected 200");
    let up = posts[1].json();
    assert_eq!(
        up["attachments"][0]["content"]["body"][0]["text"],
        "🟢 UP: api"
    );
}

#[test]
fn telegram_calls_send_message_with_the_chat_and_never_prints_the_bot_token() {
    let outage = Outage::start();
    let posts = outage.posts("telegram");
    let path = format!("/bot{TELEGRAM_TOKEN}/sendMessage");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        assert_request(post, "POST", &path, event);
        let body = post.json();
        assert_eq!(body["chat_id"], json!(-1_001_234_567_890_i64), "{body:#}");
        assert!(body.get("parse_mode").is_none(), "{body:#}");
        assert!(text(&body, "/text").contains(id(event)), "{body:#}");
    }
    assert!(text(&posts[0].json(), "/text")
        .starts_with("🔴 DOWN: api\napi is down (was up)\nstatus 503, expected 200"));
    assert!(text(&posts[1].json(), "/text").starts_with("🟢 UP: api\napi is up again"));
    let output = format!("{}{}", outage.daemon.stdout(), outage.daemon.stderr());
    for secret in [TELEGRAM_TOKEN, GOTIFY_TOKEN, MATRIX_TOKEN, "s3cret"] {
        assert!(
            !output.contains(secret),
            "{secret} printed:\n{}",
            outage.daemon
        );
    }
}

#[test]
fn ntfy_publishes_json_to_the_server_root_with_the_topic_in_the_body() {
    let outage = Outage::start();
    let posts = outage.posts("ntfy");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        assert_request(post, "POST", "/", event);
        let body = post.json();
        assert_eq!(body["topic"], "flowstate-alerts", "{body:#}");
        assert!(text(&body, "/message").contains(id(event)), "{body:#}");
    }
    let down = posts[0].json();
    assert_eq!(down["title"], "DOWN: api", "{down:#}");
    assert_eq!(down["priority"], 4, "{down:#}");
    assert_eq!(down["tags"][0], "rotating_light", "{down:#}");
    assert!(text(&down, "/message").contains("status 503, expected 200"));
    let up = posts[1].json();
    assert_eq!(up["title"], "UP: api", "{up:#}");
    assert_eq!(up["priority"], 3, "{up:#}");
    assert_eq!(up["tags"][0], "white_check_mark", "{up:#}");
}

#[test]
fn gotify_posts_a_message_with_the_app_token_header() {
    let outage = Outage::start();
    let posts = outage.posts("gotify");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        assert_request(post, "POST", "/message", event);
        assert_eq!(post.request.header("X-Gotify-Key"), Some(GOTIFY_TOKEN));
        let body = post.json();
        assert!(text(&body, "/message").contains(id(event)), "{body:#}");
        assert_eq!(
            body["extras"]["client::display"]["contentType"], "text/plain",
            "{body:#}"
        );
    }
    let down = posts[0].json();
    assert_eq!(down["title"], "🔴 DOWN: api", "{down:#}");
    assert_eq!(down["priority"], 8, "{down:#}");
    let up = posts[1].json();
    assert_eq!(up["title"], "🟢 UP: api", "{up:#}");
    assert_eq!(up["priority"], 4, "{up:#}");
}

#[test]
fn matrix_puts_a_room_message_with_the_event_id_as_transaction_id() {
    let outage = Outage::start();
    let posts = outage.posts("matrix");
    for (post, event) in posts.iter().zip([&outage.down, &outage.up]) {
        let path = format!(
            "/_matrix/client/v3/rooms/{ROOM}/send/m.room.message/{}",
            id(event)
        );
        assert_request(post, "PUT", &path, event);
        let bearer = format!("Bearer {MATRIX_TOKEN}");
        assert_eq!(post.request.header("Authorization"), Some(bearer.as_str()));
        let body = post.json();
        assert_eq!(body["msgtype"], "m.text", "{body:#}");
        assert!(text(&body, "/body").contains(id(event)), "{body:#}");
    }
    assert!(text(&posts[0].json(), "/body").starts_with("🔴 DOWN: api\napi is down (was up)"));
    assert!(text(&posts[1].json(), "/body").starts_with("🟢 UP: api\napi is up again"));
}

/// Two hosts of group `payments` going down together reach each format as one delivery that
/// lists both; Matrix's transaction id is the delivery's first event's id.
#[test]
fn a_grouped_delivery_is_one_message_per_format_listing_every_host() {
    let (status, target) = switchable(200);
    let receivers: Vec<Receiver> = FORMATS.iter().map(|_| Receiver::accepting()).collect();
    let urls = [
        receivers[0].url("/v2/alert_events/http/01HSOURCE"),
        receivers[1].url("/workflow"),
        receivers[2].url("/bot${TELEGRAM_TOKEN}/sendMessage"),
        receivers[3].url("/flowstate-alerts"),
        receivers[4].url("/message"),
        receivers[5].url(&format!(
            "/_matrix/client/v3/rooms/{ROOM}/send/m.room.message"
        )),
    ];
    let mut notifiers = String::from("  audit: { type: file, path: alerts.jsonl }\n");
    for (format, url) in FORMATS.iter().zip(&urls) {
        let chat = if *format == "telegram" {
            ", chat_id: 42"
        } else {
            ""
        };
        notifiers.push_str(&format!(
            "  {format}: {{ type: webhook, format: {format}, url: '{url}'{chat}, \
             group_by: [group], group_wait: 2s }}\n"
        ));
    }
    let (sandbox, mut daemon) = start_alerting_every_format(
        &notifiers,
        &[
            host("pay-1", &target.url("/1"), "group: payments"),
            host("pay-2", &target.url("/2"), "group: payments"),
        ],
    );
    daemon.wait_for_status("pay-1", "up");
    daemon.wait_for_status("pay-2", "up");
    status.store(503, SeqCst);
    let events = wait_for_events(&sandbox, &daemon, 2);
    // The router hears the events in the order the file notifier wrote them: the group's
    // first event is the audit file's first.
    let first = id(&events[0]).to_string();
    for (format, receiver) in FORMATS.iter().zip(&receivers) {
        let posts = receiver.wait_for_count(&daemon, 1);
        assert_eq!(posts.len(), 1, "{format}: one delivery for the group");
        let post = &posts[0];
        let raw = post.request.body_text();
        assert!(
            raw.contains("pay-1") && raw.contains("pay-2"),
            "{format}: {raw}"
        );
        assert_eq!(post.request.header("Idempotency-Key"), Some(first.as_str()));
        let body = post.json();
        match *format {
            "incidentio" => {
                assert_eq!(body["deduplication_key"], "flowstate-group-payments");
                assert_eq!(body["status"], "firing");
                assert_eq!(body["title"], "payments: 2 down");
            }
            "teams" => assert_eq!(
                body["attachments"][0]["content"]["body"][0]["text"],
                "🔴 payments: 2 down"
            ),
            "telegram" => {
                assert_eq!(body["chat_id"], 42);
                assert!(text(&body, "/text").starts_with("🔴 payments: 2 down\n"));
            }
            "ntfy" => {
                assert_eq!(post.request.path(), "/");
                assert_eq!(body["topic"], "flowstate-alerts");
                assert_eq!(body["priority"], 4);
            }
            "gotify" => assert_eq!(body["title"], "🔴 payments: 2 down"),
            "matrix" => {
                assert_eq!(post.request.method, "PUT");
                assert_eq!(
                    post.request.path(),
                    format!("/_matrix/client/v3/rooms/{ROOM}/send/m.room.message/{first}")
                );
                assert!(text(&body, "/body").starts_with("🔴 payments: 2 down\n"));
            }
            other => unreachable!("{other}"),
        }
    }
}
