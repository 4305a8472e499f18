//! Hot reload of a running `flowstate run`: real files edited every way users edit them, real
//! signals, the real `/-/reload` endpoint, against loopback targets.
//!
//! Grouped by concern, like vector's reload tests:
//! - [`reload`]: every edit pattern is noticed and applied (rename, in place, `cp`, include
//!   globs, also through a symlink loop, a Kubernetes ConfigMap swap, polling where no event
//!   arrives), and so are SIGHUP and `POST /-/reload` (with the diff it answers); every attempt
//!   logs its outcome.
//! - [`doesnt_reload`]: what must not change the running configuration: unchanged content,
//!   files that are not part of it, a bad edit (kept out, logged, counted, answered with every
//!   error, then recovered from), hostile files (deeply nested) on every reload path, settings
//!   that need a restart.
//! - [`transient_state`]: what survives a reload and what leaves with it: status, `since`,
//!   counters and history of kept hosts; checks, API entries, metric series and events of
//!   removed ones; bursts of edits while hosts are checked; a changed host's check in flight.
//!
//! An edit must be applied within 2 s (a 250 ms debounce, then a re-read); the tests wait
//! [`APPLY_DEADLINE`] (5 s) so a loaded machine does not fail them, and print the latency they
//! saw (`cargo test reload -- --nocapture | grep 'applied in'`). Everything else is awaited by
//! polling the API, the log or the notifier file; where a test must show that something does
//! *not* happen, it lets the other hosts' check counts be the clock, never a bare sleep.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::configs::{
    document_serving, document_with_notifiers, host, nested_defaults, symlink_loop_sandbox, ALERTS,
};
use crate::common::daemon::{complete_lines, http_get, http_request, post_edit, start_at, Answer};
use crate::common::hosts::{checks, history, let_checks_pass};
use crate::common::scrape::{metrics, sample, scrape};
use crate::common::target::StallServer;
use crate::common::wait::{wait_for, wait_until};
use crate::common::{closed_port, start, Daemon, Response, Sandbox, TestServer, DEADLINE};

/// How long an edit may take to show in the API. The promise is [`PROMISE`]; the slack is for
/// a loaded machine, and the latency seen is printed.
const APPLY_DEADLINE: Duration = Duration::from_secs(5);

/// How soon an edit is promised to apply. Only tests where the 5 s poll would hide a watch
/// that is missing hold the daemon to it.
const PROMISE: Duration = Duration::from_secs(2);

/// The config file the daemon runs on, relative to the sandbox: in a directory of its own, so
/// the sandbox root can hold files that are not part of the configuration.
const CONFIG: &str = "conf/flowstate.yaml";

/// Fast checks that tolerate a loaded machine: a single slow answer is not an outage.
const FAST: &str = "interval: 100ms, timeout: 100ms, failure_threshold: 3";

/// A config document: the API on a free port, `top` (more top-level lines, e.g. `include`),
/// `defaults` (the inside of a flow mapping) and two notifiers every host alerts: `console`
/// (stdout, text) and `audit` (the file [`ALERTS`]).
fn document(top: &str, defaults: &str, hosts: &[String]) -> String {
    document_serving("listen: \"127.0.0.1:0\"", top, defaults, hosts)
}

/// An included file: only hosts.
fn hosts_file(hosts: &[String]) -> String {
    format!("hosts:\n{}", hosts.concat())
}

/// A loopback target that answers `200` to every path.
fn healthy() -> TestServer {
    TestServer::always(Response::ok("fine"))
}

// --- Edits ------------------------------------------------------------------------------

/// Writes `contents` next to `path` and renames it over `path`: how `sed -i`, most editors and
/// config management tools save.
fn write_by_rename(path: &Path, contents: &str) {
    let name = path.file_name().unwrap().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    fs::write(&temporary, contents).expect("write the temporary file");
    fs::rename(&temporary, path).expect("rename it over the file");
}

/// Truncates `path` and writes `contents` into the same inode, in two writes.
fn truncate_and_write(path: &Path, contents: &str) {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open the file for writing");
    let (first, second) = contents.split_at(contents.len() / 2);
    file.write_all(first.as_bytes()).expect("write");
    file.flush().expect("flush");
    file.write_all(second.as_bytes()).expect("write");
}

/// Runs a command of the system (`cp`, `sed`, `touch`) and fails the test if it fails.
#[track_caller]
fn run(program: &str, args: &[&Path]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed: {status}");
}

// --- Observations -----------------------------------------------------------------------

/// Polls `probe` with the API address until it gives something, at most [`APPLY_DEADLINE`];
/// returns it, and prints how long after `since` that was.
#[track_caller]
fn applied<T>(
    daemon: &mut Daemon,
    since: Instant,
    what: &str,
    probe: impl FnMut(SocketAddr) -> Option<T>,
) -> T {
    applied_within(APPLY_DEADLINE, daemon, since, what, probe)
}

/// [`applied`] with a deadline of `within` after `since`.
#[track_caller]
fn applied_within<T>(
    within: Duration,
    daemon: &mut Daemon,
    since: Instant,
    what: &str,
    mut probe: impl FnMut(SocketAddr) -> Option<T>,
) -> T {
    let api = daemon.api();
    let left = within.saturating_sub(since.elapsed());
    match wait_for(left, what, || probe(api)) {
        Ok(value) => {
            eprintln!("reload: {what}: applied in {:?}", since.elapsed());
            value
        }
        Err(timed_out) => panic!("{timed_out}\n{daemon}"),
    }
}

/// Waits (at most [`APPLY_DEADLINE`] after `since`) until the API lists exactly `labels`, in
/// this order.
#[track_caller]
fn wait_for_labels(daemon: &mut Daemon, since: Instant, what: &str, labels: &[&str]) {
    wait_for_labels_within(APPLY_DEADLINE, daemon, since, what, labels);
}

/// [`wait_for_labels`] with a deadline of `within` after `since`.
#[track_caller]
fn wait_for_labels_within(
    within: Duration,
    daemon: &mut Daemon,
    since: Instant,
    what: &str,
    labels: &[&str],
) {
    applied_within(within, daemon, since, what, |api| {
        let listed = labels_of(api)?;
        (listed == labels).then_some(())
    });
}

/// The labels `/api/v1/hosts` lists, in order.
fn labels_of(api: SocketAddr) -> Option<Vec<String>> {
    let answer = http_get(api, "/api/v1/hosts").ok()?;
    let hosts = answer.json().ok()?;
    hosts
        .as_array()?
        .iter()
        .map(|h| h["label"].as_str().map(str::to_string))
        .collect()
}

/// The labels the daemon's API lists now.
#[track_caller]
fn labels(daemon: &mut Daemon) -> Vec<String> {
    let api = daemon.api();
    labels_of(api).unwrap_or_else(|| panic!("cannot list the hosts\n{daemon}"))
}

/// `N added, N removed, N changed, N unchanged` of every `config reloaded` log line so far.
fn reloads(daemon: &Daemon) -> Vec<String> {
    daemon
        .log_lines()
        .iter()
        .filter_map(|line| {
            let summary = line.split_once("config reloaded: ")?.1;
            let end = summary.find(" unchanged")? + " unchanged".len();
            Some(summary[..end].to_string())
        })
        .collect()
}

/// Waits until the log has `n` `config reloaded` lines, and returns their summaries.
#[track_caller]
fn wait_for_reloads(daemon: &mut Daemon, n: usize) -> Vec<String> {
    match wait_for(DEADLINE, &format!("{n} reloads are logged"), || {
        let seen = reloads(daemon);
        (seen.len() >= n).then_some(seen)
    }) {
        Ok(seen) => seen,
        Err(timed_out) => panic!("{timed_out}\n{daemon}"),
    }
}

const RELOADS_FAILED: &str = "flowstate_config_reloads_total{result=\"failure\"}";
const RELOADS_APPLIED: &str = "flowstate_config_reloads_total{result=\"success\"}";
const LAST_RELOAD_OK: &str = "flowstate_config_last_reload_successful";
const LAST_RELOAD_AT: &str = "flowstate_config_last_reload_success_timestamp_seconds";

/// Every event the file notifier wrote so far (complete lines), each parsed.
#[track_caller]
fn events(sandbox: &Sandbox) -> Vec<Value> {
    // Relative paths in a config file are taken from its directory.
    sandbox.events(&format!("conf/{ALERTS}"))
}

/// No notifier heard of anything: no stdout line, no line in [`ALERTS`].
#[track_caller]
fn assert_no_alerts(sandbox: &Sandbox, daemon: &Daemon) {
    assert!(
        events(sandbox).is_empty(),
        "alerts were sent: {:?}\n{daemon}",
        events(sandbox)
    );
    assert!(
        daemon.stdout_lines().is_empty(),
        "alerts were printed\n{daemon}"
    );
}

/// How many requests `server` received for `path`.
fn requests_to(server: &TestServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path() == path)
        .count()
}

/// `POST /-/reload`.
#[track_caller]
fn post_reload(daemon: &mut Daemon) -> Answer {
    let api = daemon.api();
    http_request(api, "POST", "/-/reload", &[], "")
        .unwrap_or_else(|e| panic!("POST /-/reload failed: {e}\n{daemon}"))
}

