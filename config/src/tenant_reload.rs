//! Containing a tenant's broken files (SPEC §12: "a broken tenant file keeps that tenant's
//! last good config and touches no one else").
//!
//! A tenant's files are loaded on their own scope. When they have errors (YAML, validation, a
//! limit, a missing file) and the main configuration has none, the load still succeeds: the
//! tenant keeps the hosts, notifiers and maintenance windows it had in the configuration that
//! was running (exactly those, so nothing restarts and no state is lost), every other part is
//! taken as newly read, and the tenant's errors are handed back as a [`TenantFailure`] for the
//! caller to report. Without a running configuration (at start) the tenant has nothing to keep
//! and runs no hosts until its files are fixed.
//!
//! One team's typo must not stop the platform team's reload, or every other team's: that is
//! why this exists. The main files are the platform's: an error there still refuses the whole
//! load, as before.

use std::sync::Arc;

use crate::error::{ConfigError, Diagnostic};
use crate::Config;

/// What [`crate::load::load_with_previous`] gives: the configuration to run and the errors of
/// the tenants whose files were left as they were.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// One per tenant whose files have errors, in the order of `tenants`.
    pub contained: Vec<TenantFailure>,
}

/// A tenant whose files did not load: what is wrong, and what it runs meanwhile.
#[derive(Debug, Clone)]
pub struct TenantFailure {
    pub tenant: Arc<str>,
    /// Every error of the tenant's files, by file and line.
    pub error: ConfigError,
    /// Whether the tenant keeps the part it had in the running configuration; `false`: there
    /// was none (at start, or a new tenant), so it runs no hosts until its files are fixed.
    pub kept: bool,
}

impl Loaded {
    /// Every error as one [`ConfigError`], for those who take no part of a configuration
    /// with errors (`flowstate check`, which checks everything): the configuration when no
    /// tenant failed.
    pub fn strict(self) -> Result<Config, ConfigError> {
        if self.contained.is_empty() {
            return Ok(self.config);
        }
        let diagnostics: Vec<Diagnostic> = self
            .contained
            .into_iter()
            .flat_map(|f| f.error.diagnostics)
            .collect();
        Err(ConfigError { diagnostics })
    }

    /// The names of the tenants whose files were left as they were.
    pub fn failed_tenants(&self) -> impl Iterator<Item = &str> {
        self.contained.iter().map(|f| &*f.tenant)
    }
}

/// Adds to `config` the part `tenant` had in `previous` (its hosts, notifiers and windows, as
/// they were): what a tenant with broken files keeps. Answers whether there was one.
pub(crate) fn keep_previous_part(
    config: &mut Config,
    tenant: &Arc<str>,
    previous: Option<&Config>,
) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    if previous.tenant(tenant).is_none() {
        return false;
    }
    let mine = |owner: &Option<Arc<str>>| owner.as_ref() == Some(tenant);
    for host in previous.hosts().iter().filter(|h| mine(&h.tenant)) {
        // Labels of a tenant are `<tenant>/<name>`, which the main files may not use (see
        // `tenant::check_main_names`), so the kept ones cannot collide with new ones.
        config
            .by_label
            .insert(host.label.clone(), config.hosts.len());
        config.hosts.push(host.clone());
    }
    config.notifiers.extend(
        previous
            .notifiers
            .iter()
            .filter(|n| mine(&n.tenant))
            .cloned(),
    );
    config.maintenance.extend(
        previous
            .maintenance
            .iter()
            .filter(|w| mine(&w.tenant))
            .cloned(),
    );
    true
}
