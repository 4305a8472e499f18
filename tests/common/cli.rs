//! Running the real `flowstate` binary on config files in a temporary directory.
//!
//! [`Sandbox`] is a temporary directory that holds the config files and is the working
//! directory of every run, so `./flowstate.yaml` and relative paths mean files of the test
//! alone. The binary runs with a cleared environment: no `RUST_LOG`, no `FLOWSTATE_CONFIG`
//! unless the test sets them, nothing from the developer's shell. Every run has a deadline, so
//! a hung binary fails its test instead of hanging the suite.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest any single run may take before it is killed and its test failed.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// Variables passed through from the test's environment: none of them changes behaviour.
const PASSED_THROUGH: &[&str] = &["PATH", "RUST_BACKTRACE", "LLVM_PROFILE_FILE"];

/// A temporary directory for config files, removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("flowstate-test-")
                .tempdir()
                .expect("create a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative` (parent directories created) and returns its full path.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the parent directory");
        }
        std::fs::write(&path, contents).expect("write the file");
        path
    }

    /// An executable `sh` script at `relative` running `body`; returns its full path.
    pub fn script(&self, relative: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(relative, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make the script executable");
        path
    }

    /// A run of the binary with the sandbox as working directory.
    pub fn flowstate(&self) -> Run {
        Run {
            args: Vec::new(),
            env: Vec::new(),
            cwd: self.dir.path().to_path_buf(),
        }
    }

    /// Shorthand: `flowstate ARGS...`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.flowstate().args(args).output()
    }
}

/// The binary with `args` in `cwd`, stdin closed, stdout and stderr piped, and a cleared
/// environment holding only [`PASSED_THROUGH`] and `env`; with how to show it in failures.
pub fn flowstate_command(
    args: &[OsString],
    env: &[(String, String)],
    cwd: &Path,
) -> (Command, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowstate"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in PASSED_THROUGH {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let shown = format!(
        "{}flowstate {}",
        env.iter()
            .map(|(k, v)| format!("{k}={v:?} "))
            .collect::<String>(),
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    (command, shown)
}

/// One invocation of the binary, built up, then run by [`Run::output`].
#[must_use]
pub struct Run {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Run {
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(OsString::from));
        self
    }

    /// Sets an environment variable for this run (the rest of the environment is cleared).
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_string(), value.into()));
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = dir.into();
        self
    }

    /// Runs to completion and captures everything; kills the process and fails the test if it
    /// runs past [`RUN_DEADLINE`].
    pub fn output(self) -> Outcome {
        let (mut command, shown) = flowstate_command(&self.args, &self.env, &self.cwd);
        let mut child = command.spawn().expect("start the flowstate binary");
        let stdout = drain(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for flowstate") {
                break status;
            }
            if started.elapsed() > RUN_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{shown}` still running after {RUN_DEADLINE:?}; killed it\nstdout:\n{}\nstderr:\n{}",
                    stdout.join().unwrap_or_default(),
                    stderr.join().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            command: shown,
            code: status.code(),
            stdout: stdout.join().expect("read stdout"),
            stderr: stderr.join().expect("read stderr"),
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a finished run printed and how it exited. `Display` shows all of it, for failure
/// messages: `assert!(cond, "{outcome}")`.
pub struct Outcome {
    pub command: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited with {:?}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Outcome {
    /// Fails the test, showing everything, unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self}");
        self
    }

    /// stdout and stderr together: for "never printed anywhere" assertions.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// stdout parsed as JSON (`once --json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }

    /// The `once --json` result of one host.
    #[track_caller]
    pub fn result(&self, label: &str) -> Value {
        let json = self.json();
        let results = json
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {self}"));
        let matching: Vec<&Value> = results.iter().filter(|r| r["label"] == label).collect();
        assert_eq!(
            matching.len(),
            1,
            "one result for {label:?} expected: {self}"
        );
        matching[0].clone()
    }

    /// The table row of one host from `once` (without `--json`).
    #[track_caller]
    pub fn row(&self, label: &str) -> Row {
        let mut lines = self.stdout.lines();
        let header = cells(lines.next().unwrap_or(""));
        assert_eq!(
            header,
            ["LABEL", "STATUS", "LATENCY", "DETAIL"],
            "unexpected table header: {self}"
        );
        let rows: Vec<Vec<String>> = lines.map(cells).filter(|c| c[0] == label).collect();
        assert_eq!(rows.len(), 1, "one row for {label:?} expected: {self}");
        let row = &rows[0];
        assert!(row.len() >= 3, "short row for {label:?}: {self}");
        Row {
            status: row[1].clone(),
            latency: row[2].clone(),
            detail: row.get(3).cloned().unwrap_or_default(),
        }
    }
}

/// One row of the `once` table.
#[derive(Debug)]
pub struct Row {
    pub status: String,
    pub latency: String,
    pub detail: String,
}

/// Table cells: columns are separated by at least two spaces.
pub fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}
