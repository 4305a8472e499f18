//! Day-one defects (issue 12) in the running system: store errors that stay dirty, child processes that end with the daemon, checked time arithmetic, a deleted state file, what a closed connection reads as.
//!
//! Every test runs the real binary against real loopback servers, real files and real signals:
//! - a server that accepts and closes without a word reads `connection closed before any
//!   response`, not an internal awc error;
//! - an event's `at` is when the transition was decided, after the deciding check ended, and
//!   the log line of the transition says the same instant;
//! - a suppressed alert is logged with its host, notifier and reason;
//! - SIGTERM leaves no process behind that flowstate started (command notifiers and their
//!   children, script checks), and a killed notifier run is run again at the next start;
//! - a state file deleted while running is noticed, recreated, and holds the whole state again;
//! - what a failing store could not save (a full disk: a real tmpfs filled to the brim) is
//!   saved once the store works again, so the next start neither loses nor suppresses an alert.
//!
//! Everything is awaited with a deadline; where a test needs time to pass it waits for the
//! daemon's own activity (checks run, log lines), never for a fixed sleep.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::configs::ALERTS;
use crate::common::daemon::complete_lines;
use crate::common::events::{kinds, timestamp, wait_for_events};
use crate::common::once::assert_verdict;
use crate::common::processes::{alive, pids_in, KillListed};
use crate::common::scrape::{find_sample, metrics, wait_for_sample};
use crate::common::wait::{wait_for, wait_until};
use crate::common::{closed_port, switchable, Response, Sandbox, TestServer, DEADLINE};

/// The config file, relative to the sandbox.
const CONFIG: &str = "flowstate.yaml";

/// Fast checks; two failures in a row make a host down, so one answer slowed past the timeout
/// by a loaded machine is no outage.
const FAST: &str = "interval: 200ms, timeout: 200ms, failure_threshold: 2";

// --- Helpers ----------------------------------------------------------------------------

/// One host list item checking `url`, with more `key: value` pairs in `extra`.
fn http_host(label: &str, url: &str, extra: &str) -> String {
    format!("  - {{ label: {label}, url: '{url}'{extra} }}\n")
}

// --- A connection closed without an answer ----------------------------------------------

/// A listener that accepts every connection and closes it: at once, or after reading the
/// request head (so no unread data turns the close into a reset). Stops when dropped.
struct Silent {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Silent {
    fn start(read_request_first: bool) -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            while !stopping.load(SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        if read_request_first {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                            let mut head = Vec::new();
                            let mut byte = [0u8; 1];
                            while !head.ends_with(b"\r\n\r\n") {
                                match stream.read(&mut byte) {
                                    Ok(1) => head.push(byte[0]),
                                    _ => break,
                                }
                            }
                        }
                        drop(stream);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Silent { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.port)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
    }
}

#[test]
fn a_server_that_closes_without_answering_reads_as_closed_before_any_response() {
    let after_reading = Silent::start(true);
    let at_once = Silent::start(false);
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &format!(
            "hosts:\n{}{}",
            http_host("read", &after_reading.url(), ""),
            http_host("dropped", &at_once.url(), "")
        ),
    );
    let outcome = sandbox.run(&["once", "-c", CONFIG, "--json"]);
    outcome.expect_code(1);
    assert_verdict(
        &outcome,
        "read",
        "down",
        "connection closed before any response",
    );
    // Closed at once, the request arrives after the close and the kernel answers it with a
    // reset: the server hung up all the same.
    assert_verdict(
        &outcome,
        "dropped",
        "down",
        "connection closed before any response",
    );
    assert!(
        !outcome.all_output().contains("Internal error"),
        "{outcome}"
    );
}

// --- When an event happened -------------------------------------------------------------

