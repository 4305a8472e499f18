//! SelfCheck: the dead man's switch. Calls `self_check.url` every `self_check.every`, but only
//! while the daemon is ready (every host scheduled, the scheduler keeping up), so an outside
//! service such as Healthchecks notices when the monitor itself is dead or stuck.

use std::sync::Arc;

use actix::prelude::*;
use flowstate_config::secret::redact_url_path;
use flowstate_config::SelfCheckSettings;

use crate::messages::{GetReadiness, StopChecking};

pub struct SelfCheck {
    settings: Arc<SelfCheckSettings>,
    /// Who says whether the daemon is ready (the Supervisor): a ping is sent only then.
    readiness: Recipient<GetReadiness>,
    /// Built on this actor's thread: awc clients are not `Send`.
    client: Option<awc::Client>,
}

impl SelfCheck {
    pub fn new(settings: SelfCheckSettings, readiness: Recipient<GetReadiness>) -> Self {
        SelfCheck {
            settings: Arc::new(settings),
            readiness,
            client: None,
        }
    }

    fn ping(&mut self, ctx: &mut Context<Self>) {
        let timeout = self.settings.timeout;
        let client = self
            .client
            .get_or_insert_with(|| awc::Client::builder().timeout(timeout).finish())
            .clone();
        let readiness = self.readiness.send(GetReadiness);
        let settings = self.settings.clone();
        ctx.spawn(
            async move {
                let shown = redact_url_path(&settings.url);
                match readiness.await {
                    Ok(Ok(())) => {}
                    Ok(Err(reason)) => {
                        // Staying silent is the alarm: the switch fires when pings stop.
                        log::warn!(url = shown.as_str(), reason = reason.to_string().as_str(); "self check not sent: the daemon is not healthy");
                        return;
                    }
                    Err(e) => {
                        log::warn!(url = shown.as_str(), error = e.to_string().as_str(); "self check not sent: the supervisor did not answer");
                        return;
                    }
                }
                match client.get(settings.url.as_str()).send().await {
                    Ok(response) if response.status().is_success() => {
                        log::debug!(url = shown.as_str(); "self check sent");
                    }
                    Ok(response) => {
                        log::warn!(url = shown.as_str(), status = response.status().as_u16(); "self check answered with an error status");
                    }
                    Err(e) => {
                        log::warn!(url = shown.as_str(), error = e.to_string().as_str(); "self check failed");
                    }
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for SelfCheck {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.ping(ctx);
        // actix adds the interval to an Instant after each ping: keep it within the clock.
        let every = self.settings.every.min(crate::clock::FOREVER);
        ctx.run_interval(every, |act, ctx| act.ping(ctx));
    }
}

impl Handler<StopChecking> for SelfCheck {
    type Result = ();

    fn handle(&mut self, _: StopChecking, ctx: &mut Context<Self>) {
        // Its interval timer would keep it alive even with no address left.
        ctx.stop();
    }
}
