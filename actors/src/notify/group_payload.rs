//! Webhook bodies for a group of events (a notifier with `group_by`, SPEC §9): one delivery
//! lists every event of one group that came within `group_wait`, so a zone outage is one
//! message, not forty.
//!
//! - `generic`: `{"group": "payments", "events": [...]}`, each event as SPEC §3 shapes it.
//! - `slack`, `discord`: one message whose text counts the events by kind and lists them, one
//!   line each, cut to the service's limits with the number left out said.
//! - `pagerduty`: one alert per group (`dedup_key` `group:<name>`): a trigger while any event
//!   of the delivery reports a problem, a resolve when every one closes one.

use flowstate_config::notifier::WebhookFormat;
use serde_json::{json, Value};

use super::payload::{
    escape_mrkdwn, fit, fit_mrkdwn, headline, kind_label, slack_mrkdwn, text_len, Tone,
    CLIENT_NAME, DISCORD_CONTENT_MAX, DISCORD_DESCRIPTION_MAX, DISCORD_TITLE_MAX,
    PAGERDUTY_SUMMARY_MAX, SLACK_HEADER_MAX, SLACK_TEXT_MAX,
};
use super::EventGroup;
use crate::event::EventKind;

/// The JSON body posted for `group` in `format`. `routing_key` is PagerDuty's integration key.
pub fn group_body(format: WebhookFormat, group: &EventGroup, routing_key: Option<&str>) -> Value {
    match format {
        WebhookFormat::Generic => serde_json::to_value(group).unwrap_or_default(),
        WebhookFormat::Slack => slack(group),
        WebhookFormat::Discord => discord(group),
        WebhookFormat::Pagerduty => pagerduty(group, routing_key),
    }
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
        }
    }

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
        let body = group_body(WebhookFormat::Generic, &group, None);
        assert_eq!(body["group"], "payments");
        assert_eq!(body["events"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            body["events"][1],
            serde_json::to_value(&group.events[1]).unwrap()
        );
    }

    #[test]
    fn slack_counts_and_lists_every_event_that_fits() {
        let body = group_body(WebhookFormat::Slack, &downs(3), None);
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
        let body = group_body(WebhookFormat::Slack, &downs(400), None);
        let list = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(list.chars().count() <= SLACK_TEXT_MAX, "{}", list.len());
        assert!(list.ends_with("more"), "{list}");
        let discord = group_body(WebhookFormat::Discord, &downs(400), None);
        let description = discord["embeds"][0]["description"].as_str().unwrap();
        assert!(description.chars().count() <= DISCORD_DESCRIPTION_MAX);
    }

    #[test]
    fn pagerduty_triggers_one_alert_per_group_and_resolves_it_when_all_close() {
        let trigger = group_body(WebhookFormat::Pagerduty, &downs(2), Some("key"));
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["dedup_key"], "group:payments");
        assert_eq!(trigger["payload"]["severity"], "critical");
        let ups = EventGroup {
            group: "payments".into(),
            events: vec![event("api-1", EventKind::Up, Status::Up)],
        };
        let resolve = group_body(WebhookFormat::Pagerduty, &ups, Some("key"));
        assert_eq!(resolve["event_action"], "resolve");
        assert_eq!(resolve["dedup_key"], "group:payments");
    }
}
