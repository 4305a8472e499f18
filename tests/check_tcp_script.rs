//! `type: tcp` and `type: script` checks, through the real binary.
//!
//! Single outcomes go through `flowstate once --json` (one check per host, then exit): TCP
//! against loopback listeners on `std::net` threads that play a banner, an echo or a silent
//! peer; scripts as `sh` files in the sandbox that exit with each Nagios code. One daemon test
//! shows both types move through statuses and alert like HTTP hosts.
//!
//! Nothing is asserted after a sleep: each wait polls with a deadline, and a timeout is
//! tripped by a peer or a script that never answers at all.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use serde_json::Value;

use crate::common::configs::{document_serving, item};
use crate::common::events::wait_for_event;
use crate::common::once::{once_in, verdict};
use crate::common::processes::{alive, KillListed};
use crate::common::wait::{wait_for, wait_until};
use crate::common::{closed_port, Sandbox, DEADLINE};

// --- Helpers -----------------------------------------------------------------------------

/// A `type: tcp` host list item; `extra` holds more `key: value` lines (YAML).
fn tcp_host(label: &str, address: &str, extra: &str) -> String {
    item(label, &format!("type: tcp\naddress: '{address}'\n{extra}"))
}

/// A `type: script` host list item running `argv`; `extra` holds more `key: value` lines.
fn script_host(label: &str, argv: &[&Path], extra: &str) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("'{}'", a.display())).collect();
    item(
        label,
        &format!("type: script\ncommand: [{}]\n{extra}", argv.join(", ")),
    )
}

/// A loopback listener that takes exactly one connection and hands it to `peer` on a thread
/// of its own; what `peer` returns comes out of the receiver. The accept has a deadline, so a
/// check that never connects fails its test instead of leaving a thread waiting forever.
fn one_peer<T: Send + 'static>(
    peer: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, mpsc::Receiver<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let accepted = wait_for(DEADLINE, "the check connects", || {
            listener.accept().ok().map(|(stream, _)| stream)
        });
        let Ok(stream) = accepted else { return };
        stream
            .set_nonblocking(false)
            .expect("a blocking connection");
        // Reads end by themselves if the check never closes: the thread cannot outlive this.
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("a read timeout");
        let _ = done.send(peer(stream));
    });
    (address, result)
}

/// What a [`one_peer`] peer returned, waiting (a bounded time) for it to finish.
#[track_caller]
fn peer_result<T>(result: &mpsc::Receiver<T>) -> T {
    result
        .recv_timeout(DEADLINE)
        .expect("the peer finished its exchange")
}

/// Reads until `\n` (included), the end of the stream, or the read timeout.
fn read_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = stream.read(&mut byte) {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    line
}

// --- TCP ---------------------------------------------------------------------------------

#[test]
fn tcp_listener_is_up_with_the_time_to_connect() {
    // The kernel completes the handshake from the listen backlog: no accept is needed.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address").to_string();
    let sandbox = Sandbox::new();

    let outcome = once_in(&sandbox, "", &[tcp_host("db", &address, "")]);

    outcome.expect_code(0);
    let (status, detail) = verdict(&outcome, "db");
    assert_eq!(status, "up", "{outcome}");
    let took = detail
        .strip_prefix("connected in ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|ms| ms.parse::<f64>().ok());
    assert!(took.is_some_and(|ms| ms >= 0.0), "{outcome}");
}

#[test]
fn tcp_closed_port_is_down_with_connection_refused() {
    let sandbox = Sandbox::new();
    let address = format!("127.0.0.1:{}", closed_port());

    let outcome = once_in(&sandbox, "", &[tcp_host("db", &address, "")]);

    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "db"),
        ("down".into(), "connection refused".into()),
        "{outcome}"
    );
}

#[test]
fn tcp_send_then_expect_matches_the_answer() {
    // A Redis-like peer: answers `+PONG` to a `PING` line, and tells what it received.
    let (address, received) = one_peer(|mut stream| {
        let line = read_line(&mut stream);
        let _ = stream.write_all(b"+PONG\r\n");
        line
    });
    let sandbox = Sandbox::new();

    let outcome = once_in(
        &sandbox,
        "",
        &[tcp_host(
            "cache",
            &address.to_string(),
            r#"send: "PING\r\n"
               expect: '^\+PONG'"#,
        )],
    );

    outcome.expect_code(0);
    let (status, detail) = verdict(&outcome, "cache");
    assert_eq!(status, "up", "{outcome}");
    assert!(
        detail.starts_with("connected in ") && detail.ends_with(" ms, expect matched"),
        "{outcome}"
    );
    assert_eq!(peer_result(&received), b"PING\r\n", "what the peer read");
}