#[test]
fn an_events_at_is_when_the_transition_was_decided_not_when_its_check_started() {
    const DELAY: Duration = Duration::from_millis(1500);
    // When each request arrived, by the server's clock: its check began before that, and its
    // verdict came after the delayed answer.
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let target = TestServer::start(move |_, _| {
        if let Ok(mut seen) = seen.lock() {
            seen.push(SystemTime::now());
        }
        Response::status(503).delay_headers(DELAY)
    });
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             defaults: {{ interval: 3s, timeout: 3s, failure_threshold: 1, alerts: [audit] }}\n\
             notifiers:\n  audit: {{ type: file, path: {ALERTS} }}\n\
             hosts:\n{}",
            http_host("slow", &target.url("/"), "")
        ),
    );
    let mut daemon = sandbox
        .daemon(CONFIG)
        .args(&["--log-format", "json"])
        .start();
    let events = wait_for_events(&sandbox, &daemon, 1);
    let down = &events[0];
    assert_eq!(down["event"], "down", "{down}");
    let asked = arrivals.lock().map(|a| a.first().copied()).ok().flatten();
    let asked = asked.expect("the target was asked");
    let at = timestamp(&down["at"]);
    // `at` is cut to milliseconds: allow the one the cut may take.
    assert!(
        at + Duration::from_millis(1) >= asked + DELAY,
        "the event's at {} is before the deciding check could end: asked at {}, answered {} ms later",
        down["at"],
        humantime::format_rfc3339_millis(asked),
        DELAY.as_millis()
    );
    assert_eq!(down["since"], down["at"], "a fresh transition: {down}");
    // The API and the log agree: the deciding check is dated the same, and the transition is
    // logged then, not before.
    let host = daemon.wait_for_status("slow", "down");
    assert_eq!(host["since"], down["at"], "{host}");
    assert_eq!(host["history"][0]["at"], down["at"], "{host}");
    let logged = daemon.wait_for_log("the transition is logged", |l| {
        l.contains("host status changed")
    });
    let logged: Value = serde_json::from_str(&logged).expect("a JSON log line");
    assert!(
        timestamp(&logged["ts"]) >= at,
        "{logged} before {}",
        down["at"]
    );
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

// --- Suppressions say why ---------------------------------------------------------------

