//! The messages of the plugin protocol: JSON objects, one per line, on the plugin's stdin
//! (requests) and stdout (answers). Both sides use these types, so the daemon and the SDK
//! cannot drift apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this crate speaks; a plugin answering another one is refused.
pub const PROTOCOL: u32 = 1;

/// A line flowstate writes to the plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// The first line after start: the plugin answers with its [`Hello`].
    Hello { protocol: u32 },
    /// Check one host (a check plugin): answered by a [`CheckAnswer`].
    Check(CheckRequest),
    /// Deliver one event or one group of events (a notifier plugin): answered by a
    /// [`NotifyAnswer`].
    Notify(NotifyRequest),
}

/// `{"op":"check","id":7,"host":"cache","settings":{...},"timeout_ms":5000}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// Unique among the requests in flight; the answer carries it back.
    pub id: u64,
    /// The host's label.
    pub host: String,
    /// The host's `settings`, already valid against the plugin's schema.
    #[serde(default)]
    pub settings: Value,
    /// How long flowstate waits for the answer; later answers are dropped.
    pub timeout_ms: u64,
}

/// `{"op":"notify","id":8,"event":{...},"settings":{...}}`: exactly one of `event` (the
/// alert event as the generic webhook sends it) and `group` (`{"group":..., "events":[...]}`
/// for a notifier with `group_by`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyRequest {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Value>,
    /// The notifier's `settings`, already valid against the plugin's schema.
    #[serde(default)]
    pub settings: Value,
}

/// What a plugin is: which requests it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// A check type: hosts use it as `type: <plugin name>`.
    Check,
    /// A notifier type: notifiers use it as `type: <plugin name>`.
    Notifier,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Check => "check",
            PluginKind::Notifier => "notifier",
        }
    }
}

/// The plugin's answer to `hello`:
/// `{"protocol":1,"kind":"check","settings_schema":{...JSON Schema...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub kind: PluginKind,
    /// A JSON Schema every host's (or notifier's) `settings` must satisfy; absent: any.
    #[serde(default = "any_settings")]
    pub settings_schema: Value,
}

fn any_settings() -> Value {
    Value::Bool(true)
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Degraded,
    Down,
}

/// `{"id":7,"status":"down","detail":"connection refused","latency_ms":1.5}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckAnswer {
    pub id: u64,
    pub status: Status,
    /// Why: the reason shown and alerted on.
    #[serde(default)]
    pub detail: String,
    /// The latency to report; absent: the time flowstate waited for the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// `{"id":8,"ok":false,"retry":true,"detail":"HTTP 503"}`: `retry` says whether the same
/// request may succeed later (flowstate retries it with backoff) or never will (given up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyAnswer {
    pub id: u64,
    pub ok: bool,
    #[serde(default)]
    pub retry: bool,
    #[serde(default)]
    pub detail: String,
}

/// Any answer to a request with an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Check(CheckAnswer),
    Notify(NotifyAnswer),
}

impl Answer {
    pub fn id(&self) -> u64 {
        match self {
            Answer::Check(answer) => answer.id,
            Answer::Notify(answer) => answer.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_written_as_the_spec_shows() {
        let hello = serde_json::to_string(&Request::Hello { protocol: 1 }).unwrap();
        assert_eq!(hello, r#"{"op":"hello","protocol":1}"#);
        let check = Request::Check(CheckRequest {
            id: 3,
            host: "cache".into(),
            settings: serde_json::json!({"address": "127.0.0.1:6379"}),
            timeout_ms: 5000,
        });
        assert_eq!(
            serde_json::to_string(&check).unwrap(),
            r#"{"op":"check","id":3,"host":"cache","settings":{"address":"127.0.0.1:6379"},"timeout_ms":5000}"#
        );
    }

    #[test]
    fn answers_are_told_apart_by_their_fields() {
        let check: Answer = serde_json::from_str(r#"{"id":1,"status":"degraded"}"#).unwrap();
        assert_eq!(
            check,
            Answer::Check(CheckAnswer {
                id: 1,
                status: Status::Degraded,
                detail: String::new(),
                latency_ms: None
            })
        );
        let notify: Answer = serde_json::from_str(r#"{"id":2,"ok":false,"retry":true}"#).unwrap();
        assert_eq!(notify.id(), 2);
        assert!(matches!(
            notify,
            Answer::Notify(NotifyAnswer { retry: true, .. })
        ));
        let hello: Hello = serde_json::from_str(r#"{"protocol":1,"kind":"notifier"}"#).unwrap();
        assert_eq!(hello.settings_schema, Value::Bool(true));
    }
}
