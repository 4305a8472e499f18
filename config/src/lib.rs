//! # flowstate-config: what the user wrote, loaded, interpolated and validated
//!
//! The immutable half of flowstate. Nothing here knows about time passing or the network;
//! the running system (`flowstate-actors`) takes a [`Config`] and never parses YAML itself.
//!
//! ## Layout
//! - [`load`]: files, `include` globs and `${VAR}` interpolation, into a [`Config`].
//! - `yaml`: the one module that parses YAML, keeping every node's line and column.
//! - `reader` and `validate`: typed reading that reports every error at once, then merging
//!   files and applying `defaults`.
//! - [`host`], [`notifier`], [`settings`]: the validated, immutable configuration types.
//! - [`plugin`]: the `plugins` section, and the `settings` of hosts and notifiers of a
//!   plugin's type.
//! - [`tenant`]: `tenants`, teams with files, tokens and limits of their own; their items are
//!   named `<tenant>/<name>`. [`tenant_reload`]: a tenant whose files are broken keeps its
//!   running part, and the others load ([`load_with_previous`]).
//! - [`flapping`]: flapping detection settings, read in `defaults` and on hosts.
//! - [`cluster`]: agents in several locations sharing one database: the `cluster` section,
//!   location names, and this agent's location (which the command line may give).
//! - [`maintenance`]: maintenance windows and the times they are in force (read by
//!   `read_maintenance`; cron searches through `cron_time`).
//! - [`diff`]: what changed between two configurations, keyed by label.
//! - [`schema`]: every accepted key by section, from the lists validation uses (for the docs).
//! - [`secret`]: redaction, so no token or password is ever printed.
//! - [`fingerprint`]: keyed fingerprints of settings, for `check --diff` against a daemon.
//! - [`error`]: diagnostics with file and place.

#![forbid(unsafe_code)]

pub mod check;
pub mod cluster;
mod cron_time;
pub mod dependencies;
pub mod diff;
pub mod error;
pub mod fingerprint;
pub mod flapping;
pub mod host;
mod include;
pub mod interpolate;
pub mod load;
pub mod maintenance;
pub mod notifier;
pub mod plugin;
mod read_check;
mod read_email;
mod read_maintenance;
mod reader;
pub mod schema;
pub mod secret;
pub mod settings;
pub mod telemetry;
pub mod tenant;
mod tenant_paths;
pub mod tenant_reload;
mod validate;
pub mod version;
mod yaml;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

pub use cluster::ClusterSettings;
pub use diff::ConfigDiff;
pub use error::{ConfigError, Diagnostic, Position};
pub use fingerprint::FingerprintKey;
pub use flapping::FlappingSettings;
pub use host::{
    Check, DnsCheck, DnsRecord, ExpectedStatus, GrpcCheck, HostConfiguration, HttpAuth, HttpCheck,
    HttpHeader, HttpVersion, IcmpCheck, Origin, ScriptCheck, TcpCheck, TlsSettings,
};
pub use load::{load, load_str, load_with_env, load_with_previous, load_with_previous_env, locate};
pub use maintenance::{HostPattern, MaintenanceSchedule, MaintenanceWindow, RecurringSchedule};
pub use notifier::{GroupKey, NotifierConfig, NotifierKind, RetryPolicy};
pub use plugin::{PluginConfig, PluginUse};
pub use reader::MAX_DURATION;
pub use secret::{EnvValues, Secret};
pub use settings::{
    DatabaseUrl, Defaults, SelfCheckSettings, ServerSettings, StateSettings, StatusGroup,
    StatusPageSettings,
};
pub use tenant::{Credential, Role, TenantConfig, TenantLimits, TenantToken};
pub use tenant_reload::{Loaded, TenantFailure};

/// A complete, validated configuration. Immutable: a reload builds a new one.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every file that was read, in order: what a watcher must watch.
    pub sources: Vec<PathBuf>,
    /// Every include glob, made absolute or relative to the working directory: a new file
    /// matching one of these is part of the configuration too. Each tenant's `config` file is
    /// one (a glob without wildcards), listed also when it is missing or broken, so a watcher
    /// notices its fix.
    pub include_globs: Vec<PathBuf>,
    pub server: ServerSettings,
    pub state: StateSettings,
    /// The dead man's switch, if configured.
    pub self_check: Option<SelfCheckSettings>,
    /// Where traces go (SPEC §13); `None`: tracing is off.
    pub telemetry: Option<telemetry::TelemetrySettings>,
    /// The public status page's settings (`/status` works without them, with defaults).
    pub status_page: StatusPageSettings,
    pub defaults: Defaults,
    pub notifiers: Vec<Arc<NotifierConfig>>,
    /// `plugins`: programs that add check and notifier types (SPEC §11).
    pub plugins: Vec<Arc<PluginConfig>>,
    /// `tenants` (SPEC §12), in file order. Their hosts, notifiers and maintenance windows are
    /// in [`Config::hosts`], `notifiers` and `maintenance`, named `<tenant>/<name>` and with
    /// their `tenant` set.
    pub tenants: Vec<Arc<TenantConfig>>,
    /// What `${VAR}` brought in: anything printed from this configuration goes through
    /// [`EnvValues::redact`].
    pub env_values: EnvValues,
    /// `maintenance` windows, in file order (files in load order).
    pub maintenance: Vec<Arc<MaintenanceWindow>>,
    /// Agents in several locations sharing one database; `None`: this agent works alone.
    /// Not acted on yet: the agents come in a later change.
    pub cluster: Option<ClusterSettings>,
    /// Where `cluster` was written, for the errors of [`Config::with_location`].
    cluster_place: Option<cluster::ClusterPlace>,
    hosts: Vec<Arc<HostConfiguration>>,
    by_label: HashMap<Arc<str>, usize>,
}

impl Config {
    /// The hosts in file order (files in load order).
    pub fn hosts(&self) -> &[Arc<HostConfiguration>] {
        &self.hosts
    }

    pub fn host(&self, label: &str) -> Option<&Arc<HostConfiguration>> {
        self.by_label.get(label).map(|&i| &self.hosts[i])
    }

    /// The same configuration with only the hosts `keep` accepts, in the same order: what one
    /// agent of a cluster checks of the whole.
    pub fn retain_hosts(&self, keep: impl Fn(&HostConfiguration) -> bool) -> Config {
        let mut kept = self.clone();
        kept.hosts.retain(|host| keep(host));
        kept.by_label = kept
            .hosts
            .iter()
            .enumerate()
            .map(|(index, host)| (host.label.clone(), index))
            .collect();
        kept
    }

    pub fn plugin(&self, name: &str) -> Option<&Arc<PluginConfig>> {
        self.plugins.iter().find(|p| &*p.name == name)
    }

    pub fn tenant(&self, name: &str) -> Option<&Arc<TenantConfig>> {
        self.tenants.iter().find(|t| &*t.name == name)
    }

    pub fn notifier(&self, name: &str) -> Option<&Arc<NotifierConfig>> {
        self.notifiers.iter().find(|n| &*n.name == name)
    }

    /// The maintenance window in force for the host labelled `label` at `at`, with the end of
    /// its occurrence ([`maintenance::window_at`]).
    pub fn maintenance_at(
        &self,
        label: &str,
        at: SystemTime,
    ) -> Option<(&Arc<MaintenanceWindow>, SystemTime)> {
        maintenance::window_at(&self.maintenance, label, at)
    }
}