#[test]
fn a_suppressed_alert_is_logged_with_host_notifier_and_reason() {
    let (answer, target) = switchable(200);
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             defaults: {{ {FAST}, alerts: [quiet] }}\n\
             notifiers:\n  quiet: {{ type: file, path: {ALERTS}, send_resolved: false }}\n\
             hosts:\n{}",
            http_host("api", &target.url("/"), "")
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    daemon.wait_for_status("api", "up");
    answer.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    answer.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    let line = daemon.wait_for_log("the suppressed recovery is logged", |l| {
        l.contains("alert suppressed")
    });
    for part in [
        "host=api",
        "notifier=quiet",
        "event=up",
        "send_resolved is false",
    ] {
        assert!(line.contains(part), "{part:?} missing: {line}");
    }
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

// --- Nothing outlives the daemon --------------------------------------------------------

/// Hosts that go down at once, so their `down` events start that many notifier runs.
const RUNS: usize = 30;

/// A command notifier whose program appends its PID and its background child's PID to
/// `pids`, and the event's id to `ids`, then waits for an hour. (`$$$$` is the shell's `$$`:
/// the config reads `$$` as a literal `$`.)
fn sleeping_command(pids: &Path, ids: &Path) -> String {
    let script = format!(
        "sleep 3600 & echo $! >> {pids}; echo $$$$ >> {pids}; echo $FLOWSTATE_EVENT_ID >> {ids}; wait",
        pids = pids.display(),
        ids = ids.display()
    );
    format!(
        "  page: {{ type: command, command: [sh, -c, {script:?}], timeout: 1h }}\n",
        script = script
    )
}

/// How long a script check may run: longer than the shutdown waits for checks in flight, so
/// the one running at SIGTERM is still running when the daemon ends what is left.
const SCRIPT_TIMEOUT_S: u64 = 20;

/// A script check that records its PID and its child's, then waits past its timeout. Its label
/// is one whose first check comes within a second of the start (the phase of a host's schedule
/// is a stable hash of its label).
fn sleeping_check(pids: &Path) -> String {
    let label = (0..)
        .map(|i| format!("script-{i}"))
        .find(|label| {
            flowstate_config::host::stable_hash(label) % (SCRIPT_TIMEOUT_S * 1_000_000_000)
                < 1_000_000_000
        })
        .unwrap_or_default();
    let script = format!(
        "sleep 3600 & echo $! >> {pids}; echo $$$$ >> {pids}; wait",
        pids = pids.display()
    );
    format!(
        "  - {{ label: {label}, type: script, command: [sh, -c, {script:?}], \
         interval: {SCRIPT_TIMEOUT_S}s, timeout: {SCRIPT_TIMEOUT_S}s }}\n"
    )
}

#[test]
fn sigterm_ends_every_program_flowstate_started_and_the_next_start_runs_the_killed_events_again() {
    let sandbox = Sandbox::new();
    let pids = sandbox.path().join("notifier.pids");
    let script_pids = sandbox.path().join("script.pids");
    let ids = sandbox.path().join("ids");
    let _cleanup = KillListed(vec![pids.clone(), script_pids.clone()]);
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    let hosts: String = (0..RUNS)
        .map(|i| http_host(&format!("h{i:02}"), &refused, ""))
        .collect();
    sandbox.write(
        CONFIG,
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             state: {{ path: state.db }}\n\
             defaults: {{ {FAST}, alerts: [page] }}\n\
             notifiers:\n{}\
             hosts:\n{hosts}{}",
            sleeping_command(&pids, &ids),
            sleeping_check(&script_pids)
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    // Every notifier run and the script check: a leader and a child each.
    let started = wait_for(DEADLINE, "every program is running", || {
        let (notifier, script) = (pids_in(&pids), pids_in(&script_pids));
        (notifier.len() >= 2 * RUNS && script.len() >= 2).then(|| [notifier, script].concat())
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert!(started.iter().all(|&pid| alive(pid)), "{started:?}");

    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
    let survivors = wait_for(Duration::from_secs(10), "every program is gone", || {
        let alive: Vec<u32> = started.iter().copied().filter(|&p| alive(p)).collect();
        alive.is_empty().then_some(())
    });
    if let Err(timed_out) = survivors {
        let alive: Vec<u32> = started.iter().copied().filter(|&p| alive(p)).collect();
        panic!(
            "{timed_out}: {} of {} still running: {alive:?}\n{daemon}",
            alive.len(),
            started.len()
        );
    }

    // At-least-once: the killed runs' events were not delivered, so they run again.
    let first: BTreeSet<String> = std::fs::read_to_string(&ids)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(first.len(), RUNS, "{first:?}");
    let mut daemon = sandbox.daemon(CONFIG).start();
    wait_until(DEADLINE, "the killed events run again", || {
        let again = std::fs::read_to_string(&ids).unwrap_or_default();
        again.lines().count() >= 2 * RUNS
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let all: Vec<String> = std::fs::read_to_string(&ids)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let again: BTreeSet<String> = all[RUNS..].iter().cloned().collect();
    assert_eq!(again, first, "the same events, with the same ids");
    daemon.wait_for_log("the resumed events are announced", |l| {
        l.contains("resuming delivery of events left undelivered")
    });
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");
}

// --- A state file deleted while running -------------------------------------------------

#[test]
fn a_state_file_deleted_while_running_is_recreated_and_holds_the_whole_state() {
    let (answer, target) = switchable(200);
    // A webhook no one answers: its event waits in the outbox, to be found after the restart.
    let hook = format!("http://127.0.0.1:{}/hook", closed_port());
    let sandbox = Sandbox::new();
    sandbox.write(
        CONFIG,
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             state: {{ path: state.db, history: 1000 }}\n\
             defaults: {{ {FAST}, alerts: [audit, hook] }}\n\
             notifiers:\n  audit: {{ type: file, path: {ALERTS} }}\n  \
             hook: {{ type: webhook, url: '{hook}', backoff: 100ms, max_backoff: 500ms }}\n\
             hosts:\n{}",
            http_host("api", &target.url("/"), "")
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    daemon.wait_for_status("api", "up");
    answer.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    wait_for_events(&sandbox, &daemon, 1);
    wait_for_sample(
        &mut daemon,
        "flowstate_outbox_pending{notifier=\"hook\"}",
        |v| v == 1.0,
    );
    let before = daemon.wait_for_checks("api", 10);
    let oldest = before["history"][0]["at"].clone();

    let file = sandbox.path().join("state.db");
    std::fs::remove_file(&file).expect("delete the state file");
    let warned = daemon.wait_for_log("the deletion is noticed", |l| {
        l.contains("state store file was deleted")
    });
    assert!(
        warned.contains("WARN") && warned.contains("state.db"),
        "{warned}"
    );
    wait_until(DEADLINE, "the state file is back", || file.exists())
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    wait_for_sample(
        &mut daemon,
        "flowstate_state_store_errors_total{operation=\"recreate\"}",
        |v| v == 1.0,
    );
    let last = daemon.wait_for_checks("api", before["checks"].as_u64().unwrap_or(0) + 5);
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");

    let mut again = sandbox.daemon(CONFIG).start();
    let restored = again.host("api");
    assert_eq!(restored["status"], "down", "{restored}");
    assert!(
        restored["checks"].as_u64() >= last["checks"].as_u64(),
        "the check count went back: {restored}\nbefore the stop: {last}"
    );
    assert_eq!(
        restored["history"][0]["at"], oldest,
        "the history from before the deletion is back: {restored}"
    );
    again.wait_for_log("the undelivered event is back", |l| {
        l.contains("resuming delivery of events left undelivered") && l.contains("events=1")
    });
    // The notifiers' records are back too: the host, still down, alerts no one again.
    again.wait_for_checks("api", restored["checks"].as_u64().unwrap_or(0) + 5);
    assert_eq!(kinds(&sandbox.events(ALERTS)), ["down"], "{again}");
    assert_eq!(again.stop("TERM").code, Some(0), "{again}");
}

// --- What a full disk refused is saved when it has room ---------------------------------

/// A tmpfs mounted at a directory (needs root), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "flowstate-test",
            ])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Keeps a filesystem full: a thread appends to a file whenever there is room, so space the
/// daemon frees (SQLite removing its WAL on close) is taken back within a millisecond.
struct Filler {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    full: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Filler {
    fn start(path: PathBuf) -> Filler {
        let stop = Arc::new(AtomicBool::new(false));
        let full = Arc::new(AtomicBool::new(false));
        let (stopping, filled, target) = (stop.clone(), full.clone(), path.clone());
        let thread = thread::spawn(move || {
            let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target)
            else {
                return;
            };
            let chunk = [0x5au8; 4096];
            while !stopping.load(SeqCst) {
                if file.write(&chunk).is_err() {
                    filled.store(true, SeqCst);
                    thread::sleep(Duration::from_millis(1));
                }
            }
        });
        Filler {
            path,
            stop,
            full,
            thread: Some(thread),
        }
    }

    /// Stops filling and frees the space.
    fn free(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        self.free();
    }
}

#[test]
fn an_up_told_while_the_disk_is_full_is_saved_once_it_has_room_and_the_next_outage_is_alerted() {
    let sandbox = Sandbox::new();
    let disk = sandbox.path().join("disk");
    let _tmpfs = match Tmpfs::mount(&disk, "16m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            // Mounting needs root (CAP_SYS_ADMIN); the dirty-tracking itself is unit-tested in
            // flowstate-actors (`unsaved`).
            eprintln!("SKIPPED: cannot mount a tmpfs to fill: {why}");
            return;
        }
    };
    let (answer, target) = switchable(200);
    sandbox.write(
        CONFIG,
        &format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\n\
             state: {{ path: disk/state.db }}\n\
             defaults: {{ {FAST}, alerts: [audit] }}\n\
             notifiers:\n  audit: {{ type: file, path: {ALERTS} }}\n\
             hosts:\n{}",
            http_host("api", &target.url("/"), "")
        ),
    );
    let mut daemon = sandbox.daemon(CONFIG).start();
    daemon.wait_for_status("api", "up");
    answer.store(503, SeqCst);
    daemon.wait_for_status("api", "down");
    // Written once its record is on disk: the first attempt waits for the store.
    wait_for_events(&sandbox, &daemon, 1);

    // The disk fills up; the store fails for real (SQLITE_FULL).
    let mut filler = Filler::start(disk.join("filler"));
    wait_until(DEADLINE, "the disk is full", || filler.full.load(SeqCst))
        .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    let failing = "flowstate_state_store_errors_total{operation=\"save_hosts\"}";
    let (failed, _) = wait_for_sample(&mut daemon, failing, |v| v >= 1.0);
    wait_for_sample(&mut daemon, failing, |v| v > failed);

    // The recovery is told while the disk is full: what the notifier was told fails to save.
    answer.store(200, SeqCst);
    daemon.wait_for_status("api", "up");
    let events = wait_for_events(&sandbox, &daemon, 2);
    assert_eq!(kinds(&events), ["down", "up"]);
    wait_for_sample(
        &mut daemon,
        "flowstate_state_store_errors_total{operation=\"save_alert_track\"}",
        |v| v >= 1.0,
    );

    // Room again: what failed is saved (the store may wait up to 10 s before reopening).
    filler.free();
    let api = daemon.api();
    let recovered = wait_for(
        Duration::from_secs(40),
        "the store takes writes again",
        || {
            crate::common::daemon::http_get(api, "/healthz").ok()?;
            complete_lines(&daemon.stderr())
                .iter()
                .any(|l| l.contains("the state store takes writes again"))
                .then_some(())
        },
    );
    recovered.unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"));
    assert_eq!(daemon.stop("TERM").code, Some(0), "{daemon}");

    // After the restart a real outage is alerted, not suppressed as already known.
    let mut again = sandbox.daemon(CONFIG).start();
    again.wait_for_status("api", "up");
    answer.store(503, SeqCst);
    again.wait_for_status("api", "down");
    let events = wait_for_events(&sandbox, &again, 3);
    assert_eq!(kinds(&events), ["down", "up", "down"], "{again}");
    assert_eq!(
        find_sample(
            &metrics(&mut again),
            "flowstate_alerts_total{notifier=\"audit\",result=\"suppressed\"}"
        ),
        Some(0.0),
        "{again}"
    );
    assert!(!again.stderr().contains("alert suppressed"), "{again}");
    assert_eq!(again.stop("TERM").code, Some(0), "{again}");
}
