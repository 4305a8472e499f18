//! ConfigWatcher: notices edits of the configuration, validates them, and only then hands the
//! new configuration to the Supervisor. It never diffs and never applies.
//!
//! It watches the *directories* of every config file, included file and include glob, with one
//! inotify watcher: editors save by writing a temporary file and renaming it over the original
//! (a watch on the file itself dies with the first such save), and a Kubernetes ConfigMap
//! update only swaps the `..data` symlink, never touching the file's name. So any event in
//! those directories (access events aside: reading the files would re-trigger forever) starts
//! a short debounce, after which everything is re-read and compared by content hash. A slow
//! poll of the same hash covers filesystems whose events never arrive (some bind mounts,
//! network filesystems). A file that does not validate is logged with every error, counted,
//! and ignored: the last good configuration keeps running.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use flowstate_config::Config;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::messages::ApplyConfig;
use crate::metrics::Metrics;
use crate::supervisor::Supervisor;

/// Editors and `kubectl` touch files several times per save: wait for quiet before reading.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// How often the content is compared even without any event.
const POLL_EVERY: Duration = Duration::from_secs(5);

pub struct ConfigWatcher {
    /// The `-c` files, as given.
    files: Vec<PathBuf>,
    /// Include globs of the last good configuration: new matching files count as edits.
    include_globs: Vec<PathBuf>,
    supervisor: Addr<Supervisor>,
    metrics: Arc<Metrics>,
    watcher: Option<RecommendedWatcher>,
    watched: BTreeSet<PathBuf>,
    /// The hash of the content last looked at, valid or not, so one bad save is logged once.
    last_seen: u64,
    /// Bumped by every event; a debounce timer only fires if no newer event came.
    event_generation: u64,
}

/// Something changed in a watched directory.
#[derive(Message)]
#[rtype(result = "()")]
struct FilesChanged;

impl ConfigWatcher {
    /// `config` is the configuration already running, read from `files`.
    pub fn new(
        files: Vec<PathBuf>,
        config: &Config,
        supervisor: Addr<Supervisor>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let include_globs = config.include_globs.clone();
        let last_seen = content_hash(&files, &include_globs);
        ConfigWatcher {
            files,
            include_globs,
            supervisor,
            metrics,
            watcher: None,
            watched: BTreeSet::new(),
            last_seen,
            event_generation: 0,
        }
    }

    /// Watches the directories of the config files and include globs not watched yet.
    fn watch_directories(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let wanted: BTreeSet<PathBuf> = self
            .files
            .iter()
            .chain(&self.include_globs)
            .map(|p| directory_of(p))
            .collect();
        for dir in wanted.difference(&self.watched.clone()) {
            match watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir.clone());
                }
                Err(e) => log::warn!(
                    directory = dir.display().to_string().as_str(),
                    error = e.to_string().as_str();
                    "cannot watch this directory; edits there are noticed by polling only"
                ),
            }
        }
    }

    /// Re-reads everything; applies the configuration if its content changed and is valid.
    fn reload_if_changed(&mut self, ctx: &mut Context<Self>) {
        let hash = content_hash(&self.files, &self.include_globs);
        if hash == self.last_seen {
            return;
        }
        self.last_seen = hash;
        match flowstate_config::load(&self.files) {
            Ok(config) => {
                self.include_globs = config.include_globs.clone();
                // Files matched by a new glob may have changed the hash: count them in now.
                self.last_seen = content_hash(&self.files, &self.include_globs);
                self.watch_directories();
                let supervisor = self.supervisor.clone();
                ctx.spawn(
                    async move {
                        if let Err(e) = supervisor.send(ApplyConfig(Arc::new(config))).await {
                            log::error!(error = e.to_string().as_str(); "the supervisor did not take the new configuration");
                        }
                    }
                    .into_actor(self),
                );
            }
            Err(errors) => {
                self.metrics.record_reload(false);
                for d in &errors.diagnostics {
                    log::error!(error = d.to_string().as_str(); "config edit rejected; the running configuration stays");
                }
            }
        }
    }
}

impl Actor for ConfigWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let address = ctx.address();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                Ok(event) if matches!(event.kind, EventKind::Access(_)) => {}
                Ok(_) => address.do_send(FilesChanged),
                // A lost event (queue overflow) may hide an edit: look again.
                Err(_) => address.do_send(FilesChanged),
            }
        });
        match watcher {
            Ok(w) => self.watcher = Some(w),
            Err(e) => log::warn!(
                error = e.to_string().as_str();
                "cannot watch the configuration files; edits are noticed by polling only"
            ),
        }
        self.watch_directories();
        ctx.run_interval(POLL_EVERY, |act, ctx| act.reload_if_changed(ctx));
    }
}

impl Handler<FilesChanged> for ConfigWatcher {
    type Result = ();

    fn handle(&mut self, _: FilesChanged, ctx: &mut Context<Self>) {
        self.event_generation += 1;
        let generation = self.event_generation;
        ctx.run_later(DEBOUNCE, move |act, ctx| {
            if act.event_generation == generation {
                act.reload_if_changed(ctx);
            }
        });
    }
}

/// The directory to watch for a file or a glob: the deepest directory without wildcards.
fn directory_of(path: &Path) -> PathBuf {
    let mut dir = PathBuf::new();
    for component in path.parent().unwrap_or(Path::new("")).components() {
        let text = component.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[']) {
            break;
        }
        dir.push(component);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// A hash of every config file's and every include match's name and content: equal hashes
/// mean nothing to reload. Unreadable files hash as absent, so their return is a change.
fn content_hash(files: &[PathBuf], include_globs: &[PathBuf]) -> u64 {
    let mut paths: Vec<PathBuf> = files.to_vec();
    for pattern in include_globs {
        if let Ok(matches) = glob::glob(&pattern.to_string_lossy()) {
            paths.extend(matches.filter_map(Result::ok));
        }
    }
    paths.sort();
    paths.dedup();
    let mut hasher = DefaultHasher::new();
    for path in &paths {
        path.hash(&mut hasher);
        std::fs::read(path).ok().hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_watched_at_their_fixed_directory() {
        assert_eq!(
            directory_of(Path::new("/etc/flowstate/hosts.d/*.yaml")),
            PathBuf::from("/etc/flowstate/hosts.d")
        );
        assert_eq!(
            directory_of(Path::new("/etc/flowstate/*/hosts.yaml")),
            PathBuf::from("/etc/flowstate")
        );
        assert_eq!(
            directory_of(Path::new("flowstate.yaml")),
            PathBuf::from(".")
        );
        assert_eq!(
            directory_of(Path::new("conf/flowstate.yaml")),
            PathBuf::from("conf")
        );
    }

    #[test]
    fn the_hash_changes_with_content_and_new_include_matches() {
        let dir = std::env::temp_dir().join(format!("flowstate-hash-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hosts.d")).unwrap();
        let main = dir.join("main.yaml");
        std::fs::write(&main, "a: 1\n").unwrap();
        let files = vec![main.clone()];
        let globs = vec![dir.join("hosts.d/*.yaml")];
        let first = content_hash(&files, &globs);
        assert_eq!(first, content_hash(&files, &globs));
        std::fs::write(dir.join("hosts.d/new.yaml"), "b: 2\n").unwrap();
        let second = content_hash(&files, &globs);
        assert_ne!(first, second);
        std::fs::write(&main, "a: 2\n").unwrap();
        assert_ne!(second, content_hash(&files, &globs));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
