//! Notifiers: one file per delivery channel, behind one trait.
//!
//! The AlertRouter decides who hears about a change and when; the outbox keeps and retries
//! what is not delivered yet; a notifier only makes one delivery attempt. Attempts are futures
//! on the router's arbiter, so a slow or dead receiver never holds up checks or other notifiers.

pub mod command;
pub mod file;
pub mod payload;
pub mod stdout;
pub mod webhook;

use std::fmt;
use std::time::Duration;

use flowstate_config::{NotifierConfig, NotifierKind};
use futures_util::future::LocalBoxFuture;

use crate::event::AlertEvent;

/// One delivery attempt, run on the router's arbiter (awc clients are not `Send`).
pub type DeliveryFuture = LocalBoxFuture<'static, Result<(), DeliveryError>>;

/// Delivers alert events to one destination.
pub trait Notifier {
    /// Makes one attempt to deliver `event`. The future owns what it needs: several attempts
    /// (for different hosts) may be in flight at once.
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture;

    /// Makes sure everything delivered so far is written out.
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// What went wrong, fit for a log line (never a secret: no URL path, no header value).
    pub message: String,
    /// `false` when the receiver rejected the event itself (HTTP 400, 401, 404 ...): sending
    /// the same bytes again cannot succeed, so the event is given up at once.
    pub retryable: bool,
    /// How long the receiver asked us to wait (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl DeliveryError {
    /// A failure that may pass on a later attempt (network, timeout, 5xx, 429).
    pub fn transient(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure that will repeat on every attempt.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Builds the notifier a configuration describes. Must run on the arbiter that will drive
/// its deliveries (the webhook's HTTP client belongs to that thread).
pub fn build(config: &NotifierConfig) -> Box<dyn Notifier> {
    match &config.kind {
        NotifierKind::Stdout { format } => Box::new(stdout::StdoutNotifier::new(*format)),
        NotifierKind::File { path } => Box::new(file::FileNotifier::new(path.clone())),
        NotifierKind::Webhook(hook) => Box::new(webhook::WebhookNotifier::new(hook.clone())),
        NotifierKind::Command(command) => Box::new(command::CommandNotifier::new(command.clone())),
    }
}
