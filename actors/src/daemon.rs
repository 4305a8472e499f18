//! Wiring the actors together, and the API to them: what `flowstate run` starts, and what
//! tests start in-process.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use flowstate_config::fingerprint::NoRandomness;
use flowstate_config::{Config, FingerprintKey};

use crate::alert_router::AlertRouter;
use crate::announcements::AnnouncementBoard;
use crate::api::access::{Credentials, SharedCredentials};
use crate::api::announcements::AnnouncementsApi;
use crate::api::history::HistoryApi;
use crate::api::silences::SilencesApi;
use crate::api::ApiState;
use crate::availability_cache::{self, AvailabilityCache};
use crate::cluster::agent::{
    default_agent_id, AgentSettings, ClusterAgent, ClusterPulse, ClusterStatus,
};
use crate::cluster::config_exchange::ConfigExchange;
use crate::cluster::config_hash::SharedConfigHash;
use crate::cluster::judge::{ClusterJudge, RouterInbox};
use crate::cluster::rendezvous::AgentId;
use crate::config_watcher::ConfigWatcher;
use crate::messages::ApplyConfig;
use crate::metrics::Metrics;
use crate::probe::ProbeFactory;
use crate::quiet_time::QuietTime;
use crate::silences::SilenceBook;
use crate::state_registry::StateRegistry;
use crate::status_stream::StatusStream;
use crate::store::reader::StoreReader;
use crate::store::{Restored, Store, StoreError};
use crate::supervisor::Supervisor;
use crate::web::session::Sessions;
use crate::web::status_page::StatusPageCache;

/// The running actors' addresses.
pub struct Daemon {
    /// The API token as the running configuration says, shared by the Supervisor (which
    /// rotates it on reload) and the API (which checks it).
    pub token: SharedCredentials,
    pub watcher: Option<Addr<ConfigWatcher>>,
    pub metrics: Arc<Metrics>,
    pub supervisor: Addr<Supervisor>,
    pub registry: Addr<StateRegistry>,
    pub router: Addr<AlertRouter>,
    /// Where the API really listens (`server.listen` with port 0 picks one), when it is served.
    pub api_address: Option<SocketAddr>,
    /// What the history routes ask, and the hosts' availability; `None` without a store.
    pub history: Option<History>,
    /// Every transition as the AlertRouter publishes it, for `/api/v1/stream`.
    pub stream: StatusStream,
    /// Announcements for the status page, as restored from the store.
    pub announcements: AnnouncementBoard,
    /// Silences, as restored from the store: the one book the API changes and alerts are
    /// judged by (hand a clone to whatever must ask `active_for`).
    pub silences: SilenceBook,
    /// This agent's standing in the cluster, with `cluster:`.
    pub cluster: Option<ClusterStatus>,
    /// Its connection to the cluster database, with `cluster:`.
    pub cluster_agent: Option<Addr<ClusterAgent>>,
    /// The store's writer, which announcements and silences are saved through; `None`
    /// without a store.
    pub store: Option<Addr<Store>>,
}

/// The readers of the state store's history, and what is computed from it in the background.
pub struct History {
    pub reader: Addr<StoreReader>,
    /// Every host's availability over 24 h, 7 d and 30 d, refreshed every 30 s.
    pub availability: AvailabilityCache,
    /// `state.retention`: the longest window the API answers for.
    pub retention: Duration,
}

/// Why the API could not be served; the actors may have started.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No key for `/api/v1/config`'s fingerprints could be drawn.
    #[error(transparent)]
    NoFingerprintKey(#[from] NoRandomness),
    /// The HTTP server could not take the listener.
    #[error("cannot serve the API (server.listen): {0}")]
    Serve(std::io::Error),
}

