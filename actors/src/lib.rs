//! # flowstate-actors: the running system
//!
//! The mutable half of flowstate. It takes a validated [`flowstate_config::Config`] and never
//! parses YAML itself.
//!
//! ## Layout
//! - [`daemon`]: starts and wires the actors.
//! - [`supervisor`]: owns the configuration and every HostActor; applies diffs; restarts
//!   crashed HostActors; drives shutdown.
//! - [`config_watcher`]: notices edits of the files and asks the Supervisor to reload them.
//! - [`config_load`]: every load of the files, on a thread of its own with a known stack.
//! - [`host`]: one HostActor per host, with its schedule.
//! - [`state_registry`]: keeps every host's [`model::Host`], drives it with results, emits
//!   its transitions; around it [`scheduler_stats`] (start lag, readiness), [`host_series`]
//!   (each host's metric series) and [`state_saving`] (batches for the store).
//! - [`alert_router`], [`alert_policy`], [`outbox`], [`event`] and [`notify`]: from
//!   transitions to delivered alert events (cooldowns, reminders, retries); [`unsaved`]: what
//!   of the router's state the store does not have yet.
//! - [`announcements`] and [`silences`]: what people set at run time (incident notes for
//!   the status page; alerts muted for some hosts until a time), kept in the store.
//! - [`web`]: the pages served beside the API (dashboard, host pages, status page).
//! - [`api`]: the HTTP API (routes in `api/mod.rs`, the history routes in `api/history.rs`;
//!   the JSON types it answers in `api/types.rs`); [`availability_cache`]: every host's
//!   availability over 24 h, 7 d and 30 d, computed in the background for `/api/v1/hosts`.
//! - [`status_stream`]: every transition as an event for `/api/v1/stream`, the last 1000
//!   kept for listeners that reconnect.
//! - [`process`]: running a program in its own process group, killed whole on timeout.
//! - [`tls`]: the TLS client settings every HTTPS request uses.
//! - [`clock`]: time arithmetic that cannot panic, whatever durations the configuration holds.
//! - [`store`]: the state store on SQLite or PostgreSQL (host state, history, the alert
//!   outbox, announcements, silences).
//! - [`suppression`] and [`quiet_time`]: what holds alerts back (a parent down, maintenance,
//!   silences, flapping), and the planned quiet time availability leaves out.
//! - [`cluster`]: agents in several locations on one PostgreSQL: membership, the leader
//!   lease, host assignment and the quorum over locations.
//! - [`history`]: pure arithmetic over stored history: latency sketches, rollup rows and
//!   series, availability and incidents from a host's status timeline.
//! - [`metrics`]: Prometheus metrics.
//! - [`self_check`]: the dead man's switch, pinged only while the daemon is healthy.
//! - [`messages`]: the messages that cross actors.
//! - [`model`]: runtime state, never part of the configuration: `Status`, `CheckResult`, and
//!   `Host`, the pure state machine with an explicit clock (thresholds, degraded, history).
//! - [`probe`]: one file per check type behind the [`probe::Probe`] trait, and
//!   [`probe::run_check`], which bounds every check by its timeout and turns panics into
//!   failed results.

#![forbid(unsafe_code)]

pub mod alert_policy;
pub mod alert_router;
pub mod announcements;
pub mod api;
pub mod availability_cache;
pub mod clock;
pub mod cluster;
pub mod config_load;
pub mod config_watcher;
pub mod daemon;
pub mod event;
pub mod history;
pub mod host;
pub mod host_series;
pub mod messages;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod plugin;
pub mod probe;
pub mod process;
pub mod quiet_time;
pub mod scheduler_stats;
pub mod self_check;
pub mod silences;
pub mod state_registry;
pub mod state_saving;
pub mod status_stream;
pub mod store;
pub mod supervisor;
pub mod suppression;
pub mod telemetry;
pub mod tls;
pub mod unsaved;
pub mod web;
