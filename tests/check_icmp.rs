//! `type: icmp`: echo requests from the real binary, to loopback (which always answers) and to
//! documentation addresses (which never should), with `flowstate once --json` and one daemon.
//!
//! ICMP needs a socket the kernel may refuse: an unprivileged datagram socket (the process's
//! groups in `net.ipv4.ping_group_range`) or a raw one (`CAP_NET_RAW`). Where this machine
//! allows neither, the tests that need replies say so on stderr and return; that is decided by
//! the binary's own answer (its reason names `CAP_NET_RAW`), since the test has no socket API
//! of its own to try. The refusal itself is tested by dropping `CAP_NET_RAW` with setpriv(1).
//!
//! Unanswered addresses: TEST-NET-2 and TEST-NET-3 (RFC 5737), which no network routes. Not
//! TEST-NET-1: this sandbox numbers its own network 192.0.2.0/24, and 192.0.2.1, its gateway,
//! answers. Depending on the machine such an address is silently dropped, or a router says
//! "network unreachable", or there is no route at all; every way, the check must be down with
//! total loss, and within its timeout (its own verdict, not `timed out after`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;

use serde_json::Value;

use crate::common::configs::{document_serving, item};
use crate::common::once::{hosts_config, once_with};
use crate::common::wait::wait_for;
use crate::common::{start, Outcome, Sandbox, DEADLINE};

/// Every `once` run here gives each check 2 s.
const DEFAULTS: &str = "timeout: 2s";

/// One `type: icmp` host list item; `extra` holds more `key: value` lines.
fn icmp_host(label: &str, address: &str, extra: &str) -> String {
    item(label, &format!("type: icmp\naddress: '{address}'\n{extra}"))
}

/// `Some(reason)` when the binary could open no ICMP socket for `label`: the test cannot run
/// here, and says why.
fn refused(outcome: &Outcome, label: &str) -> Option<String> {
    let result = outcome.result(label);
    let detail = result["detail"].as_str().unwrap_or_default();
    detail.contains("CAP_NET_RAW").then(|| detail.to_string())
}

/// Asserts an up result with `n` of `n` replies and a sane `rtt avg A ms (min B, max C)`.
#[track_caller]
fn assert_all_replies(outcome: &Outcome, label: &str, n: u32) {
    let result = outcome.result(label);
    assert_eq!(result["status"], "up", "{outcome}");
    let detail = result["detail"].as_str().unwrap_or_default();
    let rtt = detail
        .strip_prefix(&format!("{n}/{n} replies, rtt avg "))
        .unwrap_or_else(|| panic!("{label}: not `{n}/{n} replies, rtt avg ...`: {outcome}"));
    // "0.05 ms (min 0.04, max 0.07)"
    let numbers: Vec<f64> = rtt
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|n| n.parse().ok())
        .collect();
    let [avg, min, max] = numbers[..] else {
        panic!("{label}: rtt not as `A ms (min B, max C)`: {outcome}");
    };
    assert!(min <= avg && avg <= max, "{label}: {outcome}");
    assert!(rtt.ends_with(')') && rtt.contains(" ms (min "), "{outcome}");
}

#[test]
fn loopback_answers_every_echo_request() {
    let outcome = once_with(DEFAULTS, &[icmp_host("loopback", "127.0.0.1", "")]);
    if let Some(reason) = refused(&outcome, "loopback") {
        eprintln!("SKIPPED loopback_answers_every_echo_request: no ICMP socket here: {reason}");
        return;
    }
    outcome.expect_code(0);
    assert_all_replies(&outcome, "loopback", 3);
}

#[test]
fn ipv6_loopback_answers_where_the_machine_has_it() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED ipv6_loopback_answers_where_the_machine_has_it: no ::1 here");
        return;
    }
    let outcome = once_with(
        DEFAULTS,
        &[
            icmp_host("v6", "::1", ""),
            icmp_host("v6-bracketed", "[::1]", "count: 2"),
        ],
    );
    if let Some(reason) = refused(&outcome, "v6") {
        eprintln!("SKIPPED ipv6_loopback_answers_where_the_machine_has_it: {reason}");
        return;
    }
    outcome.expect_code(0);
    assert_all_replies(&outcome, "v6", 3);
    assert_all_replies(&outcome, "v6-bracketed", 2);
}

#[test]
fn host_names_are_resolved_and_count_is_honoured() {
    let outcome = once_with(
        DEFAULTS,
        &[
            icmp_host("by-name", "localhost", "count: 5"),
            icmp_host("nowhere", "no-such-host.invalid", ""),
        ],
    );
    let nowhere = outcome.result("nowhere");
    assert_eq!(nowhere["status"], "down", "{outcome}");
    let reason = nowhere["detail"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("cannot resolve no-such-host.invalid"),
        "{outcome}"
    );
    if let Some(reason) = refused(&outcome, "by-name") {
        eprintln!("SKIPPED host_names_are_resolved_and_count_is_honoured: {reason}");
        return;
    }
    assert_all_replies(&outcome, "by-name", 5);
}

