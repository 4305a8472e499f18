//! Day-one defects (issue 12) at the edges: listen addresses, closed pipes, config fingerprints,
//! docs and wording. Those about reloading (feedback for every attempt, hostile files on every
//! reload path) are tested in `reload.rs`.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::cli::flowstate_command;
use crate::common::configs::nested_defaults;
use crate::common::{closed_port, start, Outcome, Response, Sandbox, TestServer};

/// A daemon that cannot listen says so in one line and exits 2: no panic, no backtrace.
#[track_caller]
fn assert_listen_refused(outcome: &Outcome, address: &str) {
    outcome.expect_code(2);
    assert!(
        !outcome.stderr.contains("panicked") && !outcome.stderr.contains("RUST_BACKTRACE"),
        "the daemon panicked: {outcome}"
    );
    let lines = outcome.stderr_lines();
    assert_eq!(lines.len(), 1, "one line expected: {outcome}");
    assert!(
        lines[0].starts_with(&format!("cannot listen on {address} (server.listen): "))
            && lines[0].contains("choose another address"),
        "{outcome}"
    );
}

#[test]
fn run_on_a_listen_address_in_use_exits_2_with_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let address = taken.local_addr().expect("its address").to_string();
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!("server: {{ listen: \"{address}\" }}\nhosts: []\n"),
    );
    let outcome = sandbox.run(&["run", "-c", "flowstate.yaml"]);
    assert_listen_refused(&outcome, &address);
    assert!(outcome.stderr.contains("in use"), "{outcome}");
}

#[test]
fn run_on_a_listen_address_of_another_machine_exits_2_with_one_line() {
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    let address = "192.0.2.1:9900";
    let sandbox = Sandbox::new();
    sandbox.write(
        "flowstate.yaml",
        &format!("server: {{ listen: \"{address}\" }}\nhosts: []\n"),
    );
    let outcome = sandbox.run(&["run", "-c", "flowstate.yaml"]);
    assert_listen_refused(&outcome, address);
}

/// Runs `flowstate ARGS` in `sandbox` with stdout a pipe whose reading end is already closed,
/// so the first write fails with `EPIPE`, deterministically.
fn run_into_closed_pipe(sandbox: &Sandbox, args: &[&str]) -> Outcome {
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let (mut command, shown) = flowstate_command(&args, &[], sandbox.path());
    let (reader, writer) = std::io::pipe().expect("make a pipe");
    drop(reader);
    command.stdout(Stdio::from(writer));
    let mut child = command.spawn().expect("start flowstate");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for flowstate") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`{shown}` did not end"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    Outcome {
        command: shown,
        code: status.code(),
        stdout: String::new(),
        stderr,
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_with_the_usual_exit_code() {
    let target = TestServer::always(Response::ok("fine"));
    let sandbox = Sandbox::new();
    sandbox.write(
        "up.yaml",
        &format!("hosts:\n  - {{ label: web, url: '{}' }}\n", target.url("/")),
    );
    sandbox.write(
        "down.yaml",
        &format!(
            "hosts:\n  - {{ label: gone, url: 'http://127.0.0.1:{}/' }}\n",
            closed_port()
        ),
    );
    for (args, code) in [
        (&["check", "-c", "up.yaml"][..], 0),
        (&["once", "-c", "up.yaml"][..], 0),
        (&["once", "--json", "-c", "up.yaml"][..], 0),
        (&["once", "--json", "-c", "down.yaml"][..], 1),
    ] {
        let outcome = run_into_closed_pipe(&sandbox, args);
        assert_eq!(outcome.code, Some(code), "{outcome}");
        assert!(outcome.stderr.is_empty(), "nothing on stderr: {outcome}");
    }
}

#[test]
fn status_into_a_closed_pipe_ends_quietly() {
    let target = TestServer::always(Response::ok("fine"));
    let (sandbox, mut daemon) = start(&format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\nhosts:\n  - {{ label: web, url: '{}' }}\n",
        target.url("/")
    ));
    daemon.wait_for_status("web", "up");
    let api = format!("http://{}", daemon.api());
    for args in [
        &["status", "--api", &api][..],
        &["status", "--json", "--api", &api][..],
    ] {
        let outcome = run_into_closed_pipe(&sandbox, args);
        assert_eq!(outcome.code, Some(0), "{outcome}");
        assert!(outcome.stderr.is_empty(), "nothing on stderr: {outcome}");
    }
}

#[test]
fn check_rejects_very_deep_nesting_with_a_clear_error() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "vars.yaml",
        &format!(
            "hosts:\n  - {{ label: web, url: 'http://127.0.0.1/{}' }}\n",
            nested_defaults(30_000)
        ),
    );
    sandbox.write("flow.yaml", &format!("hosts: {}\n", "[".repeat(160_000)));
    for file in ["vars.yaml", "flow.yaml"] {
        let outcome = sandbox.run(&["check", "-c", file]);
        outcome.expect_code(2);
        assert!(
            outcome.stderr.starts_with(&format!("{file}:"))
                && outcome.stderr.contains("nested")
                && outcome.stderr.lines().count() == 1,
            "{outcome}"
        );
    }
}