/// The labels of one list of a `/-/reload` summary.
#[track_caller]
fn summary_list(summary: &Value, key: &str) -> Vec<String> {
    summary[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` list in the summary {summary}"))
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The same FNV-1a as the daemon's schedule: a host's first check comes `phase` after start.
fn label_phase(label: &str, interval: Duration) -> Duration {
    let hash = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    Duration::from_nanos((u128::from(hash) % interval.as_nanos()) as u64)
}

/// A label starting with `prefix` whose checks come early in `interval` (between 5 % and
/// 10 % of it), so a test with a long interval does not wait a whole one for the first check.
fn early_label(prefix: &str, interval: Duration) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|label| {
            let phase = label_phase(label, interval);
            phase >= interval / 20 && phase <= interval / 10
        })
        .expect("some label is early")
}

/// A config file that the watcher cannot see change: `conf/flowstate.yaml` is a symlink to
/// `store/flowstate.yaml`, and only `conf/` is watched, so edits of the stored file arrive by
/// SIGHUP, `/-/reload` or the slow poll alone. Returns the stored file's path.
fn unwatched_config(sandbox: &Sandbox, contents: &str) -> PathBuf {
    let stored = sandbox.write("store/flowstate.yaml", contents);
    fs::create_dir_all(sandbox.path().join("conf")).expect("create conf/");
    symlink("../store/flowstate.yaml", sandbox.path().join(CONFIG)).expect("symlink the config");
    stored
}

/// A config whose API listens on a free port, checking `target` every second.
fn reloadable_config(target: &TestServer) -> String {
    format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\ndefaults: {{ interval: 1s }}\nhosts:\n  - {{ label: web, url: '{}' }}\n",
        target.url("/")
    )
}

/// Waits until the log has more than `before` lines that contain `text`; returns the newest.
#[track_caller]
fn wait_for_another_log_line(daemon: &mut Daemon, before: usize, text: &str) -> String {
    let found = wait_for(DEADLINE, &format!("another log line with {text:?}"), || {
        let lines = daemon.log_lines_with(&[text]);
        (lines.len() > before).then(|| lines.last().cloned().unwrap_or_default())
    });
    found.unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"))
}

/// Checks every 100 ms, in the tests of `POST /-/reload` on a daemon [`start`]ed by the test.
const EVERY_100MS: &str = "interval: 100ms, timeout: 100ms";

/// A daemon on `keep`, `retimed` (hourly) and `leaving`, edited by `POST /-/reload` into
/// `keep`, `retimed` (every 200 ms) and `newcomer`, each checking `web`; returns the answer
/// to the POST that applied the edit.
fn edited_by_post_reload(web: &TestServer) -> (Sandbox, Daemon, Answer) {
    let config = |retimed: &str, third: &str| {
        document_with_notifiers(
            "",
            EVERY_100MS,
            "",
            &[
                host("keep", &web.url("/keep"), ""),
                host(
                    "retimed",
                    &web.url("/retimed"),
                    &format!("interval: {retimed}"),
                ),
                host(third, &web.url(&format!("/{third}")), ""),
            ],
        )
    };
    let original = config("1h", "leaving");
    let (sandbox, mut daemon) = start(&original);
    daemon.wait_for_checks("keep", 1);
    let edited = config("200ms", "newcomer");
    let answer = post_edit(&sandbox, &mut daemon, &original, &edited);
    (sandbox, daemon, answer)
}

// ---------------------------------------------------------------------------------------

// Named like vector's groups, inside a module of the same name.
#[allow(clippy::module_inception)]
mod reload {
    //! Every way of editing the configuration is noticed and applied.

    use super::*;

    /// Starts on hosts `kept` and `before`, lets `edit` turn the file (given its path and the
    /// wanted contents) into one with `kept` and `after`, and checks that exactly that is
    /// applied, promptly, with one reload and nothing alerted.
    fn edit_is_applied(how: &str, edit: impl FnOnce(&Sandbox, &Path, &str)) {
        let server = healthy();
        let config = |second: &str| {
            document(
                "",
                FAST,
                &[
                    host("kept", &server.url("/kept"), ""),
                    host(second, &server.url(&format!("/{second}")), ""),
                ],
            )
        };
        let (sandbox, mut daemon) = start_at(CONFIG, &config("before"));
        let kept = daemon.wait_for_status("kept", "up");
        daemon.wait_for_status("before", "up");

        let path = sandbox.path().join(CONFIG);
        edit(&sandbox, &path, &config("after"));
        let edited = Instant::now();
        wait_for_labels(&mut daemon, edited, how, &["kept", "after"]);

        assert_eq!(daemon.get("/api/v1/hosts/before").status, 404);
        daemon.wait_for_checks("after", 1);
        let later = let_checks_pass(&mut daemon, "kept", 3);
        assert_eq!(later["since"], kept["since"], "{later}");
        assert_eq!(
            reloads(&daemon),
            ["1 added, 1 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        assert_no_alerts(&sandbox, &daemon);
        assert!(daemon.log_lines_with(&["rejected"]).is_empty(), "{daemon}");
    }

    #[test]
    fn write_to_temporary_and_rename_over_is_applied() {
        edit_is_applied("a rename over the file", |_, path, contents| {
            write_by_rename(path, contents);
        });
    }

    /// Vim's default save of a file with one link: the original becomes the backup, a new file
    /// is written under the name, the backup is deleted. For a moment there is no file at all.
    #[test]
    fn vim_style_save_through_a_backup_is_applied() {
        edit_is_applied("a vim-style save", |_, path, contents| {
            let backup = path.with_file_name("flowstate.yaml~");
            fs::rename(path, &backup).expect("move the original to the backup");
            fs::write(path, contents).expect("write the new file");
            fs::remove_file(&backup).expect("delete the backup");
        });
    }

    #[test]
    fn sed_in_place_is_applied() {
        edit_is_applied("sed -i", |_, path, _| {
            let status = Command::new("sed")
                .arg("-i")
                .arg("-e")
                .arg("s/before/after/g")
                .arg(path)
                .status()
                .expect("run sed");
            assert!(status.success(), "sed failed: {status}");
        });
    }

    #[test]
    fn truncate_and_write_in_place_is_applied() {
        edit_is_applied("a truncate-and-write in place", |_, path, contents| {
            truncate_and_write(path, contents);
        });
    }

    #[test]
    fn cp_over_the_file_is_applied() {
        edit_is_applied("cp over the file", |sandbox, path, contents| {
            let staged = sandbox.write("staged.yaml", contents);
            run("cp", &[&staged, path]);
        });
    }

    #[test]
    fn new_and_removed_files_of_an_include_glob_are_applied() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        sandbox.write(
            CONFIG,
            &document("include: [\"hosts.d/*.yaml\"]\n", FAST, &[item("main")]),
        );
        sandbox.write("conf/hosts.d/one.yaml", &hosts_file(&[item("one")]));
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("one", "up");

        // A new file is written in place, as `kubectl cp` or a provisioning tool would.
        sandbox.write("conf/hosts.d/two.yaml", &hosts_file(&[item("two")]));
        let added = Instant::now();
        wait_for_labels(
            &mut daemon,
            added,
            "a new include file",
            &["main", "one", "two"],
        );
        daemon.wait_for_checks("two", 1);

        fs::remove_file(sandbox.path().join("conf/hosts.d/one.yaml")).expect("remove one.yaml");
        let removed = Instant::now();
        wait_for_labels(
            &mut daemon,
            removed,
            "a removed include file",
            &["main", "two"],
        );

        assert_eq!(
            wait_for_reloads(&mut daemon, 2),
            [
                "1 added, 0 removed, 0 changed, 2 unchanged",
                "0 added, 1 removed, 0 changed, 2 unchanged"
            ],
            "{daemon}"
        );
        assert_no_alerts(&sandbox, &daemon);
    }

    #[test]
    fn edit_of_an_included_file_is_applied() {
        let server = healthy();
        let item = |label: &str, extra: &str| host(label, &server.url(&format!("/{label}")), extra);
        let sandbox = Sandbox::new();
        sandbox.write(
            CONFIG,
            &document(
                "include: [\"teams/payments.yaml\"]\n",
                FAST,
                &[item("main", "")],
            ),
        );
        let included = sandbox.write(
            "conf/teams/payments.yaml",
            &hosts_file(&[item("checkout", "")]),
        );
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("checkout", "up");

        truncate_and_write(
            &included,
            &hosts_file(&[
                item("checkout", "headers: { X-Team: payments }"),
                item("refunds", ""),
            ]),
        );
        let edited = Instant::now();
        wait_for_labels(
            &mut daemon,
            edited,
            "an edit of an included file",
            &["main", "checkout", "refunds"],
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1)[0],
            "1 added, 0 removed, 1 changed, 1 unchanged",
            "{daemon}"
        );
        // The changed host runs with its new header.
        let checked = requests_to(&server, "/checkout");
        wait_for(DEADLINE, "checkout is checked with its new header", || {
            server
                .requests()
                .iter()
                .filter(|r| r.path() == "/checkout")
                .skip(checked)
                .any(|r| r.header("X-Team") == Some("payments"))
                .then_some(())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
        assert_no_alerts(&sandbox, &daemon);
    }

    /// An include directory that does not exist at start: created later, with a file in it
    /// written a while after, as a provisioning tool does in two steps. The 5 s poll would
    /// find the file too, so the test holds the daemon to its promise of 2 s.
    #[test]
    fn include_directory_created_after_start_is_watched() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        sandbox.write(
            CONFIG,
            &document("include: [\"hosts.d/*.yaml\"]\n", FAST, &[item("main")]),
        );
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("main", "up");

        fs::create_dir(sandbox.path().join("conf/hosts.d")).expect("create hosts.d");
        let_checks_pass(&mut daemon, "main", 5);
        sandbox.write("conf/hosts.d/new.yaml", &hosts_file(&[item("new")]));
        let written = Instant::now();
        wait_for_labels_within(
            PROMISE,
            &mut daemon,
            written,
            "a file in a new include directory",
            &["main", "new"],
        );
    }

    /// A deploy tool that replaces the include directory (`rm -rf hosts.d; cp -r ...`): the
    /// replacement is applied, and so are later edits inside the new directory, within the
    /// promised 2 s (the 5 s poll would find them too).
    #[test]
    fn include_directory_replaced_stays_watched() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        sandbox.write(
            CONFIG,
            &document("include: [\"hosts.d/*.yaml\"]\n", FAST, &[item("main")]),
        );
        sandbox.write("conf/hosts.d/one.yaml", &hosts_file(&[item("one")]));
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("one", "up");

        let dir = sandbox.path().join("conf/hosts.d");
        fs::remove_dir_all(&dir).expect("remove hosts.d");
        sandbox.write("conf/hosts.d/two.yaml", &hosts_file(&[item("two")]));
        let replaced = Instant::now();
        wait_for_labels(
            &mut daemon,
            replaced,
            "a replaced include directory",
            &["main", "two"],
        );
        let_checks_pass(&mut daemon, "main", 3);

        truncate_and_write(
            &dir.join("two.yaml"),
            &hosts_file(&[item("two"), item("three")]),
        );
        let edited = Instant::now();
        wait_for_labels_within(
            PROMISE,
            &mut daemon,
            edited,
            "an edit in the replaced include directory",
            &["main", "two", "three"],
        );
    }

    /// A ConfigMap volume: `flowstate.yaml -> ..data/flowstate.yaml`, `..data -> ..<stamp>`.
    /// The kubelet writes a new timestamped directory, points `..data_tmp` at it, renames that
    /// over `..data` and deletes the old directory: the file's own name is never touched.
    #[test]
    fn kubernetes_configmap_update_is_applied() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        let conf = sandbox.path().join("conf");
        sandbox.write(
            "conf/..2026_11_28_A/flowstate.yaml",
            &document("", FAST, &[item("api"), item("web")]),
        );
        symlink("..2026_11_28_A", conf.join("..data")).expect("symlink ..data");
        symlink("..data/flowstate.yaml", conf.join("flowstate.yaml")).expect("symlink the file");
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("web", "up");

        sandbox.write(
            "conf/..2026_11_28_B/flowstate.yaml",
            &document("", FAST, &[item("api"), item("worker")]),
        );
        symlink("..2026_11_28_B", conf.join("..data_tmp")).expect("symlink ..data_tmp");
        fs::rename(conf.join("..data_tmp"), conf.join("..data")).expect("swap ..data");
        fs::remove_dir_all(conf.join("..2026_11_28_A")).expect("remove the old directory");
        let swapped = Instant::now();
        wait_for_labels(
            &mut daemon,
            swapped,
            "a ConfigMap update",
            &["api", "worker"],
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1)[0],
            "1 added, 1 removed, 0 changed, 1 unchanged",
            "{daemon}"
        );
        daemon.wait_for_checks("worker", 1);
        assert_no_alerts(&sandbox, &daemon);
    }

    /// Where no event arrives (some bind mounts, network filesystems), the content is still
    /// compared every 5 s.
    #[test]
    fn edits_without_events_are_found_by_polling() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        let stored = unwatched_config(&sandbox, &document("", FAST, &[item("first")]));
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("first", "up");

        truncate_and_write(
            &stored,
            &document("", FAST, &[item("first"), item("second")]),
        );
        let edited = Instant::now();
        let api = daemon.api();
        wait_for(Duration::from_secs(10), "the poll finds the edit", || {
            (labels_of(api)? == ["first", "second"]).then_some(())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
        eprintln!(
            "reload: an edit without events: applied in {:?}",
            edited.elapsed()
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1)[0],
            "1 added, 0 removed, 0 changed, 1 unchanged"
        );
    }

    /// The file is edited where the watcher does not look ([`unwatched_config`]), so the
    /// reload is the signal's doing. (Once in a while the 5 s poll may get there in the same
    /// millisecond; everything asserted holds either way.)
    #[test]
    fn sighup_applies_an_edit_and_logs_the_summary() {
        let server = healthy();
        let item = |label: &str, extra: &str| host(label, &server.url(&format!("/{label}")), extra);
        let sandbox = Sandbox::new();
        let stored = unwatched_config(
            &sandbox,
            &document(
                "",
                FAST,
                &[item("keep", ""), item("change", ""), item("leave", "")],
            ),
        );
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("leave", "up");

        write_by_rename(
            &stored,
            &document(
                "",
                FAST,
                &[
                    item("keep", ""),
                    item("change", "interval: 200ms"),
                    item("arrive", ""),
                ],
            ),
        );
        let signalled = Instant::now();
        daemon.signal("HUP");
        wait_for_labels(
            &mut daemon,
            signalled,
            "an edit and SIGHUP",
            &["keep", "change", "arrive"],
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1)[0],
            "1 added, 1 removed, 1 changed, 1 unchanged",
            "{daemon}"
        );
        assert_eq!(
            daemon.log_lines_with(&["SIGHUP received"]).len(),
            1,
            "{daemon}"
        );
        daemon.wait_for_checks("arrive", 1);
        assert_no_alerts(&sandbox, &daemon);
    }

    /// As for SIGHUP, the edit is made where the watcher does not look. Should the 5 s poll
    /// apply it first (the answer then lists the new host as unchanged), the edit is made
    /// again with another new host.
    #[test]
    fn post_reload_applies_an_edit_and_answers_the_summary() {
        let server = healthy();
        let item = |label: &str, extra: &str| host(label, &server.url(&format!("/{label}")), extra);
        let sandbox = Sandbox::new();
        let stored = unwatched_config(
            &sandbox,
            &document(
                "",
                FAST,
                &[item("keep", ""), item("change", ""), item("leave", "")],
            ),
        );
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("leave", "up");

        let mut previous = "leave".to_string();
        for attempt in 1..=3 {
            let arriving = format!("arrive-{attempt}");
            write_by_rename(
                &stored,
                &document(
                    "",
                    FAST,
                    &[
                        item("keep", ""),
                        item("change", &format!("interval: {}ms", 100 + 50 * attempt)),
                        item(&arriving, ""),
                    ],
                ),
            );
            let asked = Instant::now();
            let answer = post_reload(&mut daemon);
            eprintln!("reload: POST /-/reload answered in {:?}", asked.elapsed());
            assert_eq!(answer.status, 200, "{answer}\n{daemon}");
            let summary = answer
                .json()
                .unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
            if summary_list(&summary, "unchanged").contains(&arriving) {
                // The poll was first: nothing left for this request to apply.
                previous = arriving;
                continue;
            }
            assert_eq!(
                summary_list(&summary, "added"),
                [arriving.as_str()],
                "{summary}"
            );
            assert_eq!(
                summary_list(&summary, "removed"),
                [previous.as_str()],
                "{summary}"
            );
            assert_eq!(summary_list(&summary, "changed"), ["change"], "{summary}");
            assert_eq!(summary_list(&summary, "unchanged"), ["keep"], "{summary}");
            // Applied by the time it answers, and the changed host runs on.
            assert_eq!(labels(&mut daemon), ["keep", "change", arriving.as_str()]);
            let_checks_pass(&mut daemon, "change", 2);
            assert_eq!(daemon.get(&format!("/api/v1/hosts/{previous}")).status, 404);
            daemon.wait_for_checks(&arriving, 1);
            assert_no_alerts(&sandbox, &daemon);
            return;
        }
        panic!("the poll applied every edit before /-/reload did\n{daemon}");
    }

    /// A notifier changed by a reload is the one the next alert goes through.
    #[test]
    fn changed_notifier_gets_the_next_alert() {
        let status = Arc::new(AtomicU16::new(200));
        let answer = status.clone();
        let server = TestServer::start(move |_, _| Response::status(answer.load(SeqCst)));
        let config = |file: &str| {
            format!(
                "server: {{ listen: \"127.0.0.1:0\" }}\n\
                 defaults: {{ {FAST}, alerts: [audit] }}\n\
                 notifiers:\n  audit: {{ type: file, path: {file} }}\n\
                 hosts:\n{}",
                host("api", &server.url("/"), "")
            )
        };
        let (sandbox, mut daemon) = start_at(CONFIG, &config("before.jsonl"));
        daemon.wait_for_status("api", "up");

        write_by_rename(&sandbox.path().join(CONFIG), &config("after.jsonl"));
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["0 added, 0 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        status.store(503, SeqCst);
        daemon.wait_for_status("api", "down");
        let after = sandbox.path().join("conf/after.jsonl");
        let line = wait_for(DEADLINE, "the down event is in after.jsonl", || {
            let text = fs::read_to_string(&after).ok()?;
            complete_lines(&text).first().map(|l| l.to_string())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
        assert!(line.contains("\"event\":\"down\""), "{line}");
        assert!(!sandbox.path().join("conf/before.jsonl").exists());
    }

    /// `server.token` is not one of the settings that need a restart, so a reload that rotates
    /// it must be applied: the new token opens the API, the old one no longer does.
    #[test]
    fn rotated_token_is_applied() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let serving = |token: &str| format!("listen: \"127.0.0.1:0\", token: {token}");
        let (sandbox, mut daemon) = start_at(
            CONFIG,
            &document_serving(&serving("old-secret"), "", FAST, &[item("api")]),
        );
        let api = daemon.api();
        let status_with = |token: &str| {
            let bearer = format!("Bearer {token}");
            http_request(
                api,
                "GET",
                "/api/v1/hosts",
                &[("Authorization", &bearer)],
                "",
            )
            .map_or(0, |a| a.status)
        };
        assert_eq!(status_with("old-secret"), 200);
        assert_eq!(status_with("new-secret"), 401);

        // The same edit adds a host, so the log shows when it was applied.
        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document_serving(
                &serving("new-secret"),
                "",
                FAST,
                &[item("api"), item("web")],
            ),
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["1 added, 0 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        let opened = wait_for(APPLY_DEADLINE, "the new token opens the API", || {
            (status_with("new-secret") == 200).then_some(())
        });
        assert!(
            opened.is_ok(),
            "the new token is refused after the reload; warnings: {:?}\n{daemon}",
            daemon.log_lines_with(&["WARN"])
        );
        assert_eq!(
            status_with("old-secret"),
            401,
            "the old token still opens the API"
        );
    }

    #[test]
    fn sighup_applies_an_edit_and_keeps_unchanged_hosts_state() {
        let server = TestServer::always(Response::ok("fine"));
        let defaults = "interval: 200ms, timeout: 200ms";
        let steady = host("steady", &server.url("/steady"), "");
        let (sandbox, mut daemon) = start(&document(
            "",
            defaults,
            &[
                steady.clone(),
                host("retimed", &server.url("/retimed"), "interval: 1h"),
                host("leaving", &server.url("/leaving"), ""),
            ],
        ));
        let before = daemon.wait_for_checks("steady", 3);
        assert_eq!(before["status"], "up", "{before}");

        sandbox.write(
            "flowstate.yaml",
            &document(
                "",
                defaults,
                &[
                    steady,
                    host("retimed", &server.url("/retimed"), "interval: 200ms"),
                    host("newcomer", &server.url("/newcomer"), ""),
                ],
            ),
        );
        daemon.signal("HUP");
        let reloaded =
            daemon.wait_for_log("the reload is logged", |l| l.contains("config reloaded"));
        assert!(
            reloaded.contains("1 added, 1 removed, 1 changed, 1 unchanged"),
            "{reloaded}"
        );
        daemon.wait_for_checks("newcomer", 1);
        // An hourly host would not have run 3 checks: its new interval applies.
        daemon.wait_for_checks("retimed", 3);
        let after = daemon.wait_for_checks("steady", before["checks"].as_u64().unwrap() + 3);
        assert_eq!(after["status"], "up", "{after}");
        assert_eq!(after["since"], before["since"], "{after}");
        assert_eq!(after["transitions"], 1, "{after}");
        assert_eq!(
            history(&after)[0],
            history(&before)[0],
            "the history was lost: {after}"
        );
        assert_eq!(labels(&mut daemon), ["steady", "retimed", "newcomer"]);
        assert_eq!(daemon.get("/api/v1/hosts/leaving").status, 404);
        // The removed host is checked no more.
        let leaving = server
            .requests()
            .iter()
            .filter(|r| r.path() == "/leaving")
            .count();
        daemon.wait_for_checks("steady", after["checks"].as_u64().unwrap() + 3);
        let leaving_later = server
            .requests()
            .iter()
            .filter(|r| r.path() == "/leaving")
            .count();
        assert_eq!(leaving_later, leaving, "a removed host is still checked");
        assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    }

    #[test]
    fn editing_the_config_file_reloads_it_without_a_signal() {
        let server = TestServer::always(Response::ok("fine"));
        let defaults = "interval: 200ms, timeout: 200ms";
        let first = host("first", &server.url("/1"), "");
        let (sandbox, mut daemon) = start(&document("", defaults, std::slice::from_ref(&first)));
        daemon.wait_for_status("first", "up");
        sandbox.write(
            "flowstate.yaml",
            &document(
                "",
                defaults,
                &[first, host("second", &server.url("/2"), "")],
            ),
        );
        daemon.wait_for_checks("second", 1);
    }

    const NOTHING_CHANGED: &str = "config reload: nothing changed";

    #[test]
    fn every_reload_attempt_logs_its_outcome_even_when_nothing_changed() {
        let target = TestServer::always(Response::ok("fine"));
        let sandbox = Sandbox::new();
        let good = reloadable_config(&target);
        sandbox.write("flowstate.yaml", &good);
        let mut daemon = sandbox.daemon("flowstate.yaml").start();
        daemon.wait_for_status("web", "up");

        // A SIGHUP without an edit.
        daemon.signal("HUP");
        let line = wait_for_another_log_line(&mut daemon, 0, NOTHING_CHANGED);
        assert!(line.contains("1 hosts keep running"), "{line}");

        // A bad edit, then the file fixed back to exactly what runs: the last word is not the
        // error.
        sandbox.write(
            "flowstate.yaml",
            &good.replace("interval: 1s", "interval: soon"),
        );
        wait_for_another_log_line(&mut daemon, 0, "config edit rejected");
        let before = daemon.log_lines_with(&[NOTHING_CHANGED]).len();
        sandbox.write("flowstate.yaml", &good);
        wait_for_another_log_line(&mut daemon, before, NOTHING_CHANGED);
        let last_config_line = daemon
            .log_lines()
            .into_iter()
            .rev()
            .find(|l| l.contains("config"))
            .unwrap_or_default();
        assert!(last_config_line.contains(NOTHING_CHANGED), "{daemon}");

        // A real change: its counts once, in the message.
        sandbox.write(
            "flowstate.yaml",
            &format!(
                "{good}  - {{ label: more, url: '{}' }}\n",
                target.url("/more")
            ),
        );
        let line = wait_for_another_log_line(&mut daemon, 0, "config reloaded:");
        assert!(
            line.contains("config reloaded: 1 added, 0 removed, 0 changed, 1 unchanged"),
            "{line}"
        );
        assert!(
            !line.contains("added=") && !line.contains("unchanged="),
            "counts repeated: {line}"
        );
    }

    #[test]
    fn daemon_reloads_a_new_file_under_an_include_symlink_loop() {
        let sandbox = symlink_loop_sandbox("server: { listen: \"127.0.0.1:0\" }\n");
        let mut daemon = sandbox.daemon("flowstate.yaml").start();
        daemon.wait_for_host("a", "is known", |_| true);
        sandbox.write(
            "hosts.d/sub/b.yaml",
            "hosts:\n  - { label: b, type: tcp, address: '127.0.0.1:1', interval: 1h }\n",
        );
        daemon.wait_for_host("b", "is added by the reload", |_| true);
    }

    #[test]
    fn post_reload_answers_the_diff_of_an_edit_as_json() {
        let web = TestServer::always(Response::ok("fine"));
        let (_sandbox, mut daemon, answer) = edited_by_post_reload(&web);
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{answer:?}"
        );
        let summary = answer.json().unwrap();
        let expected: Value = serde_json::json!({
            "added": ["newcomer"],
            "removed": ["leaving"],
            "changed": ["retimed"],
            "unchanged": ["keep"],
        });
        assert_eq!(summary, expected, "{answer}");
        daemon.wait_for_checks("newcomer", 1);
        assert_eq!(daemon.get("/api/v1/hosts/leaving").status, 404);
    }
}

mod doesnt_reload {
    //! What must leave the running configuration as it is.

    use super::*;

    /// Waits long enough for a reload to have happened had one been triggered: four times the
    /// debounce, measured in `clock`'s checks.
    fn let_a_debounce_pass(daemon: &mut Daemon, clock: &str) {
        // 100 ms checks: 10 of them are about 1 s.
        let_checks_pass(daemon, clock, 10);
    }

    #[test]
    fn touch_and_identical_rewrites_do_not_reload() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let contents = document("", FAST, &[item("api")]);
        let (sandbox, mut daemon) = start_at(CONFIG, &contents);
        daemon.wait_for_status("api", "up");
        let path = sandbox.path().join(CONFIG);

        run("touch", &[&path]);
        fs::write(&path, &contents).expect("rewrite the same bytes in place");
        write_by_rename(&path, &contents);
        let_a_debounce_pass(&mut daemon, "api");

        assert!(reloads(&daemon).is_empty(), "{daemon}");
        let text = metrics(&mut daemon);
        assert_eq!(sample(&text, RELOADS_APPLIED), 0.0, "{text}");
        assert_eq!(sample(&text, RELOADS_FAILED), 0.0, "{text}");

        // A real edit afterwards is the one and only reload.
        write_by_rename(&path, &document("", FAST, &[item("api"), item("web")]));
        let edited = Instant::now();
        wait_for_labels(
            &mut daemon,
            edited,
            "a real edit after no-op ones",
            &["api", "web"],
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["1 added, 0 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        assert_no_alerts(&sandbox, &daemon);
    }

    /// Files in watched directories that are not part of the configuration: an editor's swap
    /// file next to the config, a file in an include directory that the glob does not match.
    #[test]
    fn files_outside_the_configuration_do_not_reload() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let sandbox = Sandbox::new();
        sandbox.write(
            CONFIG,
            &document("include: [\"hosts.d/*.yaml\"]\n", FAST, &[item("api")]),
        );
        sandbox.write("conf/hosts.d/web.yaml", &hosts_file(&[item("web")]));
        let mut daemon = sandbox.daemon(CONFIG).start();
        daemon.wait_for_status("web", "up");

        sandbox.write("conf/.flowstate.yaml.swp", "not yaml: [");
        sandbox.write("conf/hosts.d/README.md", "hosts: nothing here");
        sandbox.write(
            "conf/hosts.d/disabled.yaml.off",
            &hosts_file(&[item("disabled")]),
        );
        let_a_debounce_pass(&mut daemon, "api");

        assert!(reloads(&daemon).is_empty(), "{daemon}");
        assert!(daemon.log_lines_with(&["rejected"]).is_empty(), "{daemon}");
        assert_eq!(labels(&mut daemon), ["api", "web"]);
    }

    /// A bad edit through the file (`break_it` gets its path and a target URL): logged with
    /// `error_parts` (each in some `config edit rejected` line), counted, the last good
    /// configuration keeps checking; a good edit then applies and the metric recovers.
    fn bad_edit_keeps_the_running_config(break_it: impl FnOnce(&Path, &str), error_parts: &[&str]) {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let good = document("", FAST, &[item("api")]);
        let (sandbox, mut daemon) = start_at(CONFIG, &good);
        daemon.wait_for_status("api", "up");
        let started = metrics(&mut daemon);
        assert_eq!(sample(&started, LAST_RELOAD_OK), 1.0, "{started}");
        let loaded_at = sample(&started, LAST_RELOAD_AT);
        assert!(loaded_at > 0.0, "{started}");
        let path = sandbox.path().join(CONFIG);

        break_it(&path, &server.url("/api"));
        let edited = Instant::now();
        let text = applied(&mut daemon, edited, "a bad edit is counted", |api| {
            let text = http_get(api, "/metrics").ok()?.body;
            (sample(&text, RELOADS_FAILED) >= 1.0).then_some(text)
        });
        assert_eq!(sample(&text, LAST_RELOAD_OK), 0.0, "{text}");
        assert_eq!(sample(&text, LAST_RELOAD_AT), loaded_at, "{text}");
        // One line per error, logged right after the count.
        for part in error_parts {
            daemon.wait_for_log(&format!("a rejection names {part:?}"), |l| {
                l.contains("config edit rejected") && l.contains(part)
            });
        }

        // The old configuration keeps running, untouched.
        let api = let_checks_pass(&mut daemon, "api", 3);
        assert_eq!(api["status"], "up", "{api}");
        assert_eq!(api["transitions"], 1, "{api}");
        assert_eq!(labels(&mut daemon), ["api"]);
        assert_eq!(daemon.get("/readyz").status, 200);
        assert!(reloads(&daemon).is_empty(), "{daemon}");
        assert_eq!(
            sample(&metrics(&mut daemon), RELOADS_FAILED),
            1.0,
            "counted once"
        );

        // A good edit restores everything.
        write_by_rename(&path, &document("", FAST, &[item("api"), item("fixed")]));
        let fixed = Instant::now();
        wait_for_labels(
            &mut daemon,
            fixed,
            "a good edit after a bad one",
            &["api", "fixed"],
        );
        let text = metrics(&mut daemon);
        assert_eq!(sample(&text, LAST_RELOAD_OK), 1.0, "{text}");
        assert_eq!(sample(&text, RELOADS_APPLIED), 1.0, "{text}");
        assert_eq!(sample(&text, RELOADS_FAILED), 1.0, "{text}");
        assert!(sample(&text, LAST_RELOAD_AT) > loaded_at, "{text}");
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["1 added, 0 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        daemon.wait_for_checks("fixed", 1);
        assert_no_alerts(&sandbox, &daemon);
    }

    #[test]
    fn yaml_syntax_error_keeps_the_running_config_until_a_good_edit() {
        bad_edit_keeps_the_running_config(
            |path, url| {
                write_by_rename(
                    path,
                    &format!("hosts:\n  - label: api\n    url: '{url}'\n  - label: [unclosed\n"),
                );
            },
            &["conf/flowstate.yaml:5:1: "],
        );
    }

    #[test]
    fn validation_errors_keep_the_running_config_until_a_good_edit() {
        bad_edit_keeps_the_running_config(
            |path, url| {
                let text = format!(
                    "hosts:\n  - label: api\n    url: '{url}'\n    interval: banana\n    \
                     failure_threshold: 0\n"
                );
                write_by_rename(path, &text);
            },
            // Every error, the first with its place.
            &[
                "conf/flowstate.yaml:4:15: hosts[0]",
                ".interval: `banana` is not a duration",
                ".failure_threshold: must be at least 1",
            ],
        );
    }

    #[test]
    fn missing_env_var_keeps_the_running_config_until_a_good_edit() {
        bad_edit_keeps_the_running_config(
            |path, url| {
                let text = format!(
                    "hosts:\n  - label: api\n    url: '{url}'\n    \
                     headers: {{ X-Key: \"${{FLOWSTATE_TEST_UNSET}}\" }}\n"
                );
                write_by_rename(path, &text);
            },
            &[
                "conf/flowstate.yaml:4:",
                "environment variable FLOWSTATE_TEST_UNSET is not set",
            ],
        );
    }

    /// The file disappears (a botched deploy): unreadable counts as bad, monitoring goes on.
    #[test]
    fn deleted_config_file_keeps_the_running_config_until_it_is_back() {
        bad_edit_keeps_the_running_config(
            |path, _| fs::remove_file(path).expect("delete the config file"),
            &["conf/flowstate.yaml: cannot read this file"],
        );
    }

    #[test]
    fn post_reload_of_a_bad_file_answers_400_with_every_error() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let (sandbox, mut daemon) = start_at(CONFIG, &document("", FAST, &[item("api")]));
        daemon.wait_for_status("api", "up");

        write_by_rename(
            &sandbox.path().join(CONFIG),
            "hosts:\n  - label: api\n    url: 'http://127.0.0.1:1/'\n    interval: banana\n    \
             failure_threshold: 0\n",
        );
        let answer = post_reload(&mut daemon);
        assert_eq!(answer.status, 400, "{answer}\n{daemon}");
        let body = answer
            .json()
            .unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
        let errors: Vec<&str> = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors list: {body}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(errors.len(), 2, "{body}");
        assert!(errors[0].contains("flowstate.yaml:4:15: "), "{body}");
        assert!(errors[0].contains("`banana` is not a duration"), "{body}");
        assert!(errors[1].contains("failure_threshold"), "{body}");

        let text = metrics(&mut daemon);
        assert_eq!(sample(&text, LAST_RELOAD_OK), 0.0, "{text}");
        assert!(sample(&text, RELOADS_FAILED) >= 1.0, "{text}");
        let api = let_checks_pass(&mut daemon, "api", 3);
        assert_eq!(api["status"], "up", "{api}");
        assert_eq!(labels(&mut daemon), ["api"]);
        assert!(reloads(&daemon).is_empty(), "{daemon}");
    }

    /// `server.listen` and `state.path` cannot change while running: the change is refused
    /// with a warning that names each, the API stays where it is, and the rest of the same
    /// edit is applied.
    #[test]
    fn server_listen_and_state_path_changes_are_refused_with_a_warning_while_the_rest_applies() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let (sandbox, mut daemon) = start_at(CONFIG, &document("", FAST, &[item("api")]));
        daemon.wait_for_status("api", "up");
        let listening = daemon.api();
        let elsewhere = format!(
            "listen: \"127.0.0.1:{}\"",
            crate::common::server::free_port()
        );

        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document_serving(
                &elsewhere,
                "state: { path: state.db }\n",
                FAST,
                &[item("api"), item("web")],
            ),
        );
        let edited = Instant::now();
        wait_for_labels(&mut daemon, edited, "the rest of the edit", &["api", "web"]);
        for setting in ["server.listen", "state.path"] {
            let warning = daemon
                .wait_for_log(&format!("the refusal of {setting} is logged"), |l| {
                    l.contains("WARN") && l.contains(&format!("setting={setting}"))
                });
            assert!(warning.contains("restart"), "{warning}");
        }
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["1 added, 0 removed, 0 changed, 1 unchanged"],
            "{daemon}"
        );
        // Still served where it was, and no state file appeared.
        assert_eq!(daemon.api(), listening);
        assert_eq!(
            http_get(listening, "/healthz").map(|a| a.status).ok(),
            Some(200)
        );
        daemon.wait_for_checks("web", 1);
        assert!(!sandbox.path().join("conf/state.db").exists());
        assert_no_alerts(&sandbox, &daemon);
    }

    /// After a refused `server.listen` change, the file going back to the address the daemon
    /// really listens on changes nothing that needs a restart: no warning.
    #[test]
    fn reverting_a_refused_listen_change_does_not_warn() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let (sandbox, mut daemon) = start_at(CONFIG, &document("", FAST, &[item("api")]));
        daemon.wait_for_status("api", "up");
        let path = sandbox.path().join(CONFIG);
        let elsewhere = format!(
            "listen: \"127.0.0.1:{}\"",
            crate::common::server::free_port()
        );

        write_by_rename(
            &path,
            &document_serving(&elsewhere, "", FAST, &[item("api"), item("web")]),
        );
        wait_for_labels(
            &mut daemon,
            Instant::now(),
            "the first edit",
            &["api", "web"],
        );
        daemon.wait_for_log("the refusal is logged", |l| l.contains("server.listen"));

        write_by_rename(
            &path,
            &document("", FAST, &[item("api"), item("web"), item("db")]),
        );
        wait_for_labels(
            &mut daemon,
            Instant::now(),
            "the revert",
            &["api", "web", "db"],
        );
        wait_for_reloads(&mut daemon, 2);
        let warnings = daemon.log_lines_with(&["server.listen"]);
        assert_eq!(warnings.len(), 1, "{warnings:#?}\n{daemon}");
    }

    #[test]
    fn bad_edit_is_logged_and_keeps_the_last_good_config() {
        let server = TestServer::always(Response::ok("fine"));
        let api_host = host("api", &server.url("/"), "");
        let defaults = "interval: 200ms, timeout: 200ms";
        let (sandbox, mut daemon) = start(&document("", defaults, std::slice::from_ref(&api_host)));
        daemon.wait_for_status("api", "up");

        sandbox.write(
            "flowstate.yaml",
            "hosts:\n  - label: api\n    url: [unclosed\n",
        );
        daemon.signal("HUP");
        let rejected = daemon.wait_for_log("the rejection is logged", |l| {
            l.contains("config reload rejected")
        });
        assert!(rejected.contains("flowstate.yaml:"), "{rejected}");
        let checks = daemon.host("api")["checks"].as_u64().unwrap();
        let api = daemon.wait_for_checks("api", checks + 3);
        assert_eq!(api["status"], "up", "{api}");
        assert_eq!(daemon.hosts().len(), 1);
        assert_eq!(daemon.get("/readyz").status, 200);
        assert!(!daemon.stderr().contains("config reloaded"), "{daemon}");

        // The daemon still takes a good edit afterwards.
        sandbox.write(
            "flowstate.yaml",
            &document(
                "",
                defaults,
                &[api_host, host("second", &server.url("/2"), "")],
            ),
        );
        daemon.signal("HUP");
        daemon.wait_for_checks("second", 1);
    }

    /// A hostile file loaded by a reload never takes the daemon down nor stalls its API: every
    /// reload path rejects it with the place and keeps what runs, and `/healthz` answers all along.
    #[track_caller]
    fn hostile_reload_is_rejected_while_the_daemon_answers(hostile: &str, error_part: &str) {
        let target = TestServer::always(Response::ok("fine"));
        let sandbox = Sandbox::new();
        let good = reloadable_config(&target);
        sandbox.write("flowstate.yaml", &good);
        let mut daemon = sandbox.daemon("flowstate.yaml").start();
        daemon.wait_for_status("web", "up");
        let api = daemon.api();

        // A file edit, then SIGHUP, then the API: three loads of the same file.
        sandbox.write("flowstate.yaml", hostile);
        wait_for_another_log_line(&mut daemon, 0, "config edit rejected");
        daemon.signal("HUP");
        wait_for_another_log_line(&mut daemon, 0, "config reload rejected");
        let answer = http_request(api, "POST", "/-/reload", &[], "")
            .unwrap_or_else(|e| panic!("POST /-/reload: {e}\n{daemon}"));
        assert_eq!(answer.status, 400, "{answer}");
        assert!(answer.body.contains(error_part), "{answer}");
        for line in daemon.log_lines().iter().filter(|l| l.contains("rejected")) {
            assert!(
                line.contains("flowstate.yaml:") && line.contains(error_part),
                "a rejection names the file, the place and what is wrong: {line}"
            );
        }
        // Alive, healthy, still checking with the last good configuration.
        for _ in 0..5 {
            let health = http_get(api, "/healthz").unwrap_or_else(|e| panic!("{e}\n{daemon}"));
            assert_eq!(health.status, 200, "{health}");
        }
        let checks = daemon.host("web")["checks"].as_u64().unwrap_or(0);
        daemon.wait_for_checks("web", checks + 2);
        assert!(
            !daemon.stderr().contains("panicked") && !daemon.stderr().contains("overflow"),
            "{daemon}"
        );
    }

    #[test]
    fn deeply_nested_variable_defaults_are_rejected_by_every_reload_path() {
        let hostile = format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\nhosts:\n  - {{ label: web, url: 'http://127.0.0.1/{}' }}\n",
            nested_defaults(5_000)
        );
        hostile_reload_is_rejected_while_the_daemon_answers(&hostile, "nest");
    }

    #[test]
    fn deeply_nested_flow_yaml_is_rejected_without_stalling_the_api() {
        let hostile = format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\nhosts: {}{}\n",
            "[".repeat(160_000),
            "]".repeat(160_000)
        );
        hostile_reload_is_rejected_while_the_daemon_answers(&hostile, "nest");
    }

    #[test]
    fn daemon_rejects_an_edit_with_deeply_nested_defaults_and_keeps_running() {
        let sandbox = Sandbox::new();
        let host = |body: &str| {
            format!("server: {{ listen: \"127.0.0.1:0\" }}\nhosts:\n  - {{ label: api, type: tcp, address: '127.0.0.1:1', interval: 1h{body} }}\n")
        };
        sandbox.write("flowstate.yaml", &host(""));
        let mut daemon = sandbox.daemon("flowstate.yaml").start();
        daemon.wait_for_host("api", "is known", |_| true);
        // 5 000 levels (44 KiB) overflowed a worker thread's stack on reload.
        sandbox.write(
            "flowstate.yaml",
            &host(&format!(", send: '{}'", nested_defaults(5_000))),
        );
        let line = daemon.wait_for_log("the edit is rejected", |l| {
            l.contains("config edit rejected")
        });
        assert!(line.contains("nested 5000 levels deep"), "{line}");
        daemon.wait_for_host("api", "is still served", |_| true);
    }

    /// After a good edit by `POST /-/reload`, the file gets two type errors.
    #[test]
    fn post_reload_of_two_type_errors_answers_400_with_each_place_while_monitoring_goes_on() {
        let web = TestServer::always(Response::ok("fine"));
        let defaults = EVERY_100MS;
        let (sandbox, mut daemon, _) = edited_by_post_reload(&web);
        daemon.wait_for_checks("newcomer", 1);

        // Two type errors: both reported, each with file:line:column.
        let bad = document_with_notifiers(
            "",
            defaults,
            "",
            &[
                host("keep", &web.url("/keep"), "interval: 5"),
                host("second", &web.url("/2"), "timeout: soon"),
            ],
        );
        sandbox.write("flowstate.yaml", &bad);
        let line_of = |needle: &str| {
            bad.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .unwrap()
        };
        let rejected = daemon.request("POST", "/-/reload", &[]);
        assert_eq!(rejected.status, 400, "{rejected}");
        let errors = rejected.json().unwrap()["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no `errors` array: {rejected}"))
            .iter()
            .map(|e| e.as_str().expect("each error is a string").to_string())
            .collect::<Vec<_>>();
        assert_eq!(errors.len(), 2, "every error is listed: {errors:?}");
        for (error, needle) in errors.iter().zip(["interval: 5", "timeout: soon"]) {
            let (place, message) = error
                .split_once(": ")
                .unwrap_or_else(|| panic!("not `place: message`: {error:?}"));
            let mut parts = place.rsplitn(3, ':');
            let column = parts.next().unwrap_or_default();
            let line = parts.next().unwrap_or_default();
            let file = parts.next().unwrap_or_default();
            assert!(file.ends_with("flowstate.yaml"), "{error:?}");
            assert_eq!(line, line_of(needle).to_string(), "{error:?}");
            assert!(column.parse::<u32>().is_ok_and(|c| c > 0), "{error:?}");
            assert!(!message.is_empty(), "{error:?}");
        }

        // The running configuration stays and keeps being checked.
        let checks = daemon.host("keep")["checks"].as_u64().unwrap();
        daemon.wait_for_checks("keep", checks + 3);
        daemon.wait_for_checks("retimed", 3);
        assert_eq!(labels(&mut daemon), ["keep", "retimed", "newcomer"]);
        assert_eq!(daemon.get("/readyz").status, 200);
        let metrics = scrape(&mut daemon);
        assert_eq!(
            metrics.value("flowstate_config_last_reload_successful", &[]),
            0.0
        );
        // The watcher may count the same bad file once more.
        assert!(
            metrics.value("flowstate_config_reloads_total", &[("result", "failure")]) >= 1.0,
            "{}",
            metrics.body
        );
    }
}

mod transient_state {
    //! What a reload keeps, and what leaves with it.

    use super::*;

    /// Changing a host's interval or a header restarts its actor but is no outage: status,
    /// `since`, transitions, counters and history stay, for changed and unchanged hosts alike.
    #[test]
    fn unchanged_and_changed_hosts_keep_status_since_checks_and_history() {
        let server = healthy();
        let item = |label: &str, extra: &str| host(label, &server.url(&format!("/{label}")), extra);
        let path_config = |retimed: &str, version: &str, extra: &[String]| {
            let mut hosts = vec![
                item("steady", ""),
                item("retimed", &format!("interval: {retimed}")),
                item(
                    "reheadered",
                    &format!("headers: {{ X-Version: \"{version}\" }}"),
                ),
            ];
            hosts.extend_from_slice(extra);
            document("", FAST, &hosts)
        };
        let (sandbox, mut daemon) = start_at(CONFIG, &path_config("100ms", "1", &[]));
        let labels_before = ["steady", "retimed", "reheadered"];
        let before: Vec<Value> = labels_before
            .iter()
            .map(|label| {
                daemon.wait_for_status(label, "up");
                daemon.wait_for_checks(label, 3)
            })
            .collect();
        let successes =
            |label: &str| format!("flowstate_checks_total{{host=\"{label}\",result=\"success\"}}");
        let text = metrics(&mut daemon);
        let counted_before: Vec<f64> = labels_before
            .iter()
            .map(|label| sample(&text, &successes(label)))
            .collect();

        write_by_rename(
            &sandbox.path().join(CONFIG),
            &path_config("150ms", "2", &[item("newcomer", "")]),
        );
        let edited = Instant::now();
        wait_for_labels(
            &mut daemon,
            edited,
            "changed interval and header",
            &["steady", "retimed", "reheadered", "newcomer"],
        );
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["1 added, 0 removed, 2 changed, 1 unchanged"],
            "{daemon}"
        );
        let reheadered = requests_to(&server, "/reheadered");

        for (label, before) in labels_before.iter().zip(&before) {
            let after = let_checks_pass(&mut daemon, label, 3);
            assert_eq!(after["status"], "up", "{after}");
            assert_eq!(
                after["since"], before["since"],
                "{label}: since moved: {after}"
            );
            assert_eq!(after["transitions"], 1, "{label}: {after}");
            assert_eq!(after["restarts"], 0, "{label}: {after}");
            assert_eq!(after["failures"], 0, "{label}: {after}");
            // The newest result from before the reload is still in the history (without its
            // `phases`, which only the newest result keeps).
            let mut last_before = history(before)
                .last()
                .expect("a result before the reload")
                .clone();
            if let Some(entry) = last_before.as_object_mut() {
                entry.remove("phases");
            }
            assert!(
                history(&after).contains(&last_before),
                "{label}: the history was lost: before {before}, after {after}"
            );
        }
        // Their metric series go on counting from where they were.
        let text = metrics(&mut daemon);
        for (label, before) in labels_before.iter().zip(&counted_before) {
            let now = sample(&text, &successes(label));
            assert!(
                now >= before + 3.0,
                "{label}: {before} successes before the reload, {now} after\n{text}"
            );
        }
        // The changed host really runs its new configuration, and once it does, no check of
        // the old one follows.
        let versions: Vec<Option<String>> = server
            .requests()
            .iter()
            .filter(|r| r.path() == "/reheadered")
            .skip(reheadered.saturating_sub(1))
            .map(|r| r.header("X-Version").map(str::to_string))
            .collect();
        let first_new = versions
            .iter()
            .position(|v| v.as_deref() == Some("2"))
            .unwrap_or_else(|| panic!("no check with the new header: {versions:?}"));
        assert!(
            versions[first_new..]
                .iter()
                .all(|v| v.as_deref() == Some("2")),
            "{versions:?}"
        );
        let newcomer = daemon.wait_for_status("newcomer", "up");
        assert_eq!(newcomer["transitions"], 1, "{newcomer}");
        assert_no_alerts(&sandbox, &daemon);
    }

    /// A removed host stops: its target gets no request once the reload is applied (one check
    /// may still be on its way), it leaves the API and its metric series go. The other host's
    /// checks are the clock.
    #[test]
    fn removed_host_stops_being_checked_and_leaves_api_and_metrics() {
        let server = healthy();
        let item = |label: &str| host(label, &server.url(&format!("/{label}")), "");
        let (sandbox, mut daemon) = start_at(
            CONFIG,
            &document("", FAST, &[item("steady"), item("leaving")]),
        );
        daemon.wait_for_status("leaving", "up");
        daemon.wait_for_checks("leaving", 3);
        let text = metrics(&mut daemon);
        assert!(text.contains("host=\"leaving\""), "{text}");

        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document("", FAST, &[item("steady")]),
        );
        let edited = Instant::now();
        applied(
            &mut daemon,
            edited,
            "the removed host leaves the API",
            |api| (http_get(api, "/api/v1/hosts/leaving").ok()?.status == 404).then_some(()),
        );
        let at_removal = requests_to(&server, "/leaving");
        assert_eq!(labels(&mut daemon), ["steady"]);
        let text = metrics(&mut daemon);
        assert!(!text.contains("host=\"leaving\""), "{text}");
        assert_eq!(sample(&text, "flowstate_hosts"), 1.0, "{text}");

        let_checks_pass(&mut daemon, "steady", 3);
        let settled = requests_to(&server, "/leaving");
        assert!(
            settled <= at_removal + 1,
            "{} checks of the removed host after the reload was applied",
            settled - at_removal
        );
        let_checks_pass(&mut daemon, "steady", 5);
        assert_eq!(
            requests_to(&server, "/leaving"),
            settled,
            "a removed host is still checked"
        );
        assert_eq!(daemon.get("/api/v1/hosts/leaving").status, 404);
        assert!(!metrics(&mut daemon).contains("host=\"leaving\""));
        assert_eq!(
            wait_for_reloads(&mut daemon, 1),
            ["0 added, 1 removed, 0 changed, 1 unchanged"]
        );
        assert_no_alerts(&sandbox, &daemon);
    }

    /// A host removed while down gets one `removed` event, so an incident tool can close the
    /// incident; one removed while up leaves quietly. Neither ever gets an `up`.
    #[test]
    fn host_removed_while_down_gets_one_removed_event_and_one_removed_while_up_none() {
        let server = healthy();
        let refused = format!("http://127.0.0.1:{}/", closed_port());
        let steady = host("steady", &server.url("/steady"), "");
        let (sandbox, mut daemon) = start_at(
            CONFIG,
            &document(
                "",
                FAST,
                &[
                    steady.clone(),
                    host("broken", &refused, ""),
                    host("fine", &server.url("/fine"), ""),
                ],
            ),
        );
        daemon.wait_for_status("fine", "up");
        daemon.wait_for_status("broken", "down");
        daemon.wait_for_stdout("the DOWN line is printed", |l| l.contains(" DOWN broken"));

        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document("", FAST, std::slice::from_ref(&steady)),
        );
        let edited = Instant::now();
        wait_for_labels(&mut daemon, edited, "two removed hosts", &["steady"]);
        let line = daemon.wait_for_stdout("the REMOVED line is printed", |l| l.contains("REMOVED"));
        assert!(
            line.ends_with(" REMOVED broken: removed from the configuration (it was down)"),
            "{line}"
        );

        let_checks_pass(&mut daemon, "steady", 5);
        let sent = events(&sandbox);
        let kinds: Vec<(&str, &str)> = sent
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or_default(),
                    e["host"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [("down", "broken"), ("removed", "broken")],
            "{sent:?}"
        );
        let removed = &sent[1];
        assert_eq!(removed["previous"], "down", "{removed}");
        assert_eq!(removed["since"], sent[0]["since"], "{removed}");
        assert_eq!(daemon.stdout_lines().len(), 2, "{daemon}");
    }

    /// A host removed while down in the same edit as the notifier it alerts (a team's hosts
    /// and pager go away together): the `removed` event still reaches that notifier, or the
    /// incident it opened stays open forever.
    #[test]
    fn host_removed_with_its_notifier_still_gets_the_removed_event() {
        let server = healthy();
        let refused = format!("http://127.0.0.1:{}/", closed_port());
        let steady = host("steady", &server.url("/steady"), "");
        let config = |team: bool| {
            let mut text = format!(
                "server: {{ listen: \"127.0.0.1:0\" }}\n\
                 defaults: {{ {FAST}, alerts: [audit] }}\n\
                 notifiers:\n  audit: {{ type: file, path: {ALERTS} }}\n"
            );
            if team {
                text.push_str("  pager: { type: file, path: pager.jsonl }\n");
            }
            text.push_str("hosts:\n");
            text.push_str(&steady);
            if team {
                text.push_str(&host("broken", &refused, "alerts: [pager]"));
            }
            text
        };
        let (sandbox, mut daemon) = start_at(CONFIG, &config(true));
        daemon.wait_for_status("broken", "down");
        let pager = sandbox.path().join("conf/pager.jsonl");
        let pager_events = || {
            let text = fs::read_to_string(&pager).unwrap_or_default();
            complete_lines(&text)
                .iter()
                .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
                .map(|e| e["event"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        };
        wait_for(DEADLINE, "the down event is paged", || {
            (pager_events() == ["down"]).then_some(())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));

        write_by_rename(&sandbox.path().join(CONFIG), &config(false));
        wait_for_labels(
            &mut daemon,
            Instant::now(),
            "the team's removal",
            &["steady"],
        );
        let_checks_pass(&mut daemon, "steady", 5);
        assert_eq!(pager_events(), ["down", "removed"], "{daemon}");
        assert!(events(&sandbox).is_empty(), "{:?}", events(&sandbox));
    }

    /// The hardest case for "never an `up`": the host is down, its target has just recovered,
    /// and the check that would see it is in flight when the reload removes the host. That
    /// late pass must not bring it back up, before or after the `removed` event.
    #[test]
    fn host_removed_while_down_with_a_passing_check_in_flight_never_goes_up() {
        // 0: fail at once; 1: pass, slowly.
        let mode = Arc::new(AtomicU16::new(0));
        let answer = mode.clone();
        let flaky = TestServer::start(move |_, _| match answer.load(SeqCst) {
            0 => Response::status(503),
            _ => Response::ok("back").delay_headers(Duration::from_millis(1500)),
        });
        let server = healthy();
        let interval = Duration::from_secs(2);
        let label = early_label("flaky", interval);
        let steady = host("steady", &server.url("/steady"), "");
        let (sandbox, mut daemon) = start_at(
            CONFIG,
            &document(
                "",
                FAST,
                &[
                    steady.clone(),
                    host(
                        &label,
                        &flaky.url("/"),
                        "interval: 2s\ntimeout: 2s\nfailure_threshold: 1\nsuccess_threshold: 1",
                    ),
                ],
            ),
        );
        daemon.wait_for_status(&label, "down");
        mode.store(1, SeqCst);
        wait_for(DEADLINE, "the passing check is in flight", || {
            (flaky.traffic().in_flight() == 1).then_some(())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));

        // `/-/reload` applies at once: the check is still in flight for over a second.
        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document("", FAST, std::slice::from_ref(&steady)),
        );
        let answer = post_reload(&mut daemon);
        assert_eq!(answer.status, 200, "{answer}\n{daemon}");
        let summary = answer.json().expect("JSON");
        assert_eq!(
            summary_list(&summary, "removed"),
            [label.as_str()],
            "{summary}"
        );
        assert_eq!(
            flaky.traffic().in_flight(),
            1,
            "the check ended too early for this test"
        );

        wait_for(DEADLINE, "the slow pass was answered", || {
            (flaky.traffic().in_flight() == 0).then_some(())
        })
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
        let_checks_pass(&mut daemon, "steady", 5);
        let kinds: Vec<String> = events(&sandbox)
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(kinds, ["down", "removed"], "{daemon}");
        assert!(
            !daemon.stderr().contains("status=up previous=down"),
            "{daemon}"
        );
        assert_eq!(daemon.get(&format!("/api/v1/hosts/{label}")).status, 404);
    }

    /// 20 saves in 2 s (in bursts, as an editor or a deploy tool makes them) while 50 healthy
    /// hosts are checked: hosts are changed, added and removed over and over, and nothing
    /// alerts; in the end the last content is what runs, and every host is checked.
    #[test]
    fn twenty_edits_in_two_seconds_alert_nothing_and_the_last_content_wins() {
        let server = healthy();
        let defaults = "interval: 200ms, timeout: 200ms, failure_threshold: 2";
        let edit = |n: usize| {
            let mut hosts: Vec<String> = (0..50)
                .map(|i| {
                    let label = format!("h{i:02}");
                    // Each edit changes a tenth of the hosts: a header, and every other time
                    // the interval too.
                    let extra = if i % 10 == n % 10 {
                        let interval = if n.is_multiple_of(2) {
                            "interval: 300ms"
                        } else {
                            ""
                        };
                        format!("headers: {{ X-Edit: \"{n}\" }}\n{interval}")
                    } else {
                        String::new()
                    };
                    host(&label, &server.url(&format!("/{label}")), &extra)
                })
                .collect();
            // And one host exists for this edit only: the last one is the distinctive one.
            hosts.push(host(&format!("edit-{n}"), &server.url("/edit"), ""));
            document("", defaults, &hosts)
        };
        let initial = {
            let hosts: Vec<String> = (0..50)
                .map(|i| host(&format!("h{i:02}"), &server.url(&format!("/h{i:02}")), ""))
                .collect();
            document("", defaults, &hosts)
        };
        let (sandbox, mut daemon) = start_at(CONFIG, &initial);
        for i in 0..50 {
            daemon.wait_for_status(&format!("h{i:02}"), "up");
        }
        let path = sandbox.path().join(CONFIG);

        // Five bursts of four saves 25 ms apart, 380 ms between bursts: under 2 s in all.
        let began = Instant::now();
        for n in 0..20_usize {
            if n > 0 {
                thread::sleep(Duration::from_millis(if n.is_multiple_of(4) {
                    380
                } else {
                    25
                }));
            }
            if n.is_multiple_of(2) {
                write_by_rename(&path, &edit(n));
            } else {
                truncate_and_write(&path, &edit(n));
            }
        }
        eprintln!("reload: 20 edits took {:?}", began.elapsed());
        let last = Instant::now();
        let mut wanted: Vec<String> = (0..50).map(|i| format!("h{i:02}")).collect();
        wanted.push("edit-19".to_string());
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        wait_for_labels(&mut daemon, last, "the last of 20 edits", &wanted);

        // Every host of the last content is checked on: none was lost between two reloads.
        let before: Vec<u64> = daemon.hosts().iter().map(checks).collect();
        let_checks_pass(&mut daemon, "h00", 4);
        let after = daemon.hosts();
        for (host, before) in after.iter().zip(&before) {
            assert!(
                checks(host) > *before,
                "{} is not checked any more: {host}\n{daemon}",
                host["label"]
            );
            assert_eq!(host["status"], "up", "{host}");
        }
        // The last edit's header is what the changed hosts send.
        let h09: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.path() == "/h09")
            .collect();
        assert_eq!(
            h09.last().and_then(|r| r.header("X-Edit")),
            Some("19"),
            "{:?}",
            h09.last()
        );
        assert_no_alerts(&sandbox, &daemon);
        let changes = daemon.log_lines_with(&["host status changed"]);
        assert!(
            changes
                .iter()
                .all(|l| l.contains("status=up previous=unknown")),
            "{changes:#?}"
        );
        assert!(daemon.log_lines_with(&["rejected"]).is_empty(), "{daemon}");
        eprintln!(
            "reload: 20 edits were applied as {} reloads",
            reloads(&daemon).len()
        );
    }

    /// A generator redirected over the file (`gen-hosts > flowstate.yaml`): the shell empties
    /// the file at once, the content follows when the generator is done, here 750 ms later
    /// (three debounces). The empty file in between is no configuration to run: monitoring
    /// goes on with the hosts it has, their state intact, and nothing is alerted.
    #[test]
    fn file_emptied_by_a_slow_in_place_writer_keeps_every_host() {
        use std::io::Write;
        let server = healthy();
        let refused = format!("http://127.0.0.1:{}/", closed_port());
        let hosts = [
            host("api", &server.url("/api"), ""),
            host("broken", &refused, ""),
        ];
        let (sandbox, mut daemon) = start_at(CONFIG, &document("", FAST, &hosts));
        let api_before = daemon.wait_for_status("api", "up");
        let broken_before = daemon.wait_for_status("broken", "down");
        daemon.wait_for_stdout("the DOWN line is printed", |l| l.contains(" DOWN broken"));

        let mut file = fs::File::create(sandbox.path().join(CONFIG)).expect("truncate the file");
        let emptied = Instant::now();
        let api = daemon.api();
        let mut seen = Vec::new();
        while emptied.elapsed() < Duration::from_millis(750) {
            if let Some(listed) = labels_of(api) {
                if listed != ["api", "broken"] && !seen.contains(&listed) {
                    seen.push(listed);
                }
            }
            thread::sleep(Duration::from_millis(10));
        }
        let mut grown = hosts.to_vec();
        grown.push(host("web", &server.url("/web"), ""));
        file.write_all(document("", FAST, &grown).as_bytes())
            .expect("write the content");
        drop(file);
        let written = Instant::now();
        wait_for_labels(
            &mut daemon,
            written,
            "the slow write",
            &["api", "broken", "web"],
        );
        assert!(
            seen.is_empty(),
            "while the file was empty, the API listed {seen:?}\n{daemon}"
        );
        let api_after = let_checks_pass(&mut daemon, "api", 3);
        assert_eq!(api_after["since"], api_before["since"], "{api_after}");
        let broken_after = daemon.host("broken");
        assert_eq!(
            broken_after["since"], broken_before["since"],
            "{broken_after}"
        );
        let kinds: Vec<String> = events(&sandbox)
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(kinds, ["down"], "{daemon}");
    }

    /// Two reloads close together (SIGHUP from a deploy tool while the watcher, or a second
    /// `/-/reload`, brings the same edit): a host changed by the first one is still restarted
    /// and checked. The first reload stops the changed host's actor and starts the new one
    /// when the old one has stopped; the second, finding the host unchanged, must not cancel
    /// that start.
    #[test]
    fn reloads_racing_each_other_keep_a_changed_host_checked() {
        let server = healthy();
        let item = |label: &str, extra: &str| host(label, &server.url(&format!("/{label}")), extra);
        let (sandbox, mut daemon) = start_at(
            CONFIG,
            &document("", FAST, &[item("steady", ""), item("changing", "")]),
        );
        daemon.wait_for_status("changing", "up");

        write_by_rename(
            &sandbox.path().join(CONFIG),
            &document(
                "",
                FAST,
                &[item("steady", ""), item("changing", "interval: 150ms")],
            ),
        );
        let api = daemon.api();
        let answers: Vec<Answer> = thread::scope(|scope| {
            let posts: Vec<_> = (0..16)
                .map(|_| scope.spawn(move || http_request(api, "POST", "/-/reload", &[], "")))
                .collect();
            posts
                .into_iter()
                .map(|p| p.join().unwrap().expect("POST /-/reload"))
                .collect()
        });
        assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
        let edited = Instant::now();
        let now = checks(&daemon.host("changing"));
        applied(
            &mut daemon,
            edited,
            "the changed host is checked again",
            |api| {
                let host = http_get(api, "/api/v1/hosts/changing").ok()?.json().ok()?;
                (checks(&host) >= now + 3).then_some(())
            },
        );
    }

    /// A reload that changes a host replaces its HostActor; the old one's check in flight must
    /// not run on beside the new one's checks.
    #[test]
    fn reload_changing_a_host_never_runs_two_of_its_checks_at_once() {
        let stall = StallServer::start();
        let hosts = |interval: &str| {
            document(
                "",
                "interval: 10s, timeout: 10s",
                &[host(
                    "slowpoke",
                    &stall.url(),
                    &format!("interval: {interval}\ntimeout: {interval}"),
                )],
            )
        };
        let (sandbox, mut daemon) = start(&hosts("10s"));
        wait_until(DEADLINE, "the check is in flight", || {
            stall.counts().open == 1
        })
        .unwrap();
        sandbox.write("flowstate.yaml", &hosts("300ms"));
        daemon.signal("HUP");
        daemon.wait_for_log("the reload is logged", |l| l.contains("config reloaded"));
        daemon.wait_for_checks("slowpoke", 3);
        let counts = stall.counts();
        assert_eq!(
            counts.peak, 1,
            "two checks of one host were open at once: {counts:?}\n{daemon}"
        );
    }
}
