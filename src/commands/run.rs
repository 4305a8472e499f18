//! `flowstate run`: the daemon. Starts the actors and the API, then waits for signals.
//!
//! SIGTERM and SIGINT shut down in order (stop scheduling, let checks in flight end, flush
//! notifiers) and exit 0; a second one exits at once. SIGHUP reloads the configuration.
//!
//! Under systemd (`Type=notify`, `$NOTIFY_SOCKET` set) it also tells the service manager how it
//! is doing, see [`super::systemd`]: `READY=1` once the first configuration is applied and the API
//! listens, `RELOADING=1` then `READY=1` around a SIGHUP reload, `STOPPING=1` at shutdown, and
//! `WATCHDOG=1` every half `WatchdogSec` while the daemon is ready (`GetReadiness`, as
//! `/readyz`), so systemd restarts a daemon whose scheduler is stuck. Without `$NOTIFY_SOCKET`
//! none of this does anything.

use std::process::ExitCode;
use std::sync::Arc;

use actix::prelude::*;
use flowstate_actors::api;
use flowstate_actors::daemon::Daemon;
use flowstate_actors::messages::{ReloadConfigNow, ReloadTrigger, Shutdown, TenantFilesRejected};
use flowstate_actors::probe::default_probe_factory;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{exit, systemd, BadInput};
use crate::cli::RunArgs;

pub fn run(args: &RunArgs) -> Result<ExitCode, BadInput> {
    // A tenant whose files are broken starts with no hosts, logged loudly by the Supervisor,
    // rather than keeping every other tenant and the platform's own hosts unchecked.
    let loaded = flowstate_actors::config_load::load_at_start(&args.config.files)?;
    let rejected_tenants = loaded.contained;
    let config = Arc::new(loaded.config.with_location(args.location.as_deref())?);
    // Bound before anything starts: an address in use ends the program with one line.
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
        let daemon = Daemon::start_serving(
            config.clone(),
            args.config.files.clone(),
            default_probe_factory(),
            listener,
        )
        .map_err(|e| BadInput(e.to_string()))?;
        if !rejected_tenants.is_empty() {
            // After the first configuration in the Supervisor's mailbox: counted and logged
            // as the load of those tenants that failed.
            daemon
                .supervisor
                .do_send(TenantFilesRejected(rejected_tenants));
        }
        forward_signals(
            signals,
            daemon.supervisor.clone().recipient(),
            daemon.supervisor.clone().recipient(),
            System::current().arbiter().clone(),
        );
        systemd::announce_ready(
            daemon.supervisor.clone().recipient(),
            daemon.supervisor.clone().recipient(),
        );
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
fn forward_signals(
    mut signals: Signals,
    reload: Recipient<ReloadConfigNow>,
    shutdown: Recipient<Shutdown>,
    main: ArbiterHandle,
) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut shutting_down = false;
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        log::info!("SIGHUP received: reloading the configuration");
                        systemd::reloading();
                        let outcome = reload.send(ReloadConfigNow {
                            trigger: ReloadTrigger::Signal,
                        });
                        // The Supervisor logs the outcome; systemd hears that it is over.
                        main.spawn(async move { systemd::reloaded(outcome.await) });
                    }
                    _ if shutting_down => {
                        log::warn!("second stop signal: exiting now");
                        std::process::exit(1);
                    }
                    _ => {
                        shutting_down = true;
                        systemd::stopping();
                        shutdown.do_send(Shutdown);
                    }
                }
            }
        })
        .ok();
}
