//! Running an external program for a bounded time, and leaving nothing behind.
//!
//! The command notifier (and later the `script` check) runs programs it does not control: they
//! may hang, fork helpers into the background, or never read their input. A daemon that runs
//! one per event must not pile up processes or wait forever, so every run here is one bounded
//! unit:
//!
//! - the program is started directly (no shell) as the leader of a new process group, so the
//!   group is every process it starts unless one detaches on purpose (`setsid`);
//! - input, output and the exit are all bounded by one deadline; when it passes, the whole
//!   group is killed with `SIGKILL` and the program is reaped;
//! - when the program exits on its own, what it left running in its group is killed too (as
//!   systemd does for a unit's control group): a forgotten `sleep 3600 &` would otherwise hold
//!   the output pipes open and outlive the run. Work meant to outlast the run must detach;
//! - output is captured up to [`CAPTURE_LIMIT`] bytes per stream and the rest drained, so a
//!   chatty program neither blocks on a full pipe nor fills our memory;
//! - every run's process group is known process-wide until the run ends, so a stopping daemon
//!   ends them all ([`end_all`]) instead of leaving them re-parented to init: nothing flowstate
//!   started outlives it (unless it detached on purpose). A run ended that way reports
//!   [`RunError::Interrupted`], and no program starts any more.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::{join, join3, select};
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::Notify;
use tokio::time::{timeout, timeout_at, Instant};

/// How much of each of stdout and stderr is kept: enough to quote an error, not a log file.
pub const CAPTURE_LIMIT: usize = 4096;

/// How long to wait for a killed program to be reaped. `SIGKILL` cannot be caught, but a
/// process stuck in the kernel (a dead NFS mount) dies only when the call returns; past this,
/// tokio reaps it in the background instead of holding up the caller.
const REAP_GRACE: Duration = Duration::from_secs(2);

/// The longest line [`first_line`] returns, in characters: a log line, not a page.
const LINE_LIMIT: usize = 200;

/// A program that ran to its exit.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Captured,
    pub stderr: Captured,
}

/// The start of one output stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    /// At most [`CAPTURE_LIMIT`] bytes, as written (not necessarily UTF-8).
    pub bytes: Vec<u8>,
    /// `true` when the program wrote more than was kept.
    pub truncated: bool,
}

/// Why a program did not run to its exit.
#[derive(Debug)]
pub enum RunError {
    /// It could not be started (not found, not executable, out of processes...).
    Spawn(io::Error),
    /// The deadline passed before it exited; its process group was killed.
    TimedOut,
    /// Waiting for its exit failed; its process group was killed.
    Wait(io::Error),
    /// The daemon is stopping: [`end_all`] killed its process group (or it was not started).
    Interrupted,
}

/// Runs `command` with `input` on its stdin, and waits for its exit for at most `limit`.
///
/// `command` carries the program, its arguments and its environment; this sets up the pipes
/// and the process group. `input` is written whole and stdin closed: a program that exits
/// without reading it is not an error (the write fails with `EPIPE`, which is ignored: the
/// exit status is the program's verdict). After the exit, the output still buffered is read
/// until the pipes close or the same deadline passes, whichever comes first, so a detached
/// process holding them cannot hold up the caller.
///
/// Dropping the future before it completes kills the process group too, and so does
/// [`end_all`], after which this returns [`RunError::Interrupted`] at once.
pub async fn run(
    mut command: Command,
    input: Vec<u8>,
    limit: Duration,
) -> Result<Finished, RunError> {
    if registry().ended {
        return Err(RunError::Interrupted);
    }
    // A configured `timeout: 1000000y` must not overflow the clock: a year is as good as never.
    let now = Instant::now();
    let deadline = now
        .checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // If this future is dropped, tokio kills the leader and reaps it in the background;
        // `ProcessGroup`'s drop takes care of the rest of the group.
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let group = ProcessGroup::register(child.id());
    // Created before anything can end the run: a notification sent meanwhile is kept.
    let interrupted = group.interruption.clone();
    let interrupted = interrupted.notified();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let mut out = Captured::default();
    let mut err = Captured::default();
    let mut exit = None;
    {
        let wait = async {
            let status = child.wait().await;
            // The run is over: stragglers in the group go, and with them their ends of the
            // pipes, so the reads below see end-of-file instead of waiting for the deadline.
            group.kill();
            exit = Some(status);
        };
        let io = join3(
            feed(stdin, &input),
            capture(stdout, &mut out),
            capture(stderr, &mut err),
        );
        // Elapsing only matters when the program itself has not exited (`exit` stays `None`):
        // output cut short by a detached process is still a finished run. An interruption
        // ends the wait at once, even for output a detached process still holds open.
        let bounded = pin!(timeout_at(deadline, join(wait, io)));
        let _ = select(bounded, pin!(interrupted)).await;
    }

    if group.was_interrupted() {
        // Killed by `end_all` (the leader may even have been reaped already): reap it, and
        // report the interruption rather than a death by SIGKILL nobody asked about.
        let _ = timeout(REAP_GRACE, child.wait()).await;
        return Err(RunError::Interrupted);
    }
    match exit {
        Some(Ok(status)) => Ok(Finished {
            status,
            stdout: out,
            stderr: err,
        }),
        Some(Err(e)) => Err(RunError::Wait(e)),
        None => {
            group.kill();
            // Reap now, so no zombie is left; if even SIGKILL takes too long, drop `child` and
            // let tokio reap it later.
            let _ = timeout(REAP_GRACE, child.wait()).await;
            Err(RunError::TimedOut)
        }
    }
}