/// FNV-1a, the unkeyed hash `/api/v1/config` used to publish: a fingerprint must never be it.
fn fnv1a(value: &str) -> String {
    let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// `GET /api/v1/config` of a fresh daemon on `config`.
fn running_config_of(config: &str) -> serde_json::Value {
    let (_sandbox, mut daemon) = start(config);
    daemon.json("/api/v1/config")
}

#[test]
fn config_fingerprints_are_keyed_per_daemon_and_show_no_secret_without_a_token() {
    let config = "server: { listen: \"127.0.0.1:0\" }\ndefaults: { interval: 1h }\nhosts:\n  - { label: api, url: 'http://127.0.0.1:1/', headers: { Authorization: 'Bearer tok-12345' } }\n";
    let first = running_config_of(config);
    let second = running_config_of(config);
    let fingerprint = |answer: &serde_json::Value, setting: &str| {
        answer["hosts"][0]["settings"][setting]
            .as_str()
            .unwrap_or_else(|| panic!("no {setting} fingerprint: {answer}"))
            .to_string()
    };
    for answer in [&first, &second] {
        assert_eq!(answer["secrets"], "hidden", "{answer}");
        assert_eq!(answer["key"].as_str().map(str::len), Some(64), "{answer}");
        let text = answer.to_string();
        assert!(!text.contains("tok-12345"), "{answer}");
        assert_ne!(fingerprint(answer, "type"), fnv1a("http"), "{answer}");
        assert_eq!(fingerprint(answer, "type").len(), 32, "{answer}");
    }
    // Another process, another key: nothing can be precomputed or compared across daemons.
    assert_ne!(first["key"], second["key"]);
    assert_ne!(fingerprint(&first, "type"), fingerprint(&second, "type"));
    assert_ne!(
        fingerprint(&first, "headers"),
        fingerprint(&second, "headers")
    );
}

/// Values from `${VAR}` in places no per-setting rule covers: addresses, DNS names, script
/// programs, basic-auth usernames, the host of a webhook or self_check URL.
const ENV_EVERYWHERE: &str = r#"self_check: { url: "https://${HC_HOST}/ping" }
notifiers:
  hook: { type: webhook, url: "https://${HOOK_HOST}/x" }
hosts:
  - { label: tcp, type: tcp, address: "${DB_HOST}:5432", alerts: [hook] }
  - { label: dns, type: dns, name: "${DNS_NAME}" }
  - { label: web, url: "http://127.0.0.1:1/", auth: { basic: { username: "${WEB_USER}", password: "${WEB_PASSWORD}" } } }
  - { label: job, type: script, command: ["${SCRIPT_PATH}", "--x"] }
"#;

const ENV_VALUES: [(&str, &str); 7] = [
    ("HC_HOST", "hc.value-one.invalid"),
    ("HOOK_HOST", "hook.value-two.invalid"),
    ("DB_HOST", "db.value-three.invalid"),
    ("DNS_NAME", "name.value-four.invalid"),
    ("WEB_USER", "user-value-five"),
    ("WEB_PASSWORD", "password-value-six"),
    ("SCRIPT_PATH", "/nonexistent/value-seven"),
];

#[test]
fn no_value_from_the_environment_is_printed_wherever_it_landed() {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", ENV_EVERYWHERE);
    for args in [
        &["check", "-c", "flowstate.yaml"][..],
        &["once", "-c", "flowstate.yaml"][..],
        &["once", "--json", "-c", "flowstate.yaml"][..],
    ] {
        let mut run = sandbox.flowstate().args(args);
        for (name, value) in ENV_VALUES {
            run = run.env(name, value);
        }
        let outcome = run.output();
        assert!(matches!(outcome.code, Some(0 | 1)), "{outcome}");
        for (_, value) in ENV_VALUES {
            assert!(
                !outcome.all_output().contains(value),
                "{value} printed: {outcome}"
            );
        }
        assert!(outcome.stdout.contains("***"), "{outcome}");
    }
    // The table stays aligned: every host row starts its TARGET column at the header's.
    let mut run = sandbox.flowstate().args(&["check", "-c", "flowstate.yaml"]);
    for (name, value) in ENV_VALUES {
        run = run.env(name, value);
    }
    let outcome = run.output();
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("LABEL"))
        .unwrap_or_else(|| panic!("{outcome}"));
    let column = lines[header].find("INTERVAL").unwrap_or_default();
    for row in &lines[header + 1..header + 5] {
        assert_eq!(row.find("30s"), Some(column), "{outcome}");
    }
}
