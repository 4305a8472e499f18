//! Notifiers: one file per delivery channel, behind one trait.
//!
//! The AlertRouter decides who hears about a change; a notifier only delivers. stdout and file
//! deliver here; webhook and command delivery, with retries and a persistent outbox, arrive
//! with the alerting work and plug in behind the same trait.

pub mod file;
pub mod stdout;

use flowstate_config::{NotifierConfig, NotifierKind};

use crate::event::AlertEvent;

/// Delivers alert events to one destination.
pub trait Notifier {
    /// Delivers one event; the error says why it could not be.
    fn deliver(&mut self, event: &AlertEvent) -> Result<(), String>;

    /// Makes sure everything delivered so far is written out.
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Builds the notifier a configuration describes.
pub fn build(config: &NotifierConfig) -> Box<dyn Notifier> {
    match &config.kind {
        NotifierKind::Stdout { format } => Box::new(stdout::StdoutNotifier::new(*format)),
        NotifierKind::File { path } => Box::new(file::FileNotifier::new(path.clone())),
        NotifierKind::Webhook(_) | NotifierKind::Command(_) => Box::new(NotYetDelivered {
            kind: config.kind.kind(),
        }),
    }
}

/// Webhook and command notifiers are validated and routed, but delivery (with retries and the
/// outbox) is not built yet: say so loudly for every event rather than drop it silently.
struct NotYetDelivered {
    kind: &'static str,
}

impl Notifier for NotYetDelivered {
    fn deliver(&mut self, _: &AlertEvent) -> Result<(), String> {
        Err(format!(
            "{} delivery is not available in this version",
            self.kind
        ))
    }
}
