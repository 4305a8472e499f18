//! The service manager's notification protocol (`sd_notify(3)`), through the `sd-notify` crate:
//! a datagram to `$NOTIFY_SOCKET` per state change. Every function here is a no-op when that
//! variable is unset, and a failed send is logged, never fatal: monitoring matters more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use flowstate_actors::messages::{GetReadiness, GetRunningConfig, ReloadApplied};
use sd_notify::NotifyState;

/// Set by [`stopping`]: the watchdog has nothing more to say.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!(error = e.to_string().as_str(); "cannot notify the service manager ($NOTIFY_SOCKET)");
    }
}

/// Sends `READY=1` once the Supervisor has applied the first configuration (it handles
/// messages in order, so its answer to a later query comes after that), then starts the
/// watchdog, which asks `readiness`. Called after the API socket is bound.
pub fn announce_ready(
    running_config: Recipient<GetRunningConfig>,
    readiness: Recipient<GetReadiness>,
) {
    actix_rt::spawn(async move {
        match running_config.send(GetRunningConfig).await {
            Ok(config) => {
                let hosts = config.hosts().len();
                let status = format!("monitoring {}", crate::present::count(hosts as u64, "host"));
                notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
                watch(readiness);
            }
            Err(e) => {
                log::error!(error = e.to_string().as_str(); "the supervisor did not answer at start; not telling systemd the daemon is ready");
            }
        }
    });
}

/// `RELOADING=1` with the monotonic time systemd 253 and later ask for.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// `READY=1` after a reload, applied or not (a rejected file leaves the running
/// configuration in place), with a status line saying which.
pub fn reloaded(outcome: Result<Result<ReloadApplied, Vec<String>>, MailboxError>) {
    let status = match outcome {
        Ok(Ok(ReloadApplied {
            diff,
            failed_tenants,
        })) => {
            let kept = match failed_tenants.len() {
                0 => String::new(),
                n => format!("; {n} tenants' files rejected (see the log), they run as before"),
            };
            format!(
                "reloaded: {} added, {} removed, {} changed, {} unchanged{kept}",
                diff.added.len(),
                diff.removed.len(),
                diff.changed.len(),
                diff.unchanged.len()
            )
        }
        Ok(Err(errors)) => format!(
            "reload rejected ({} errors, see the log); the running configuration stays",
            errors.len()
        ),
        Err(e) => format!("reload not done: {e}"),
    };
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

pub fn stopping() {
    STOPPING.store(true, Ordering::SeqCst);
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// With `WatchdogSec=` set (`$WATCHDOG_USEC`, for this process), sends `WATCHDOG=1` every
/// half period while the Supervisor says the daemon is ready; a stuck scheduler or actor
/// system stops the pings, and systemd restarts the service.
fn watch(readiness: Recipient<GetReadiness>) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(10));
    log::info!(every_ms = every.as_millis() as u64; "systemd watchdog enabled");
    actix_rt::spawn(async move {
        let mut pinging = true;
        loop {
            if STOPPING.load(Ordering::SeqCst) {
                return;
            }
            let verdict = match readiness.send(GetReadiness).timeout(every).await {
                // Only logged below, so the words are all the watchdog needs.
                Ok(verdict) => verdict.map_err(|reason| reason.to_string()),
                Err(MailboxError::Timeout) => {
                    Err(format!("the supervisor did not answer within {every:?}"))
                }
                // The Supervisor is gone: the daemon is stopping.
                Err(MailboxError::Closed) => return,
            };
            match verdict {
                Ok(()) => {
                    if !pinging {
                        log::info!("ready again: systemd watchdog pings resumed");
                        pinging = true;
                    }
                    notify(&[NotifyState::Watchdog]);
                }
                Err(reason) => {
                    if pinging {
                        log::warn!(reason = reason.as_str(); "not ready: systemd watchdog pings paused; systemd restarts the daemon if this lasts WatchdogSec");
                        pinging = false;
                    }
                }
            }
            // A sleep, not an interval: after a stall, no burst of late pings.
            actix_rt::time::sleep(every).await;
        }
    });
}
