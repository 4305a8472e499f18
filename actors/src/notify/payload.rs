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
//! Each service refuses a body that breaks one of its limits (HTTP 400), and the webhook
//! notifier gives up on a 400 at once, so one over-long reason would lose the alert. Text is
//! therefore cut to the documented limit, on a character boundary, ending in an ellipsis.

use flowstate_config::notifier::WebhookFormat;
use serde_json::{json, Map, Value};

use crate::event::{AlertEvent, EventKind};

/// The JSON body posted for `event` in `format`. `routing_key` is PagerDuty's integration key.
pub fn webhook_body(
    format: WebhookFormat,
    event: &AlertEvent,
    routing_key: Option<&str>,
) -> serde_json::Value {
    match format {
        WebhookFormat::Generic => generic(event),
        WebhookFormat::Slack => slack(event),
        WebhookFormat::Discord => discord(event),
        WebhookFormat::Pagerduty => pagerduty(event, routing_key),
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

    fn body(format: WebhookFormat, event: &AlertEvent) -> Value {
        webhook_body(format, event, Some("R0UT1NGKEY"))
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
            let value = webhook_body(WebhookFormat::Generic, &e, None);
            assert_eq!(value, serde_json::to_value(&e).unwrap());
            let back: AlertEvent = serde_json::from_value(value).unwrap();
            assert_eq!(back, e);
        }
        let value = webhook_body(WebhookFormat::Generic, &event(EventKind::Down), None);
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
        let value = webhook_body(WebhookFormat::Pagerduty, &event(EventKind::Down), None);
        assert_eq!(value["routing_key"], "");
        assert_eq!(value["event_action"], "trigger");
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