impl Daemon {
    /// Starts the actors on the current actix system and applies `config`, without the API.
    /// `config_files` are re-read on `ReloadConfigNow` and watched for edits; `probes` makes
    /// each arbiter's probe.
    pub fn start(config: Arc<Config>, config_files: Vec<PathBuf>, probes: ProbeFactory) -> Daemon {
        let metrics = Arc::new(Metrics::new());
        let token: SharedCredentials = Arc::new(RwLock::new(Arc::new(Credentials::of(&config))));
        // This run's start: the store records it, and the readers count the run from it.
        let started = SystemTime::now();
        let (store, restored) = open_store(&config, &metrics, started);
        let restored = Arc::new(restored);
        // Made before the AlertRouter, which is to consult it, and shared with the API (which
        // changes it): one book, so a silence takes effect the moment it is answered 201.
        let silences = SilenceBook::new(restored.silences.clone());
        let quiet = QuietTime::new(config.maintenance.clone(), silences.clone());
        // Alert delivery writes files and stdout: keep it off the threads that run checks.
        let alerts_arbiter = Arbiter::new().handle();
        let stream = StatusStream::default();
        // In a cluster: this agent's connection to the others, on a thread of its own.
        let agent = agent_settings(&config);
        let cluster_agent = agent.clone().map(ClusterAgent::start);
        let router = AlertRouter::start_in_arbiter(&alerts_arbiter, {
            let notifiers = config.notifiers.clone();
            let metrics = metrics.clone();
            let store = store.clone();
            let restored = restored.clone();
            let stream = stream.clone();
            let quiet = quiet.clone();
            let cluster_agent = cluster_agent.clone();
            move |_| {
                let router = AlertRouter::new(&notifiers, metrics, store, Some(&restored))
                    .with_stream(stream)
                    .with_quiet_time(quiet);
                match cluster_agent {
                    Some(cluster_agent) => router.in_cluster(cluster_agent),
                    None => router,
                }
            }
        });
        // In a cluster: the leader's judge of every host by quorum, telling the router.
        let judge = cluster_agent.clone().map(|cluster_agent| {
            ClusterJudge::new(
                cluster_agent,
                RouterInbox {
                    changes: router.clone().recipient(),
                    lead: router.clone().recipient(),
                    stop: router.clone().recipient(),
                },
            )
            .start()
        });
        let mut registry = StateRegistry::new(router.clone().recipient(), metrics.clone())
            .with_flapping(router.clone().recipient())
            .with_restored(router.clone().recipient());
        if let Some(cluster_agent) = &cluster_agent {
            let lease = agent.as_ref().map_or(Duration::ZERO, |a| a.lease);
            registry = registry.with_cluster(cluster_agent.clone().recipient(), lease);
        }
        if let Some(store) = &store {
            registry = registry.with_store(store.clone(), &restored.hosts, metrics.clone());
        }
        let registry = registry.start();
        if store.is_some() {
            crate::state_saving::start_save_ticker(registry.clone().recipient(), &alerts_arbiter);
        }
        let history = StoreReader::start(&config.state, started, quiet.clone()).map(|reader| {
            let availability = AvailabilityCache::default();
            availability_cache::start_refresher(
                reader.clone().recipient(),
                availability.clone(),
                &alerts_arbiter,
            );
            History {
                reader,
                availability,
                retention: config.state.retention,
            }
        });
        // Edits of the files are noticed and reloaded; a configuration built in code has none.
        // The watcher's mailbox exists before the Supervisor, which tells it what it applies.
        let watcher_context = (!config_files.is_empty()).then(Context::<ConfigWatcher>::new);
        let mut supervisor = Supervisor::new(
            config_files.clone(),
            probes,
            registry.clone(),
            router.clone(),
            metrics.clone(),
        )
        .with_shared_token(token.clone());
        let config_hash = SharedConfigHash::default();
        if let Some(agent) = &agent {
            supervisor = supervisor
                .sharing_as(
                    AgentId::new(agent.id.as_str()),
                    Arc::from(agent.location.as_str()),
                )
                .hashing_config_into(config_hash.clone());
        }
        if let Some(cluster_agent) = &cluster_agent {
            supervisor = supervisor.leaving_through(cluster_agent.clone().recipient());
        }
        if let Some(judge) = &judge {
            supervisor = supervisor.judging_with(judge.clone().recipient());
        }
        if let (Some(cluster_agent), Some(agent)) = (&cluster_agent, &agent) {
            supervisor = supervisor.exchanging_config(ConfigExchange::new(
                cluster_agent.clone().recipient(),
                cluster_agent.clone().recipient(),
                &agent.id,
            ));
        }
        if let Some(context) = &watcher_context {
            supervisor = supervisor.reporting_applied_configs_to(context.address().recipient());
        }
        let supervisor = supervisor.start();
        supervisor.do_send(ApplyConfig(config.clone()));
        let cluster = agent.zip(cluster_agent.clone()).zip(judge).map(
            |((settings, cluster_agent), judge)| {
                log::info!(agent = settings.id.as_str(), location = settings.location.as_str(), database = settings.url.shown(); "joining the cluster");
                let status = ClusterStatus::default();
                // Heartbeats and lease bids, published for `GET /api/v1/cluster` and the
                // metrics; the live agents go to the Supervisor (this agent's share), the
                // lease to the judge, a newer configuration to the Supervisor, and the
                // cluster's silences into this agent's book.
                ClusterPulse::new(cluster_agent, &settings, status.clone(), metrics.clone())
                    .telling(supervisor.clone().recipient())
                    .hashing(config_hash.clone())
                    .judging_with(judge.recipient())
                    .adopting_into(supervisor.clone().recipient())
                    .sharing_silences(silences.clone())
                    .start();
                status
            },
        );
        let watcher = watcher_context.map(|context| {
            context.run(ConfigWatcher::new(
                config_files,
                &config,
                supervisor.clone().recipient(),
            ))
        });
        Daemon {
            token,
            watcher,
            metrics,
            supervisor,
            registry,
            router,
            api_address: None,
            history,
            stream,
            announcements: AnnouncementBoard::new(restored.announcements.clone()),
            silences,
            cluster,
            cluster_agent,
            store,
        }
    }