/// Writes `input` to the program's stdin, then closes it (the program reads to end-of-file).
async fn feed(stdin: Option<ChildStdin>, input: &[u8]) {
    let Some(mut stdin) = stdin else { return };
    if let Err(e) = stdin.write_all(input).await {
        // EPIPE: the program did not read its input, which it may well not need. Anything else
        // is as harmless: whether the run worked is for the exit status to say.
        if e.kind() != io::ErrorKind::BrokenPipe {
            log::debug!(error = e.to_string().as_str(); "cannot write the program's stdin");
        }
    }
    // Dropping `stdin` closes it.
}

/// Reads `reader` to end-of-file, keeping the first [`CAPTURE_LIMIT`] bytes in `into`.
/// The rest is read and dropped so the program never blocks on a full pipe.
async fn capture<R: AsyncRead + Unpin>(reader: Option<R>, into: &mut Captured) {
    let Some(mut reader) = reader else { return };
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = CAPTURE_LIMIT.saturating_sub(into.bytes.len());
                into.bytes.extend_from_slice(&chunk[..n.min(room)]);
                into.truncated |= n > room;
            }
        }
    }
}

/// The process groups of every run in progress, process-wide: what [`end_all`] ends.
struct Registry {
    /// By run: its group while it may still hold processes (`None` once killed), and whether
    /// `end_all` killed it.
    runs: BTreeMap<u64, Run>,
    next: u64,
    /// Set by [`end_all`]: no program starts any more.
    ended: bool,
}

struct Run {
    group: Option<Pid>,
    interrupted: bool,
    interruption: Arc<Notify>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    runs: BTreeMap::new(),
    next: 0,
    ended: false,
});

/// The registry, also after a panic elsewhere poisoned its lock: its data stays consistent,
/// as every change is a single insert, update or removal.
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ends every program started here that is still running, and every process in its group:
/// `SIGKILL` to each group (the same signal the timeout sends: a program that may ignore
/// `SIGTERM` gets no say at shutdown either). From now on [`run`] starts nothing. Returns how
/// many groups were killed. Each run ended so returns [`RunError::Interrupted`] once its
/// leader is reaped, which [`unfinished`] counts down.
pub fn end_all() -> usize {
    let mut registry = registry();
    registry.ended = true;
    let mut killed = 0;
    for run in registry.runs.values_mut() {
        let Some(group) = run.group.take() else {
            continue;
        };
        signal_group(group);
        run.interrupted = true;
        run.interruption.notify_one();
        killed += 1;
    }
    killed
}

/// Runs that have started a program and not returned yet (nor been dropped).
pub fn unfinished() -> usize {
    registry().runs.len()
}

/// The process group of one run: killed at most once, by the run itself, by its drop, or by
/// [`end_all`], whichever comes first.
///
/// Once the group is killed after the leader was reaped, its id may be reused by an unrelated
/// process group (only once the group is empty), so it is never signalled again.
struct ProcessGroup {
    key: u64,
    interruption: Arc<Notify>,
}

