//! Webhook bodies: one alert event shaped the way each receiving service documents its
//! incoming payload.
//!
//! - `generic`: the event object of SPEC §3, unchanged, for receivers we do not know.
//! - `slack`: an incoming-webhook message, a plain `text` (what notifications and screen
//!   readers use) plus Block Kit `blocks` (header, mrkdwn section, context).
//!   <https://docs.slack.dev/reference/block-kit/blocks/header-block>,
//!   <https://docs.slack.dev/reference/block-kit/composition-objects/text-object>,
//!   <https://docs.slack.dev/reference/block-kit/blocks/context-block>,
//!   <https://api.slack.com/reference/surfaces/formatting> (escaping).
//! - `discord`: an execute-webhook body, a short `content` plus one rich embed.
//!   <https://discord.com/developers/docs/resources/webhook#execute-webhook>,
//!   <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>,
//!   <https://discord.com/developers/docs/resources/message#allowed-mentions-object>.
//! - `pagerduty`: an Events API v2 alert event for `https://events.pagerduty.com/v2/enqueue`.
//!   <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>.
//!
//! - `incidentio`: an incident.io HTTP alert source event: `title`, `description`,
//!   `deduplication_key` (`flowstate-<host>`), `status` `firing`/`resolved`, `metadata`.
//!   <https://docs.incident.io/alerts/custom-http-sources> (the standard alert schema).
//! - `teams`: a Microsoft Teams Workflows webhook message ("Post to a channel when a webhook
//!   request is received") carrying one Adaptive Card 1.4 (TextBlocks and a FactSet). The
//!   retired Office 365 connector MessageCard is not used.
//!   <https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/what-are-cards>.
//! - `telegram`: a Bot API `sendMessage` request, plain text (no `parse_mode`, so nothing in a
//!   reason needs escaping), cut at 4096 characters. <https://core.telegram.org/bots/api#sendmessage>.
//! - `ntfy`: a JSON publish (`topic`, `title`, `message`, `priority` 1-5, `tags`), posted to the
//!   server root. <https://docs.ntfy.sh/publish/#publish-as-json>.
//! - `gotify`: `POST /message` with `title`, `message`, `priority` and plain-text display.
//!   <https://gotify.net/api-docs#/message/createMessage>, <https://gotify.net/docs/msgextras>.
//! - `matrix`: an `m.room.message` event content (`msgtype: m.text`, plain `body`) for
//!   `PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}`.
//!   <https://spec.matrix.org/latest/client-server-api/#mroommessage-msgtypes>.
//!
//! Each service refuses a body that breaks one of its limits (HTTP 400), and the webhook
//! notifier gives up on a 400 at once, so one over-long reason would lose the alert. Text is
//! therefore cut to the documented limit, on a character boundary, ending in an ellipsis.

use flowstate_config::notifier::WebhookFormat;
use serde_json::{json, Map, Value};

use crate::event::{AlertEvent, EventKind};

/// What some formats need besides the event: the notifier's own settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Addressing<'a> {
    /// PagerDuty's integration key (`routing_key`).
    pub routing_key: Option<&'a str>,
    /// Telegram's `chat_id`.
    pub chat_id: Option<&'a str>,
    /// The ntfy topic (the last segment of the notifier's URL).
    pub topic: Option<&'a str>,
}

/// The JSON body sent for `event` in `format`.
pub fn webhook_body(
    format: WebhookFormat,
    event: &AlertEvent,
    to: &Addressing<'_>,
) -> serde_json::Value {
    match format {
        WebhookFormat::Generic => generic(event),
        WebhookFormat::Slack => slack(event),
        WebhookFormat::Discord => discord(event),
        WebhookFormat::Pagerduty => pagerduty(event, to.routing_key),
        WebhookFormat::Incidentio => incidentio(event),
        WebhookFormat::Teams => teams_message(
            Tone::of(event.event),
            &title(event),
            &[state_line(event), event.reason.trim().to_string()],
            facts(event),
        ),
        WebhookFormat::Telegram => telegram(to.chat_id, &chat_text(event)),
        WebhookFormat::Ntfy => ntfy(
            to.topic,
            Tone::of(event.event),
            &title(event),
            &details(event),
        ),
        WebhookFormat::Gotify => gotify(Tone::of(event.event), &title(event), &details(event)),
        WebhookFormat::Matrix => matrix(&chat_text(event)),
    }
}

/// Marks text that was cut; one character (one UTF-16 unit) whatever the receiver counts.
const ELLIPSIS: char = '…';

/// Slack: a text object's `text`, so a section's text and each context element (max 3000).
/// The top-level `text` is kept to the same size: Slack may split or truncate longer messages,
/// and a notification preview needs far less.
pub(super) const SLACK_TEXT_MAX: usize = 3000;
/// Slack: a header block's plain_text (max 150).
pub(super) const SLACK_HEADER_MAX: usize = 150;

/// Discord execute webhook: `content` (up to 2000 characters).
pub(super) const DISCORD_CONTENT_MAX: usize = 2000;
/// Discord embed limits: title 256, description 4096, field name 256, field value 1024,
/// footer text 2048, and all of these together across a message's embeds at most 6000.
pub(super) const DISCORD_TITLE_MAX: usize = 256;
pub(super) const DISCORD_DESCRIPTION_MAX: usize = 4096;
const DISCORD_FIELD_NAME_MAX: usize = 256;
const DISCORD_FIELD_VALUE_MAX: usize = 1024;
const DISCORD_FOOTER_MAX: usize = 2048;
const DISCORD_EMBED_TOTAL_MAX: usize = 6000;

/// PagerDuty Events API v2: `payload.summary` (max 1024 characters).
pub(super) const PAGERDUTY_SUMMARY_MAX: usize = 1024;
/// Telegram `sendMessage`: `text`, 1-4096 characters.
pub(super) const TELEGRAM_TEXT_MAX: usize = 4096;
/// incident.io documents no limit for a title; a title is one line, so it is kept short.
pub(super) const INCIDENTIO_TITLE_MAX: usize = 500;
/// Teams posts at most about 28 KB per message; each text of a card is kept well under it.
pub(super) const TEAMS_TEXT_MAX: usize = 2000;
/// PagerDuty's integration list shows this as the monitoring tool that sent the event.
pub(super) const CLIENT_NAME: &str = "flowstate";

/// The event object itself: receivers written against SPEC §3 get exactly what the file and
/// stdout notifiers write.
fn generic(event: &AlertEvent) -> Value {
    // Cannot fail: every field is a string, a number or a unit enum (serde_json turns a
    // non-finite latency into null rather than an error). Null is the harmless fallback.
    serde_json::to_value(event).unwrap_or_default()
}

