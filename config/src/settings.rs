//! The process-wide sections: `server`, `state` and `defaults`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::flapping::FlappingSettings;
use crate::host::HttpHeader;
use crate::secret::Secret;

/// The HTTP API (`/healthz`, `/metrics`, `/api/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `None` when `listen: null` disables the API.
    pub listen: Option<SocketAddr>,
    /// Bearer token required by `/api` and `/-/` when set.
    pub token: Option<Secret>,
    /// `/readyz` answers 503 while checks start later than this after their slot.
    pub ready_max_lag: Duration,
}

/// Where the API listens unless told otherwise: loopback only, never every interface.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9900";

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: DEFAULT_LISTEN.parse().ok(),
            token: None,
            ready_max_lag: Duration::from_secs(10),
        }
    }
}

/// Persistence of state across restarts, and the history kept for availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    /// The SQLite file; `None` (and no `url`) keeps state in memory only.
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead of the SQLite file.
    pub url: Option<DatabaseUrl>,
    /// Check results kept per host in memory (what `/api/v1/hosts/{label}` lists).
    pub history: usize,
    /// How long anything is kept in the store: rollups and transitions older are deleted.
    pub retention: Duration,
    /// How long each raw check result is kept; older ones live on only in rollups.
    pub raw_retention: Duration,
}

/// Raw results are kept a week and rollups 90 days, as Uptime Kuma's defaults do roughly:
/// a week of per-check detail to debug with, a quarter of availability to report on.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);
pub const DEFAULT_RAW_RETENTION: Duration = Duration::from_secs(7 * 86_400);

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            path: None,
            url: None,
            history: 100,
            retention: DEFAULT_RETENTION,
            raw_retention: DEFAULT_RAW_RETENTION,
        }
    }
}

impl StateSettings {
    /// Whether anything is stored (a SQLite file or a PostgreSQL database).
    pub fn is_stored(&self) -> bool {
        self.path.is_some() || self.url.is_some()
    }
}

/// A `postgres://` URL. Its password is a secret: `Debug` and [`DatabaseUrl::shown`] hide it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: url::Url,
    /// How it may be shown: without the password or what `${VAR}`s gave.
    shown: String,
}

impl DatabaseUrl {
    pub fn new(url: url::Url, shown: String) -> Self {
        DatabaseUrl { url, shown }
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    /// The URL as it may be logged or shown.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The public status page (`/status`): what it is called and how its hosts are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPageSettings {
    pub title: String,
    /// Named groups of public hosts, in order; public hosts in no group follow under
    /// "Other services".
    pub groups: Vec<StatusGroup>,
    /// Whether the page shows each host's current reason (off by default: reasons can name
    /// internal addresses).
    pub show_reasons: bool,
}

impl Default for StatusPageSettings {
    fn default() -> Self {
        StatusPageSettings {
            title: "Service status".to_string(),
            groups: Vec::new(),
            show_reasons: false,
        }
    }
}

/// One group of the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusGroup {
    pub name: String,
    /// Host labels, each `public: true`.
    pub hosts: Vec<String>,
}

/// What every host inherits unless it sets its own: built-in values overlaid by `defaults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub interval: Duration,
    pub timeout: Duration,
    /// Whether `timeout` was written by the user; if not, it shrinks to fit a short interval.
    pub timeout_is_explicit: bool,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub max_response_time: Option<Duration>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub alerts: Vec<Arc<str>>,
    /// Sent with every HTTP check; a host's own header of the same name wins.
    pub headers: Vec<HttpHeader>,
    /// Flapping detection every host inherits; `None`: off unless a host turns it on.
    pub flapping: Option<FlappingSettings>,
    /// The locations every host is checked in (sorted); `None`: every location. Only with
    /// `cluster`.
    pub locations: Option<Vec<Arc<str>>>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            timeout_is_explicit: false,
            failure_threshold: 3,
            success_threshold: 1,
            max_response_time: None,
            follow_redirects: true,
            max_redirects: 10,
            alerts: Vec::new(),
            headers: Vec::new(),
            flapping: None,
            locations: None,
        }
    }
}

/// A dead man's switch (a Healthchecks-style ping URL) that flowstate calls only while its own
/// scheduler is healthy, so an outside service notices when the monitor is dead or stuck.
#[derive(Clone, PartialEq, Eq)]
pub struct SelfCheckSettings {
    /// Often a secret itself (the ping ID is the credential): printed without its path.
    pub url: Url,
    pub every: Duration,
    pub timeout: Duration,
}

impl SelfCheckSettings {
    pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

impl std::fmt::Debug for SelfCheckSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfCheckSettings")
            .field("url", &crate::secret::redact_url_path(&self.url))
            .field("every", &self.every)
            .field("timeout", &self.timeout)
            .finish()
    }
}
