//! The webhook notifier: one HTTP POST per event, shaped for the receiving service.
//!
//! The body is the event in the notifier's `format` (see [`super::payload`]); the event `id`
//! also travels as the `Idempotency-Key` header, the same on every retry, so a receiver can
//! drop a duplicate when a response was lost after it had already acted. The answer decides
//! what happens next: 2xx is delivered; 408, 429 and 5xx (and any network error) are retried
//! (honouring `Retry-After`); other 4xx mean the receiver refuses this payload for good, so
//! it is given up at once instead of hammering it for a day. Nothing logged here holds the
//! URL's path or query (Slack, Discord and Telegram put their token there) or a header value.
//!
//! Most formats POST to the notifier's `url`. Two need more: `ntfy` publishes JSON to the
//! server root, so the URL's last segment (the topic) moves into the body; `matrix` is a PUT
//! to the room's send endpoint with the event id appended as the transaction id, so a retry
//! of the same event is the same transaction and the homeserver does not post it twice.

use std::sync::Arc;
use std::time::Duration;

use awc::http::{Method, StatusCode};
use flowstate_config::notifier::{WebhookConfig, WebhookFormat};
use flowstate_config::secret::redact_url_path;

use super::group_payload::group_body;
use super::payload::{webhook_body, Addressing};
use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::AlertEvent;

pub(super) const USER_AGENT_VALUE: &str = concat!("flowstate/", env!("CARGO_PKG_VERSION"));

/// How much of a refusing receiver's answer is quoted in the log: enough for its reason.
const QUOTED_BODY_BYTES: usize = 200;

pub struct WebhookNotifier {
    config: Arc<WebhookConfig>,
    client: awc::Client,
    /// The URL fit for messages: scheme, host and port only.
    shown_url: String,
    /// Where requests go: the notifier's `url`, except for ntfy (its server root).
    endpoint: url::Url,
    /// The ntfy topic: the last segment of the notifier's `url`.
    topic: Option<String>,
}

/// `https://ntfy.sh/alerts` as the server root `https://ntfy.sh/` and the topic `alerts`
/// (validation made sure the last segment is not empty).
fn ntfy_root_and_topic(url: &url::Url) -> (url::Url, Option<String>) {
    let mut root = url.clone();
    let topic = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        // ntfy topics are letters, digits, `_` and `-`: never percent-encoded.
        .map(str::to_string);
    if let Ok(mut segments) = root.path_segments_mut() {
        segments.pop().push("");
    }
    // The query stays: ntfy reads `?auth=` on any endpoint.
    (root, topic)
}

/// The HTTP client of a notifier that posts to a receiver, every stage bounded by `timeout`.
pub(super) fn receiver_client(timeout: Duration) -> awc::Client {
    let tls = crate::tls::webpki_client_config();
    let connector = awc::Connector::new()
        .rustls_0_23(Arc::new(tls))
        .timeout(timeout)
        .handshake_timeout(timeout);
    awc::Client::builder()
        .connector(connector)
        // A receiver's redirect is not followed: re-posting an alert (with its headers) to
        // wherever a 3xx points is how credentials leak.
        .disable_redirects()
        .timeout(timeout)
        .finish()
}

impl WebhookNotifier {
    pub fn new(config: WebhookConfig) -> Self {
        let client = receiver_client(config.timeout);
        let shown_url = redact_url_path(&config.url);
        let mut config = config;
        if config.format == WebhookFormat::Discord
            && !config.url.query_pairs().any(|(k, _)| k == "wait")
        {
            // Without `wait=true` Discord answers 204 before validating the message, so a
            // rejected message would count as delivered.
            config.url.query_pairs_mut().append_pair("wait", "true");
        }
        let (endpoint, topic) = match config.format {
            WebhookFormat::Ntfy => ntfy_root_and_topic(&config.url),
            _ => (config.url.clone(), None),
        };
        WebhookNotifier {
            config: Arc::new(config),
            client,
            shown_url,
            endpoint,
            topic,
        }
    }
}

impl Notifier for WebhookNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        let body = webhook_body(self.config.format, event, &self.addressing());
        self.send(body, &event.id)
    }

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        let body = group_body(self.config.format, group, &self.addressing());
        self.send(body, group.id())
    }
}