/// Slack incoming webhook: `text` is the plain fallback Slack shows in notifications and reads
/// to screen readers; `blocks` is what the channel shows.
fn slack(event: &AlertEvent) -> Value {
    let tone = Tone::of(event.event);
    // Slack parses `&`, `<` and `>` as control characters in the top-level text too (`<!here>`
    // would notify the channel), so the fallback is escaped although it carries no markup.
    let text = fit_mrkdwn(
        &format!("{} {}", tone.emoji(), escape_mrkdwn(&headline(event))),
        SLACK_TEXT_MAX,
    );
    let header = fit(
        &format!(
            "{} {}: {}",
            tone.emoji(),
            kind_label(event.event),
            event.host
        ),
        SLACK_HEADER_MAX,
    );
    let mut section = format!("*{}* {}", escape_mrkdwn(&event.host), state_phrase(event));
    if !event.reason.trim().is_empty() {
        section.push('\n');
        section.push_str(&escape_mrkdwn(&event.reason));
    }
    let context: Vec<Value> = [
        format!("At {}", event.at),
        format!("Since {}", event.since),
        failures_phrase(event.consecutive_failures),
        format!("Latency {} ms", event.latency_ms),
    ]
    .iter()
    .map(|element| slack_mrkdwn(&escape_mrkdwn(element)))
    .collect();
    json!({
        "text": text,
        "blocks": [
            {
                "type": "header",
                "text": { "type": "plain_text", "text": header, "emoji": true },
            },
            { "type": "section", "text": slack_mrkdwn(&section) },
            { "type": "context", "elements": context },
        ],
    })
}

/// A mrkdwn text object. `verbatim: true` stops Slack from turning bare channel names, URLs and
/// mention-like words in network data into links or mentions; our own `*bold*` still renders.
pub(super) fn slack_mrkdwn(escaped: &str) -> Value {
    json!({ "type": "mrkdwn", "text": fit_mrkdwn(escaped, SLACK_TEXT_MAX), "verbatim": true })
}

/// Discord execute webhook: a short `content` for the notification, the details in one embed.
fn discord(event: &AlertEvent) -> Value {
    let tone = Tone::of(event.event);
    let content = fit(
        &format!(
            "{} {}: {}",
            tone.emoji(),
            kind_label(event.event),
            event.host
        ),
        DISCORD_CONTENT_MAX,
    );
    let title = fit(
        &format!("{} {}", event.host, state_phrase(event)),
        DISCORD_TITLE_MAX,
    );
    let fields: Vec<(String, String, bool)> = [
        ("Status", event.status.to_string(), true),
        ("Previous", event.previous.to_string(), true),
        (
            "Consecutive failures",
            event.consecutive_failures.to_string(),
            true,
        ),
        ("Latency", format!("{} ms", event.latency_ms), true),
        ("Since", event.since.clone(), false),
    ]
    .into_iter()
    .map(|(name, value, inline)| {
        (
            fit(name, DISCORD_FIELD_NAME_MAX),
            fit(&value, DISCORD_FIELD_VALUE_MAX),
            inline,
        )
    })
    .collect();
    let footer = fit(&format!("flowstate event {}", event.id), DISCORD_FOOTER_MAX);

    // The reason gets what the 6000-character embed total leaves after everything else.
    let used = text_len(&title)
        + text_len(&footer)
        + fields
            .iter()
            .map(|(name, value, _)| text_len(name) + text_len(value))
            .sum::<usize>();
    let description_max = DISCORD_DESCRIPTION_MAX.min(DISCORD_EMBED_TOTAL_MAX.saturating_sub(used));
    // Discord trims whitespace and refuses an empty description, so a blank reason is left out.
    let description = fit(event.reason.trim(), description_max);

    let mut embed = Map::new();
    embed.insert("title".into(), json!(title));
    if !description.is_empty() {
        embed.insert("description".into(), json!(description));
    }
    embed.insert("color".into(), json!(tone.discord_color()));
    embed.insert("timestamp".into(), json!(event.at));
    embed.insert(
        "fields".into(),
        fields
            .into_iter()
            .map(|(name, value, inline)| json!({ "name": name, "value": value, "inline": inline }))
            .collect(),
    );
    embed.insert("footer".into(), json!({ "text": footer }));

    json!({
        "username": CLIENT_NAME,
        "content": content,
        "embeds": [embed],
        // Host labels and reasons are user and network data: `@everyone` or `<@id>` in them
        // must never ping anyone. An empty `parse` suppresses every mention.
        "allowed_mentions": { "parse": [] },
    })
}

/// PagerDuty Events API v2. The host label is the `dedup_key`, so a host's `down`, its
/// reminders and its `up` all land on one alert, and the `up` (or `removed`) resolves it.
fn pagerduty(event: &AlertEvent, routing_key: Option<&str>) -> Value {
    // Validation requires a key for this format; were it missing, PagerDuty answers 400 to the
    // empty one, which shows up as a failed delivery rather than a panic here.
    let routing_key = routing_key.unwrap_or_default();
    let severity = match event.event {
        EventKind::Down | EventKind::Reminder | EventKind::Unreachable => "critical",
        EventKind::Degraded | EventKind::Flapping => "warning",
        // A resolve needs only the key, the action and the dedup key.
        EventKind::Up | EventKind::Removed => {
            return json!({
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": event.host,
                "client": CLIENT_NAME,
            });
        }
    };
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": event.host,
        "client": CLIENT_NAME,
        "payload": {
            "summary": fit(&headline(event), PAGERDUTY_SUMMARY_MAX),
            "source": event.host,
            "severity": severity,
            "timestamp": event.at,
            "class": event.status.as_str(),
            // The whole event, `id` included, so a responder sees everything a generic
            // receiver would and can match the alert to flowstate's own logs.
            "custom_details": generic(event),
        },
    })
}

/// `🔴 DOWN: api`: the short title the chat and push formats show.
fn title(event: &AlertEvent) -> String {
    format!(
        "{} {}: {}",
        Tone::of(event.event).emoji(),
        kind_label(event.event),
        event.host
    )
}

/// `api is down (was up)`.
fn state_line(event: &AlertEvent) -> String {
    format!("{} {}", event.host, state_phrase(event))
}

/// The body of a plain-text message: the state, the reason, then when and the event id.
fn details(event: &AlertEvent) -> String {
    let mut text = state_line(event);
    let reason = event.reason.trim();
    if !reason.is_empty() {
        text.push('\n');
        text.push_str(reason);
    }
    text.push_str(&format!(
        "\nAt {}, since {}; {}; latency {} ms\nEvent {}",
        event.at,
        event.since,
        failures_phrase(event.consecutive_failures),
        event.latency_ms,
        event.id
    ));
    text
}

