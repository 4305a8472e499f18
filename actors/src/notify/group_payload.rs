//! Webhook bodies for a group of events (a notifier with `group_by`, SPEC §9): one delivery
//! lists every event of one group that came within `group_wait`, so a zone outage is one
//! message, not forty.
//!
//! - `generic`: `{"group": "payments", "events": [...]}`, each event as SPEC §3 shapes it.
//! - `slack`, `discord`: one message whose text counts the events by kind and lists them, one
//!   line each, cut to the service's limits with the number left out said.
//! - `pagerduty`: one alert per group (`dedup_key` `group:<name>`): a trigger while any event
//!   of the delivery reports a problem, a resolve when every one closes one.
//! - `incidentio`: one alert per group (`deduplication_key` `flowstate-group-<name>`),
//!   `firing` while any event is a problem, `resolved` when every one closes one.
//! - `teams`, `telegram`, `ntfy`, `gotify`, `matrix`: one message with the counts as its title
//!   and the listing as its text, cut to the service's limits with the number left out said.

use flowstate_config::notifier::WebhookFormat;
use serde_json::{json, Value};

use super::payload::{
    escape_mrkdwn, fit, fit_mrkdwn, gotify, headline, incidentio_status, kind_label, matrix, ntfy,
    slack_mrkdwn, teams_message, telegram, text_len, Addressing, Tone, CLIENT_NAME,
    DISCORD_CONTENT_MAX, DISCORD_DESCRIPTION_MAX, DISCORD_TITLE_MAX, INCIDENTIO_TITLE_MAX,
    PAGERDUTY_SUMMARY_MAX, SLACK_HEADER_MAX, SLACK_TEXT_MAX, TELEGRAM_TEXT_MAX,
};
use super::EventGroup;
use crate::event::EventKind;

/// A listing longer than this many lines is cut in the formats that show one line each
/// (a Teams card with hundreds of TextBlocks is slow to render and may pass Teams' size limit).
const TEAMS_LINES_MAX: usize = 50;

/// The JSON body sent for `group` in `format`.
pub fn group_body(format: WebhookFormat, group: &EventGroup, to: &Addressing<'_>) -> Value {
    let emoji_title = || format!("{} {}", tone(group).emoji(), title(group));
    match format {
        WebhookFormat::Generic => serde_json::to_value(group).unwrap_or_default(),
        WebhookFormat::Slack => slack(group),
        WebhookFormat::Discord => discord(group),
        WebhookFormat::Pagerduty => pagerduty(group, to.routing_key),
        WebhookFormat::Incidentio => incidentio(group),
        WebhookFormat::Teams => {
            let shown = group.events.len().min(TEAMS_LINES_MAX);
            let mut lines: Vec<String> = group.events[..shown]
                .iter()
                .map(|e| format!("• {}", headline(e)))
                .collect();
            if group.events.len() > shown {
                lines.push(format!("… and {} more", group.events.len() - shown));
            }
            teams_message(tone(group), &emoji_title(), &lines, Vec::new())
        }
        WebhookFormat::Telegram => {
            let title = emoji_title();
            let room = TELEGRAM_TEXT_MAX.saturating_sub(text_len(&title) + 1);
            let text = format!("{title}\n{}", listing(group, room, str::to_string));
            telegram(to.chat_id, &text)
        }
        WebhookFormat::Ntfy => ntfy(
            to.topic,
            tone(group),
            &emoji_title(),
            &listing(group, NTFY_MESSAGE_MAX, str::to_string),
        ),
        WebhookFormat::Gotify => gotify(
            tone(group),
            &emoji_title(),
            &listing(group, usize::MAX, str::to_string),
        ),
        WebhookFormat::Matrix => {
            let title = emoji_title();
            let room = MATRIX_BODY_MAX.saturating_sub(text_len(&title) + 1);
            matrix(&format!(
                "{title}\n{}",
                listing(group, room, str::to_string)
            ))
        }
    }
}

