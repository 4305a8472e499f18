//! `flowstate run`: the daemon. Starts the actors and the API, then waits for signals.
//!
//! SIGTERM and SIGINT shut down in order (stop scheduling, let checks in flight end, flush
//! notifiers) and exit 0; a second one exits at once. SIGHUP reloads the configuration.

use std::process::ExitCode;
use std::sync::Arc;

use actix::prelude::*;
use flowstate_actors::api::{self, ApiState};
use flowstate_actors::daemon::Daemon;
use flowstate_actors::messages::{ReloadConfig, Shutdown};
use flowstate_actors::probe::default_probe_factory;
use flowstate_actors::supervisor::Supervisor;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{exit, load_config, BadInput};
use crate::cli::RunArgs;

pub fn run(args: &RunArgs) -> Result<ExitCode, BadInput> {
    let config = Arc::new(load_config(&args.config)?);
    let signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| BadInput(format!("cannot install signal handlers: {e}")))?;
    let system = actix_rt::System::new();
    let started: Result<(), BadInput> = system.block_on(async {
        let daemon = Daemon::start(config.clone(), args.config.files.clone(), default_probe_factory());
        if let Some(listen) = config.server.listen {
            let state = ApiState {
                registry: daemon.registry.clone(),
                supervisor: daemon.supervisor.clone(),
                metrics: daemon.metrics.clone(),
                token: daemon.token.clone(),
            };
            let (server, address) = api::serve(listen, state).map_err(|e| {
                BadInput(format!(
                    "cannot listen on {listen} (server.listen): {e}; choose another address or stop what uses it"
                ))
            })?;
            actix_rt::spawn(server);
            log::info!(listen = address.to_string().as_str(); "API listening");
        }
        forward_signals(signals, daemon.supervisor.clone());
        Ok(())
    });
    started?;
    system
        .run()
        .map_err(|e| BadInput(format!("the actor system failed: {e}")))?;
    Ok(exit::success())
}

/// Turns signals into messages to the Supervisor, on a thread of their own.
fn forward_signals(mut signals: Signals, supervisor: Addr<Supervisor>) {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut shutting_down = false;
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        log::info!("SIGHUP received: reloading the configuration");
                        supervisor.do_send(ReloadConfig);
                    }
                    _ if shutting_down => {
                        log::warn!("second stop signal: exiting now");
                        std::process::exit(1);
                    }
                    _ => {
                        shutting_down = true;
                        supervisor.do_send(Shutdown);
                    }
                }
            }
        })
        .ok();
}