    /// Starts the actors as [`Daemon::start`] does, then serves the API on `api`, a listener
    /// bound by [`crate::api::bind`] before anything started (so an address in use ends the
    /// program before there are actors to tear down); `None` serves no API.
    pub fn start_serving(
        config: Arc<Config>,
        config_files: Vec<PathBuf>,
        probes: ProbeFactory,
        api: Option<TcpListener>,
    ) -> Result<Daemon, ServeError> {
        let Some(listener) = api else {
            return Ok(Daemon::start(config, config_files, probes));
        };
        // Drawn before any actor starts: failing then leaves nothing half started.
        let fingerprint_key = FingerprintKey::random()?;
        let mut daemon = Daemon::start(config, config_files, probes);
        daemon.api_address = Some(daemon.serve_api(listener, fingerprint_key)?);
        Ok(daemon)
    }

    /// Serves the API on `listener`, on the current arbiter, and returns its address.
    fn serve_api(
        &self,
        listener: TcpListener,
        fingerprint_key: FingerprintKey,
    ) -> Result<SocketAddr, ServeError> {
        let state = ApiState {
            hosts: self.registry.clone().recipient(),
            host: self.registry.clone().recipient(),
            scheduler_stats: self.registry.clone().recipient(),
            readiness: self.supervisor.clone().recipient(),
            reload: self.supervisor.clone().recipient(),
            running_config: self.supervisor.clone().recipient(),
            metrics: self.metrics.clone(),
            credentials: self.token.clone(),
            throttle: Default::default(),
            fingerprint_key,
            history: self.history.as_ref().map(|history| HistoryApi {
                uptime: history.reader.clone().recipient(),
                series: history.reader.clone().recipient(),
                events: history.reader.clone().recipient(),
                daily: history.reader.clone().recipient(),
                availability: history.availability.clone(),
                retention: history.retention,
            }),
            sparklines: self.registry.clone().recipient(),
            alert_holds: self.router.clone().recipient(),
            cluster: self.cluster.clone(),
            cluster_verdicts: self.cluster_agent.clone().map(Addr::recipient),
            cluster_availability: self.cluster_agent.clone().map(Addr::recipient),
            stream: self.stream.clone(),
            sessions: Sessions::default(),
            announcements: AnnouncementsApi {
                board: self.announcements.clone(),
                save: self.store.clone().map(Addr::recipient),
                delete: self.store.clone().map(Addr::recipient),
            },
            // In a cluster every agent's silences are the cluster's.
            silences: match &self.cluster_agent {
                Some(cluster_agent) => SilencesApi {
                    book: self.silences.clone(),
                    save: Some(cluster_agent.clone().recipient()),
                    delete: Some(cluster_agent.clone().recipient()),
                },
                None => SilencesApi {
                    book: self.silences.clone(),
                    save: self.store.clone().map(Addr::recipient),
                    delete: self.store.clone().map(Addr::recipient),
                },
            },
            status_page: StatusPageCache::default(),
        };
        let (server, address) = crate::api::serve(listener, state).map_err(ServeError::Serve)?;
        actix_rt::spawn(server);
        // The dashboard's address, ready to click in a terminal (an unspecified address such
        // as 0.0.0.0 is reached on this machine as loopback).
        let dashboard = match address.ip() {
            ip if ip.is_unspecified() => format!("http://localhost:{}/", address.port()),
            _ => format!("http://{address}/"),
        };
        log::info!(listen = address.to_string().as_str(), dashboard = dashboard.as_str(); "API listening");
        Ok(address)
    }
}

