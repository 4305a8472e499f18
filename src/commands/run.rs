//! `flowstate run`: the daemon. Starts the actors and the API, then waits for signals.
//!
//! SIGTERM and SIGINT shut down in order (stop scheduling, let checks in flight end, flush
//! notifiers) and exit 0; a second one exits at once. SIGHUP reloads the configuration.
//!
//! Under systemd (`Type=notify`, `$NOTIFY_SOCKET` set) it also tells the service manager how it
//! is doing, see [`systemd`]: `READY=1` once the first configuration is applied and the API
//! listens, `RELOADING=1` then `READY=1` around a SIGHUP reload, `STOPPING=1` at shutdown, and
//! `WATCHDOG=1` every half `WatchdogSec` while the daemon is ready (`GetReadiness`, as
//! `/readyz`), so systemd restarts a daemon whose scheduler is stuck. Without `$NOTIFY_SOCKET`
//! none of this does anything.

use std::process::ExitCode;
use std::sync::Arc;

use actix::prelude::*;
use flowstate_actors::api::{self, ApiState};
use flowstate_actors::daemon::Daemon;
use flowstate_actors::messages::{ReloadConfigNow, ReloadTrigger, Shutdown};
use flowstate_actors::probe::default_probe_factory;
use flowstate_actors::supervisor::Supervisor;
use flowstate_config::FingerprintKey;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{exit, load_config, BadInput};
use crate::cli::RunArgs;

pub fn run(args: &RunArgs) -> Result<ExitCode, BadInput> {
    let config = Arc::new(load_config(&args.config)?);
    let listener = config
        .server
        .listen
        .map(|listen| {
            api::bind(listen).map_err(|e| {
                BadInput(format!(
                    "cannot listen on {listen} (server.listen): {e}; choose another address or stop what uses it"
                ))
            })
        })
        .transpose()?;
    let signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| BadInput(format!("cannot install signal handlers: {e}")))?;
    let system = actix_rt::System::new();
    let started: Result<(), BadInput> = system.block_on(async {
        let daemon = Daemon::start(
            config.clone(),
            args.config.files.clone(),
            default_probe_factory(),
        );
        if let Some(listener) = listener {
            let state = ApiState {
                hosts: daemon.registry.clone().recipient(),
                host: daemon.registry.clone().recipient(),
                scheduler_stats: daemon.registry.clone().recipient(),
                readiness: daemon.supervisor.clone().recipient(),
                reload: daemon.supervisor.clone().recipient(),
                running_config: daemon.supervisor.clone().recipient(),
                metrics: daemon.metrics.clone(),
                token: daemon.token.clone(),
                fingerprint_key: FingerprintKey::random().map_err(|e| BadInput(e.to_string()))?,
            };
            let (server, address) = api::serve(listener, state)
                .map_err(|e| BadInput(format!("cannot serve the API (server.listen): {e}")))?;
            actix_rt::spawn(server);
            log::info!(listen = address.to_string().as_str(); "API listening");
        }
        forward_signals(
            signals,
            daemon.supervisor.clone(),
            System::current().arbiter().clone(),
        );
        systemd::announce_ready(daemon.supervisor.clone());
        Ok(())
    });
    started?;
    system
        .run()
        .map_err(|e| BadInput(format!("the actor system failed: {e}")))?;
    Ok(exit::success())
}

/// Turns signals into messages to the Supervisor, on a thread of their own. A reload runs on
/// `main` (the system's arbiter), so its outcome can be told to systemd.
fn forward_signals(mut signals: Signals, supervisor: Addr<Supervisor>, main: ArbiterHandle) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut shutting_down = false;
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        log::info!("SIGHUP received: reloading the configuration");
                        systemd::reloading();
                        let reload = supervisor.send(ReloadConfigNow {
                            trigger: ReloadTrigger::Signal,
                        });
                        // The Supervisor logs the outcome; systemd hears that it is over.
                        main.spawn(async move { systemd::reloaded(reload.await) });
                    }
                    _ if shutting_down => {
                        log::warn!("second stop signal: exiting now");
                        std::process::exit(1);
                    }
                    _ => {
                        shutting_down = true;
                        systemd::stopping();
                        supervisor.do_send(Shutdown);
                    }
                }
            }
        })
        .ok();
}

/// The service manager's notification protocol (`sd_notify(3)`), through the `sd-notify` crate:
/// a datagram to `$NOTIFY_SOCKET` per state change. Every function here is a no-op when that
/// variable is unset, and a failed send is logged, never fatal: monitoring matters more.
mod systemd {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use actix::prelude::*;
    use flowstate_actors::messages::{GetReadiness, GetRunningConfig};
    use flowstate_actors::supervisor::Supervisor;
    use flowstate_config::ConfigDiff;
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
    /// watchdog. Called after the API socket is bound.
    pub fn announce_ready(supervisor: Addr<Supervisor>) {
        actix_rt::spawn(async move {
            match supervisor.send(GetRunningConfig).await {
                Ok(config) => {
                    let hosts = config.hosts().len();
                    let status =
                        format!("monitoring {}", crate::present::count(hosts as u64, "host"));
                    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
                    watch(supervisor);
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
    pub fn reloaded(outcome: Result<Result<ConfigDiff, Vec<String>>, MailboxError>) {
        let status = match outcome {
            Ok(Ok(diff)) => format!(
                "reloaded: {} added, {} removed, {} changed, {} unchanged",
                diff.added.len(),
                diff.removed.len(),
                diff.changed.len(),
                diff.unchanged.len()
            ),
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
    fn watch(supervisor: Addr<Supervisor>) {
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
                let readiness = match supervisor.send(GetReadiness).timeout(every).await {
                    Ok(readiness) => readiness,
                    Err(MailboxError::Timeout) => {
                        Err(format!("the supervisor did not answer within {every:?}"))
                    }
                    // The Supervisor is gone: the daemon is stopping.
                    Err(MailboxError::Closed) => return,
                };
                match readiness {
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
}
