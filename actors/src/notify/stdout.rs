//! The stdout notifier: one line per event, for people (`text`) or machines (`json`).

use std::io::Write;

use flowstate_config::notifier::EventFormat;

use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
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

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        Box::pin(std::future::ready(self.print_group(group)))
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
        Self::write(&line)
    }

    /// A group as a headline and one indented line per event (text), or one JSON object.
    fn print_group(&self, group: &EventGroup) -> Result<(), DeliveryError> {
        let text = match self.format {
            EventFormat::Text => {
                let mut text = format!("GROUP {}: {}", group.group, group.counts());
                for event in &group.events {
                    text.push_str("\n  ");
                    text.push_str(&event.to_text());
                }
                text
            }
            EventFormat::Json => {
                serde_json::to_string(group).map_err(|e| DeliveryError::permanent(e.to_string()))?
            }
        };
        Self::write(&text)
    }

    fn write(line: &str) -> Result<(), DeliveryError> {
        // One locked write per line so lines from concurrent writers never interleave; flushed
        // at once because a pipe to `tail` or a log collector must see events as they happen.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| DeliveryError::transient(format!("cannot write to standard output: {e}")))
    }
}
