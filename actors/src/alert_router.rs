//! AlertRouter: turns status changes into events and hands them to the right notifiers.
//!
//! Who hears about a host is its `alerts` list (the config crate already fell back to the
//! defaults'). `send_resolved: false` keeps `up` events from a notifier. Cooldowns, reminders
//! and retried delivery belong here too and arrive with the alerting work.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use flowstate_config::NotifierConfig;

use crate::event::AlertEvent;
use crate::messages::{FlushNotifiers, HostStatusChanged, UseNotifiers};
use crate::metrics::{AlertResult, Metrics};
use crate::notify::{self, Notifier};

pub struct AlertRouter {
    notifiers: HashMap<Arc<str>, Route>,
    metrics: Arc<Metrics>,
}

struct Route {
    config: Arc<NotifierConfig>,
    notifier: Box<dyn Notifier>,
}

impl AlertRouter {
    pub fn new(configs: &[Arc<NotifierConfig>], metrics: Arc<Metrics>) -> Self {
        let mut router = AlertRouter {
            notifiers: HashMap::new(),
            metrics,
        };
        router.use_notifiers(configs);
        router
    }

    /// Keeps notifiers whose settings did not change (and their open files), replaces the rest.
    fn use_notifiers(&mut self, configs: &[Arc<NotifierConfig>]) {
        let mut next = HashMap::with_capacity(configs.len());
        for config in configs {
            self.metrics.add_notifier(&config.name);
            let route = match self.notifiers.remove(&config.name) {
                Some(route) if route.config.settings() == config.settings() => route,
                _ => Route {
                    config: config.clone(),
                    notifier: notify::build(config),
                },
            };
            next.insert(config.name.clone(), route);
        }
        for (name, mut old) in self.notifiers.drain() {
            self.metrics.remove_notifier(&name);
            if let Err(e) = old.notifier.flush() {
                log::error!(notifier = &*name, error = e.as_str(); "flushing a removed notifier failed");
            }
        }
        self.notifiers = next;
    }
}

impl Actor for AlertRouter {
    type Context = Context<Self>;
}

impl Handler<HostStatusChanged> for AlertRouter {
    type Result = ();

    fn handle(&mut self, change: HostStatusChanged, ctx: &mut Context<Self>) {
        let Some(event) = AlertEvent::from_change(&change) else {
            return;
        };
        for name in &change.host.alerts {
            let Some(route) = self.notifiers.get_mut(name) else {
                log::error!(notifier = &**name, host = event.host.as_str(); "host alerts a notifier that does not exist");
                continue;
            };
            if event.event == crate::event::EventKind::Up && !route.config.send_resolved {
                self.metrics.record_alert(name, AlertResult::Suppressed);
                continue;
            }
            let attempt = route.notifier.deliver(&event);
            let metrics = self.metrics.clone();
            let name = name.clone();
            ctx.spawn(actix::fut::wrap_future(async move {
                let result = match attempt.await {
                    Ok(()) => AlertResult::Sent,
                    Err(e) => {
                        log::error!(notifier = &*name, error = e.message.as_str(); "alert delivery failed");
                        AlertResult::Failed
                    }
                };
                metrics.record_alert(&name, result);
            }));
        }
    }
}

impl Handler<UseNotifiers> for AlertRouter {
    type Result = ();

    fn handle(&mut self, msg: UseNotifiers, _: &mut Context<Self>) {
        self.use_notifiers(&msg.0);
    }
}

impl Handler<FlushNotifiers> for AlertRouter {
    type Result = ();

    fn handle(&mut self, _: FlushNotifiers, _: &mut Context<Self>) {
        for (name, route) in &mut self.notifiers {
            if let Err(e) = route.notifier.flush() {
                log::error!(notifier = &**name, error = e.as_str(); "flushing notifier failed");
            }
        }
    }
}