impl ProcessGroup {
    /// Records the group led by `leader`. A run that starts while [`end_all`] is under way is
    /// registered already killed: it sees itself interrupted.
    fn register(leader: Option<u32>) -> Self {
        let group = leader
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        let interruption = Arc::new(Notify::new());
        let mut registry = registry();
        let key = registry.next;
        registry.next += 1;
        let ended = registry.ended;
        if let (true, Some(group)) = (ended, group) {
            signal_group(group);
            interruption.notify_one();
        }
        registry.runs.insert(
            key,
            Run {
                group: group.filter(|_| !ended),
                interrupted: ended,
                interruption: interruption.clone(),
            },
        );
        ProcessGroup { key, interruption }
    }

    /// Sends `SIGKILL` to every process still in the group, the first time only.
    fn kill(&self) {
        let group = registry()
            .runs
            .get_mut(&self.key)
            .and_then(|run| run.group.take());
        if let Some(group) = group {
            signal_group(group);
        }
    }

    /// Whether [`end_all`] killed this run's group.
    fn was_interrupted(&self) -> bool {
        registry()
            .runs
            .get(&self.key)
            .is_some_and(|run| run.interrupted)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
        registry().runs.remove(&self.key);
    }
}

/// `SIGKILL` to a process group.
fn signal_group(group: Pid) {
    match kill_process_group(group, Signal::KILL) {
        // ESRCH: everyone had already exited.
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => log::warn!(
            process_group = group.as_raw_nonzero().get(), error = e.to_string().as_str();
            "cannot kill a program's process group"
        ),
    }
}

/// How a program ended, fit for a message: `exited with status 3`, `killed by signal SIGSEGV`.
pub fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    if let Some(signal) = status.signal() {
        return match signal_name(signal) {
            Some(name) => format!("killed by signal {name}"),
            None => format!("killed by signal {signal}"),
        };
    }
    format!("ended with {status}")
}

/// The name of the common signals a program dies of.
fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: &[(Signal, &str)] = &[
        (Signal::HUP, "SIGHUP"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::ILL, "SIGILL"),
        (Signal::TRAP, "SIGTRAP"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::BUS, "SIGBUS"),
        (Signal::FPE, "SIGFPE"),
        (Signal::KILL, "SIGKILL"),
        (Signal::USR1, "SIGUSR1"),
        (Signal::SEGV, "SIGSEGV"),
        (Signal::USR2, "SIGUSR2"),
        (Signal::PIPE, "SIGPIPE"),
        (Signal::ALARM, "SIGALRM"),
        (Signal::TERM, "SIGTERM"),
    ];
    NAMES
        .iter()
        .find(|(known, _)| known.as_raw() == signal)
        .map(|(_, name)| *name)
}

/// An I/O error without Rust's ` (os error 2)` suffix: `No such file or directory`.
pub fn describe_io_error(error: &io::Error) -> String {
    let text = error.to_string();
    match (error.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_string(),
        _ => text,
    }
}

/// The first non-blank line of some output, made safe for one log line: lossy UTF-8, control
/// characters dropped, at most 200 characters.
pub fn first_line(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let mut clean: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(LINE_LIMIT + 1)
        .collect();
    if clean.chars().count() > LINE_LIMIT {
        clean = clean.chars().take(LINE_LIMIT).collect();
        clean.push('…');
    }
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines_and_drops_control_characters() {
        assert_eq!(
            first_line(b"\n  \r\n  curl: (7) refused\x1b[0m\r\nmore\n").as_deref(),
            Some("curl: (7) refused[0m")
        );
        assert_eq!(first_line(b" \n\t\n"), None);
        assert_eq!(first_line(b""), None);
    }

    #[test]
    fn first_line_is_cut_to_a_log_line() {
        let long = "x".repeat(1000);
        let line = first_line(long.as_bytes()).unwrap_or_default();
        assert_eq!(line.chars().count(), LINE_LIMIT + 1);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn io_errors_lose_the_os_error_suffix() {
        let error = io::Error::from_raw_os_error(rustix::io::Errno::NOENT.raw_os_error());
        assert_eq!(describe_io_error(&error), "No such file or directory");
        let custom = io::Error::other("odd (os error 5) text");
        assert_eq!(describe_io_error(&custom), "odd (os error 5) text");
    }

    #[test]
    fn statuses_read_as_words() {
        assert_eq!(
            describe_status(&ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            describe_status(&ExitStatus::from_raw(Signal::SEGV.as_raw())),
            "killed by signal SIGSEGV"
        );
    }
}
