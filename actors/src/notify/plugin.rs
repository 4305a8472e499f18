//! Notifiers of a plugin's type: each delivery attempt is the plugin's `notify` request, the
//! event (or group) as JSON exactly as the command notifier writes it. The plugin's answer
//! says whether a failure may pass on a later attempt (`retry`); a plugin that is down, hung
//! or too slow is a failure that may pass, so the outbox keeps the event and tries again.

use std::time::Duration;

use flowstate_config::PluginUse;
use flowstate_plugin::Answer;
use serde_json::Value;

use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::AlertEvent;
use crate::plugin::{self, CallPlugin, PluginCall, PluginError};

pub struct PluginNotifier {
    used: PluginUse,
    timeout: Duration,
}

impl PluginNotifier {
    pub fn new(used: PluginUse, timeout: Duration) -> Self {
        PluginNotifier { used, timeout }
    }

    fn call(&self, event: Option<Value>, group: Option<Value>) -> DeliveryFuture {
        let plugin_name = self.used.plugin.clone();
        let call = CallPlugin {
            call: PluginCall::Notify {
                event,
                group,
                settings: self.used.settings.clone(),
            },
            timeout: self.timeout,
        };
        Box::pin(async move {
            let addr =
                plugin::find(&plugin_name).map_err(|e| DeliveryError::transient(e.to_string()))?;
            match addr.send(call).await {
                Ok(Ok(Answer::Notify(answer))) if answer.ok => Ok(()),
                Ok(Ok(Answer::Notify(answer))) => {
                    let message = format!(
                        "plugin `{plugin_name}` refused the event: {}",
                        if answer.detail.is_empty() {
                            "no reason given"
                        } else {
                            &answer.detail
                        }
                    );
                    Err(match answer.retry {
                        true => DeliveryError::transient(message),
                        false => DeliveryError::permanent(message),
                    })
                }
                Ok(Ok(Answer::Check(_))) => Err(DeliveryError::permanent(format!(
                    "plugin `{plugin_name}` answered a delivery as a check"
                ))),
                // The settings or the plugin's kind will not change by retrying.
                Ok(Err(
                    error @ (PluginError::InvalidSettings { .. } | PluginError::WrongKind { .. }),
                )) => Err(DeliveryError::permanent(error.to_string())),
                Ok(Err(error)) => Err(DeliveryError::transient(error.to_string())),
                Err(_) => Err(DeliveryError::transient(format!(
                    "plugin `{plugin_name}` is stopping"
                ))),
            }
        })
    }
}

impl Notifier for PluginNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        match serde_json::to_value(event) {
            Ok(event) => self.call(Some(event), None),
            Err(error) => Box::pin(std::future::ready(Err(DeliveryError::permanent(format!(
                "the event has no JSON form: {error}"
            ))))),
        }
    }

    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        match serde_json::to_value(group) {
            Ok(group) => self.call(None, Some(group)),
            Err(error) => Box::pin(std::future::ready(Err(DeliveryError::permanent(format!(
                "the group has no JSON form: {error}"
            ))))),
        }
    }
}
