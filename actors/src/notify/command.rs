//! The command notifier: runs a program once per event, so any alerting tool with a command
//! line (a pager CLI, `mail`, a site-specific script) can receive flowstate's events.
//!
//! The program is run directly, never through a shell: the configured argv is what runs, and
//! nothing in an event can be interpreted as shell syntax. It receives the event twice, for
//! the convenience of both kinds of script: as one JSON object on stdin (exact, for `jq` and
//! real languages) and as `FLOWSTATE_*` environment variables (for a few lines of `sh`).
//!
//! Each attempt is bounded by the configured `timeout` and runs in its own process group,
//! which is killed when the attempt ends (see [`crate::process`]), so a hung or forking script
//! can neither hold up deliveries nor leave processes behind.
//!
//! Messages name only the program (`argv[0]`): its arguments may carry tokens.

use std::io;
use std::time::Duration;

use flowstate_config::notifier::CommandConfig;
use tokio::process::Command;

use super::{DeliveryError, DeliveryFuture, EventGroup, Notifier};
use crate::event::AlertEvent;
use crate::process::{self, Finished, RunError};

pub struct CommandNotifier {
    config: CommandConfig,
}

impl CommandNotifier {
    pub fn new(config: CommandConfig) -> Self {
        CommandNotifier { config }
    }
}

impl Notifier for CommandNotifier {
    fn deliver(&mut self, event: &AlertEvent) -> DeliveryFuture {
        self.run(event, environment(event))
    }

    /// The group's JSON on stdin; `FLOWSTATE_GROUP` and `FLOWSTATE_EVENT_COUNT` for a glance.
    fn deliver_group(&mut self, group: &EventGroup) -> DeliveryFuture {
        let environment = vec![
            ("FLOWSTATE_EVENT_ID", group.id().to_string()),
            ("FLOWSTATE_EVENT", "group".to_string()),
            ("FLOWSTATE_GROUP", env_value(&group.group)),
            ("FLOWSTATE_EVENT_COUNT", group.events.len().to_string()),
        ];
        self.run(group, environment)
    }
}