/// ntfy turns a message longer than 4096 bytes into an attachment; listing lines are short,
/// so the listing is kept to what stays a message even in 4-byte characters.
const NTFY_MESSAGE_MAX: usize = 1000;

/// A Matrix event is at most 65536 bytes; a body of this many UTF-16 units stays well within
/// it whatever the characters.
const MATRIX_BODY_MAX: usize = 16_000;

/// incident.io: one alert per group, open while any event of a delivery is a problem.
fn incidentio(group: &EventGroup) -> Value {
    let problem = group.events.iter().any(|e| e.event.is_problem());
    let hosts: Vec<&str> = group.events.iter().map(|e| e.host.as_str()).collect();
    let ids: Vec<&str> = group.events.iter().map(|e| e.id.as_str()).collect();
    json!({
        "title": fit(&title(group), INCIDENTIO_TITLE_MAX),
        "description": listing(group, usize::MAX, str::to_string),
        "deduplication_key": format!("{CLIENT_NAME}-group-{}", group.group),
        "status": incidentio_status(problem),
        "metadata": {
            "group": group.group,
            "counts": group.counts(),
            "hosts": hosts,
            "event_ids": ids,
        },
    })
}

/// The worst tone among the events: one host down makes the message red.
fn tone(group: &EventGroup) -> Tone {
    let tones: Vec<Tone> = group.events.iter().map(|e| Tone::of(e.event)).collect();
    [Tone::Red, Tone::Amber, Tone::Green]
        .into_iter()
        .find(|t| tones.contains(t))
        .unwrap_or(Tone::Green)
}

/// `payments: 28 down, 2 up`.
fn title(group: &EventGroup) -> String {
    format!("{}: {}", group.group, group.counts())
}

/// One line per event, as many as fit in `max` characters (escaped by `escape`), then how many
/// were left out.
fn listing(group: &EventGroup, max: usize, escape: impl Fn(&str) -> String) -> String {
    let mut text = String::new();
    for (shown, event) in group.events.iter().enumerate() {
        let line = format!("• {}\n", escape(&headline(event)));
        let left = group.events.len() - shown;
        let note = format!("… and {left} more");
        if text_len(&text) + text_len(&line) + text_len(&note) > max {
            text.push_str(&note);
            return text;
        }
        text.push_str(&line);
    }
    text.trim_end().to_string()
}

fn slack(group: &EventGroup) -> Value {
    let tone = tone(group);
    let title = title(group);
    let text = fit_mrkdwn(
        &format!("{} {}", tone.emoji(), escape_mrkdwn(&title)),
        SLACK_TEXT_MAX,
    );
    let header = fit(&format!("{} {title}", tone.emoji()), SLACK_HEADER_MAX);
    let list = listing(group, SLACK_TEXT_MAX, escape_mrkdwn);
    json!({
        "text": text,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": header, "emoji": true } },
            { "type": "section", "text": slack_mrkdwn(&list) },
        ],
    })
}

fn discord(group: &EventGroup) -> Value {
    let tone = tone(group);
    let title = title(group);
    let content = fit(&format!("{} {title}", tone.emoji()), DISCORD_CONTENT_MAX);
    json!({
        "username": CLIENT_NAME,
        "content": content,
        "embeds": [{
            "title": fit(&title, DISCORD_TITLE_MAX),
            "description": listing(group, DISCORD_DESCRIPTION_MAX, str::to_string),
            "color": tone.discord_color(),
        }],
        "allowed_mentions": { "parse": [] },
    })
}

fn pagerduty(group: &EventGroup, routing_key: Option<&str>) -> Value {
    let routing_key = routing_key.unwrap_or_default();
    let dedup_key = format!("group:{}", group.group);
    let problem = group.events.iter().any(|e| e.event.is_problem());
    if !problem {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
            "client": CLIENT_NAME,
        });
    }
    let critical = group
        .events
        .iter()
        .any(|e| matches!(e.event, EventKind::Down | EventKind::Reminder));
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": CLIENT_NAME,
        "payload": {
            "summary": fit(&title(group), PAGERDUTY_SUMMARY_MAX),
            "source": group.group,
            "severity": if critical { "critical" } else { "warning" },
            "timestamp": group.events.last().map(|e| e.at.clone()).unwrap_or_default(),
            "custom_details": serde_json::to_value(group).unwrap_or_default(),
        },
    })
}