#[test]
fn tcp_banner_matching_expect_is_up_without_sending() {
    let (address, _done) = one_peer(|mut stream| {
        let _ = stream.write_all(b"220 mail.example.com ESMTP ready\r\n");
        // Hold the connection open: the check must not wait for the close once it matched.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    let sandbox = Sandbox::new();

    let outcome = once_in(
        &sandbox,
        "",
        &[tcp_host(
            "smtp",
            &address.to_string(),
            "expect: '^220 '\ntimeout: 10s",
        )],
    );

    outcome.expect_code(0);
    let (status, detail) = verdict(&outcome, "smtp");
    assert_eq!(status, "up", "{outcome}");
    assert!(detail.ends_with(", expect matched"), "{outcome}");
}

#[test]
fn tcp_expect_mismatch_is_down_quoting_what_came() {
    let (banner_address, _banner) = one_peer(|mut stream| {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
    });
    // A chatty peer: the quote stops at 100 characters.
    let (chatty_address, _chatty) = one_peer(|mut stream| {
        let _ = stream.write_all(&[b'x'; 300]);
    });
    let sandbox = Sandbox::new();

    let outcome = once_in(
        &sandbox,
        "",
        &[
            tcp_host("ssh", &banner_address.to_string(), "expect: '^220 '"),
            tcp_host("chatty", &chatty_address.to_string(), "expect: '^220 '"),
        ],
    );

    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "ssh"),
        (
            "down".into(),
            r#"expect did not match: got "SSH-2.0-OpenSSH_9.6\r\n""#.into()
        ),
        "{outcome}"
    );
    assert_eq!(
        verdict(&outcome, "chatty"),
        (
            "down".into(),
            format!("expect did not match: got \"{}\"…", "x".repeat(99))
        ),
        "{outcome}"
    );
}

#[test]
fn tcp_silent_peer_with_expect_times_out() {
    // Accepts and says nothing until the check gives up and closes.
    let (address, received) = one_peer(|mut stream| {
        let mut everything = Vec::new();
        let _ = stream.read_to_end(&mut everything);
        everything
    });
    let sandbox = Sandbox::new();

    let outcome = once_in(
        &sandbox,
        "",
        &[tcp_host(
            "quiet",
            &address.to_string(),
            "expect: '^220 '\ntimeout: 500ms",
        )],
    );

    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "quiet");
    assert_eq!(status, "down", "{outcome}");
    assert_eq!(detail, "timed out after 500ms", "{outcome}");
    // The check closed its connection: the peer's read ended with nothing sent to it.
    assert_eq!(peer_result(&received), b"", "what the peer read");
}

#[test]
fn tcp_unresolvable_name_is_down_naming_it() {
    let sandbox = Sandbox::new();

    let outcome = once_in(
        &sandbox,
        "",
        &[tcp_host("db", "nonexistent.invalid:80", "timeout: 10s")],
    );

    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "db");
    assert_eq!(status, "down", "{outcome}");
    assert!(
        detail.starts_with("cannot resolve nonexistent.invalid"),
        "{outcome}"
    );
}

// --- Scripts -----------------------------------------------------------------------------

#[test]
fn script_exit_codes_follow_the_nagios_convention() {
    let sandbox = Sandbox::new();
    let cases: [(&str, &str); 7] = [
        (
            "ok",
            "echo 'OK - disk 40% used | used=40%;80;90'; echo 'second line'; exit 0",
        ),
        ("silent", "exit 0"),
        ("warning", "echo 'WARNING - disk 85% used|used=85%'; exit 1"),
        ("critical", "echo 'CRITICAL - disk 95% used'; exit 2"),
        ("unknown", "echo 'UNKNOWN - no such mount'; exit 3"),
        ("other", "echo 'something odd' >&2; exit 42"),
        ("signalled", "kill -TERM $$; sleep 10"),
    ];
    let hosts: Vec<String> = cases
        .iter()
        .map(|(label, body)| {
            let path = sandbox.script(&format!("{label}.sh"), body);
            script_host(label, &[&path], "timeout: 20s")
        })
        .collect();

    let outcome = once_in(&sandbox, "", &hosts);

    outcome.expect_code(1);
    let expected = [
        ("ok", "up", "OK - disk 40% used"),
        ("silent", "up", "ok (exit 0)"),
        ("warning", "degraded", "WARNING - disk 85% used"),
        ("critical", "down", "CRITICAL - disk 95% used"),
        (
            "unknown",
            "down",
            "unknown (exit 3): UNKNOWN - no such mount",
        ),
        ("other", "down", "unknown (exit 42): something odd"),
        ("signalled", "down", "killed by signal SIGTERM"),
    ];
    for (label, status, detail) in expected {
        assert_eq!(
            verdict(&outcome, label),
            (status.to_string(), detail.to_string()),
            "{label}: {outcome}"
        );
    }
    // A degraded host passed: `ok` is true, so only the down ones count as failures.
    assert_eq!(
        outcome.result("warning")["ok"],
        Value::Bool(true),
        "{outcome}"
    );
}

