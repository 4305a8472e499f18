//! The `script` check: runs a program and judges it by the Nagios plugin convention, so the
//! thousands of existing `check_*` plugins (and any script written to their convention) work
//! as they are.
//!
//! | exit | status |
//! | --- | --- |
//! | 0 | up |
//! | 1 | degraded (WARNING) |
//! | 2 | down (CRITICAL) |
//! | 3 or anything else, or killed by a signal | down, saying `unknown (exit N)` or the signal |
//!
//! The first line of stdout is the detail, without performance data (everything from the first
//! `|` on: `OK - disk 40% used | used=40%` reads `OK - disk 40% used`). The performance data
//! is read into the result ([`perfdata`] has the rules), whatever the exit. A failing program that
//! prints nothing on stdout is described by the first line of its stderr instead
//! (`sh: 1: check_disk: not found`).
//!
//! The program runs directly (no shell), with the configured `env` added to the inherited
//! environment, in a process group of its own (see [`crate::process`]): when the host's timeout
//! drops the check, or the program exits, everything it started is killed, so a plugin that
//! hangs or forks `sleep 3600 &` leaves nothing behind. A check still running when the daemon
//! stops is ended the same way and reports nothing (a check cut off is no verdict). Reasons
//! name only the program (`argv[0]`): its arguments may carry credentials.

use std::sync::Arc;
use std::time::Duration;

use flowstate_config::{Check, HostConfiguration, ScriptCheck};
use tokio::process::Command;

use super::{CheckContext, Probe, ProbeFuture, ProbeOutcome};
use crate::process::{self, Finished, RunError};

pub mod perfdata;

#[derive(Default)]
pub struct ScriptProbe;

impl ScriptProbe {
    pub fn new() -> Self {
        ScriptProbe
    }
}

impl Probe for ScriptProbe {
    fn probe(&self, host: &Arc<HostConfiguration>, _context: &CheckContext) -> ProbeFuture {
        let host = host.clone();
        Box::pin(async move {
            match &host.check {
                Check::Script(check) => run_script(check, host.timeout).await,
                other => ProbeOutcome::failed(format!("not a script check: {}", other.kind())),
            }
        })
    }
}

/// Runs the program once, bounded by `limit`, and judges how it ended.
async fn run_script(check: &ScriptCheck, limit: Duration) -> ProbeOutcome {
    let Some(program) = check.argv.first() else {
        // Validation rejects an empty command; this only guards a hand-built config.
        return ProbeOutcome::failed("the command is empty");
    };
    let mut command = Command::new(program);
    command
        .args(&check.argv[1..])
        .envs(check.env.iter().map(|(name, value)| (name, value)));
    // The same limit as the check's own timeout, which usually fires first (it started a
    // moment earlier) and drops this future; either way the process group is killed. Plugins
    // do not read stdin: it is closed at once.
    let outcome = process::run(command, Vec::new(), limit).await;
    if let Err(RunError::Interrupted) = outcome {
        // The daemon is stopping and ended the program: a check cut off has no verdict, and a
        // failure reported now would be recorded (and alerted after the restart) as an outage
        // of the host. So this check never reports, as if the daemon had exited mid-check.
        return std::future::pending().await;
    }
    judge(program, limit, outcome)
}

/// The Nagios plugin convention, applied to how the run went.
fn judge(program: &str, limit: Duration, outcome: Result<Finished, RunError>) -> ProbeOutcome {
    let finished = match outcome {
        Ok(finished) => finished,
        Err(RunError::TimedOut) => {
            return ProbeOutcome::failed(format!(
                "timed out after {} (process group killed)",
                humantime::format_duration(limit)
            ))
        }
        Err(RunError::Spawn(e)) => {
            return ProbeOutcome::failed(format!(
                "cannot run {program}: {}",
                process::describe_io_error(&e)
            ))
        }
        Err(RunError::Wait(e)) => {
            return ProbeOutcome::failed(format!(
                "cannot wait for {program}: {}",
                process::describe_io_error(&e)
            ))
        }
        // Not judged (see `run_script`); said plainly should it ever be.
        Err(RunError::Interrupted) => {
            return ProbeOutcome::failed(format!("{program} was ended: flowstate is stopping"))
        }
    };
    let stdout = String::from_utf8_lossy(&finished.stdout.bytes);
    let output = plugin_output(&stdout);
    // A plugin that failed without a word on stdout usually said why on stderr (a missing
    // interpreter, a shell error); a passing one's stderr is noise.
    let explanation = || {
        output
            .clone()
            .or_else(|| process::first_line(&finished.stderr.bytes))
    };
    let with = |what: String| match explanation() {
        Some(line) => format!("{what}: {line}"),
        None => what,
    };
    let mut outcome = match finished.status.code() {
        Some(0) => ProbeOutcome::passed(output.unwrap_or_else(|| "ok (exit 0)".to_string())),
        Some(1) => {
            ProbeOutcome::degraded(explanation().unwrap_or_else(|| "warning (exit 1)".to_string()))
        }
        Some(2) => {
            ProbeOutcome::failed(explanation().unwrap_or_else(|| "critical (exit 2)".to_string()))
        }
        Some(code) => ProbeOutcome::failed(with(format!("unknown (exit {code})"))),
        // Killed by a signal: `killed by signal SIGSEGV`.
        None => ProbeOutcome::failed(with(process::describe_status(&finished.status))),
    };
    outcome.perfdata = perfdata::parse(&stdout, finished.stdout.truncated);
    outcome
}

