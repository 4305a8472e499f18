//! ConfigWatcher: notices edits of the configuration and asks the Supervisor to reload it. It
//! never loads, never diffs and never applies: the Supervisor does, the same way for an edit
//! as for SIGHUP and `POST /-/reload`, and tells it what runs afterwards (its include globs
//! are watched too, and so are the tenants' files: the loader lists each tenant's `config`
//! file among them, also while it is missing or broken, so saving its fix is noticed).
//!
//! It watches the *directories* of every config file, included file and include glob, with one
//! inotify watcher: editors save by writing a temporary file and renaming it over the original
//! (a watch on the file itself dies with the first such save), and a Kubernetes ConfigMap
//! update only swaps the `..data` symlink, never touching the file's name. So any event in
//! those directories (access events aside: reading the files would re-trigger forever) starts
//! a short debounce, after which everything is re-read and compared by content hash; only a
//! change of content asks for a reload. A slow poll of the same hash covers filesystems whose
//! events never arrive (some bind mounts, network filesystems). A file that does not validate
//! is logged by the Supervisor with every error, counted, and ignored: the last good
//! configuration keeps running.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix::prelude::*;
use flowstate_config::{Config, NotifierKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::messages::{ConfigApplied, ReloadConfigNow, ReloadTrigger};

/// Editors and `kubectl` touch files several times per save: wait for quiet before reading.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// How often the content is compared even without any event.
const POLL_EVERY: Duration = Duration::from_secs(5);

pub struct ConfigWatcher {
    /// The `-c` files, as given.
    files: Vec<PathBuf>,
    /// Include globs of the running configuration: new matching files count as edits.
    include_globs: Vec<PathBuf>,
    /// Who reloads (the Supervisor), asked once per change of content.
    reloads: Recipient<ReloadConfigNow>,
    watcher: Option<RecommendedWatcher>,
    /// Watched directories with the identity (inode) of the directory the watch is on.
    watched: BTreeMap<PathBuf, u64>,
    /// The hash of the content last looked at, valid or not, so one bad save is logged once.
    last_seen: u64,
    /// The one pending debounce timer: each event restarts it. One timer, not one per
    /// event: actix polls every timer of an actor on each message it handles.
    debounce: Option<SpawnHandle>,
    /// Names of files flowstate itself writes in watched directories (the state store and
    /// its journal, file notifiers): their events are dropped on the watcher thread, or a
    /// state store next to the config would trigger a re-read with every write.
    own_files: Arc<RwLock<HashSet<OsString>>>,
}

/// Something changed in a watched directory.
#[derive(Message)]
#[rtype(result = "()")]
struct FilesChanged {
    /// Paths the event says were removed: a watched directory among them lost its watch.
    removed: Vec<PathBuf>,
}

impl ConfigWatcher {
    /// `config` is the configuration already running, read from `files`; `reloads` is asked to
    /// reload when their content changes.
    pub fn new(files: Vec<PathBuf>, config: &Config, reloads: Recipient<ReloadConfigNow>) -> Self {
        let include_globs = config.include_globs.clone();
        let last_seen = content_hash(&files, &include_globs);
        let own_files = Arc::new(RwLock::new(own_file_names(config, &files)));
        ConfigWatcher {
            files,
            include_globs,
            reloads,
            watcher: None,
            watched: BTreeMap::new(),
            last_seen,
            debounce: None,
            own_files,
        }
    }

    /// Keeps a watch on the directory of every config file and include glob. A directory that
    /// does not exist (yet, or any more) is watched through its nearest existing ancestor, so
    /// its creation is an event too; a watch whose directory vanished is forgotten so the
    /// directory is watched again when it comes back (also when it was replaced by a new one
    /// of the same name: the old watch is on the old inode). Cheap: runs on every event and
    /// poll.
    fn watch_directories(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let stale: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(dir, inode)| directory_inode(dir) != Some(**inode))
            .map(|(dir, _)| dir.clone())
            .collect();
        for dir in stale {
            // The watch may already be gone with its directory; either way it is forgotten.
            let _ = watcher.unwatch(&dir);
            self.watched.remove(&dir);
        }
        let wanted: BTreeSet<PathBuf> = self
            .files
            .iter()
            .chain(&self.include_globs)
            .map(|p| nearest_existing(&directory_of(p)))
            .collect();
        let missing: Vec<PathBuf> = wanted
            .into_iter()
            .filter(|d| !self.watched.contains_key(d))
            .collect();
        for dir in &missing {
            let Some(inode) = directory_inode(dir) else {
                continue;
            };
            match watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir.clone(), inode);
                }
                Err(e) => log::warn!(
                    directory = dir.display().to_string().as_str(),
                    error = e.to_string().as_str();
                    "cannot watch this directory; edits there are noticed by polling only"
                ),
            }
        }
    }

    /// Re-reads everything; asks for a reload if the content changed. The Supervisor loads
    /// the files on the loader thread ([`crate::config_load`]), one load at a time, and a
    /// change asked about during a load is loaded after it.
    fn reload_if_changed(&mut self, ctx: &mut Context<Self>) {
        self.watch_directories();
        let hash = content_hash(&self.files, &self.include_globs);
        if hash == self.last_seen {
            return;
        }
        self.last_seen = hash;
        // `cmd > flowstate.yaml` empties the file before the writer's first byte: an empty
        // main file is almost always a save in progress, and applying it would drop every
        // host with its state. Wait for content (the next event or poll brings it).
        if let Some(empty) = self.files.iter().find(|f| is_blank(f)) {
            log::warn!(file = empty.display().to_string().as_str(); "config file is empty; keeping the running configuration until it has content");
            return;
        }
        // The Supervisor logs the outcome, applied or rejected.
        let asked = self.reloads.send(ReloadConfigNow {
            trigger: ReloadTrigger::FilesEdited,
        });
        ctx.spawn(
            async move {
                if let Err(e) = asked.await {
                    log::error!(error = e.to_string().as_str(); "the supervisor did not take the new configuration");
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for ConfigWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let address = ctx.address();
        let own_files = self.own_files.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                Ok(event) if matches!(event.kind, EventKind::Access(_)) => {}
                Ok(event) if only_own_files(&event.paths, &own_files) => {}
                Ok(event) => {
                    let removed = match event.kind {
                        EventKind::Remove(_) => event.paths,
                        _ => Vec::new(),
                    };
                    address.do_send(FilesChanged { removed });
                }
                // A lost event (queue overflow) may hide an edit: look again.
                Err(_) => address.do_send(FilesChanged {
                    removed: Vec::new(),
                }),
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

impl Handler<ConfigApplied> for ConfigWatcher {
    type Result = ();

    /// Watches what the configuration now running includes, and ignores the files it makes
    /// flowstate write (the running configuration's: a state path that cannot change while
    /// running keeps its running value).
    fn handle(&mut self, ConfigApplied(config): ConfigApplied, _: &mut Context<Self>) {
        if let Ok(mut own) = self.own_files.write() {
            *own = own_file_names(&config, &self.files);
        }
        if config.include_globs != self.include_globs {
            self.include_globs = config.include_globs.clone();
            // Files matched by a new glob are part of the content from now on.
            self.last_seen = content_hash(&self.files, &self.include_globs);
        }
        self.watch_directories();
    }
}

impl Handler<FilesChanged> for ConfigWatcher {
    type Result = ();

    fn handle(&mut self, msg: FilesChanged, ctx: &mut Context<Self>) {
        // A removed directory takes its watch with it, and a new one of the same name may
        // even get the same inode: forget the watch now so the next look watches it again.
        for path in &msg.removed {
            self.watched
                .retain(|dir, _| !(path == dir || path.ends_with(dir)));
        }
        if let Some(pending) = self.debounce.take() {
            ctx.cancel_future(pending);
        }
        self.debounce = Some(ctx.run_later(DEBOUNCE, |act, ctx| {
            act.debounce = None;
            act.reload_if_changed(ctx);
        }));
    }
}

/// The file names flowstate writes itself: the state store with its `-wal`, `-shm` and
/// `-journal` companions, and file notifiers' files; never a name of a config file.
fn own_file_names(config: &Config, files: &[PathBuf]) -> HashSet<OsString> {
    let mut names = HashSet::new();
    if let Some(name) = config.state.path.as_deref().and_then(Path::file_name) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut companion = name.to_os_string();
            companion.push(suffix);
            names.insert(companion);
        }
    }
    for notifier in &config.notifiers {
        if let NotifierKind::File { path } = &notifier.kind {
            if let Some(name) = path.file_name() {
                names.insert(name.to_os_string());
            }
        }
    }
    for file in files {
        if let Some(name) = file.file_name() {
            names.remove(name);
        }
    }
    names
}

/// Whether every path of an event is a file flowstate writes itself.
fn only_own_files(paths: &[PathBuf], own: &RwLock<HashSet<OsString>>) -> bool {
    let Ok(own) = own.read() else {
        return false;
    };
    !paths.is_empty()
        && paths
            .iter()
            .all(|p| p.file_name().is_some_and(|name| own.contains(name)))
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

/// The path itself if it is a directory, else its nearest ancestor that is.
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut candidate = dir.to_path_buf();
    while !candidate.is_dir() {
        if !candidate.pop() || candidate.as_os_str().is_empty() {
            return PathBuf::from(".");
        }
    }
    candidate
}

/// The inode of a directory, or `None` when there is no directory there.
fn directory_inode(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| m.ino())
}

/// Whether a config file exists but holds nothing but white space.
fn is_blank(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.iter().all(u8::is_ascii_whitespace))
}

