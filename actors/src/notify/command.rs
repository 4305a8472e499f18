//! The command notifier: runs a program per event.

use flowstate_config::notifier::CommandConfig;

use super::{DeliveryError, DeliveryFuture, Notifier};
use crate::event::AlertEvent;

pub struct CommandNotifier {
    config: CommandConfig,
}

impl CommandNotifier {
    pub fn new(config: CommandConfig) -> Self {
        CommandNotifier { config }
    }
}

impl Notifier for CommandNotifier {
    fn deliver(&mut self, _event: &AlertEvent) -> DeliveryFuture {
        let program = self.config.argv.first().cloned().unwrap_or_default();
        Box::pin(async move { Err(DeliveryError::transient(format!("{program}: not built yet"))) })
    }
}
