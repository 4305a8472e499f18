//! Wiring the actors together: what `flowstate run` starts, and what tests start in-process.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use flowstate_config::Config;

use crate::alert_router::AlertRouter;
use crate::api::SharedToken;
use crate::config_watcher::ConfigWatcher;
use crate::messages::ApplyConfig;
use crate::metrics::Metrics;
use crate::probe::ProbeFactory;
use crate::state_registry::StateRegistry;
use crate::supervisor::Supervisor;

/// The running actors' addresses.
pub struct Daemon {
    /// The API token as the running configuration says: hand it to the API.
    pub token: SharedToken,
    pub watcher: Option<Addr<ConfigWatcher>>,
    pub metrics: Arc<Metrics>,
    pub supervisor: Addr<Supervisor>,
    pub registry: Addr<StateRegistry>,
    pub router: Addr<AlertRouter>,
}

impl Daemon {
    /// Starts the actors on the current actix system and applies `config`. `config_files` are
    /// re-read on `ReloadConfig`; `probes` makes each arbiter's probe.
    pub fn start(config: Arc<Config>, config_files: Vec<PathBuf>, probes: ProbeFactory) -> Daemon {
        let metrics = Arc::new(Metrics::new());
        let token: SharedToken = Arc::new(RwLock::new(config.server.token.clone()));
        // Alert delivery writes files and stdout: keep it off the threads that run checks.
        let router = AlertRouter::start_in_arbiter(&Arbiter::new().handle(), {
            let notifiers = config.notifiers.clone();
            let metrics = metrics.clone();
            move |_| AlertRouter::new(&notifiers, metrics)
        });
        let registry = StateRegistry::new(router.clone().recipient(), metrics.clone()).start();
        let supervisor = Supervisor::new(
            config_files.clone(),
            probes,
            registry.clone(),
            router.clone(),
            metrics.clone(),
        )
        .with_shared_token(token.clone())
        .start();
        supervisor.do_send(ApplyConfig(config.clone()));
        // Edits of the files are noticed and applied; a configuration built in code has none.
        let watcher = (!config_files.is_empty()).then(|| {
            ConfigWatcher::new(config_files, &config, supervisor.clone(), metrics.clone()).start()
        });
        Daemon {
            token,
            watcher,
            metrics,
            supervisor,
            registry,
            router,
        }
    }
}