/// A plugin's status text: the first non-blank line of stdout without its performance data,
/// made safe for one log line; `None` when there is none. Public (hidden) for the fuzz target
/// `perfdata` (fuzz/).
#[doc(hidden)]
pub fn plugin_output(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let status = line.split('|').next().unwrap_or_default();
    process::first_line(status.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;
    use crate::process::Captured;

    fn finished(code: i32, stdout: &str, stderr: &str) -> Result<Finished, RunError> {
        Ok(Finished {
            status: ExitStatus::from_raw(code << 8),
            stdout: Captured {
                bytes: stdout.as_bytes().to_vec(),
                truncated: false,
            },
            stderr: Captured {
                bytes: stderr.as_bytes().to_vec(),
                truncated: false,
            },
        })
    }

    fn judged(code: i32, stdout: &str, stderr: &str) -> ProbeOutcome {
        judge(
            "check_disk",
            Duration::from_secs(5),
            finished(code, stdout, stderr),
        )
    }

    #[test]
    fn exit_codes_follow_the_nagios_convention() {
        assert_eq!(
            judged(0, "OK - disk 40% used\nmore\n", ""),
            ProbeOutcome::passed("OK - disk 40% used")
        );
        assert_eq!(
            judged(1, "WARNING - disk 85% used\n", ""),
            ProbeOutcome::degraded("WARNING - disk 85% used")
        );
        assert_eq!(
            judged(2, "CRITICAL - disk 95% used\n", ""),
            ProbeOutcome::failed("CRITICAL - disk 95% used")
        );
        assert_eq!(
            judged(3, "UNKNOWN - no such mount\n", ""),
            ProbeOutcome::failed("unknown (exit 3): UNKNOWN - no such mount")
        );
        assert_eq!(
            judged(127, "", "sh: 1: check_dsk: not found\n"),
            ProbeOutcome::failed("unknown (exit 127): sh: 1: check_dsk: not found")
        );
    }

    #[test]
    fn silent_plugins_get_the_status_word() {
        assert_eq!(judged(0, "", "noise"), ProbeOutcome::passed("ok (exit 0)"));
        assert_eq!(
            judged(1, "", ""),
            ProbeOutcome::degraded("warning (exit 1)")
        );
        assert_eq!(
            judged(2, "\n", ""),
            ProbeOutcome::failed("critical (exit 2)")
        );
        assert_eq!(judged(4, "", ""), ProbeOutcome::failed("unknown (exit 4)"));
        // Only performance data: nothing to say.
        let only_data = judged(0, "|load=0.1\n", "");
        assert_eq!(only_data.detail, "ok (exit 0)");
        assert_eq!(only_data.perfdata.len(), 1);
    }

    #[test]
    fn performance_data_is_read_whatever_the_exit_and_leaves_the_detail() {
        for code in [0, 1, 2, 3] {
            let outcome = judged(
                code,
                "DISK - 40% used | used=40%;80;90 'bad\nmore | free=2GB\n",
                "",
            );
            assert!(outcome.detail.ends_with("DISK - 40% used"), "{outcome:?}");
            let read: Vec<(&str, f64, Option<&str>)> = outcome
                .perfdata
                .iter()
                .map(|v| (&*v.label, v.value, v.unit.symbol()))
                .collect();
            // The unterminated quote ends the status line's data; the long output's is read.
            assert_eq!(
                read,
                [
                    ("used", 40.0, Some("%")),
                    ("free", 2.0 * 1024.0 * 1024.0 * 1024.0, Some("B"))
                ],
                "exit {code}"
            );
        }
        // A cut output drops its last, maybe cut, item; garbage never fails the check.
        let mut cut = finished(0, "OK | a=1 b=2.", "");
        if let Ok(finished) = &mut cut {
            finished.stdout.truncated = true;
        }
        let outcome = judge("check_x", Duration::from_secs(5), cut);
        assert_eq!(outcome.detail, "OK");
        assert_eq!(outcome.perfdata.len(), 1);
        assert_eq!(
            judged(0, "OK | =;;; x='' '\n", ""),
            ProbeOutcome::passed("OK")
        );
    }

    #[test]
    fn a_signal_is_named() {
        let outcome = judge(
            "check_disk",
            Duration::from_secs(5),
            Ok(Finished {
                status: ExitStatus::from_raw(rustix::process::Signal::SEGV.as_raw()),
                stdout: Captured::default(),
                stderr: Captured::default(),
            }),
        );
        assert_eq!(outcome, ProbeOutcome::failed("killed by signal SIGSEGV"));
    }

    #[test]
    fn run_errors_name_the_program_only() {
        let missing = std::io::Error::from_raw_os_error(rustix::io::Errno::NOENT.raw_os_error());
        assert_eq!(
            judge(
                "/opt/check_x",
                Duration::from_secs(5),
                Err(RunError::Spawn(missing))
            ),
            ProbeOutcome::failed("cannot run /opt/check_x: No such file or directory")
        );
        assert_eq!(
            judge(
                "/opt/check_x",
                Duration::from_millis(500),
                Err(RunError::TimedOut)
            ),
            ProbeOutcome::failed("timed out after 500ms (process group killed)")
        );
    }
}