/// A hash of every config file's and every include match's name and content: equal hashes
/// mean nothing to reload. Unreadable files hash as absent, so their return is a change.
fn content_hash(files: &[PathBuf], include_globs: &[PathBuf]) -> u64 {
    let mut paths: Vec<PathBuf> = files.to_vec();
    for pattern in include_globs {
        // The loader's own walk: it reads each directory once, so a symlink loop under a
        // `**` glob ends (the `glob` crate walked it forever, on every change).
        if let Ok(matches) = flowstate_config::load::include_files(pattern) {
            paths.extend(matches);
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
    fn writes_of_the_state_store_and_notifier_files_are_not_edits() {
        let yaml = "state: { path: state.db }\nnotifiers:\n  audit: { type: file, path: alerts.jsonl }\n  odd: { type: file, path: flowstate.yaml }\n";
        let config = flowstate_config::load_str("conf/flowstate.yaml", yaml, &|_| None).unwrap();
        let own = RwLock::new(own_file_names(
            &config,
            &[PathBuf::from("conf/flowstate.yaml")],
        ));
        for name in [
            "state.db",
            "state.db-wal",
            "state.db-shm",
            "state.db-journal",
            "alerts.jsonl",
        ] {
            assert!(
                only_own_files(&[PathBuf::from("conf").join(name)], &own),
                "{name}"
            );
        }
        // A config file is never ignored, even when a notifier writes a file of its name.
        assert!(!only_own_files(
            &[PathBuf::from("conf/flowstate.yaml")],
            &own
        ));
        assert!(!only_own_files(&[PathBuf::from("conf/..data")], &own));
        assert!(!only_own_files(
            &[
                PathBuf::from("conf/state.db-wal"),
                PathBuf::from("conf/hosts.yaml")
            ],
            &own
        ));
        assert!(
            !only_own_files(&[], &own),
            "an event without paths may be anything"
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

    /// Stands in for the Supervisor: records the reloads asked for, applies nothing.
    struct AskedReloads(Arc<std::sync::Mutex<Vec<ReloadTrigger>>>);

    impl Actor for AskedReloads {
        type Context = Context<Self>;
    }

    impl Handler<ReloadConfigNow> for AskedReloads {
        type Result = Result<crate::messages::ReloadApplied, Vec<String>>;

        fn handle(&mut self, msg: ReloadConfigNow, _: &mut Context<Self>) -> Self::Result {
            if let Ok(mut asked) = self.0.lock() {
                asked.push(msg.trigger);
            }
            Ok(crate::messages::ReloadApplied {
                diff: flowstate_config::ConfigDiff::default(),
                failed_tenants: Vec::new(),
            })
        }
    }

    /// Waits until `asked` holds `n` asks, or a deadline far beyond the debounce passes.
    async fn wait_for_asks(asked: &std::sync::Mutex<Vec<ReloadTrigger>>, n: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let count = asked.lock().map_or(0, |a| a.len());
            if count >= n || std::time::Instant::now() > deadline {
                return count;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[actix_rt::test]
    async fn an_edit_asks_for_a_reload_and_an_applied_include_glob_is_watched() {
        let dir = std::env::temp_dir().join(format!("flowstate-asks-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hosts.d")).unwrap();
        let main = dir.join("main.yaml");
        std::fs::write(&main, "hosts: []\n").unwrap();
        let config = flowstate_config::load(std::slice::from_ref(&main)).unwrap();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let reloads = AskedReloads(asked.clone()).start().recipient();
        let watcher = ConfigWatcher::new(vec![main.clone()], &config, reloads).start();
        // Answered once the watcher has started, and so watches the directory.
        let told = watcher.send(ConfigApplied(Arc::new(config.clone()))).await;
        assert!(told.is_ok(), "{told:?}");

        std::fs::write(&main, "hosts: []\n# edited\n").unwrap();
        assert_eq!(wait_for_asks(&asked, 1).await, 1);

        // Told that the running configuration includes `hosts.d/*.yaml`, the watcher counts a
        // new file there as an edit.
        let mut including = config.clone();
        including.include_globs = vec![dir.join("hosts.d/*.yaml")];
        let told = watcher.send(ConfigApplied(Arc::new(including))).await;
        assert!(told.is_ok(), "{told:?}");
        std::fs::write(dir.join("hosts.d/more.yaml"), "hosts: []\n").unwrap();
        assert_eq!(wait_for_asks(&asked, 2).await, 2);
        std::fs::remove_dir_all(&dir).unwrap();
        let asked = asked.lock().map(|a| a.clone()).unwrap_or_default();
        assert_eq!(asked, [ReloadTrigger::FilesEdited; 2]);
    }
}
