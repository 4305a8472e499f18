//! The configuration the cluster converges on (SPEC §10): every agent publishes the files it
//! loaded, by content hash, in PostgreSQL, and runs the one published last.
//!
//! Each agent watches its own files. When they change (an edit, a ConfigMap update that
//! reached this pod first), the agent loads them and publishes them as the newest. Every
//! other agent sees the newer hash at its next heartbeat, fetches those files, loads them with
//! its own environment (its own `${LOCATION}`) and runs them: so agents whose files lag (the
//! kubelet syncs ConfigMaps up to a minute apart) run the new configuration within a heartbeat
//! of the first one that saw it. A file set already published keeps its date when an agent
//! merely starts with it: an agent restarted with stale files does not roll the cluster back.

use std::path::{Component, Path, PathBuf};

use super::membership::{ClusterError, Membership};

/// The table, created with the others.
pub(super) const CONFIG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cluster_configs (
    hash TEXT PRIMARY KEY,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_by TEXT NOT NULL,
    files TEXT NOT NULL
);
";

/// A configuration's files, by path relative to the directory of the first (the `-c` file),
/// with their contents, in load order.
pub type ConfigFiles = Vec<(String, String)>;

/// The newest configuration published, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedConfig {
    pub hash: String,
    pub by: String,
}

impl Membership {
    /// Publishes `files` under `hash`. `edited`: this agent's files changed while it ran, so
    /// they are the newest now even if the same content was published before (a revert);
    /// otherwise (a start) they are only added when new.
    pub fn publish_config(
        &mut self,
        hash: &str,
        files: &ConfigFiles,
        edited: bool,
    ) -> Result<(), ClusterError> {
        let agent = self.agent().to_string();
        let place = self.place();
        let json = serde_json::to_string(files).unwrap_or_default();
        let statement = if edited {
            "INSERT INTO cluster_configs (hash, published_by, files) VALUES ($1, $2, $3)
             ON CONFLICT (hash) DO UPDATE SET published_at = now(),
                 published_by = EXCLUDED.published_by"
        } else {
            "INSERT INTO cluster_configs (hash, published_by, files) VALUES ($1, $2, $3)
             ON CONFLICT (hash) DO NOTHING"
        };
        self.client()
            .execute(statement, &[&hash, &agent, &json])
            .map(|_| ())
            .map_err(|source| ClusterError::Query {
                place,
                operation: "publishing the configuration",
                source,
            })
    }

    /// The configuration published last, if any.
    pub fn newest_config(&mut self) -> Result<Option<PublishedConfig>, ClusterError> {
        let place = self.place();
        let row = self.client().query_opt(
            "SELECT hash, published_by FROM cluster_configs
             ORDER BY published_at DESC, hash LIMIT 1",
            &[],
        );
        let row = row.map_err(|source| ClusterError::Query {
            place,
            operation: "reading the newest configuration",
            source,
        })?;
        Ok(row.map(|row| PublishedConfig {
            hash: row.get(0),
            by: row.get(1),
        }))
    }

    /// The files published under `hash`, if any.
    pub fn config_files(&mut self, hash: &str) -> Result<Option<ConfigFiles>, ClusterError> {
        let place = self.place();
        let row = self.client().query_opt(
            "SELECT files FROM cluster_configs WHERE hash = $1",
            &[&hash],
        );
        let row = row.map_err(|source| ClusterError::Query {
            place,
            operation: "reading a published configuration",
            source,
        })?;
        Ok(row.and_then(|row| serde_json::from_str(row.get::<_, &str>(0)).ok()))
    }
}

/// Reads `sources` (the files of a loaded configuration, the `-c` file first) for publishing,
/// each named relative to the first one's directory; `None` when one cannot be read.
pub fn read_files(sources: &[PathBuf]) -> Option<ConfigFiles> {
    let base = sources.first()?.parent().unwrap_or(Path::new(""));
    sources
        .iter()
        .map(|source| {
            let content = std::fs::read_to_string(source).ok()?;
            Some((relative_name(base, source)?, content))
        })
        .collect()
}

/// `source` relative to `base`: only files inside `base` can be laid out again elsewhere
/// with their includes still pointing at them.
fn relative_name(base: &Path, source: &Path) -> Option<String> {
    let relative = source.strip_prefix(base).ok()?;
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| relative.to_string_lossy().into_owned())
}

/// Writes `files` under `directory` as they were laid out where they were published, and
/// returns the first (the file to load). Names that would leave `directory` are refused.
pub fn lay_out(directory: &Path, files: &ConfigFiles) -> std::io::Result<PathBuf> {
    let mut first = None;
    for (name, content) in files {
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the published file name {name:?} leaves its directory"),
            ));
        }
        let path = directory.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
        first.get_or_insert(path);
    }
    first.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the published configuration has no files",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of this test's own under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("flowstate-shared-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("made");
        dir
    }

    #[test]
    fn files_are_named_from_the_first_ones_directory_and_laid_out_again_the_same() {
        let dir = scratch("layout");
        let main = dir.join("flowstate.yaml");
        let included = dir.join("hosts.d").join("web.yaml");
        std::fs::create_dir_all(included.parent().expect("a parent")).expect("made");
        std::fs::write(&main, "include: [hosts.d/*.yaml]\n").expect("written");
        std::fs::write(&included, "hosts: []\n").expect("written");
        let files = read_files(&[main, included]).expect("read");
        assert_eq!(
            files,
            [
                (
                    "flowstate.yaml".to_string(),
                    "include: [hosts.d/*.yaml]\n".to_string()
                ),
                ("hosts.d/web.yaml".to_string(), "hosts: []\n".to_string()),
            ]
        );
        let elsewhere = scratch("again");
        let first = lay_out(&elsewhere, &files).expect("laid out");
        assert_eq!(first, elsewhere.join("flowstate.yaml"));
        let again = std::fs::read_to_string(elsewhere.join("hosts.d/web.yaml"));
        assert_eq!(again.expect("read"), "hosts: []\n");
    }

    #[test]
    fn a_file_outside_the_first_ones_directory_cannot_be_published_or_laid_out() {
        let dir = scratch("outside");
        let inner = dir.join("conf");
        std::fs::create_dir_all(&inner).expect("made");
        let main = inner.join("flowstate.yaml");
        let outside = dir.join("shared.yaml");
        std::fs::write(&main, "a").expect("written");
        std::fs::write(&outside, "b").expect("written");
        assert_eq!(read_files(&[main, outside]), None);
        let escaping = vec![("../x.yaml".to_string(), "x".to_string())];
        assert!(lay_out(&dir, &escaping).is_err());
        let absolute = vec![("/etc/x.yaml".to_string(), "x".to_string())];
        assert!(lay_out(&dir, &absolute).is_err());
    }
}