#[test]
fn script_gets_its_arguments_and_env_on_top_of_the_inherited_environment() {
    let sandbox = Sandbox::new();
    let path = sandbox.script(
        "greet.sh",
        r#"echo "OK - arg=$1 greeting=$GREETING path=${PATH:+inherited}""#,
    );
    let host = script_host(
        "greet",
        &[&path, Path::new("first arg")],
        "env: { GREETING: 'hello world' }",
    );

    let outcome = once_in(&sandbox, "", &[host]);

    outcome.expect_code(0);
    assert_eq!(
        verdict(&outcome, "greet"),
        (
            "up".into(),
            "OK - arg=first arg greeting=hello world path=inherited".into()
        ),
        "{outcome}"
    );
}

#[test]
fn script_missing_program_is_down_naming_it() {
    let sandbox = Sandbox::new();
    let program = sandbox.path().join("no-such-check");

    let outcome = once_in(&sandbox, "", &[script_host("missing", &[&program], "")]);

    outcome.expect_code(1);
    assert_eq!(
        verdict(&outcome, "missing"),
        (
            "down".into(),
            format!(
                "cannot run {}: No such file or directory",
                program.display()
            )
        ),
        "{outcome}"
    );
}

#[test]
fn script_timeout_kills_its_whole_process_group() {
    let sandbox = Sandbox::new();
    let (background, leader) = (
        sandbox.path().join("background.pid"),
        sandbox.path().join("leader.pid"),
    );
    let _cleanup = KillListed(vec![background.clone(), leader.clone()]);
    // A background child, and the script itself replaced by a second sleep: both must go.
    let path = sandbox.script(
        "hang.sh",
        &format!(
            "sleep 3600 &\necho $! > '{}'\necho $$ > '{}'\nexec sleep 3600",
            background.display(),
            leader.display()
        ),
    );

    let outcome = once_in(
        &sandbox,
        "",
        &[script_host("hang", &[&path], "timeout: 500ms")],
    );

    outcome.expect_code(1);
    let (status, detail) = verdict(&outcome, "hang");
    assert_eq!(status, "down", "{outcome}");
    assert!(detail.starts_with("timed out after 500ms"), "{outcome}");
    let pid_in = |path: &Path| -> u32 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.trim().parse().unwrap_or_else(|_| {
            panic!(
                "the script wrote no PID to {} before its timeout: {outcome}",
                path.display()
            )
        })
    };
    let pids = [pid_in(&background), pid_in(&leader)];
    wait_until(DEADLINE, &format!("processes {pids:?} are gone"), || {
        pids.iter().all(|&pid| !alive(pid))
    })
    .unwrap();
}

// --- In the daemon -----------------------------------------------------------------------

#[test]
fn tcp_and_script_hosts_change_status_and_alert_in_the_daemon() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address").to_string();
    let sandbox = Sandbox::new();
    // The script's exit code is whatever the test last wrote to `code`.
    let code = sandbox.write("code", "0");
    let path = sandbox.script(
        "switch.sh",
        &format!(
            "code=$(cat '{}')\necho \"STATUS $code | code=$code\"\nexit $code",
            code.display()
        ),
    );
    let config = document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 500ms, timeout: 500ms, failure_threshold: 2",
        &[
            tcp_host("db", &address, ""),
            script_host("disk", &[&path], ""),
        ],
    );
    sandbox.write("flowstate.yaml", &config);
    let mut daemon = sandbox.daemon("flowstate.yaml").start();

    let db = daemon.wait_for_status("db", "up");
    let disk = daemon.wait_for_status("disk", "up");
    assert_eq!(db["type"], "tcp", "{db}");
    assert_eq!(disk["type"], "script", "{disk}");
    assert_eq!(disk["last_check"]["detail"], "STATUS 0", "{disk}");
    let hosts = daemon.hosts();
    let types: Vec<(&str, &str)> = hosts
        .iter()
        .filter_map(|h| Some((h["label"].as_str()?, h["type"].as_str()?)))
        .collect();
    assert_eq!(types, [("db", "tcp"), ("disk", "script")], "{hosts:?}");

    // The listener goes away: connections are refused, and after two failures db is down.
    drop(listener);
    let down = wait_for_event(&sandbox, &daemon, "down", "db");
    assert_eq!(
        (&down["previous"], &down["reason"]),
        (&Value::from("up"), &Value::from("connection refused")),
        "{down}"
    );
    assert_eq!(down["consecutive_failures"], 2, "{down}");

    // WARNING degrades the script's host, CRITICAL takes it down, OK brings it back.
    std::fs::write(&code, "1").expect("write the exit code");
    let degraded = wait_for_event(&sandbox, &daemon, "degraded", "disk");
    assert_eq!(degraded["reason"], "STATUS 1", "{degraded}");
    std::fs::write(&code, "2").expect("write the exit code");
    let down = wait_for_event(&sandbox, &daemon, "down", "disk");
    assert_eq!(down["reason"], "STATUS 2", "{down}");
    std::fs::write(&code, "0").expect("write the exit code");
    let up = wait_for_event(&sandbox, &daemon, "up", "disk");
    assert_eq!(up["previous"], "down", "{up}");
    daemon.wait_for_status("disk", "up");
}
