//! The webhook formats of SPEC §11 (`incidentio`, `teams`, `telegram`, `ntfy`, `gotify`,
//! `matrix`): each is accepted by name, and the settings some of them need (Telegram's
//! `chat_id`, ntfy's topic URL, Matrix's send endpoint) are errors at their place with the fix.

use flowstate_config::notifier::{NotifierKind, WebhookConfig, WebhookFormat};

mod common;

use common::{error, errors, load};

fn hook(yaml: &str) -> WebhookConfig {
    let config = load(yaml);
    match &config.notifiers[0].kind {
        NotifierKind::Webhook(hook) => hook.clone(),
        other => panic!("not a webhook: {other:?}"),
    }
}

#[test]
fn every_new_format_is_accepted_by_name() {
    let cases = [
        (
            "incidentio",
            "https://api.incident.io/v2/alert_events/http/01ABC",
            WebhookFormat::Incidentio,
        ),
        (
            "teams",
            "https://prod.example.logic.azure.com/workflows/abc/triggers/manual/paths/invoke",
            WebhookFormat::Teams,
        ),
        ("ntfy", "https://ntfy.sh/flowstate-alerts", WebhookFormat::Ntfy),
        ("gotify", "https://gotify.example.com/message", WebhookFormat::Gotify),
        (
            "matrix",
            "https://matrix.example.org/_matrix/client/v3/rooms/!ops:example.org/send/m.room.message",
            WebhookFormat::Matrix,
        ),
    ];
    for (name, url, format) in cases {
        let hook = hook(&format!(
            "notifiers:\n  n: {{ type: webhook, format: {name}, url: '{url}' }}\n"
        ));
        assert_eq!(hook.format, format, "{name}");
        assert_eq!(hook.format.name(), name);
        assert!(hook.chat_id.is_none());
    }
}

#[test]
fn telegram_with_a_chat_id_is_valid_as_a_number_or_a_channel_name() {
    let url = "https://api.telegram.org/bot123:abc/sendMessage";
    for (written, read) in [("-1001234567890", "-1001234567890"), ("'@ops'", "@ops")] {
        let hook = hook(&format!(
            "notifiers:\n  tg: {{ type: webhook, format: telegram, url: '{url}', chat_id: {written} }}\n"
        ));
        assert_eq!(hook.format, WebhookFormat::Telegram);
        assert_eq!(hook.chat_id.as_deref(), Some(read));
    }
}

#[test]
fn telegram_without_chat_id_is_an_error_naming_the_key() {
    assert_eq!(
        error("notifiers:\n  tg: { type: webhook, format: telegram, url: 'https://api.telegram.org/bot1:a/sendMessage' }\n"),
        "flowstate.yaml:2:7: notifiers.tg: format telegram needs `chat_id`: the chat to post to, a number such as -1001234567890 or @channelusername"
    );
}

#[test]
fn telegram_with_an_empty_chat_id_is_an_error() {
    assert_eq!(
        error("notifiers:\n  tg: { type: webhook, format: telegram, url: 'https://api.telegram.org/bot1:a/sendMessage', chat_id: '' }\n"),
        "flowstate.yaml:2:103: notifiers.tg.chat_id: the chat id is empty; write the chat's number (such as -1001234567890) or @channelusername"
    );
}

#[test]
fn chat_id_on_another_format_is_refused_with_the_fix() {
    assert_eq!(
        error("notifiers:\n  ops: { type: webhook, url: 'https://hooks.example.com/x', chat_id: 42 }\n"),
        "flowstate.yaml:2:70: notifiers.ops.chat_id: `chat_id` is only used by format telegram, not generic; remove it, or set `format: telegram`"
    );
    let all = errors(
        "notifiers:\n  chat:\n    type: webhook\n    format: slack\n    url: 'https://hooks.slack.com/x'\n    chat_id: '@ops'\n",
    );
    assert_eq!(
        all,
        ["flowstate.yaml:6:14: notifiers.chat.chat_id: `chat_id` is only used by format telegram, not slack; remove it, or set `format: telegram`"]
    );
}

#[test]
fn ntfy_needs_a_topic_in_its_url() {
    assert_eq!(
        error("notifiers:\n  push: { type: webhook, format: ntfy, url: 'https://ntfy.sh/' }\n"),
        "flowstate.yaml:2:45: notifiers.push.url: format ntfy needs the topic's URL, such as https://ntfy.sh/mytopic: its last path segment is the topic"
    );
}

#[test]
fn matrix_needs_the_rooms_send_endpoint() {
    assert_eq!(
        error("notifiers:\n  room: { type: webhook, format: matrix, url: 'https://matrix.example.org/_matrix/client/v3/rooms/!a:b/send' }\n"),
        "flowstate.yaml:2:47: notifiers.room.url: format matrix needs the room's send endpoint, such as https://matrix.example.org/_matrix/client/v3/rooms/!room:example.org/send/m.room.message (flowstate appends the transaction id)"
    );
}

#[test]
fn an_unknown_format_lists_every_format() {
    assert_eq!(
        error("notifiers:\n  n: { type: webhook, format: team, url: 'https://x.example/' }\n"),
        "flowstate.yaml:2:31: notifiers.n.format: unknown webhook format `team`; did you mean `teams`?; use one of generic, slack, discord, pagerduty, incidentio, teams, telegram, ntfy, gotify, matrix"
    );
}
