//! A host as the daemon's API shows it (`/api/v1/hosts/{label}`): its check count and
//! history, and its checks as the clock of tests that show something does *not* happen.

use serde_json::Value;

use super::Daemon;

/// The `checks` count of a host.
#[track_caller]
pub fn checks(host: &Value) -> u64 {
    host["checks"]
        .as_u64()
        .unwrap_or_else(|| panic!("no `checks` count in {host}"))
}

/// The check results of a host's history, oldest first.
#[track_caller]
pub fn history(host: &Value) -> &Vec<Value> {
    host["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history array in {host}"))
}

/// Waits until host `label` has run `n` more checks than it has now, and returns it then: the
/// clock for "and nothing else happened".
#[track_caller]
pub fn let_checks_pass(daemon: &mut Daemon, label: &str, n: u64) -> Value {
    let now = checks(&daemon.host(label));
    daemon.wait_for_checks(label, now + n)
}