#[test]
fn unanswered_addresses_are_down_with_total_loss_within_the_timeout() {
    let outcome = once_with(
        DEFAULTS,
        &[
            icmp_host("test-net-2", "198.51.100.1", ""),
            icmp_host("test-net-3", "203.0.113.1", "max_loss: 50%"),
        ],
    );
    if let Some(reason) = refused(&outcome, "test-net-2") {
        eprintln!(
            "SKIPPED unanswered_addresses_are_down_with_total_loss_within_the_timeout: {reason}"
        );
        return;
    }
    outcome.expect_code(1);
    for label in ["test-net-2", "test-net-3"] {
        let result = outcome.result(label);
        assert_eq!(result["status"], "down", "{outcome}");
        // Silence reads `100% loss (0/3 replies)`; a router's answer or a missing route adds
        // `: network unreachable (from ...)` or the like.
        // The probe's own verdict proves it ended within the 2 s timeout: run on past it, the
        // check would read `timed out after 2s`.
        let detail = result["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("100% loss (0/3 replies)"), "{outcome}");
    }
}

/// What a run under setpriv(1) printed.
struct Unprivileged {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `flowstate once --json` on `hosts` without `CAP_NET_RAW` (gone from the bounding and
/// inheritable sets, so the binary cannot have it), killed after [`DEADLINE`]; `None` when
/// setpriv is missing or may not drop the capability here.
fn once_without_cap_net_raw(hosts: &[String]) -> Option<Unprivileged> {
    let sandbox = Sandbox::new();
    sandbox.write("flowstate.yaml", &hosts_config(DEFAULTS, hosts));
    let mut child = Command::new("setpriv")
        .args(["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"])
        .arg(env!("CARGO_BIN_EXE_flowstate"))
        .args(["once", "-c", "flowstate.yaml", "--json"])
        .current_dir(sandbox.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout is piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr is piped")));
    let status = wait_for(DEADLINE, "flowstate under setpriv exits", || {
        child.try_wait().expect("wait for setpriv")
    });
    let status = match status {
        Ok(status) => status,
        Err(timed_out) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{timed_out}");
        }
    };
    let run = Unprivileged {
        code: status.code(),
        stdout: stdout.join().expect("read stdout"),
        stderr: stderr.join().expect("read stderr"),
    };
    // setpriv's own failure (not root, no CAP_SETPCAP): the binary never ran.
    (!run.stderr.starts_with("setpriv:")).then_some(run)
}

#[test]
fn without_permission_the_reason_names_it_and_is_logged_once() {
    let hosts = [
        icmp_host("first", "127.0.0.1", ""),
        icmp_host("second", "127.0.0.1", ""),
    ];
    let Some(run) = once_without_cap_net_raw(&hosts) else {
        eprintln!(
            "SKIPPED without_permission_the_reason_names_it_and_is_logged_once: \
             setpriv(1) is missing or may not drop CAP_NET_RAW here"
        );
        return;
    };
    let shown = format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        run.code, run.stdout, run.stderr
    );
    let results: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{shown}"));
    let details: Vec<&str> = (0..2)
        .map(|i| results[i]["detail"].as_str().unwrap_or_default())
        .collect();
    if results[0]["status"] == "up" {
        // Unprivileged ICMP sockets are open to this process's groups: no capability needed.
        assert_eq!(run.code, Some(0), "{shown}");
        assert!(
            details.iter().all(|d| d.starts_with("3/3 replies")),
            "{shown}"
        );
        eprintln!("note: unprivileged ICMP is allowed here, so nothing was refused");
        return;
    }
    assert_eq!(run.code, Some(1), "{shown}");
    for detail in &details {
        assert!(
            detail.starts_with("cannot open an ICMP socket: unprivileged ICMP is ")
                && detail.contains("net.ipv4.ping_group_range")
                && detail.ends_with(" and raw sockets need CAP_NET_RAW"),
            "{shown}"
        );
    }
    // One warning for the thread, however many checks were refused.
    let warnings = run
        .stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("CAP_NET_RAW"))
        .count();
    assert_eq!(warnings, 1, "{shown}");
}

#[test]
fn the_daemon_shows_an_icmp_host_up() {
    let probe = once_with(DEFAULTS, &[icmp_host("loopback", "127.0.0.1", "")]);
    if let Some(reason) = refused(&probe, "loopback") {
        eprintln!("SKIPPED the_daemon_shows_an_icmp_host_up: {reason}");
        return;
    }
    let (_sandbox, mut daemon) = start(&document_serving(
        "listen: \"127.0.0.1:0\"",
        "",
        "interval: 1s, timeout: 1s",
        &[icmp_host("pinged", "127.0.0.1", "count: 2")],
    ));
    let host = daemon.wait_for_status("pinged", "up");
    assert_eq!(host["type"], "icmp", "{host}\n{daemon}");
    let detail = host["last_check"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("2/2 replies, rtt avg "),
        "{host}\n{daemon}"
    );
    let listed: Vec<Value> = daemon.hosts();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            &listed[0]["label"],
            &listed[0]["type"],
            &listed[0]["status"]
        ),
        (
            &Value::from("pinged"),
            &Value::from("icmp"),
            &Value::from("up")
        ),
        "{daemon}"
    );
}