/// Opens the state store named by `state.path` or `state.url` and reads what it holds. A
/// store that cannot be opened is logged and the daemon runs without it (monitoring matters
/// more than memory); the store actor keeps trying to open it for later writes. `started` is
/// this run's start, as the store records it.
fn open_store(
    config: &Config,
    metrics: &Arc<Metrics>,
    started: SystemTime,
) -> (Option<Addr<Store>>, Restored) {
    let Some(location) = crate::store::StoreLocation::of(&config.state) else {
        return (None, Restored::default());
    };
    let mut backend = location.backend();
    // On a thread of its own: the caller runs inside the actix runtime, where PostgreSQL's
    // blocking client (a runtime of its own) may not run, and a slow disk must not hold it.
    let history = config.state.history;
    let loaded = std::thread::scope(|scope| {
        scope
            .spawn(|| Store::load(backend.as_mut(), history, started))
            .join()
    });
    let loaded = loaded.unwrap_or_else(|_| {
        Err(StoreError::Unavailable {
            place: backend.place().to_string(),
        })
    });
    let restored = match loaded {
        Ok(restored) => {
            log::info!(
                path = backend.place(),
                hosts = restored.hosts.len(),
                undelivered = restored.outbox.len(),
                silences = restored.silences.len();
                "state store opened"
            );
            restored
        }
        Err(e) => {
            metrics.record_store_error("open");
            log::error!(error = e.to_string().as_str(); "cannot open the state store; running without the saved state");
            backend.disconnect();
            Restored::default()
        }
    };
    let store = Store::start(backend, &config.state, started, &restored, metrics.clone());
    (Some(store), restored)
}

/// With `cluster:`, who this agent is in the cluster.
fn agent_settings(config: &Config) -> Option<AgentSettings> {
    let cluster = config.cluster.as_ref()?;
    // `Config::with_location` made sure of it before the daemon started.
    let location = cluster.location.as_deref()?;
    Some(AgentSettings {
        url: cluster.url.clone(),
        id: cluster
            .agent_id
            .as_deref()
            .map(str::to_string)
            .unwrap_or_else(|| default_agent_id(location)),
        location: location.to_string(),
        lease: cluster.lease,
        heartbeat: cluster.heartbeat,
    })
}
