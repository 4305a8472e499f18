//! ConfigExchange: the Supervisor's side of the configuration the cluster shares (see
//! [`super::shared_config`]): it publishes what this agent loads from its own files, and
//! fetches, lays out and loads a newer one another agent published.
//!
//! The rules it keeps:
//! - Files loaded at start are published only if new (a restart with stale files does not roll
//!   the cluster back); files edited while running are published as the newest.
//! - While this agent runs a configuration taken from the cluster, a reload of its own files
//!   that did not change them (a SIGHUP, a touch) keeps the cluster's: only an edit wins.
//! - A published configuration that does not load here (a variable this agent lacks) is
//!   refused once, said once, and this agent keeps what it runs: the API shows the
//!   disagreement (`config_agrees: false`).

use std::collections::HashSet;
use std::path::PathBuf;

use actix::prelude::*;
use flowstate_config::{Config, ConfigError};

use super::agent::{GetConfigFiles, PublishConfig};
use super::config_hash::content_hash;
use super::membership::ClusterError;
use super::shared_config::{lay_out, read_files};

/// Why a published configuration could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error("cannot fetch it from the cluster database: {0}")]
    Fetch(ClusterError),
    #[error("the cluster database no longer has it")]
    Missing,
    #[error("cannot lay its files out in {}: {source}", .directory.display())]
    LayOut {
        directory: PathBuf,
        source: std::io::Error,
    },
    #[error("it does not load here: {0}")]
    Load(ConfigError),
}

/// What to do with a configuration this agent just loaded from its own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnFiles {
    Apply,
    /// Unchanged files while the cluster's newer configuration runs: keep that.
    KeepClusters,
}

pub struct ConfigExchange {
    publish: Recipient<PublishConfig>,
    fetch: Recipient<GetConfigFiles>,
    /// Where published files are laid out to be loaded (one directory per agent).
    scratch: PathBuf,
    /// The content hash of this agent's own files when last loaded.
    own_hash: Option<String>,
    /// The hash of the cluster's configuration this agent runs instead of its own files.
    adopted: Option<String>,
    /// Being fetched and loaded now.
    adopting: Option<String>,
    /// Published configurations that did not load here.
    refused: HashSet<String>,
}

impl ConfigExchange {
    pub fn new(
        publish: Recipient<PublishConfig>,
        fetch: Recipient<GetConfigFiles>,
        agent_id: &str,
    ) -> Self {
        let name: String = agent_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        ConfigExchange {
            publish,
            fetch,
            scratch: std::env::temp_dir().join(format!("flowstate-cluster-{name}")),
            own_hash: None,
            adopted: None,
            adopting: None,
            refused: HashSet::new(),
        }
    }

    /// This agent loaded `config` from its own files: publishes them when they are new or
    /// were edited, and says whether to apply them.
    pub fn loaded_own(&mut self, config: &Config) -> OwnFiles {
        let hash = content_hash(&config.sources);
        let edited = self.own_hash.as_ref().is_some_and(|own| *own != hash);
        if self.adopted.is_some() && !edited {
            return OwnFiles::KeepClusters;
        }
        self.own_hash = Some(hash.clone());
        self.adopted = None;
        match read_files(&config.sources) {
            Some(files) => self.publish.do_send(PublishConfig {
                hash,
                files,
                edited,
            }),
            None => {
                log::warn!(config_hash = hash.as_str(); "the configuration reads files outside the directory of its first file (or one went away); it is not shared with the cluster, so other agents do not take it over");
            }
        }
        OwnFiles::Apply
    }

    /// Whether the configuration running came from the cluster rather than this agent's files.
    pub fn runs_clusters(&self) -> bool {
        self.adopted.is_some()
    }

    /// Whether to fetch and load `hash` now: not what runs, not under way, not refused.
    pub fn should_adopt(&mut self, hash: &str, running: &str) -> bool {
        if hash == running || self.adopting.is_some() || self.refused.contains(hash) {
            return false;
        }
        self.adopting = Some(hash.to_string());
        true
    }

    /// Fetches `hash`'s files, lays them out in this agent's scratch directory (the previous
    /// ones removed) and loads them with this agent's environment.
    pub fn fetch_and_load(
        &self,
        hash: String,
    ) -> impl std::future::Future<Output = Result<Config, AdoptError>> + 'static {
        let fetch = self.fetch.send(GetConfigFiles { hash: hash.clone() });
        let scratch = self.scratch.clone();
        async move {
            let files = match fetch.await {
                Ok(Ok(Some(files))) => files,
                Ok(Ok(None)) => return Err(AdoptError::Missing),
                Ok(Err(e)) => return Err(AdoptError::Fetch(e)),
                Err(_) => return Err(AdoptError::Fetch(ClusterError::Gone)),
            };
            let directory = scratch.join(&hash);
            // Only the newest is kept: older layouts are of no use.
            let _ = std::fs::remove_dir_all(&scratch);
            let first = lay_out(&directory, &files)
                .map_err(|source| AdoptError::LayOut { directory, source })?;
            crate::config_load::load(vec![first])
                .await
                .map_err(AdoptError::Load)
        }
    }

    /// `hash` was loaded and runs now.
    pub fn adopted(&mut self, hash: &str) {
        self.adopting = None;
        self.adopted = Some(hash.to_string());
    }

    /// `hash` could not be taken: not tried again (a newer one will be).
    pub fn refused(&mut self, hash: &str, transient: bool) {
        self.adopting = None;
        if !transient {
            self.refused.insert(hash.to_string());
        }
    }
}