impl CommandNotifier {
    /// Runs the program once with `record` as JSON on stdin and `environment` added.
    fn run(
        &self,
        record: &impl serde::Serialize,
        environment: Vec<(&'static str, String)>,
    ) -> DeliveryFuture {
        let Some(program) = self.config.argv.first().cloned() else {
            // Validation rejects an empty command; this only guards a hand-built config.
            return Box::pin(std::future::ready(Err(DeliveryError::permanent(
                "the command is empty",
            ))));
        };
        let input = match serde_json::to_vec(record) {
            // A trailing newline, so line-oriented tools (`read -r`, `head -n1`) see a whole line.
            Ok(mut json) => {
                json.push(b'\n');
                json
            }
            // The same event fails the same way on every attempt.
            Err(e) => {
                let message = format!("cannot encode the event for {program}: {e}");
                return Box::pin(std::future::ready(Err(DeliveryError::permanent(message))));
            }
        };
        let mut command = Command::new(&program);
        command.args(&self.config.argv[1..]).envs(environment);
        let limit = self.config.timeout;
        // The program starts when the attempt is first polled, so the timeout counts from then.
        Box::pin(async move {
            let outcome = process::run(command, input, limit).await;
            judge(&program, limit, outcome)
        })
    }
}

/// The event as `FLOWSTATE_*` variables, on top of the inherited environment.
///
/// The list is explicit rather than derived from the event's fields: a new field must not
/// silently override a variable the program inherits (`FLOWSTATE_CONFIG`, say). Numbers are
/// spelled as in the JSON object, so both forms of the event agree.
fn environment(event: &AlertEvent) -> Vec<(&'static str, String)> {
    let number = |value: f64| serde_json::to_string(&value).unwrap_or_default();
    vec![
        ("FLOWSTATE_EVENT_ID", event.id.clone()),
        ("FLOWSTATE_EVENT", event.event.as_str().to_string()),
        ("FLOWSTATE_HOST", env_value(&event.host)),
        ("FLOWSTATE_STATUS", event.status.as_str().to_string()),
        ("FLOWSTATE_PREVIOUS", event.previous.as_str().to_string()),
        ("FLOWSTATE_AT", event.at.clone()),
        ("FLOWSTATE_SINCE", event.since.clone()),
        ("FLOWSTATE_REASON", env_value(&event.reason)),
        (
            "FLOWSTATE_CONSECUTIVE_FAILURES",
            event.consecutive_failures.to_string(),
        ),
        ("FLOWSTATE_LATENCY_MS", number(event.latency_ms)),
    ]
}

/// The longest text value put in the environment, in bytes.
///
/// Linux refuses to start a program when one environment string passes 128 KiB (`E2BIG`,
/// `Argument list too long`), and that would fail every attempt at an event with a long
/// reason; a shell variable is for a glance anyway. The JSON on stdin keeps the whole text.
const ENV_VALUE_LIMIT: usize = 4096;

/// `text` made fit for the environment: cut to [`ENV_VALUE_LIMIT`] bytes on a character
/// boundary, and without NUL bytes, which an environment string cannot hold (the JSON on stdin
/// keeps them, escaped).
fn env_value(text: &str) -> String {
    let mut end = text.len().min(ENV_VALUE_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\0', "")
}

/// Turns how the run went into the attempt's result: exit 0 is delivered, whatever it printed.
fn judge(
    program: &str,
    limit: Duration,
    outcome: Result<Finished, RunError>,
) -> Result<(), DeliveryError> {
    match outcome {
        Ok(finished) if finished.status.success() => Ok(()),
        // A failing script usually depends on something (a network, an API) that comes back.
        Ok(finished) => {
            let how = process::describe_status(&finished.status);
            // Scripts that report errors on stdout are common enough to fall back to it.
            let line = process::first_line(&finished.stderr.bytes)
                .or_else(|| process::first_line(&finished.stdout.bytes));
            Err(DeliveryError::transient(match line {
                Some(line) => format!("{program} {how}: {line}"),
                None => format!("{program} {how}"),
            }))
        }
        Err(RunError::TimedOut) => Err(DeliveryError::transient(format!(
            "{program} timed out after {} (process group killed)",
            humantime::format_duration(limit)
        ))),
        Err(RunError::Spawn(e)) => {
            let message = format!("cannot run {program}: {}", process::describe_io_error(&e));
            match e.kind() {
                // Missing, not executable, or a NUL byte in the configured argv: only a change
                // of the configuration (which builds a new notifier) can fix these.
                io::ErrorKind::NotFound
                | io::ErrorKind::PermissionDenied
                | io::ErrorKind::InvalidInput => Err(DeliveryError::permanent(message)),
                // Out of processes or memory, a script being replaced (ETXTBSY): passing.
                _ => Err(DeliveryError::transient(message)),
            }
        }
        // The event stays in the outbox: with `state.path` it runs again at the next start.
        Err(RunError::Interrupted) => Err(DeliveryError::transient(format!(
            "{program} was ended: flowstate is stopping"
        ))),
        Err(RunError::Wait(e)) => Err(DeliveryError::transient(format!(
            "cannot wait for {program}: {}",
            process::describe_io_error(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use futures_util::future::{select, Either};

    use super::*;
    use crate::event::EventKind;
    use crate::model::Status;

    fn event() -> AlertEvent {
        AlertEvent {
            id: "01JD0000000000000000000000".into(),
            event: EventKind::Down,
            host: "api \"eu\"".into(),
            group: None,
            status: Status::Down,
            previous: Status::Up,
            at: "2026-11-28T16:03:37.123Z".into(),
            since: "2026-11-28T16:01:02.000Z".into(),
            reason: "status 503, expected 200 — ünïcode, $HOME `id` and\na second line".into(),
            consecutive_failures: 3,
            latency_ms: 12.4,
            trace: None,
        }
    }

    /// A notifier running `script` with `sh -c`; `args` are its `$1`, `$2`...
    fn shell(script: &str, args: &[&Path], timeout: Duration) -> CommandNotifier {
        let mut argv = vec!["sh".to_string(), "-c".into(), script.into(), "sh".into()];
        argv.extend(args.iter().map(|p| p.display().to_string()));
        CommandNotifier::new(CommandConfig { argv, timeout })
    }

    /// A fresh directory, removed with what it holds when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "flowstate-command-{}-{name}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("create the scratch directory");
            Scratch(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Whether `pid` is a live process (a zombie waiting for its reaper is not).
    fn alive(pid: i32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // `pid (comm) S ...`: the state follows the last `)`, as comm may hold one.
        let state = stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].trim_start().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    }

    /// Waits (a bounded time) until none of `pids` is alive; `false` if one still is.
    async fn all_dead(pids: &[i32], within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if pids.iter().all(|&pid| !alive(pid)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The PID a script wrote to `path`, waiting a bounded time for it to appear.
    async fn pid_in(path: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
            assert!(Instant::now() < deadline, "no PID in {}", path.display());
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILLs processes that escaped the process group on purpose, even if the test fails.
    struct KillAtEnd(Vec<PathBuf>);

    impl Drop for KillAtEnd {
        fn drop(&mut self) {
            for path in &self.0 {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if let Some(pid) = text
                    .trim()
                    .parse()
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }

    #[actix_rt::test]
    async fn stdin_carries_the_event_as_one_json_object() {
        let scratch = Scratch::new("stdin");
        let out = scratch.file("stdin.json");
        let mut notifier = shell(r#"cat > "$1""#, &[&out], Duration::from_secs(10));

        notifier.deliver(&event()).await.expect("delivered");

        let text = std::fs::read_to_string(&out).expect("the script wrote stdin");
        assert!(text.ends_with('\n'), "a whole line: {text:?}");
        assert_eq!(text.lines().count(), 1, "one object: {text:?}");
        let back: AlertEvent = serde_json::from_str(&text).expect("one JSON object");
        assert_eq!(back, event());
    }

    #[actix_rt::test]
    async fn environment_carries_the_event_fields_on_top_of_the_inherited_ones() {
        let scratch = Scratch::new("env");
        let out = scratch.file("env");
        let mut notifier = shell(r#"env -0 > "$1""#, &[&out], Duration::from_secs(10));

        notifier.deliver(&event()).await.expect("delivered");

        let raw = std::fs::read(&out).expect("the script wrote its environment");
        let text = String::from_utf8(raw).expect("UTF-8");
        let vars: std::collections::HashMap<&str, &str> = text
            .split('\0')
            .filter_map(|entry| entry.split_once('='))
            .collect();
        let expected = [
            ("FLOWSTATE_EVENT_ID", "01JD0000000000000000000000"),
            ("FLOWSTATE_EVENT", "down"),
            ("FLOWSTATE_HOST", "api \"eu\""),
            ("FLOWSTATE_STATUS", "down"),
            ("FLOWSTATE_PREVIOUS", "up"),
            ("FLOWSTATE_AT", "2026-11-28T16:03:37.123Z"),
            ("FLOWSTATE_SINCE", "2026-11-28T16:01:02.000Z"),
            (
                "FLOWSTATE_REASON",
                "status 503, expected 200 — ünïcode, $HOME `id` and\na second line",
            ),
            ("FLOWSTATE_CONSECUTIVE_FAILURES", "3"),
            ("FLOWSTATE_LATENCY_MS", "12.4"),
        ];
        for (name, value) in expected {
            assert_eq!(vars.get(name).copied(), Some(value), "{name}");
        }
        let path = std::env::var("PATH").expect("the tests run with a PATH");
        assert_eq!(vars.get("PATH").copied(), Some(path.as_str()));
    }

    #[actix_rt::test]
    async fn a_long_reason_is_cut_in_the_environment_but_whole_on_stdin() {
        let scratch = Scratch::new("long");
        let (stdin, reason) = (scratch.file("stdin.json"), scratch.file("reason"));
        let mut long = event();
        // Past Linux's 128 KiB limit on one environment string, in 3-byte characters so the
        // cut falls inside one.
        long.reason = "€".repeat(100_000);
        let mut notifier = shell(
            r#"cat > "$1"; printf %s "$FLOWSTATE_REASON" > "$2""#,
            &[&stdin, &reason],
            Duration::from_secs(10),
        );

        notifier.deliver(&long).await.expect("delivered");

        let text = std::fs::read_to_string(&stdin).expect("the script wrote stdin");
        let back: AlertEvent = serde_json::from_str(&text).expect("one JSON object");
        assert_eq!(back.reason, long.reason);
        let cut = std::fs::read_to_string(&reason).expect("UTF-8, cut on a character");
        assert_eq!(cut, "€".repeat(ENV_VALUE_LIMIT / 3));
    }

    #[actix_rt::test]
    async fn exit_zero_is_delivered_whatever_it_prints() {
        let mut notifier = shell(
            "cat > /dev/null; echo fine; echo 'a warning' >&2; exit 0",
            &[],
            Duration::from_secs(10),
        );
        assert_eq!(notifier.deliver(&event()).await, Ok(()));
    }

    #[actix_rt::test]
    async fn a_program_that_ignores_stdin_and_exits_zero_is_delivered() {
        // More than a pipe holds, so the write is still going (and fails with EPIPE) when the
        // program exits.
        let mut big = event();
        big.reason = "x".repeat(1 << 20);
        let mut notifier = shell("exit 0", &[], Duration::from_secs(10));
        assert_eq!(notifier.deliver(&big).await, Ok(()));
    }

    #[actix_rt::test]
    async fn a_nonzero_exit_is_transient_and_quotes_the_first_stderr_line() {
        let mut notifier = shell(
            "echo 'on stdout'; echo; echo 'pager: 503 from upstream' >&2; echo 'more' >&2; exit 3",
            &[],
            Duration::from_secs(10),
        );
        let error = notifier.deliver(&event()).await.expect_err("status 3");
        assert!(error.is_retryable());
        assert_eq!(
            error.message(),
            "sh exited with status 3: pager: 503 from upstream"
        );
    }

    #[actix_rt::test]
    async fn a_nonzero_exit_names_no_argument() {
        let mut notifier = CommandNotifier::new(CommandConfig {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "exit 1".into(),
                "token=s3cr3t".into(),
            ],
            timeout: Duration::from_secs(10),
        });
        let error = notifier.deliver(&event()).await.expect_err("status 1");
        assert_eq!(error.message(), "sh exited with status 1");
        assert!(!error.message().contains("s3cr3t"));
    }

    #[actix_rt::test]
    async fn death_by_signal_is_transient_and_names_the_signal() {
        let mut notifier = shell("kill -TERM $$; sleep 10", &[], Duration::from_secs(10));
        let error = notifier.deliver(&event()).await.expect_err("killed");
        assert!(error.is_retryable());
        assert_eq!(error.message(), "sh killed by signal SIGTERM");
    }

    #[actix_rt::test]
    async fn a_missing_program_is_permanent() {
        let scratch = Scratch::new("missing");
        let program = scratch.file("no-such-pager").display().to_string();
        let mut notifier = CommandNotifier::new(CommandConfig {
            argv: vec![program.clone(), "--token=s3cr3t".into()],
            timeout: Duration::from_secs(10),
        });
        let error = notifier.deliver(&event()).await.expect_err("no program");
        assert!(!error.is_retryable());
        assert_eq!(
            error.message(),
            format!("cannot run {program}: No such file or directory")
        );
    }

    #[actix_rt::test]
    async fn a_program_that_is_not_executable_is_permanent() {
        let scratch = Scratch::new("noexec");
        let program = scratch.file("pager.sh");
        std::fs::write(&program, "#!/bin/sh\nexit 0\n").expect("write the script");
        let mut notifier = CommandNotifier::new(CommandConfig {
            argv: vec![program.display().to_string()],
            timeout: Duration::from_secs(10),
        });
        let error = notifier
            .deliver(&event())
            .await
            .expect_err("not executable");
        assert!(!error.is_retryable());
        assert!(
            error.message().ends_with(": Permission denied"),
            "{}",
            error.message()
        );
    }

    #[actix_rt::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let scratch = Scratch::new("timeout");
        let (background, leader) = (scratch.file("background.pid"), scratch.file("leader.pid"));
        let mut notifier = shell(
            r#"sleep 3600 & echo $! > "$1"; echo $$ > "$2"; sleep 3600"#,
            &[&background, &leader],
            Duration::from_millis(500),
        );

        let started = Instant::now();
        let error = notifier.deliver(&event()).await.expect_err("timed out");
        assert!(error.is_retryable());
        assert_eq!(
            error.message(),
            "sh timed out after 500ms (process group killed)"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );

        let pids = [pid_in(&background).await, pid_in(&leader).await];
        assert!(
            all_dead(&pids, Duration::from_secs(5)).await,
            "still running: {pids:?}"
        );
    }

    #[actix_rt::test]
    async fn a_background_child_holding_stdout_does_not_outlast_the_exit() {
        let scratch = Scratch::new("straggler");
        let background = scratch.file("background.pid");
        let mut notifier = shell(
            r#"sleep 3600 & echo $! > "$1"; echo sent"#,
            &[&background],
            Duration::from_secs(30),
        );

        let started = Instant::now();
        assert_eq!(notifier.deliver(&event()).await, Ok(()));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let pid = pid_in(&background).await;
        assert!(
            all_dead(&[pid], Duration::from_secs(5)).await,
            "the background child {pid} was left running"
        );
    }

    #[actix_rt::test]
    async fn a_detached_process_holding_stdout_is_waited_for_only_until_the_timeout() {
        let scratch = Scratch::new("detached");
        let detached = scratch.file("detached.pid");
        let _cleanup = KillAtEnd(vec![detached.clone()]);
        // `setsid` leaves the process group, so the kill at the exit does not reach it, and it
        // keeps stdout open.
        let mut notifier = shell(
            r#"setsid sleep 3600 & echo $! > "$1"; echo sent"#,
            &[&detached],
            Duration::from_millis(800),
        );

        let started = Instant::now();
        assert_eq!(notifier.deliver(&event()).await, Ok(()));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }

    #[actix_rt::test]
    async fn dropping_an_attempt_kills_the_process_group() {
        let scratch = Scratch::new("dropped");
        let (background, leader) = (scratch.file("background.pid"), scratch.file("leader.pid"));
        let mut notifier = shell(
            r#"sleep 3600 & echo $! > "$1"; echo $$ > "$2"; sleep 3600"#,
            &[&background, &leader],
            Duration::from_secs(60),
        );

        let attempt = notifier.deliver(&event());
        let pids = Box::pin(async { [pid_in(&background).await, pid_in(&leader).await] });
        let pids = match select(attempt, pids).await {
            // The attempt future is dropped here, mid-run.
            Either::Right((pids, _attempt)) => pids,
            Either::Left((result, _)) => panic!("the attempt ended early: {result:?}"),
        };
        assert!(
            all_dead(&pids, Duration::from_secs(5)).await,
            "still running: {pids:?}"
        );
    }
}
