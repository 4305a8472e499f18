//! The plugin protocol's lines, on both ends of the pipe.
//!
//! flowstate's end: the input is what a plugin wrote on stdout, read with
//! `plugin::process::read_line` (bounded lines) and each line parsed as the daemon does (a
//! `Hello` in the handshake, an `Answer` afterwards); a hello's `settings_schema` is compiled
//! and the settings of any check request among the lines are validated against it. The
//! plugin's end: the same input is what flowstate wrote on the plugin's stdin, served by
//! `flowstate_plugin::Plugin::serve` with a check that always answers `up`.
//!
//! Invariants: no panic; no line is longer than `MAX_LINE`; read whole, the lines are the
//! input; a parsed answer or hello written back as JSON reads back with the same id (what
//! one end writes, the other reads); the plugin answers every hello and request it read, and
//! every line it writes is a hello or an answer.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use flowstate_actors::plugin::process::{read_line, MAX_LINE};
use flowstate_actors::plugin::settings_schema::SettingsSchema;
use flowstate_plugin::{Answer, CheckAnswer, Hello, Plugin, Request};
use libfuzzer_sys::fuzz_target;

/// Runs a future that never waits (reading from a byte slice is always ready).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("reading a byte slice waited"),
    }
}

fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        Plugin::check(serde_json::json!({"type": "object"}), |request| {
            Ok(CheckAnswer::up(format!("checked {}", request.host)))
        })
    })
}

fuzz_target!(|data: &[u8]| {
    // flowstate reading a plugin.
    let mut reader = data;
    let mut lines = Vec::new();
    let mut all_complete = true;
    loop {
        let mut line = Vec::new();
        let Some(complete) = ready(read_line(&mut reader, &mut line)) else {
            break;
        };
        assert!(line.len() <= MAX_LINE);
        all_complete &= complete;
        lines.push(line);
    }
    if all_complete {
        let mut joined = lines.join(&b'\n');
        if data.ends_with(b"\n") {
            joined.push(b'\n');
        }
        assert_eq!(joined, data);
    }
    let mut schemas = Vec::new();
    let mut requests = 0usize;
    for line in &lines {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Ok(hello) = serde_json::from_str::<Hello>(line) {
            let written = serde_json::to_string(&hello).expect("a hello serialises");
            let back: Hello = serde_json::from_str(&written).expect("a hello reads back");
            assert_eq!(back.protocol, hello.protocol);
            assert_eq!(back.kind, hello.kind);
            if let Ok(schema) = SettingsSchema::compile(&hello.settings_schema) {
                schemas.push(schema);
            }
        }
        if let Ok(answer) = serde_json::from_str::<Answer>(line) {
            let written = serde_json::to_string(&answer).expect("an answer serialises");
            let back: Answer = serde_json::from_str(&written).expect("an answer reads back");
            assert_eq!(back.id(), answer.id());
        }
        match serde_json::from_str::<Request>(line) {
            Ok(Request::Check(check)) => {
                requests += 1;
                for schema in &schemas {
                    for problem in schema.problems(&check.settings) {
                        assert!(problem.place.starts_with("settings"), "{problem}");
                    }
                }
            }
            Ok(_) => requests += 1,
            Err(_) => {}
        }
    }

    // A plugin reading flowstate. Its own reading splits lines at `\n` only, as read_line
    // does, but takes lines of any length: count the requests again on its lines.
    let served: usize = data
        .split(|&b| b == b'\n')
        .filter(|line| serde_json::from_slice::<Request>(line).is_ok())
        .count();
    if all_complete {
        assert_eq!(served, requests);
    }
    let mut output = Vec::new();
    plugin()
        .serve(data, &mut output)
        .expect("serving from memory");
    let written: Vec<&[u8]> = output
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(written.len(), served, "one line out per request in");
    for line in written {
        assert!(
            serde_json::from_slice::<Answer>(line).is_ok()
                || serde_json::from_slice::<Hello>(line).is_ok(),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
});