impl WebhookNotifier {
    fn addressing(&self) -> Addressing<'_> {
        Addressing {
            routing_key: self.config.routing_key.as_ref().map(|k| k.expose()),
            chat_id: self.config.chat_id.as_deref(),
            topic: self.topic.as_deref(),
        }
    }

    /// The method and URL of the request for the delivery `id`: a PUT to
    /// `<send endpoint>/<id>` for Matrix, a POST to the endpoint otherwise.
    fn target(&self, id: &str) -> (Method, url::Url) {
        match self.config.format {
            WebhookFormat::Matrix => {
                let mut url = self.endpoint.clone();
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().push(id);
                }
                (Method::PUT, url)
            }
            _ => (Method::POST, self.endpoint.clone()),
        }
    }

    /// One request with `body`; `id` is the `Idempotency-Key` receivers drop repeats by (and
    /// Matrix's transaction id).
    fn send(&mut self, body: serde_json::Value, id: &str) -> DeliveryFuture {
        let config = self.config.clone();
        let shown_url = self.shown_url.clone();
        let (method, url) = self.target(id);
        let mut request = self
            .client
            .request(method, url.as_str())
            .insert_header(("User-Agent", USER_AGENT_VALUE))
            .insert_header(("Idempotency-Key", id));
        for header in &config.headers {
            request = request.insert_header((header.name.as_str(), header.value.as_str()));
        }
        Box::pin(exchange(request, body, shown_url, config.timeout))
    }
}

/// Sends `body` as JSON with `request` and judges the answer; the whole exchange is bounded
/// by `timeout` (awc's own timeout ends at the response head). Shared by every notifier that
/// posts JSON over HTTP.
pub(super) async fn exchange(
    request: awc::ClientRequest,
    body: serde_json::Value,
    shown_url: String,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let attempt = async {
        let mut response = request
            .send_json(&body)
            .await
            .map_err(|e| DeliveryError::transient(format!("{shown_url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let quoted = response
            .body()
            .limit(64 * 1024)
            .await
            .map(|b| quote(&b))
            .unwrap_or_default();
        Err(judge(status, retry_after(&response), &shown_url, &quoted))
    };
    match actix_rt::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(DeliveryError::transient(format!(
            "{shown_url}: no answer within {}",
            humantime::format_duration(timeout)
        ))),
    }
}

/// What a non-2xx answer means for the next attempt. Public (hidden) for the fuzz target
/// `webhook_answer` (fuzz/), which judges arbitrary answers.
#[doc(hidden)]
pub fn judge(
    status: StatusCode,
    retry_after: Option<Duration>,
    shown_url: &str,
    quoted: &str,
) -> DeliveryError {
    let mut message = format!("{shown_url}: status {}", status.as_u16());
    if !quoted.is_empty() {
        message.push_str(&format!(": {quoted}"));
    }
    let retryable = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_redirection();
    if !retryable {
        message.push_str(" (the receiver refused the event; fix the notifier and reload)");
    }
    if retryable {
        DeliveryError::transient(message).with_retry_after(retry_after)
    } else {
        DeliveryError::permanent(message)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for webhooks and ignored).
pub(super) fn retry_after<S>(response: &awc::ClientResponse<S>) -> Option<Duration> {
    retry_after_value(response.headers().get("retry-after")?)
}

/// A `Retry-After` value as [`retry_after`] reads it. Apart from the response so the fuzz
/// target `webhook_answer` (fuzz/) can feed it any header value.
#[doc(hidden)]
pub fn retry_after_value(value: &awc::http::header::HeaderValue) -> Option<Duration> {
    let value = value.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The start of a response body on one line, for the log. Public (hidden) for the fuzz
/// target `webhook_answer`.
#[doc(hidden)]
pub fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BODY_BYTES)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_rate_limits_are_retried_other_refusals_are_not() {
        let url = "https://hooks.example.com";
        assert!(judge(StatusCode::SERVICE_UNAVAILABLE, None, url, "").is_retryable());
        assert!(judge(StatusCode::TOO_MANY_REQUESTS, None, url, "").is_retryable());
        assert!(judge(StatusCode::REQUEST_TIMEOUT, None, url, "").is_retryable());
        let refused = judge(StatusCode::BAD_REQUEST, None, url, "invalid payload");
        assert!(!refused.is_retryable());
        assert!(refused.message().contains("status 400: invalid payload"));
        assert!(!judge(StatusCode::NOT_FOUND, None, url, "").is_retryable());
        assert!(!judge(StatusCode::UNAUTHORIZED, None, url, "").is_retryable());
    }

    #[test]
    fn ntfy_publishes_to_the_server_root_of_its_topic_url() {
        for (url, root) in [
            ("https://ntfy.sh/alerts", "https://ntfy.sh/"),
            (
                "https://example.com/ntfy/alerts",
                "https://example.com/ntfy/",
            ),
            (
                "https://ntfy.sh/alerts?auth=abc",
                "https://ntfy.sh/?auth=abc",
            ),
        ] {
            let (endpoint, topic) = ntfy_root_and_topic(&url::Url::parse(url).unwrap());
            assert_eq!(endpoint.as_str(), root);
            assert_eq!(topic.as_deref(), Some("alerts"));
        }
    }

    #[test]
    fn quoted_bodies_are_short_and_on_one_line() {
        assert_eq!(quote(b"bad\n  request\tbody"), "bad request body");
        assert_eq!(quote(&[b'x'; 1000]).len(), QUOTED_BODY_BYTES);
    }
}
