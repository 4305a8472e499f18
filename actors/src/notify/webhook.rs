//! The webhook notifier: one HTTP POST per event.

use flowstate_config::notifier::WebhookConfig;

use super::{DeliveryError, DeliveryFuture, Notifier};
use crate::event::AlertEvent;

pub struct WebhookNotifier {
    config: WebhookConfig,
}

impl WebhookNotifier {
    pub fn new(config: WebhookConfig) -> Self {
        WebhookNotifier { config }
    }
}

impl Notifier for WebhookNotifier {
    fn deliver(&mut self, _event: &AlertEvent) -> DeliveryFuture {
        let _ = &self.config;
        Box::pin(async move { Err(DeliveryError::transient("not built yet")) })
    }
}
