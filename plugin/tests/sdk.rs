//! The runner driven as flowstate drives it: requests written into a real OS pipe, answers
//! read from another, one line at a time, while the plugin runs on a thread of its own. And
//! the example plugin run as a real child process.

use std::io::{self, BufRead, BufReader, PipeWriter, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use flowstate_plugin::{
    json, CheckAnswer, Hello, NotifyAnswer, Plugin, PluginKind, Status, Value, PROTOCOL,
};

/// How long a test waits for a line that should come; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test waits to be confident a line does not come.
const QUIET: Duration = Duration::from_millis(200);

/// A plugin served over pipes on a thread of its own: the test is flowstate.
struct Piped {
    /// The plugin's stdin; dropped to send EOF.
    requests: Option<PipeWriter>,
    /// The plugin's stdout, one parsed line at a time (read on a thread, so waits time out).
    answers: Receiver<Value>,
    /// What `serve` returned, once it has.
    served: Receiver<io::Result<()>>,
}

impl Piped {
    fn start(plugin: Plugin) -> Self {
        let (stdin_reader, stdin_writer) = io::pipe().expect("a pipe");
        let (stdout_reader, stdout_writer) = io::pipe().expect("a pipe");
        let (served_tx, served) = mpsc::channel();
        thread::spawn(move || {
            let result = plugin.serve(BufReader::new(stdin_reader), stdout_writer);
            let _ = served_tx.send(result);
        });
        let (answers_tx, answers) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout_reader).lines() {
                let line = line.expect("a line of the plugin's stdout");
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if answers_tx.send(value).is_err() {
                    break;
                }
            }
        });
        Piped {
            requests: Some(stdin_writer),
            answers,
            served,
        }
    }

    fn send(&mut self, line: &str) {
        let requests = self.requests.as_mut().expect("stdin is still open");
        writeln!(requests, "{line}").expect("write to the plugin");
    }

    fn check(&mut self, id: u64, host: &str) {
        self.send(&format!(
            r#"{{"op":"check","id":{id},"host":"{host}","settings":{{}},"timeout_ms":5000}}"#
        ));
    }

    fn receive(&self) -> Value {
        self.answers
            .recv_timeout(PATIENCE)
            .expect("an answer within the patience")
    }

    fn assert_silent(&self) {
        match self.answers.recv_timeout(QUIET) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(line) => panic!("an unexpected line: {line}"),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed"),
        }
    }

    /// Closes the plugin's stdin.
    fn close(&mut self) {
        self.requests = None;
    }

    /// What `serve` returned; panics if it has not returned within the patience.
    fn finished(&self) -> io::Result<()> {
        self.served
            .recv_timeout(PATIENCE)
            .expect("serve returns after EOF")
    }
}

/// Holds handlers until the test opens it: "slow" without sleeping, so no test is flaky.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, opened) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        let (open, opened) = &*self.0;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// A check plugin whose host `slow` waits for the gate and whose other hosts answer at once.
fn gated_plugin(gate: &Gate) -> Plugin {
    let gate = gate.clone();
    Plugin::check(json!(true), move |request| {
        if request.host == "slow" {
            gate.wait();
        }
        Ok(CheckAnswer::up(format!("checked {}", request.host)))
    })
}

