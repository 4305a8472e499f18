//! The hello exchange on its own, blocking: `flowstate check` starts each plugin the
//! configuration uses, reads its settings schema and stops it again, without an actix system.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use flowstate_config::PluginConfig;
use flowstate_plugin::{Hello, Request, PROTOCOL};

use super::process::{kill_group, MAX_LINE};

/// Why a plugin gave no usable hello.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("it did not answer `hello` within {0}")]
    Silent(String),
    #[error("it exited without answering `hello`{0}")]
    Exited(String),
    #[error("it answered `hello` with something else: {0}")]
    NotHello(String),
    #[error("it speaks protocol {0}; flowstate speaks {PROTOCOL}")]
    Protocol(u32),
}

/// Starts `plugin`, sends `hello` and returns its answer, waiting at most `limit`. The program
/// and its process group are killed before this returns.
pub fn ask_hello(plugin: &PluginConfig, limit: Duration) -> Result<Hello, HandshakeError> {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(&plugin.argv[0])
        .args(&plugin.argv[1..])
        .envs(plugin.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|error| HandshakeError::Spawn {
            program: plugin.argv[0].clone(),
            reason: crate::process::describe_io_error(&error),
        })?;
    let group = child.id() as i32;
    let hello = serde_json::to_string(&Request::Hello { protocol: PROTOCOL }).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits at once closes the pipe: reported below as no answer.
        let _ = writeln!(stdin, "{hello}");
        // stdin stays open until the answer is in: some plugins end on EOF.
        std::mem::forget(stdin);
    }
    let (sender, answer) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout.take(MAX_LINE as u64)).read_line(&mut line);
            let _ = sender.send(read.map(|_| line));
        });
    }
    let outcome = match answer.recv_timeout(limit) {
        Err(_) => Err(HandshakeError::Silent(super::shown(limit))),
        Ok(Err(_)) => Err(HandshakeError::Exited(String::new())),
        Ok(Ok(line)) if line.trim().is_empty() => {
            let status = child
                .try_wait()
                .ok()
                .flatten()
                .map(|s| format!(" ({})", crate::process::describe_status(&s)))
                .unwrap_or_default();
            Err(HandshakeError::Exited(status))
        }
        Ok(Ok(line)) => match serde_json::from_str::<Hello>(line.trim()) {
            Ok(hello) if hello.protocol != PROTOCOL => {
                Err(HandshakeError::Protocol(hello.protocol))
            }
            Ok(hello) => Ok(hello),
            Err(error) => Err(HandshakeError::NotHello(format!(
                "{:?} ({error})",
                line.trim().chars().take(200).collect::<String>()
            ))),
        },
    };
    kill_group(group);
    let _ = child.kill();
    let _ = child.wait();
    outcome
}
