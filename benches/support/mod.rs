//! What the benchmarks share (each includes this with `#[path]`): their knobs from the
//! environment, a free port for the daemon's API, the daemon stopped with SIGTERM when the
//! benchmark ends, and the wait until every host has been checked once, so a measurement
//! starts with the whole fleet running.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The daemon under measurement: stopped with SIGTERM (and waited for) when dropped, so a
/// benchmark that fails half-way leaves no daemon behind.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// The number in `$name`, or `default` when it is unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `hosts_json` (the daemon's `/api/v1/hosts`, fetched however the bench talks HTTP)
/// until every one of `hosts` has run a check; panics after `within`.
pub fn wait_until_every_host_checked(
    hosts: usize,
    within: Duration,
    hosts_json: impl Fn() -> Option<Value>,
) {
    let deadline = Instant::now() + within;
    loop {
        let checked = hosts_json().and_then(|v| {
            v.as_array()
                .map(|a| a.iter().filter(|h| h["checks"].as_u64() > Some(0)).count())
        });
        if checked == Some(hosts) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every host was checked within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