#[test]
fn hello_is_answered_with_the_kind_and_the_settings_schema() {
    let schema = json!({
        "type": "object",
        "required": ["address"],
        "properties": {"address": {"type": "string"}}
    });
    let mut plugin = Piped::start(Plugin::check(schema.clone(), |_| Ok(CheckAnswer::up(""))));
    plugin.send(r#"{"op":"hello","protocol":1}"#);
    let hello: Hello = serde_json::from_value(plugin.receive()).unwrap();
    assert_eq!(
        hello,
        Hello {
            protocol: PROTOCOL,
            kind: PluginKind::Check,
            settings_schema: schema
        }
    );
    plugin.close();
    plugin.finished().unwrap();
}

#[test]
fn a_fast_request_is_answered_while_a_slow_one_is_in_flight() {
    let gate = Gate::default();
    let mut plugin = Piped::start(gated_plugin(&gate));
    plugin.check(1, "slow");
    plugin.check(2, "fast");
    assert_eq!(
        plugin.receive(),
        json!({"id": 2, "status": "up", "detail": "checked fast"})
    );
    plugin.assert_silent();
    gate.open();
    assert_eq!(
        plugin.receive(),
        json!({"id": 1, "status": "up", "detail": "checked slow"})
    );
    plugin.close();
    plugin.finished().unwrap();
}

#[test]
fn requests_in_flight_are_bounded_and_the_rest_wait_their_turn() {
    let gate = Gate::default();
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let handler = {
        let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
        move |request: &flowstate_plugin::CheckRequest| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            gate.wait();
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(CheckAnswer::up(request.host.clone()))
        }
    };
    let mut plugin = Piped::start(Plugin::check(json!(true), handler).max_in_flight(2));
    for id in 1..=5 {
        plugin.check(id, "slow");
    }
    plugin.assert_silent();
    assert_eq!(running.load(Ordering::SeqCst), 2, "two requests in flight");
    gate.open();
    let mut ids: Vec<u64> = (0..5)
        .map(|_| plugin.receive()["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    plugin.close();
    plugin.finished().unwrap();
}

#[test]
fn a_panicking_check_is_answered_down_and_the_plugin_lives_on() {
    let mut plugin = Piped::start(Plugin::check(json!(true), |request| {
        if request.host == "buggy" {
            let ports: Vec<u16> = Vec::new();
            return Ok(CheckAnswer::up(ports[3].to_string()));
        }
        Ok(CheckAnswer::up("fine"))
    }));
    plugin.check(1, "buggy");
    let answer: CheckAnswer = serde_json::from_value(plugin.receive()).unwrap();
    assert_eq!((answer.id, answer.status), (1, Status::Down));
    assert!(
        answer
            .detail
            .starts_with("the check panicked: index out of bounds"),
        "{}",
        answer.detail
    );
    plugin.check(2, "healthy");
    assert_eq!(
        plugin.receive(),
        json!({"id": 2, "status": "up", "detail": "fine"})
    );
    plugin.close();
    plugin.finished().unwrap();
}

#[test]
fn an_error_is_a_down_answer_with_its_message() {
    let mut plugin = Piped::start(Plugin::check(json!(true), |_| {
        Err(io::Error::from(io::ErrorKind::ConnectionRefused).into())
    }));
    plugin.check(9, "db");
    assert_eq!(
        plugin.receive(),
        json!({"id": 9, "status": "down", "detail": "connection refused"})
    );
    plugin.close();
    plugin.finished().unwrap();
}

#[test]
fn malformed_lines_are_skipped_and_the_next_request_is_answered() {
    let mut plugin = Piped::start(Plugin::check(json!(true), |_| Ok(CheckAnswer::up(""))));
    plugin.send("not json at all");
    plugin.send(r#"{"op":"check","id":1}"#); // no host, no timeout_ms
    plugin.send(r#"{"op":"restart","id":2}"#);
    plugin.send(r#"{"id":3,"status":"up"}"#); // an answer, not a request
    plugin.send("");
    plugin.check(4, "web");
    assert_eq!(
        plugin.receive(),
        json!({"id": 4, "status": "up", "detail": ""})
    );
    plugin.close();
    plugin.finished().unwrap();
    assert!(
        plugin.answers.recv_timeout(PATIENCE).is_err(),
        "a bad line was answered"
    );
}

#[test]
fn eof_answers_the_requests_in_flight_before_serve_returns() {
    let gate = Gate::default();
    let mut plugin = Piped::start(gated_plugin(&gate));
    plugin.check(1, "slow");
    plugin.check(2, "slow");
    plugin.close();
    assert!(
        plugin.served.recv_timeout(QUIET).is_err(),
        "serve returned with requests in flight"
    );
    gate.open();
    let mut ids = [plugin.receive(), plugin.receive()].map(|a| a["id"].as_u64().unwrap());
    ids.sort();
    assert_eq!(ids, [1, 2]);
    plugin.finished().unwrap();
}

#[test]
fn a_notifier_gets_events_and_groups_and_a_failure_asks_for_a_retry() {
    let mut plugin = Piped::start(Plugin::notifier(
        json!({"type": "object", "required": ["channel"]}),
        |request| {
            let channel = request.settings["channel"].as_str().unwrap_or_default();
            match (&request.event, &request.group) {
                (Some(event), None) => Ok(NotifyAnswer {
                    detail: format!("{} to {channel}", event["event"]),
                    ..NotifyAnswer::ok()
                }),
                (None, Some(_)) => Err("HTTP 503".into()),
                _ => Ok(NotifyAnswer::give_up("neither an event nor a group")),
            }
        },
    ));
    plugin.send(r#"{"op":"hello","protocol":1}"#);
    assert_eq!(plugin.receive()["kind"], "notifier");
    plugin.send(
        r##"{"op":"notify","id":1,"event":{"event":"down","host":"api"},"settings":{"channel":"#ops"}}"##,
    );
    assert_eq!(
        plugin.receive(),
        json!({"id": 1, "ok": true, "retry": false, "detail": "\"down\" to #ops"})
    );
    plugin.send(
        r##"{"op":"notify","id":2,"group":{"group":"db","events":[]},"settings":{"channel":"#ops"}}"##,
    );
    assert_eq!(
        plugin.receive(),
        json!({"id": 2, "ok": false, "retry": true, "detail": "HTTP 503"})
    );
    // A check sent to a notifier by mistake is answered at once, not left to time out.
    plugin.check(3, "web");
    assert_eq!(plugin.receive()["status"], "down");
    plugin.close();
    plugin.finished().unwrap();
}

/// `target/<profile>/examples/tcp_check`, which `cargo test` builds with the tests.
fn example_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test's path");
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("tcp_check{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        // Only a filtered run (`--test sdk`) leaves the examples unbuilt; build it then.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // Into this test's own target directory and profile (`debug` is the `dev` profile).
        let name = profile
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        let built = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "flowstate-plugin",
                "--example",
                "tcp_check",
            ])
            .args(["--profile", if name == "debug" { "dev" } else { name }])
            .arg("--target-dir")
            .arg(profile.parent().expect("the target directory"))
            .status()
            .expect("run cargo");
        assert!(built.success(), "cargo build --example tcp_check: {built}");
    }
    binary
}

#[test]
fn the_tcp_check_example_runs_as_a_real_plugin_process() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let closed = {
        let spare = TcpListener::bind("127.0.0.1:0").unwrap();
        spare.local_addr().unwrap()
    };
    let mut child = Command::new(example_binary())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the example");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |line: String| -> Value {
        writeln!(stdin, "{line}").unwrap();
        let mut answer = String::new();
        stdout.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
    };
    let hello = ask(r#"{"op":"hello","protocol":1}"#.to_string());
    assert_eq!(hello["kind"], "check");
    assert_eq!(hello["settings_schema"]["required"], json!(["address"]));
    let check = |id: u64, address: String| {
        format!(
            r#"{{"op":"check","id":{id},"host":"cache","settings":{{"address":"{address}"}},"timeout_ms":2000}}"#
        )
    };
    let up = ask(check(1, open.to_string()));
    assert_eq!(
        (up["id"].as_u64(), up["status"].as_str()),
        (Some(1), Some("up"))
    );
    assert!(up["latency_ms"].as_f64().is_some(), "{up}");
    let down = ask(check(2, closed.to_string()));
    assert_eq!(
        (down["id"].as_u64(), down["status"].as_str()),
        (Some(2), Some("down"))
    );
    assert!(
        down["detail"].as_str().unwrap().contains("refused"),
        "{down}"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the example exited with {status} after EOF"
    );
}