/// A whole chat message: the title line, then [`details`].
fn chat_text(event: &AlertEvent) -> String {
    format!("{}\n{}", title(event), details(event))
}

/// The event's fields as `(name, value)` pairs, for a Teams FactSet.
fn facts(event: &AlertEvent) -> Vec<(String, String)> {
    vec![
        ("Status".into(), event.status.to_string()),
        ("Previous".into(), event.previous.to_string()),
        (
            "Consecutive failures".into(),
            event.consecutive_failures.to_string(),
        ),
        ("Latency".into(), format!("{} ms", event.latency_ms)),
        ("At".into(), event.at.clone()),
        ("Since".into(), event.since.clone()),
        ("Event".into(), event.id.clone()),
    ]
}

/// incident.io's key for one host's alert: every event of the host lands on one alert, and a
/// `resolved` closes it.
pub(super) fn incidentio_key(host: &str) -> String {
    format!("{CLIENT_NAME}-{host}")
}

/// incident.io HTTP alert source: `firing` while the host has a problem, `resolved` when it
/// is over (`up`, `removed`), both under the host's deduplication key.
fn incidentio(event: &AlertEvent) -> Value {
    let mut metadata = Map::new();
    metadata.insert("host".into(), json!(event.host));
    if let Some(group) = &event.group {
        metadata.insert("group".into(), json!(group));
    }
    for (key, value) in [
        ("event", json!(event.event)),
        ("status", json!(event.status)),
        ("previous", json!(event.previous)),
        ("reason", json!(event.reason)),
        ("event_id", json!(event.id)),
        ("at", json!(event.at)),
        ("since", json!(event.since)),
        ("consecutive_failures", json!(event.consecutive_failures)),
        ("latency_ms", json!(event.latency_ms)),
    ] {
        metadata.insert(key.into(), value);
    }
    json!({
        "title": fit(&headline(event), INCIDENTIO_TITLE_MAX),
        "description": details(event),
        "deduplication_key": incidentio_key(&event.host),
        "status": incidentio_status(event.event.is_problem()),
        "metadata": metadata,
    })
}

pub(super) fn incidentio_status(problem: bool) -> &'static str {
    if problem {
        "firing"
    } else {
        "resolved"
    }
}

/// A Teams Workflows message with one Adaptive Card: a coloured bold title, one wrapped
/// TextBlock per non-empty line of `lines`, then the facts.
pub(super) fn teams_message(
    tone: Tone,
    title: &str,
    lines: &[String],
    facts: Vec<(String, String)>,
) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": fit(title, TEAMS_TEXT_MAX),
        "weight": "Bolder",
        "size": "Medium",
        "color": tone.teams_color(),
        "wrap": true,
    })];
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        body.push(json!({ "type": "TextBlock", "text": fit(line, TEAMS_TEXT_MAX), "wrap": true }));
    }
    if !facts.is_empty() {
        let facts: Vec<Value> = facts
            .into_iter()
            .map(|(title, value)| json!({ "title": title, "value": fit(&value, TEAMS_TEXT_MAX) }))
            .collect();
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// Telegram `sendMessage`: plain text (no `parse_mode`, so nothing needs escaping), no link
/// preview for URLs in a reason. A numeric chat id is sent as a number, `@channel` as text.
pub(super) fn telegram(chat_id: Option<&str>, text: &str) -> Value {
    let chat_id = chat_id.unwrap_or_default();
    let chat_id = match chat_id.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(chat_id),
    };
    json!({
        "chat_id": chat_id,
        "text": fit(text, TELEGRAM_TEXT_MAX),
        "link_preview_options": { "is_disabled": true },
    })
}

/// ntfy JSON publish: a problem is `high` priority with a siren, a recovery `default` with a
/// check mark (ntfy shows known tags as emoji before the title).
pub(super) fn ntfy(topic: Option<&str>, tone: Tone, title: &str, message: &str) -> Value {
    let (priority, tag) = match tone {
        Tone::Red => (4, "rotating_light"),
        Tone::Amber => (3, "warning"),
        Tone::Green => (3, "white_check_mark"),
    };
    // The emoji of the title is the tag's: the title alone says the kind and the host.
    let title = title
        .strip_prefix(tone.emoji())
        .map(str::trim_start)
        .unwrap_or(title);
    json!({
        "topic": topic.unwrap_or_default(),
        "title": title,
        "message": message,
        "priority": priority,
        "tags": [tag, CLIENT_NAME],
    })
}

/// Gotify `POST /message`: a problem at priority 8 (a popup and sound on Android), a partial
/// one at 5, a recovery at 4; shown as plain text.
pub(super) fn gotify(tone: Tone, title: &str, message: &str) -> Value {
    let priority = match tone {
        Tone::Red => 8,
        Tone::Amber => 5,
        Tone::Green => 4,
    };
    json!({
        "title": title,
        "message": message,
        "priority": priority,
        "extras": { "client::display": { "contentType": "text/plain" } },
    })
}

/// Matrix `m.room.message` content: plain text only, so nothing in a reason is read as HTML.
pub(super) fn matrix(text: &str) -> Value {
    json!({ "msgtype": "m.text", "body": text })
}

/// The colour family of an event: red for a problem, amber for a partial one, green when the
/// problem is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Red,
    Amber,
    Green,
}

impl Tone {
    pub(super) fn of(kind: EventKind) -> Tone {
        match kind {
            EventKind::Down | EventKind::Reminder | EventKind::Unreachable => Tone::Red,
            EventKind::Degraded | EventKind::Flapping => Tone::Amber,
            EventKind::Up | EventKind::Removed => Tone::Green,
        }
    }

    /// Unicode rather than `:shortcodes:`: the same text reads right in both chat services.
    pub(super) fn emoji(self) -> &'static str {
        match self {
            Tone::Red => "🔴",
            Tone::Amber => "🟡",
            Tone::Green => "🟢",
        }
    }

    /// An Adaptive Card TextBlock `color`.
    pub(super) fn teams_color(self) -> &'static str {
        match self {
            Tone::Red => "Attention",
            Tone::Amber => "Warning",
            Tone::Green => "Good",
        }
    }

    /// Discord wants the colour as an integer (0xRRGGBB).
    pub(super) fn discord_color(self) -> u32 {
        match self {
            Tone::Red => 0xE7_4C_3C,
            Tone::Amber => 0xF1_C4_0F,
            Tone::Green => 0x2E_CC_71,
        }
    }
}

