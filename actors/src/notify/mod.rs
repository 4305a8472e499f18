//! Notifiers: one file per delivery channel, behind one trait.
//!
//! The AlertRouter decides who hears about a change and when; the outbox keeps and retries
//! what is not delivered yet; a notifier only makes one delivery attempt. Attempts are futures
//! on the router's arbiter, so a slow or dead receiver never holds up checks or other notifiers.

pub mod alertmanager;
pub mod command;
pub mod email;
pub mod file;
pub mod group_payload;
pub mod payload;
pub mod plugin;
pub mod stdout;
pub mod webhook;

use std::time::Duration;

use flowstate_config::{NotifierConfig, NotifierKind};
use futures_util::future::LocalBoxFuture;

use crate::event::AlertEvent;

/// The events of one group gathered for one delivery (a notifier with `group_by`): sent as
/// `{"group": ..., "events": [...]}` or as one message listing them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventGroup {
    /// The group's name (the hosts' `group`, or the host's label with `group_by: [host]`).
    pub group: String,
    /// Oldest first.
    pub events: Vec<AlertEvent>,
}

impl EventGroup {
    /// `28 down, 2 up`: the events counted by kind, in the order kinds first appear.
    pub fn counts(&self) -> String {
        let mut counts: Vec<(crate::event::EventKind, usize)> = Vec::new();
        for event in &self.events {
            match counts.iter_mut().find(|(kind, _)| *kind == event.event) {
                Some((_, n)) => *n += 1,
                None => counts.push((event.event, 1)),
            }
        }
        counts
            .iter()
            .map(|(kind, n)| format!("{n} {}", group_payload::kind_word(*kind)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The id receivers deduplicate the delivery by: its first event's, stable across retries
    /// of the same delivery.
    pub fn id(&self) -> &str {
        self.events.first().map_or("", |e| e.id.as_str())
    }
}

/// One delivery attempt, run on the router's arbiter (awc clients are not `Send`).
pub type DeliveryFuture = LocalBoxFuture<'static, Result<(), DeliveryError>>;

/// Delivers alert events to one destination.
pub trait Notifier {
    /// Makes one attempt to deliver `event`. The future owns what it needs: several attempts
    /// (for different hosts) may be in flight at once.
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture;

    /// Makes one attempt to deliver a group of events (a notifier with `group_by`) as one
    /// message.
    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture;

    /// Takes up `last`, the latest problem this notifier was told of and not yet told the end
    /// of, when it was told before this notifier was built (a restart, or a reload that
    /// changed its settings). Nothing is delivered: notifiers that repeat what is still active
    /// (Alertmanager re-posts its alerts) carry on repeating it; the others need nothing.
    fn resume(&mut self, _last: &AlertEvent) {}

    /// Makes sure everything delivered so far is written out.
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Why an attempt failed, and whether another attempt may succeed.
///
/// The two kinds are variants, not a flag, so the outbox decides retry or give-up by matching
/// on the type. The message (its `Display`) is fit for a log line and never holds a secret: no
/// URL path, no header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// May pass on a later attempt (network, timeout, 5xx, 429).
    #[error("{message}")]
    Transient {
        message: String,
        /// How long the receiver asked us to wait (HTTP `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The receiver rejected the event itself (HTTP 400, 401, 404 ...): sending the same
    /// bytes again cannot succeed, so the event is given up at once.
    #[error("{message}")]
    Permanent { message: String },
}

impl DeliveryError {
    /// A failure that may pass on a later attempt (network, timeout, 5xx, 429).
    pub fn transient(message: impl Into<String>) -> Self {
        DeliveryError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure that will repeat on every attempt.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            message: message.into(),
        }
    }

    /// The same error, with the wait the receiver asked for. A permanent error keeps none:
    /// its event is never attempted again.
    pub fn with_retry_after(self, wait: Option<Duration>) -> Self {
        match self {
            DeliveryError::Transient { message, .. } => DeliveryError::Transient {
                message,
                retry_after: wait,
            },
            permanent @ DeliveryError::Permanent { .. } => permanent,
        }
    }

    /// What went wrong, fit for a log line.
    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Transient { message, .. } | DeliveryError::Permanent { message } => {
                message
            }
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliveryError::Transient { .. })
    }

    /// How long the receiver asked us to wait before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Transient { retry_after, .. } => *retry_after,
            DeliveryError::Permanent { .. } => None,
        }
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
        NotifierKind::Plugin(used, timeout) => {
            Box::new(plugin::PluginNotifier::new(used.clone(), *timeout))
        }
        NotifierKind::Alertmanager(am) => {
            Box::new(alertmanager::AlertmanagerNotifier::new(am.clone()))
        }
        NotifierKind::Email(email) => Box::new(email::EmailNotifier::new(email.clone())),
    }
}
