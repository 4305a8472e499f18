//! `flowstate once` on a config file in a sandbox, and the verdicts it prints.
//!
//! The check modules (`check_dns`, `check_grpc`, `check_http_depth`, `check_icmp`,
//! `check_tcp_script`) run [`once`] on a few host list items and read each host's
//! `(status, detail)` from `--json` with [`verdict`]; `once.rs` runs [`once_on`] on whole
//! config files with any flags.

use serde_json::Value;

use super::{Outcome, Sandbox};

/// The config file a `once` run reads, relative to its sandbox.
const CONFIG: &str = "flowstate.yaml";

/// Writes `config` to `flowstate.yaml` in `sandbox` and runs
/// `flowstate once -c flowstate.yaml ARGS...` there.
pub fn once_on(sandbox: &Sandbox, config: &str, args: &[&str]) -> Outcome {
    sandbox.write(CONFIG, config);
    sandbox
        .flowstate()
        .args(&["once", "-c", CONFIG])
        .args(args)
        .output()
}

/// A config of `hosts` (list items, indented by two), after `defaults: { DEFAULTS }` unless
/// `defaults` (the inside of a flow mapping) is empty.
pub fn hosts_config(defaults: &str, hosts: &[String]) -> String {
    let defaults = if defaults.is_empty() {
        String::new()
    } else {
        format!("defaults: {{ {defaults} }}\n")
    };
    format!("{defaults}hosts:\n{}", hosts.concat())
}

/// `flowstate once --json` on `hosts` (list items) in a new sandbox.
pub fn once(hosts: &[String]) -> Outcome {
    once_in(&Sandbox::new(), "", hosts)
}

/// [`once`] with `defaults` (the inside of a flow mapping, e.g. `timeout: 2s`) for every host.
pub fn once_with(defaults: &str, hosts: &[String]) -> Outcome {
    once_in(&Sandbox::new(), defaults, hosts)
}

/// [`once_with`] in `sandbox`, beside the files its hosts refer to (CA files, scripts).
pub fn once_in(sandbox: &Sandbox, defaults: &str, hosts: &[String]) -> Outcome {
    once_on(sandbox, &hosts_config(defaults, hosts), &["--json"])
}

/// `(status, detail)` of one host's `once --json` result; a result without either string
/// fails the test.
#[track_caller]
pub fn verdict(outcome: &Outcome, label: &str) -> (String, String) {
    let result: Value = outcome.result(label);
    let text = |key: &str| {
        result[key]
            .as_str()
            .unwrap_or_else(|| panic!("no `{key}` string for {label}: {outcome}"))
            .to_string()
    };
    (text("status"), text("detail"))
}

/// Fails the test unless host `label` of a `once --json` run has this status and detail.
#[track_caller]
pub fn assert_verdict(outcome: &Outcome, label: &str, status: &str, detail: &str) {
    assert_eq!(
        verdict(outcome, label),
        (status.to_string(), detail.to_string()),
        "{label}: {outcome}"
    );
}