/// The event kind as a person scans for it.
pub(super) fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Down => "DOWN",
        EventKind::Up => "UP",
        EventKind::Degraded => "DEGRADED",
        EventKind::Reminder => "STILL DOWN",
        EventKind::Removed => "REMOVED",
        EventKind::Unreachable => "UNREACHABLE",
        EventKind::Flapping => "FLAPPING",
    }
}

/// `DOWN api: status 503, expected 200`: the one line a notification or an alert title shows.
pub(super) fn headline(event: &AlertEvent) -> String {
    let reason = event.reason.trim();
    if reason.is_empty() {
        format!("{} {}", kind_label(event.event), event.host)
    } else {
        format!("{} {}: {reason}", kind_label(event.event), event.host)
    }
}

/// What happened to the host, after its name: `is down (was up)`.
fn state_phrase(event: &AlertEvent) -> String {
    match event.event {
        EventKind::Down | EventKind::Degraded => {
            format!("is {} (was {})", event.status, event.previous)
        }
        EventKind::Up => format!("is up again (was {})", event.previous),
        EventKind::Reminder => format!("is still {}", event.status),
        EventKind::Removed => "was removed from the configuration while down".to_string(),
        EventKind::Unreachable => format!("is unreachable (was {})", event.previous),
        EventKind::Flapping => format!("is flapping (now {})", event.status),
    }
}

fn failures_phrase(n: u32) -> String {
    if n == 1 {
        "1 consecutive failure".to_string()
    } else {
        format!("{n} consecutive failures")
    }
}

/// Slack's three control characters as the entities Slack documents, so user text cannot form
/// links or mentions (`<!channel>`, `<@U123>`). Other mrkdwn characters are left alone: they
/// only change how the text looks.
pub(super) fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Length as a receiver may count it. The services say "characters" without saying which;
/// UTF-16 units are never fewer than code points, so a text within the limit in UTF-16 units
/// is within it whether the receiver counts code points or (as JavaScript does) UTF-16 units.
pub(super) fn text_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `text` unchanged if it fits in `max`, else its longest prefix (whole characters) that leaves
/// room for the ellipsis, with the ellipsis.
pub(super) fn fit(text: &str, max: usize) -> String {
    match cut_point(text, max) {
        None => text.to_owned(),
        Some(end) => with_ellipsis(&text[..end], max),
    }
}

/// [`fit`] for escaped mrkdwn: the cut never lands inside an entity, which would leave `&am`
/// on screen. Every `&` in escaped text starts an entity, since a literal one became `&amp;`.
pub(super) fn fit_mrkdwn(escaped: &str, max: usize) -> String {
    match cut_point(escaped, max) {
        None => escaped.to_owned(),
        Some(mut end) => {
            if let Some(amp) = escaped[..end].rfind('&') {
                if !escaped[amp..end].contains(';') {
                    end = amp;
                }
            }
            with_ellipsis(&escaped[..end], max)
        }
    }
}

/// The byte index to cut `text` at, or `None` when it fits in `max`.
fn cut_point(text: &str, max: usize) -> Option<usize> {
    if text_len(text) <= max {
        return None;
    }
    let budget = max.saturating_sub(ELLIPSIS.len_utf16());
    let mut used = 0;
    let mut end = 0;
    for (index, c) in text.char_indices() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        end = index + c.len_utf8();
    }
    Some(end)
}

