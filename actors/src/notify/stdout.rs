//! The stdout notifier: one line per event, for people (`text`) or machines (`json`).

use std::io::Write;

use flowstate_config::notifier::EventFormat;

use super::{DeliveryError, DeliveryFuture, Notifier};
use crate::event::AlertEvent;

pub struct StdoutNotifier {
    format: EventFormat,
}

impl StdoutNotifier {
    pub fn new(format: EventFormat) -> Self {
        StdoutNotifier { format }
    }
}

impl Notifier for StdoutNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        Box::pin(std::future::ready(self.print(event)))
    }
}

impl StdoutNotifier {
    fn print(&self, event: &AlertEvent) -> Result<(), DeliveryError> {
        let line = match self.format {
            EventFormat::Text => event.to_text(),
            EventFormat::Json => {
                serde_json::to_string(event).map_err(|e| DeliveryError::permanent(e.to_string()))?
            }
        };
        // One locked write per line so lines from concurrent writers never interleave; flushed
        // at once because a pipe to `tail` or a log collector must see events as they happen.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| DeliveryError::transient(format!("cannot write to standard output: {e}")))
    }
}
