//! Checks of a plugin's type: the check is the plugin's `check` request, its answer the verdict.
//! What goes wrong with the plugin itself (not running, hung, bad settings) is the check's
//! failure reason, naming the plugin, so a broken plugin shows on its hosts and nowhere else.

use std::sync::Arc;
use std::time::Duration;

use flowstate_config::{Check, HostConfiguration};
use flowstate_plugin::{Answer, Status};

use super::{CheckContext, Probe, ProbeFuture, ProbeOutcome};
use crate::plugin::{self, CallPlugin, PluginCall};

/// A plugin's answer is due this much before the host's timeout, so the check fails with the
/// plugin's own reason ("did not answer within") rather than the generic timeout.
const MARGIN: Duration = Duration::from_millis(50);

#[derive(Default)]
pub struct PluginProbe;

impl Probe for PluginProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        Box::pin(async move {
            let Check::Plugin(used) = &host.check else {
                return ProbeOutcome::failed("not a plugin check");
            };
            let addr = match plugin::find(&used.plugin) {
                Ok(addr) => addr,
                Err(error) => return ProbeOutcome::failed(error.to_string()),
            };
            let timeout = host.timeout.saturating_sub(MARGIN.min(host.timeout / 10));
            let call = CallPlugin {
                call: PluginCall::Check {
                    host: host.label.to_string(),
                    settings: used.settings.clone(),
                },
                timeout,
            };
            match addr.send(call).await {
                Ok(Ok(Answer::Check(answer))) => {
                    let mut outcome = match answer.status {
                        Status::Up => ProbeOutcome::passed(answer.detail),
                        Status::Degraded => ProbeOutcome::degraded(answer.detail),
                        Status::Down => ProbeOutcome::failed(answer.detail),
                    };
                    outcome.latency = answer
                        .latency_ms
                        .filter(|ms| ms.is_finite() && *ms >= 0.0)
                        .map(|ms| Duration::from_secs_f64(ms / 1000.0));
                    outcome
                }
                Ok(Ok(Answer::Notify(_))) => ProbeOutcome::failed(format!(
                    "plugin `{}` answered a check as a notifier",
                    used.plugin
                )),
                Ok(Err(error)) => ProbeOutcome::failed(error.to_string()),
                Err(_) => ProbeOutcome::failed(format!("plugin `{}` is stopping", used.plugin)),
            }
        })
    }
}