fn with_ellipsis(prefix: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut out = String::with_capacity(prefix.len() + ELLIPSIS.len_utf8());
    out.push_str(prefix);
    out.push(ELLIPSIS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    const ID: &str = "01JDQ4ZK3T6M9V2X8B7N5C1H0E";
    const AT: &str = "2026-11-28T16:03:37.123Z";
    const SINCE: &str = "2026-11-28T16:01:07.456Z";

    fn event(kind: EventKind) -> AlertEvent {
        let (status, previous, reason, failures) = match kind {
            EventKind::Down => (Status::Down, Status::Up, "status 503, expected 200", 3),
            EventKind::Reminder => (Status::Down, Status::Down, "connection refused", 120),
            EventKind::Degraded => (Status::Degraded, Status::Up, "slow: 2.5s > 1s", 0),
            EventKind::Up => (Status::Up, Status::Down, "status 200", 0),
            EventKind::Removed => (
                Status::Down,
                Status::Down,
                "removed from the configuration",
                7,
            ),
            EventKind::Unreachable => (
                Status::Unreachable,
                Status::Up,
                "parent router is down (connection refused)",
                3,
            ),
            EventKind::Flapping => (
                Status::Up,
                Status::Up,
                "72% of its recent results changed; now up: status 200",
                0,
            ),
        };
        AlertEvent {
            id: ID.to_string(),
            event: kind,
            host: "api".to_string(),
            group: None,
            status,
            previous,
            at: AT.to_string(),
            since: SINCE.to_string(),
            reason: reason.to_string(),
            consecutive_failures: failures,
            latency_ms: 12.4,
            trace: None,
        }
    }

    fn with_reason(kind: EventKind, reason: &str) -> AlertEvent {
        AlertEvent {
            reason: reason.to_string(),
            ..event(kind)
        }
    }

    fn with_host(kind: EventKind, host: &str) -> AlertEvent {
        AlertEvent {
            host: host.to_string(),
            ..event(kind)
        }
    }

    const TO: Addressing<'static> = Addressing {
        routing_key: Some("R0UT1NGKEY"),
        chat_id: Some("-1001234567890"),
        topic: Some("alerts"),
    };

    fn body(format: WebhookFormat, event: &AlertEvent) -> Value {
        webhook_body(format, event, &TO)
    }

    fn text_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {value:#}"))
    }

    /// Checks a cut text: filled to exactly `max` UTF-16 units (the fillers used here are one
    /// unit each; an emoji prefix takes two), no more than `max` characters, ending in the
    /// ellipsis, and a prefix of `original` otherwise.
    fn assert_cut(text: &str, max: usize, original: &str) {
        assert_eq!(text_len(text), max, "length of {text:?}");
        assert!(text.chars().count() <= max);
        let kept = text
            .strip_suffix(ELLIPSIS)
            .unwrap_or_else(|| panic!("no ellipsis at the end of {text:?}"));
        assert!(original.starts_with(kept), "{kept:?} is not a prefix");
    }

    const ALL_KINDS: [EventKind; 7] = EventKind::ALL;

    // ---- generic ----

    #[test]
    fn generic_is_the_event_object_unchanged() {
        for kind in ALL_KINDS {
            let e = event(kind);
            let value = webhook_body(WebhookFormat::Generic, &e, &Addressing::default());
            assert_eq!(value, serde_json::to_value(&e).unwrap());
            let back: AlertEvent = serde_json::from_value(value).unwrap();
            assert_eq!(back, e);
        }
        let value = webhook_body(
            WebhookFormat::Generic,
            &event(EventKind::Down),
            &Addressing::default(),
        );
        assert_eq!(value["id"], ID);
        assert_eq!(value["event"], "down");
        assert_eq!(value["at"], AT);
    }

    // ---- slack ----

    #[test]
    fn slack_down_is_fallback_text_plus_header_section_and_context_blocks() {
        let value = body(WebhookFormat::Slack, &event(EventKind::Down));
        assert_eq!(
            value,
            json!({
                "text": "🔴 DOWN api: status 503, expected 200",
                "blocks": [
                    {
                        "type": "header",
                        "text": { "type": "plain_text", "text": "🔴 DOWN: api", "emoji": true },
                    },
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": "*api* is down (was up)\nstatus 503, expected 200",
                            "verbatim": true,
                        },
                    },
                    {
                        "type": "context",
                        "elements": [
                            { "type": "mrkdwn", "text": format!("At {AT}"), "verbatim": true },
                            { "type": "mrkdwn", "text": format!("Since {SINCE}"), "verbatim": true },
                            { "type": "mrkdwn", "text": "3 consecutive failures", "verbatim": true },
                            { "type": "mrkdwn", "text": "Latency 12.4 ms", "verbatim": true },
                        ],
                    },
                ],
            })
        );
    }

    #[test]
    fn slack_wording_and_emoji_follow_the_event_kind() {
        let cases = [
            (EventKind::Down, "🔴 DOWN: api", "*api* is down (was up)"),
            (
                EventKind::Reminder,
                "🔴 STILL DOWN: api",
                "*api* is still down",
            ),
            (
                EventKind::Degraded,
                "🟡 DEGRADED: api",
                "*api* is degraded (was up)",
            ),
            (EventKind::Up, "🟢 UP: api", "*api* is up again (was down)"),
            (
                EventKind::Removed,
                "🟢 REMOVED: api",
                "*api* was removed from the configuration while down",
            ),
        ];
        for (kind, header, section_start) in cases {
            let value = body(WebhookFormat::Slack, &event(kind));
            assert_eq!(text_at(&value, "/blocks/0/text/text"), header, "{kind}");
            assert!(
                text_at(&value, "/blocks/1/text/text").starts_with(section_start),
                "{kind}: {value:#}"
            );
            let emoji = header.split(' ').next().unwrap();
            assert!(text_at(&value, "/text").starts_with(emoji), "{kind}");
        }
        let one = AlertEvent {
            consecutive_failures: 1,
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Slack, &one);
        assert_eq!(
            text_at(&value, "/blocks/2/elements/2/text"),
            "1 consecutive failure"
        );
    }

    #[test]
    fn slack_escapes_control_characters_in_host_and_reason() {
        let e = AlertEvent {
            host: "a&b<c>".to_string(),
            reason: "<!channel> <@everyone> & <https://evil.example|click>".to_string(),
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Slack, &e);
        assert_eq!(
            text_at(&value, "/blocks/1/text/text"),
            "*a&amp;b&lt;c&gt;* is down (was up)\n&lt;!channel&gt; &lt;@everyone&gt; &amp; \
             &lt;https://evil.example|click&gt;"
        );
        assert_eq!(
            text_at(&value, "/text"),
            "🔴 DOWN a&amp;b&lt;c&gt;: &lt;!channel&gt; &lt;@everyone&gt; &amp; \
             &lt;https://evil.example|click&gt;"
        );
        // plain_text is not parsed for links or mentions: the header shows the label as is.
        assert_eq!(text_at(&value, "/blocks/0/text/text"), "🔴 DOWN: a&b<c>");
        for pointer in ["/text", "/blocks/1/text/text", "/blocks/2/elements/0/text"] {
            let text = text_at(&value, pointer);
            assert!(
                !text.contains('<') && !text.contains('>'),
                "{pointer}: {text}"
            );
        }
    }

    #[test]
    fn slack_cuts_a_long_reason_at_the_section_and_text_limits() {
        let reason = "x".repeat(10_000);
        let value = body(WebhookFormat::Slack, &with_reason(EventKind::Down, &reason));
        let section = text_at(&value, "/blocks/1/text/text");
        assert_cut(section, 3000, &format!("*api* is down (was up)\n{reason}"));
        assert_cut(
            text_at(&value, "/text"),
            3000,
            &format!("🔴 DOWN api: {reason}"),
        );
    }

    #[test]
    fn slack_cuts_a_long_host_at_the_header_limit() {
        let host = "h".repeat(10_000);
        let value = body(WebhookFormat::Slack, &with_host(EventKind::Down, &host));
        assert_cut(
            text_at(&value, "/blocks/0/text/text"),
            150,
            &format!("🔴 DOWN: {host}"),
        );
        assert!(text_len(text_at(&value, "/blocks/1/text/text")) <= 3000);
    }

    #[test]
    fn slack_cut_lands_on_a_character_boundary() {
        for reason in ["é".repeat(10_000), "日本".repeat(5_000)] {
            let value = body(WebhookFormat::Slack, &with_reason(EventKind::Down, &reason));
            let section = text_at(&value, "/blocks/1/text/text");
            assert_cut(section, 3000, &format!("*api* is down (was up)\n{reason}"));
        }
        // Characters outside the BMP count as two units: the text stays within the limit
        // however the receiver counts, without splitting the character.
        let reason = "🚀".repeat(10_000);
        let value = body(WebhookFormat::Slack, &with_reason(EventKind::Down, &reason));
        let section = text_at(&value, "/blocks/1/text/text");
        assert!(text_len(section) <= 3000 && section.chars().count() <= 3000);
        assert!(section.ends_with("🚀…"));
    }

    #[test]
    fn slack_cut_never_splits_an_entity() {
        // "*apis* is down (was up)\n" is 24 units: 2975 are left before the ellipsis, which
        // is not a whole number of 4-unit `&lt;` entities, so a plain cut would leave `&lt`.
        let e = AlertEvent {
            host: "apis".to_string(),
            reason: "<".repeat(10_000),
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Slack, &e);
        let section = text_at(&value, "/blocks/1/text/text");
        assert_eq!(text_len(section), 24 + 743 * 4 + 1);
        assert!(section.ends_with("&lt;…"));
        let kept = section.strip_suffix(ELLIPSIS).unwrap();
        let reason = kept.strip_prefix("*apis* is down (was up)\n").unwrap();
        assert_eq!(reason.replace("&lt;", ""), "");
    }

    // ---- discord ----

    #[test]
    fn discord_down_is_content_plus_one_embed_without_mentions() {
        let value = body(WebhookFormat::Discord, &event(EventKind::Down));
        assert_eq!(
            value,
            json!({
                "username": "flowstate",
                "content": "🔴 DOWN: api",
                "embeds": [{
                    "title": "api is down (was up)",
                    "description": "status 503, expected 200",
                    "color": 15_158_332,
                    "timestamp": AT,
                    "fields": [
                        { "name": "Status", "value": "down", "inline": true },
                        { "name": "Previous", "value": "up", "inline": true },
                        { "name": "Consecutive failures", "value": "3", "inline": true },
                        { "name": "Latency", "value": "12.4 ms", "inline": true },
                        { "name": "Since", "value": SINCE, "inline": false },
                    ],
                    "footer": { "text": format!("flowstate event {ID}") },
                }],
                "allowed_mentions": { "parse": [] },
            })
        );
    }

    #[test]
    fn discord_colour_is_red_amber_or_green_by_kind() {
        let cases = [
            (EventKind::Down, 0xE7_4C_3C, "🔴 DOWN: api"),
            (EventKind::Reminder, 0xE7_4C_3C, "🔴 STILL DOWN: api"),
            (EventKind::Degraded, 0xF1_C4_0F, "🟡 DEGRADED: api"),
            (EventKind::Up, 0x2E_CC_71, "🟢 UP: api"),
            (EventKind::Removed, 0x2E_CC_71, "🟢 REMOVED: api"),
        ];
        for (kind, colour, content) in cases {
            let value = body(WebhookFormat::Discord, &event(kind));
            assert_eq!(value["embeds"][0]["color"], json!(colour), "{kind}");
            assert!(
                value["embeds"][0]["color"].is_u64(),
                "an integer, not a string"
            );
            assert_eq!(value["content"], content);
        }
        assert_eq!(
            (0xE7_4C_3C, 0xF1_C4_0F, 0x2E_CC_71),
            (15_158_332, 15_844_367, 3_066_993)
        );
    }

    #[test]
    fn discord_never_parses_mentions_from_user_text() {
        let e = AlertEvent {
            host: "@everyone".to_string(),
            reason: "@here <@123> <@&456> @everyone".to_string(),
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Discord, &e);
        assert_eq!(value["allowed_mentions"], json!({ "parse": [] }));
        assert_eq!(value["content"], "🔴 DOWN: @everyone");
        assert_eq!(
            value["embeds"][0]["description"],
            "@here <@123> <@&456> @everyone"
        );
        for kind in ALL_KINDS {
            let value = body(WebhookFormat::Discord, &event(kind));
            assert_eq!(value["allowed_mentions"], json!({ "parse": [] }), "{kind}");
            assert_eq!(value["username"], "flowstate");
        }
    }

    #[test]
    fn discord_cuts_text_at_each_embed_limit() {
        let long = "x".repeat(10_000);
        let e = AlertEvent {
            host: long.clone(),
            reason: long.clone(),
            since: long.clone(),
            id: long.clone(),
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Discord, &e);
        assert_cut(
            text_at(&value, "/content"),
            2000,
            &format!("🔴 DOWN: {long}"),
        );
        assert_cut(text_at(&value, "/embeds/0/title"), 256, &long);
        assert_cut(text_at(&value, "/embeds/0/fields/4/value"), 1024, &long);
        assert_cut(
            text_at(&value, "/embeds/0/footer/text"),
            2048,
            &format!("flowstate event {long}"),
        );
        assert_embed_within_limits(&value);

        // With ordinary fields, the reason gets the whole 4096 of a description.
        let value = body(WebhookFormat::Discord, &with_reason(EventKind::Down, &long));
        assert_cut(text_at(&value, "/embeds/0/description"), 4096, &long);
        assert_embed_within_limits(&value);
    }

    fn assert_embed_within_limits(value: &Value) {
        let embed = &value["embeds"][0];
        let fields = embed["fields"].as_array().unwrap();
        assert!(fields.len() <= 25);
        let mut total = text_len(text_at(embed, "/title"));
        assert!(text_len(text_at(embed, "/title")) <= 256);
        if let Some(description) = embed["description"].as_str() {
            assert!(text_len(description) <= 4096);
            total += text_len(description);
        }
        for field in fields {
            assert!(text_len(text_at(field, "/name")) <= 256);
            assert!(text_len(text_at(field, "/value")) <= 1024);
            assert!(field["inline"].is_boolean());
            total += text_len(text_at(field, "/name")) + text_len(text_at(field, "/value"));
        }
        total += text_len(text_at(embed, "/footer/text"));
        assert!(total <= 6000, "embed total {total}");
        assert!(text_len(text_at(value, "/content")) <= 2000);
    }

    #[test]
    fn discord_cut_lands_on_a_character_boundary() {
        let reason = "é".repeat(10_000);
        let value = body(
            WebhookFormat::Discord,
            &with_reason(EventKind::Down, &reason),
        );
        assert_cut(text_at(&value, "/embeds/0/description"), 4096, &reason);
        let host = "日".repeat(10_000);
        let value = body(WebhookFormat::Discord, &with_host(EventKind::Down, &host));
        assert_cut(text_at(&value, "/embeds/0/title"), 256, &host);
        assert_cut(
            text_at(&value, "/content"),
            2000,
            &format!("🔴 DOWN: {host}"),
        );
    }

    #[test]
    fn discord_leaves_out_a_blank_description() {
        let value = body(WebhookFormat::Discord, &with_reason(EventKind::Up, "  "));
        assert!(value["embeds"][0].get("description").is_none(), "{value:#}");
        assert_eq!(value["embeds"][0]["title"], "api is up again (was down)");
    }

    // ---- pagerduty ----

    #[test]
    fn pagerduty_down_triggers_a_critical_alert_keyed_by_host() {
        let e = event(EventKind::Down);
        let value = body(WebhookFormat::Pagerduty, &e);
        assert_eq!(
            value,
            json!({
                "routing_key": "R0UT1NGKEY",
                "event_action": "trigger",
                "dedup_key": "api",
                "client": "flowstate",
                "payload": {
                    "summary": "DOWN api: status 503, expected 200",
                    "source": "api",
                    "severity": "critical",
                    "timestamp": AT,
                    "class": "down",
                    "custom_details": serde_json::to_value(&e).unwrap(),
                },
            })
        );
        assert_eq!(value["payload"]["custom_details"]["id"], ID);
    }

    #[test]
    fn pagerduty_reminder_and_degraded_trigger_with_their_severity() {
        let cases = [
            (
                EventKind::Reminder,
                "critical",
                "down",
                "STILL DOWN api: connection refused",
            ),
            (
                EventKind::Degraded,
                "warning",
                "degraded",
                "DEGRADED api: slow: 2.5s > 1s",
            ),
        ];
        for (kind, severity, class, summary) in cases {
            let e = event(kind);
            let value = body(WebhookFormat::Pagerduty, &e);
            assert_eq!(value["event_action"], "trigger", "{kind}");
            assert_eq!(value["dedup_key"], "api");
            assert_eq!(value["payload"]["severity"], severity);
            assert_eq!(value["payload"]["class"], class);
            assert_eq!(value["payload"]["summary"], summary);
            assert_eq!(value["payload"]["source"], "api");
            assert_eq!(value["payload"]["timestamp"], AT);
            assert_eq!(
                value["payload"]["custom_details"],
                serde_json::to_value(&e).unwrap()
            );
        }
    }

    #[test]
    fn pagerduty_up_and_removed_resolve_with_only_the_required_fields() {
        for kind in [EventKind::Up, EventKind::Removed] {
            let value = body(WebhookFormat::Pagerduty, &event(kind));
            assert_eq!(
                value,
                json!({
                    "routing_key": "R0UT1NGKEY",
                    "event_action": "resolve",
                    "dedup_key": "api",
                    "client": "flowstate",
                }),
                "{kind}"
            );
        }
    }

    #[test]
    fn pagerduty_dedup_key_is_the_host_label_exactly_for_every_kind() {
        let host = "Billing API (eu-west) <prod> & co";
        for kind in ALL_KINDS {
            let value = body(WebhookFormat::Pagerduty, &with_host(kind, host));
            assert_eq!(value["dedup_key"], host, "{kind}");
            assert_eq!(value["routing_key"], "R0UT1NGKEY");
            assert_eq!(value["client"], "flowstate");
            let action = value["event_action"].as_str().unwrap();
            assert_eq!(action == "trigger", kind.is_problem(), "{kind}");
            if let Some(severity) = value.pointer("/payload/severity") {
                let severity = severity.as_str().unwrap();
                assert!(["critical", "error", "warning", "info"].contains(&severity));
                assert_eq!(value["payload"]["source"], host);
            }
        }
    }

    #[test]
    fn pagerduty_summary_is_cut_at_1024_characters() {
        let reason = "x".repeat(10_000);
        let value = body(
            WebhookFormat::Pagerduty,
            &with_reason(EventKind::Down, &reason),
        );
        let summary = text_at(&value, "/payload/summary");
        assert_cut(summary, 1024, &format!("DOWN api: {reason}"));
        // The details keep the reason whole: only the summary has a limit.
        assert_eq!(
            value["payload"]["custom_details"]["reason"],
            reason.as_str()
        );

        let reason = "ü".repeat(10_000);
        let value = body(
            WebhookFormat::Pagerduty,
            &with_reason(EventKind::Degraded, &reason),
        );
        let summary = text_at(&value, "/payload/summary");
        assert_cut(summary, 1024, &format!("DEGRADED api: {reason}"));
    }

    #[test]
    fn pagerduty_without_a_routing_key_sends_an_empty_one() {
        let value = webhook_body(
            WebhookFormat::Pagerduty,
            &event(EventKind::Down),
            &Addressing::default(),
        );
        assert_eq!(value["routing_key"], "");
        assert_eq!(value["event_action"], "trigger");
    }

    // ---- incidentio ----

    #[test]
    fn incidentio_down_fires_an_alert_keyed_by_the_host_with_metadata() {
        let e = AlertEvent {
            group: Some("payments".into()),
            ..event(EventKind::Down)
        };
        let value = body(WebhookFormat::Incidentio, &e);
        assert_eq!(value["title"], "DOWN api: status 503, expected 200");
        assert_eq!(value["deduplication_key"], "flowstate-api");
        assert_eq!(value["status"], "firing");
        let description = text_at(&value, "/description");
        assert!(description.starts_with("api is down (was up)\nstatus 503, expected 200\n"));
        assert!(description.contains(ID), "{description}");
        let metadata = &value["metadata"];
        assert_eq!(metadata["host"], "api");
        assert_eq!(metadata["group"], "payments");
        assert_eq!(metadata["reason"], "status 503, expected 200");
        assert_eq!(metadata["event_id"], ID);
        assert_eq!(metadata["event"], "down");
        assert_eq!(metadata["consecutive_failures"], 3);
        assert!(value.get("source_url").is_none());
    }

    #[test]
    fn incidentio_resolves_the_same_key_on_recovery_and_removal() {
        for kind in ALL_KINDS {
            let value = body(WebhookFormat::Incidentio, &event(kind));
            assert_eq!(value["deduplication_key"], "flowstate-api", "{kind}");
            let expected = if kind.is_problem() {
                "firing"
            } else {
                "resolved"
            };
            assert_eq!(value["status"], expected, "{kind}");
        }
        let value = body(WebhookFormat::Incidentio, &event(EventKind::Up));
        assert!(value["metadata"].get("group").is_none());
    }

    // ---- teams ----

    #[test]
    fn teams_posts_one_adaptive_card_with_title_reason_and_facts() {
        let value = body(WebhookFormat::Teams, &event(EventKind::Down));
        assert_eq!(value["type"], "message");
        let attachments = value["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachments[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        let body = card["body"].as_array().unwrap();
        assert_eq!(body[0]["type"], "TextBlock");
        assert_eq!(body[0]["text"], "🔴 DOWN: api");
        assert_eq!(body[0]["color"], "Attention");
        assert_eq!(body[0]["weight"], "Bolder");
        assert_eq!(body[1]["text"], "api is down (was up)");
        assert_eq!(body[2]["text"], "status 503, expected 200");
        assert_eq!(body[3]["type"], "FactSet");
        let facts = body[3]["facts"].as_array().unwrap();
        assert_eq!(facts[0], json!({ "title": "Status", "value": "down" }));
        assert!(facts.contains(&json!({ "title": "Event", "value": ID })));
        assert!(!value.to_string().contains("MessageCard"));

        let up = body_of(WebhookFormat::Teams, EventKind::Up);
        let block = &up["attachments"][0]["content"]["body"][0];
        assert_eq!(block["text"], "🟢 UP: api");
        assert_eq!(block["color"], "Good");
        let degraded = body_of(WebhookFormat::Teams, EventKind::Degraded);
        assert_eq!(
            degraded["attachments"][0]["content"]["body"][0]["color"],
            "Warning"
        );
    }

    fn body_of(format: WebhookFormat, kind: EventKind) -> Value {
        body(format, &event(kind))
    }

    // ---- telegram ----

    #[test]
    fn telegram_sends_plain_text_to_the_chat() {
        let value = body(WebhookFormat::Telegram, &event(EventKind::Down));
        assert_eq!(value["chat_id"], json!(-1_001_234_567_890_i64));
        assert!(value.get("parse_mode").is_none(), "plain text: no escaping");
        assert_eq!(value["link_preview_options"]["is_disabled"], true);
        let text = text_at(&value, "/text");
        assert!(
            text.starts_with("🔴 DOWN: api\napi is down (was up)\nstatus 503, expected 200\n"),
            "{text}"
        );
        assert!(text.contains(&format!("Event {ID}")), "{text}");
        let up = body_of(WebhookFormat::Telegram, EventKind::Up);
        assert!(text_at(&up, "/text").starts_with("🟢 UP: api\napi is up again (was down)"));
    }

    #[test]
    fn telegram_channel_names_stay_text_and_long_text_is_cut() {
        let to = Addressing {
            chat_id: Some("@ops_alerts"),
            ..TO
        };
        let value = webhook_body(
            WebhookFormat::Telegram,
            &with_reason(EventKind::Down, &"x".repeat(10_000)),
            &to,
        );
        assert_eq!(value["chat_id"], "@ops_alerts");
        let text = text_at(&value, "/text");
        assert_eq!(text_len(text), 4096);
        assert!(text.ends_with(ELLIPSIS));
    }

    // ---- ntfy ----

    #[test]
    fn ntfy_down_is_high_priority_with_a_siren_and_up_default_with_a_check_mark() {
        let down = body_of(WebhookFormat::Ntfy, EventKind::Down);
        assert_eq!(down["topic"], "alerts");
        assert_eq!(down["title"], "DOWN: api");
        assert_eq!(down["priority"], 4);
        assert_eq!(down["tags"], json!(["rotating_light", "flowstate"]));
        let message = text_at(&down, "/message");
        assert!(message.starts_with("api is down (was up)\nstatus 503, expected 200"));
        let up = body_of(WebhookFormat::Ntfy, EventKind::Up);
        assert_eq!(up["title"], "UP: api");
        assert_eq!(up["priority"], 3);
        assert_eq!(up["tags"], json!(["white_check_mark", "flowstate"]));
        let reminder = body_of(WebhookFormat::Ntfy, EventKind::Reminder);
        assert_eq!(reminder["priority"], 4);
        assert_eq!(reminder["title"], "STILL DOWN: api");
        let degraded = body_of(WebhookFormat::Ntfy, EventKind::Degraded);
        assert_eq!(degraded["tags"][0], "warning");
        for kind in ALL_KINDS {
            let p = body_of(WebhookFormat::Ntfy, kind)["priority"]
                .as_u64()
                .unwrap();
            assert!((1..=5).contains(&p), "{kind}");
        }
    }

    // ---- gotify ----

    #[test]
    fn gotify_has_title_message_and_a_priority_by_kind() {
        let down = body_of(WebhookFormat::Gotify, EventKind::Down);
        assert_eq!(down["title"], "🔴 DOWN: api");
        assert_eq!(down["priority"], 8);
        assert!(text_at(&down, "/message").starts_with("api is down (was up)\n"));
        assert_eq!(
            down["extras"]["client::display"]["contentType"],
            "text/plain"
        );
        assert_eq!(
            body_of(WebhookFormat::Gotify, EventKind::Degraded)["priority"],
            5
        );
        let up = body_of(WebhookFormat::Gotify, EventKind::Up);
        assert_eq!(up["priority"], 4);
        assert_eq!(up["title"], "🟢 UP: api");
    }

    // ---- matrix ----

    #[test]
    fn matrix_is_a_plain_text_room_message() {
        let value = body_of(WebhookFormat::Matrix, EventKind::Removed);
        assert_eq!(value["msgtype"], "m.text");
        assert!(value.get("formatted_body").is_none());
        let text = text_at(&value, "/body");
        assert!(
            text.starts_with(
                "🟢 REMOVED: api\napi was removed from the configuration while down\n"
            ),
            "{text}"
        );
        let flapping = body_of(WebhookFormat::Matrix, EventKind::Flapping);
        assert!(
            text_at(&flapping, "/body").starts_with("🟡 FLAPPING: api\napi is flapping (now up)")
        );
    }

    #[test]
    fn every_format_names_the_host_and_kind_for_every_event() {
        for format in WebhookFormat::ALL {
            for kind in ALL_KINDS {
                let text = body(format, &event(kind)).to_string();
                assert!(text.contains("api"), "{format:?} {kind}: {text}");
            }
        }
    }

    // ---- helpers ----

    #[test]
    fn fit_leaves_short_text_alone_and_cuts_long_text_with_an_ellipsis() {
        assert_eq!(fit("hello", 5), "hello");
        assert_eq!(fit("hello!", 5), "hell…");
        assert_eq!(fit("héllo!", 5), "héll…");
        assert_eq!(fit("ab🚀cd", 4), "ab…", "🚀 needs two units, one is left");
        assert_eq!(fit("ab🚀cd", 5), "ab🚀…");
        assert_eq!(fit("", 0), "");
        assert_eq!(fit("x", 0), "");
        assert_eq!(fit("xy", 1), "…");
    }

    #[test]
    fn fit_mrkdwn_drops_a_partial_entity() {
        assert_eq!(fit_mrkdwn("ab&amp;cd", 9), "ab&amp;cd");
        assert_eq!(fit_mrkdwn("ab&amp;cd", 8), "ab&amp;…");
        assert_eq!(fit_mrkdwn("ab&amp;cd", 7), "ab…");
        assert_eq!(fit_mrkdwn("ab&lt;&gt;", 9), "ab&lt;…");
    }

    #[test]
    fn escape_mrkdwn_replaces_exactly_the_three_control_characters() {
        assert_eq!(
            escape_mrkdwn("<!here> *bold* & _it_ >"),
            "&lt;!here&gt; *bold* &amp; _it_ &gt;"
        );
        assert_eq!(escape_mrkdwn("&amp;"), "&amp;amp;");
        assert_eq!(escape_mrkdwn("plain é 🚀"), "plain é 🚀");
    }
}
