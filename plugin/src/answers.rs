//! Conveniences on the protocol's messages, so a handler reads as what it decides:
//! `CheckAnswer::down("connection refused")`, `NotifyAnswer::retry("HTTP 503")`,
//! `request.timeout()`. The types themselves live in [`crate::protocol`], shared with the
//! daemon; these are only extra `impl` blocks and change nothing on the wire.
//!
//! A handler builds its answer without an id: the runner writes the request's id into it
//! before sending, so an answer can never be matched to the wrong request.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::protocol::{CheckAnswer, CheckRequest, NotifyAnswer, NotifyRequest, Status};

impl CheckAnswer {
    /// A verdict with its reason; the id is filled in by the runner.
    pub fn new(status: Status, detail: impl Into<String>) -> Self {
        CheckAnswer {
            id: 0,
            status,
            detail: detail.into(),
            latency_ms: None,
        }
    }

    /// The host answered as it should.
    pub fn up(detail: impl Into<String>) -> Self {
        Self::new(Status::Up, detail)
    }

    /// The host answered, but not well (slow, a warning): shown and alerted on as degraded.
    pub fn degraded(detail: impl Into<String>) -> Self {
        Self::new(Status::Degraded, detail)
    }

    /// The host failed the check; `detail` is the reason an alert shows.
    pub fn down(detail: impl Into<String>) -> Self {
        Self::new(Status::Down, detail)
    }

    /// The latency to report instead of the time flowstate waited for the answer: what the
    /// check itself measured (a connect, a query), without the plugin's own overhead.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency_ms = Some(latency.as_secs_f64() * 1000.0);
        self
    }
}

impl NotifyAnswer {
    /// Delivered.
    pub fn ok() -> Self {
        NotifyAnswer {
            id: 0,
            ok: true,
            retry: false,
            detail: String::new(),
        }
    }

    /// Not delivered this time, but the same request may succeed later (a timeout, an HTTP
    /// 5xx): flowstate sends it again with backoff.
    pub fn retry(detail: impl Into<String>) -> Self {
        NotifyAnswer {
            id: 0,
            ok: false,
            retry: true,
            detail: detail.into(),
        }
    }

    /// Not delivered, and it never will be (rejected settings, an HTTP 4xx): flowstate gives
    /// up on this request instead of retrying it forever.
    pub fn give_up(detail: impl Into<String>) -> Self {
        NotifyAnswer {
            id: 0,
            ok: false,
            retry: false,
            detail: detail.into(),
        }
    }
}

impl CheckRequest {
    /// How long flowstate waits for this answer; an answer later than this is dropped, so a
    /// check should give up (and say why) a little before.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The host's `settings` as the plugin's own type (`#[derive(Deserialize)]`). flowstate
    /// has already validated them against the plugin's schema, so an error here means the
    /// schema and the type disagree.
    pub fn parse_settings<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.settings)
    }
}

impl NotifyRequest {
    /// How long flowstate waits for this answer (the notifier's `timeout`); after it, the
    /// attempt counts as failed and is retried.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The notifier's `settings` as the plugin's own type; see
    /// [`CheckRequest::parse_settings`].
    pub fn parse_settings<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn constructors_say_what_they_decide() {
        let answer = CheckAnswer::degraded("slow").with_latency(Duration::from_micros(1500));
        assert_eq!(answer.status, Status::Degraded);
        assert_eq!(answer.detail, "slow");
        assert_eq!(answer.latency_ms, Some(1.5));
        assert_eq!(CheckAnswer::up("").status, Status::Up);
        assert_eq!(CheckAnswer::down("refused").status, Status::Down);
        assert!(NotifyAnswer::ok().ok);
        let retry = NotifyAnswer::retry("HTTP 503");
        assert!(!retry.ok && retry.retry);
        let give_up = NotifyAnswer::give_up("HTTP 400");
        assert!(!give_up.ok && !give_up.retry);
    }

    #[test]
    fn settings_are_read_as_the_plugins_own_type() {
        #[derive(Deserialize)]
        struct Settings {
            address: String,
            #[serde(default)]
            port: Option<u16>,
        }
        let request = CheckRequest {
            id: 1,
            host: "cache".into(),
            settings: json!({"address": "127.0.0.1"}),
            timeout_ms: 2500,
        };
        let settings: Settings = request.parse_settings().unwrap();
        assert_eq!(settings.address, "127.0.0.1");
        assert_eq!(settings.port, None);
        assert_eq!(request.timeout(), Duration::from_millis(2500));
        let wrong = CheckRequest {
            settings: json!({"address": 7}),
            ..request
        };
        assert!(wrong.parse_settings::<Settings>().is_err());
    }
}
