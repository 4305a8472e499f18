//! Plugins (SPEC §11): long-lived programs that add check and notifier types, speaking JSON
//! lines on stdin and stdout (the protocol is in the `flowstate-plugin` crate).
//!
//! - [`process`]: the [`PluginProcess`] actor, one per configured plugin: it starts the
//!   program, does the handshake, keeps several requests in flight by id, times them out,
//!   restarts the program with backoff after a crash and kills it when it stops answering.
//! - [`settings_schema`]: each host's (or notifier's) `settings` against the plugin's schema.
//! - [`handshake`]: the hello exchange alone, blocking, for `flowstate check`.
//!
//! Probes and notifiers run on several arbiter threads and find a plugin by name in the
//! process-wide [`directory`], which [`apply`] keeps in step with the configuration: the
//! config's probes and notifiers hold only the plugin's name, so a plugin restarted by a
//! reload is found again by the next check without the host restarting.

pub mod handshake;
pub mod process;
pub mod settings_schema;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::{Actor, Addr};
use flowstate_config::PluginConfig;

pub use process::{CallPlugin, PluginCall, PluginProcess, StopPlugin};

/// Why a plugin request got no answer of the kind asked for. Every message names the plugin
/// and what to do, since it becomes a host's reason or a delivery's log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("no plugin named `{0}` is configured; define it under `plugins:`")]
    Unknown(String),
    /// The reason stays the same while the plugin is down (no countdown in it), so a host's
    /// reason does not change at every check.
    #[error("plugin `{plugin}` is not running ({reason}); it is started again with backoff")]
    NotRunning { plugin: String, reason: String },
    #[error("plugin `{plugin}` did not answer within {after}")]
    TimedOut { plugin: String, after: String },
    #[error("plugin `{plugin}` stopped before answering ({reason})")]
    Exited { plugin: String, reason: String },
    #[error("plugin `{plugin}` is a {kind} plugin; it cannot {wanted}")]
    WrongKind {
        plugin: String,
        kind: &'static str,
        wanted: &'static str,
    },
    #[error("settings do not fit plugin `{plugin}`'s schema: {problems}")]
    InvalidSettings { plugin: String, problems: String },
    #[error("plugin `{plugin}` answered request {id} with {problem}")]
    BadAnswer {
        plugin: String,
        id: u64,
        problem: String,
    },
}

/// Counters of one plugin, read by `/metrics`. Shared with its actor, and kept across a
/// reload that restarts it, so counters only grow.
#[derive(Debug, Default)]
pub struct PluginStats {
    pub restarts: AtomicU64,
    pub check_requests: AtomicU64,
    pub notify_requests: AtomicU64,
    pub timeouts: AtomicU64,
}

/// One plugin in the directory: its pool of processes (one unless `processes` says more).
struct Entry {
    config: Arc<PluginConfig>,
    pool: Vec<Member>,
    /// The member the next request goes to, round robin.
    next: AtomicUsize,
    stats: Arc<PluginStats>,
}

struct Member {
    addr: Addr<PluginProcess>,
    /// The member's running program's process group (0: none): what [`end_all`] kills.
    group: Arc<AtomicI32>,
}

/// Every configured plugin by name, process-wide (see the module header).
static DIRECTORY: Mutex<Option<HashMap<Arc<str>, Entry>>> = Mutex::new(None);

fn directory() -> MutexGuard<'static, Option<HashMap<Arc<str>, Entry>>> {
    // Every change is one insert or removal: the map stays consistent after a panic.
    DIRECTORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An actor running the plugin called `name`: the pool's members take turns.
pub fn find(name: &str) -> Result<Addr<PluginProcess>, PluginError> {
    directory()
        .as_ref()
        .and_then(|plugins| plugins.get(name))
        .and_then(|entry| {
            let turn = entry.next.fetch_add(1, Ordering::Relaxed);
            entry.pool.get(turn % entry.pool.len().max(1))
        })
        .map(|member| member.addr.clone())
        .ok_or_else(|| PluginError::Unknown(name.to_string()))
}

/// Starts the plugins `plugins` adds, stops those it removes, and restarts those whose
/// command or environment changed; unchanged plugins keep running (and their requests in
/// flight). Must run inside the actix system: the actors start on the calling arbiter.
pub fn apply(plugins: &[Arc<PluginConfig>]) {
    let mut guard = directory();
    let current = guard.get_or_insert_with(HashMap::new);
    current.retain(|name, entry| {
        let keep = plugins
            .iter()
            .any(|p| p.name == *name && p.settings() == entry.config.settings());
        if !keep {
            for member in &entry.pool {
                member.addr.do_send(StopPlugin);
            }
        }
        keep
    });
    for plugin in plugins {
        if current.contains_key(&plugin.name) {
            continue;
        }
        let stats = STATS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(plugin.name.clone())
            .or_default()
            .clone();
        let pool = (0..plugin.processes.max(1))
            .map(|_| {
                let group = Arc::new(AtomicI32::new(0));
                let addr = PluginProcess::new(plugin.clone(), stats.clone(), group.clone()).start();
                Member { addr, group }
            })
            .collect();
        current.insert(
            plugin.name.clone(),
            Entry {
                config: plugin.clone(),
                pool,
                next: AtomicUsize::new(0),
                stats,
            },
        );
    }
}

/// Counters by plugin name, kept for the life of the process (a plugin removed by a reload
/// and added back continues its counters, as Prometheus expects).
static STATS: std::sync::LazyLock<Mutex<HashMap<Arc<str>, Arc<PluginStats>>>> =
    std::sync::LazyLock::new(Default::default);

/// `(plugin, restarts, check requests, notify requests, timeouts)` for every plugin
/// configured now, sorted by name.
pub fn counters() -> Vec<(Arc<str>, u64, u64, u64, u64)> {
    let mut rows: Vec<_> = directory()
        .as_ref()
        .map(|plugins| {
            plugins
                .iter()
                .map(|(name, entry)| {
                    let s = &entry.stats;
                    (
                        name.clone(),
                        s.restarts.load(Ordering::Relaxed),
                        s.check_requests.load(Ordering::Relaxed),
                        s.notify_requests.load(Ordering::Relaxed),
                        s.timeouts.load(Ordering::Relaxed),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Kills every plugin's process group: the daemon is stopping, and nothing it started may
/// outlive it. The actors are not asked (their arbiters may already be gone).
pub fn end_all() -> usize {
    ENDED.store(true, Ordering::SeqCst);
    let mut killed = 0;
    if let Some(plugins) = directory().take() {
        for member in plugins.values().flat_map(|entry| &entry.pool) {
            if process::kill_group(member.group.swap(0, Ordering::Relaxed)) {
                killed += 1;
            }
        }
    }
    killed
}

/// Set by [`end_all`]: the daemon is stopping, so a plugin's exit is expected and it is not
/// started again.
static ENDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`end_all`] ran.
pub(crate) fn ended() -> bool {
    ENDED.load(Ordering::SeqCst)
}

/// A duration as the messages print it (`5s`, `1m 30s`).
fn shown(duration: Duration) -> String {
    humantime::format_duration(Duration::from_millis(duration.as_millis() as u64)).to_string()
}