/// How a kind reads in a count: `down`, `still down`.
pub(super) fn kind_word(kind: EventKind) -> String {
    kind_label(kind).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AlertEvent;
    use crate::model::Status;

    fn event(host: &str, kind: EventKind, status: Status) -> AlertEvent {
        AlertEvent {
            id: format!("01JDQ4ZK3T6M9V2X8B7N5C1H{:02}", host.len()),
            event: kind,
            host: host.to_string(),
            group: Some("payments".into()),
            status,
            previous: Status::Up,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:03:37.123Z".into(),
            reason: "status 503, expected 200".into(),
            consecutive_failures: 2,
            latency_ms: 1.0,
            trace: None,
        }
    }

    const PD: Addressing<'static> = Addressing {
        routing_key: Some("key"),
        chat_id: None,
        topic: None,
    };

    fn downs(n: usize) -> EventGroup {
        EventGroup {
            group: "payments".into(),
            events: (0..n)
                .map(|i| event(&format!("api-{i}"), EventKind::Down, Status::Down))
                .collect(),
        }
    }

    #[test]
    fn generic_is_the_group_and_its_events_unchanged() {
        let group = downs(2);
        let body = group_body(WebhookFormat::Generic, &group, &Addressing::default());
        assert_eq!(body["group"], "payments");
        assert_eq!(body["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            body["events"][1],
            serde_json::to_value(&group.events[1]).unwrap()
        );
    }

    #[test]
    fn slack_counts_and_lists_every_event_that_fits() {
        let body = group_body(WebhookFormat::Slack, &downs(3), &Addressing::default());
        assert_eq!(body["text"], "🔴 payments: 3 down");
        let list = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(list.lines().count(), 3, "{list}");
        assert!(
            list.contains("DOWN api-2: status 503, expected 200"),
            "{list}"
        );
    }

    #[test]
    fn a_long_listing_says_how_many_were_left_out() {
        let body = group_body(WebhookFormat::Slack, &downs(400), &Addressing::default());
        let list = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(list.chars().count() <= SLACK_TEXT_MAX, "{}", list.len());
        assert!(list.ends_with("more"), "{list}");
        let discord = group_body(WebhookFormat::Discord, &downs(400), &Addressing::default());
        let description = discord["embeds"][0]["description"].as_str().unwrap();
        assert!(description.chars().count() <= DISCORD_DESCRIPTION_MAX);
    }

    const CHAT: Addressing<'static> = Addressing {
        routing_key: None,
        chat_id: Some("42"),
        topic: Some("alerts"),
    };

    fn mixed() -> EventGroup {
        EventGroup {
            group: "payments".into(),
            events: vec![
                event("api-1", EventKind::Down, Status::Down),
                event("api-22", EventKind::Up, Status::Up),
            ],
        }
    }

    fn ups() -> EventGroup {
        EventGroup {
            group: "payments".into(),
            events: vec![event("api-1", EventKind::Up, Status::Up)],
        }
    }

    #[test]
    fn incidentio_fires_one_alert_per_group_and_resolves_it_when_all_close() {
        let firing = group_body(WebhookFormat::Incidentio, &mixed(), &CHAT);
        assert_eq!(firing["status"], "firing");
        assert_eq!(firing["deduplication_key"], "flowstate-group-payments");
        assert_eq!(firing["title"], "payments: 1 down, 1 up");
        assert_eq!(firing["metadata"]["group"], "payments");
        assert_eq!(firing["metadata"]["hosts"], json!(["api-1", "api-22"]));
        assert_eq!(firing["metadata"]["event_ids"][0], mixed().events[0].id);
        let description = firing["description"].as_str().unwrap();
        assert!(description.contains("• DOWN api-1: status 503, expected 200"));
        let resolved = group_body(WebhookFormat::Incidentio, &ups(), &CHAT);
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["deduplication_key"], "flowstate-group-payments");
    }

    #[test]
    fn chat_formats_title_the_counts_and_list_each_event() {
        let group = mixed();
        let teams = group_body(WebhookFormat::Teams, &group, &CHAT);
        let card = &teams["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["text"], "🔴 payments: 1 down, 1 up");
        assert_eq!(card["body"][0]["color"], "Attention");
        assert_eq!(
            card["body"][1]["text"],
            "• DOWN api-1: status 503, expected 200"
        );
        assert_eq!(
            card["body"][2]["text"],
            "• UP api-22: status 503, expected 200"
        );

        let telegram = group_body(WebhookFormat::Telegram, &group, &CHAT);
        assert_eq!(telegram["chat_id"], 42);
        let text = telegram["text"].as_str().unwrap();
        assert!(
            text.starts_with("🔴 payments: 1 down, 1 up\n• DOWN api-1"),
            "{text}"
        );

        let ntfy = group_body(WebhookFormat::Ntfy, &group, &CHAT);
        assert_eq!(ntfy["topic"], "alerts");
        assert_eq!(ntfy["title"], "payments: 1 down, 1 up");
        assert_eq!(ntfy["priority"], 4);
        assert_eq!(ntfy["tags"][0], "rotating_light");
        let ntfy_up = group_body(WebhookFormat::Ntfy, &ups(), &CHAT);
        assert_eq!(ntfy_up["priority"], 3);
        assert_eq!(ntfy_up["tags"][0], "white_check_mark");

        let gotify = group_body(WebhookFormat::Gotify, &group, &CHAT);
        assert_eq!(gotify["title"], "🔴 payments: 1 down, 1 up");
        assert_eq!(gotify["priority"], 8);
        assert_eq!(gotify["message"].as_str().unwrap().lines().count(), 2);

        let matrix = group_body(WebhookFormat::Matrix, &group, &CHAT);
        assert_eq!(matrix["msgtype"], "m.text");
        let body = matrix["body"].as_str().unwrap();
        assert_eq!(body.lines().count(), 3, "{body}");
    }

    #[test]
    fn long_groups_are_cut_within_each_services_limits() {
        let group = downs(2000);
        let telegram = group_body(WebhookFormat::Telegram, &group, &CHAT);
        let text = telegram["text"].as_str().unwrap();
        assert!(
            text_len(text) <= TELEGRAM_TEXT_MAX && text.ends_with("more"),
            "{}",
            text.len()
        );
        let teams = group_body(WebhookFormat::Teams, &group, &CHAT);
        let blocks = teams["attachments"][0]["content"]["body"]
            .as_array()
            .unwrap();
        assert_eq!(blocks.len(), TEAMS_LINES_MAX + 2, "title, lines, note");
        assert_eq!(blocks.last().unwrap()["text"], "… and 1950 more");
        let matrix = group_body(WebhookFormat::Matrix, &group, &CHAT);
        assert!(text_len(matrix["body"].as_str().unwrap()) <= MATRIX_BODY_MAX);
    }

    #[test]
    fn pagerduty_triggers_one_alert_per_group_and_resolves_it_when_all_close() {
        let trigger = group_body(WebhookFormat::Pagerduty, &downs(2), &PD);
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["dedup_key"], "group:payments");
        assert_eq!(trigger["payload"]["severity"], "critical");
        let ups = EventGroup {
            group: "payments".into(),
            events: vec![event("api-1", EventKind::Up, Status::Up)],
        };
        let resolve = group_body(WebhookFormat::Pagerduty, &ups, &PD);
        assert_eq!(resolve["event_action"], "resolve");
        assert_eq!(resolve["dedup_key"], "group:payments");
    }
}
